/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The compiler against hand-computed verdicts, against the reference
 * evaluator on random overlapping policies, and at scale.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup-util.h"
#include "policy.h"
#include "ref-eval.h"

#include "unit-check.h"

#define DENY(rule)    ((uint16_t)(NP_CELL_DENY | (rule)))
#define ALLOW(rule)   ((uint16_t)(rule))
#define DENY_DEFAULT  DENY(NP_CELL_RULE_DEFAULT)
#define ALLOW_DEFAULT ALLOW(NP_CELL_RULE_DEFAULT)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct compiled_policy {
	struct np_policy *p;
	struct np_compiled *c;
};

static void compiled_policy_done(struct compiled_policy *cp)
{
	np_compiled_free(cp->c);
	np_policy_free(cp->p);
}

static struct compiled_policy build(const char *file, int line, const char *json)
{
	struct compiled_policy cp = {};
	struct np_error err = {};
	int r;

	r = np_policy_from_string(json, &cp.p, &err);
	if (!check(r == 0, file, line, "parse: %s: %s", err.field, err.message))
		return cp;
	r = np_policy_compile(cp.p, &cp.c, &err);
	check(r == 0, file, line, "compile: %s: %s", err.field, err.message);
	return cp;
}
#define BUILD(json) build(__FILE__, __LINE__, json)

/* Checks one destination against an expected cell and the reference. */
static void expect(const char *file, int line, const struct compiled_policy *cp, const char *addr,
		   uint8_t proto, uint16_t port, uint16_t want)
{
	uint8_t a[16];
	uint16_t got, ref;

	if (!cp->c) {
		check(false, file, line, "no compiled policy");
		return;
	}
	if (!check(np_addr_parse(addr, a) == 0, file, line, "address %s", addr))
		return;
	got = np_compiled_decide(cp->c, a, proto, port);
	ref = np_ref_decide(cp->p, a, proto, port);
	check(got == want, file, line, "%s proto %u port %u: compiled 0x%04x, want 0x%04x", addr, proto, port,
	      got, want);
	check(ref == want, file, line, "%s proto %u port %u: reference 0x%04x, want 0x%04x", addr, proto,
	      port, ref, want);
}
#define EXPECT(cp, addr, proto, port, want) expect(__FILE__, __LINE__, cp, addr, proto, port, want)

#define ICMP_FLAGS (NP_POL_NO_ICMP4 | NP_POL_NO_ICMP6)

static bool some_allowed(const struct np_lpm_val *v)
{
	bool any = !(v->icmp & NP_CELL_DENY) || !(v->other & NP_CELL_DENY);

	for (unsigned k = 0; k < v->nsegs && k < NP_MAX_PORT_SEGS; k++)
		any |= !(v->segs[k].tcp & NP_CELL_DENY) || !(v->segs[k].udp & NP_CELL_DENY);
	return any;
}

/* Sorted, ::/0 first, zeroed padding, sane segments, the same flags in every
 * entry: what the kernel needs. flags: all but the ICMP ones, which
 * test_icmp_flags() checks. */
static void check_shape(const char *file, int line, const struct np_compiled *c, uint16_t flags)
{
	size_t i, k;

	check(c->n_entries >= 1 && c->entries[0].key.prefixlen == 0, file, line, "::/0 entry first");
	check((c->flags & ~ICMP_FLAGS) == flags, file, line, "flags 0x%x, want 0x%x", c->flags, flags);
	flags = c->flags;
	for (i = 0; i < c->n_entries; i++) {
		const struct np_lpm_entry *e = &c->entries[i];
		const struct np_lpm_val *v = &e->val;
		bool ok = v->nsegs >= 1 && v->nsegs <= NP_MAX_PORT_SEGS &&
			  (v->flags & ~NP_VAL_SOME_ALLOWED) == flags &&
			  !(v->flags & NP_VAL_SOME_ALLOWED) == !some_allowed(v) &&
			  v->segs[v->nsegs - 1].last_port == 65535;

		for (k = 0; ok && k < NP_MAX_PORT_SEGS; k++) {
			static const struct np_port_seg zero;

			if (k >= v->nsegs)
				ok = memcmp(&v->segs[k], &zero, sizeof(zero)) == 0;
			else
				ok = v->segs[k]._pad == 0 &&
				     (k == 0 || v->segs[k - 1].last_port < v->segs[k].last_port);
		}
		if (!check(ok, file, line, "entry %zu malformed", i))
			return;
		if (i > 0) {
			const struct np_lpm_key *a = &c->entries[i - 1].key, *b = &e->key;
			bool sorted = a->prefixlen < b->prefixlen ||
				      (a->prefixlen == b->prefixlen && memcmp(a->addr, b->addr, 16) < 0);

			if (!check(sorted, file, line, "entries %zu, %zu not sorted", i - 1, i))
				return;
		}
	}
	n_pass++;
}
#define CHECK_SHAPE(c, flags) check_shape(__FILE__, __LINE__, c, flags)

static void test_overlapping_ports(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp =
	    BUILD("{\"name\":\"t\",\"default\":\"deny\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"10.0.0.0/8\"],\"ports\":[443],\"protocol\":\"tcp\"},"
		  "{\"action\":\"allow\",\"to\":[\"10.1.0.0/16\"],\"ports\":[80],\"protocol\":\"tcp\"}]}");

	EXPECT(&cp, "10.1.2.3", NP_PROTO_TCP, 80, ALLOW(1));
	EXPECT(&cp, "10.1.2.3", NP_PROTO_TCP, 443, ALLOW(0));
	EXPECT(&cp, "10.2.0.1", NP_PROTO_TCP, 80, DENY_DEFAULT);
	EXPECT(&cp, "10.2.0.1", NP_PROTO_TCP, 443, ALLOW(0));
	EXPECT(&cp, "11.0.0.1", NP_PROTO_TCP, 443, DENY_DEFAULT);
	EXPECT(&cp, "10.1.2.3", NP_PROTO_UDP, 80, DENY_DEFAULT);
	EXPECT(&cp, "10.1.2.3", NP_PROTO_TCP, 81, DENY_DEFAULT);
	EXPECT(&cp, "10.1.2.3", NP_PROTO_ICMP, 0, DENY_DEFAULT);
	EXPECT(&cp, "::ffff:10.1.2.3", NP_PROTO_TCP, 80, ALLOW(1));
	if (cp.c) {
		CHECK_SHAPE(cp.c, 0);
		CHECK(cp.c->n_entries == 3);
	}
}

static void test_except(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(
	    "{\"name\":\"t\",\"default\":\"allow\",\"rules\":["
	    "{\"action\":\"deny\",\"to\":[\"10.0.0.0/8\"],\"except\":[\"10.1.0.0/16\",\"10.2.3.4\"]},"
	    "{\"action\":\"allow\",\"to\":[\"10.1.2.0/24\"],\"protocol\":\"udp\"},"
	    "{\"action\":\"deny\",\"to\":[\"10.1.2.128/25\"],"
	    "\"except\":[\"10.1.2.200/29\"],\"protocol\":\"tcp\"},"
	    "{\"action\":\"deny\",\"to\":[\"20.0.0.0/8\",\"20.1.2.0/24\"],\"except\":[\"20.1.0.0/16\"]}]}");

	EXPECT(&cp, "10.1.5.5", NP_PROTO_TCP, 22, ALLOW_DEFAULT);
	EXPECT(&cp, "10.2.5.5", NP_PROTO_TCP, 22, DENY(0));
	EXPECT(&cp, "10.2.3.4", NP_PROTO_TCP, 22, ALLOW_DEFAULT);
	EXPECT(&cp, "10.2.3.5", NP_PROTO_ICMP, 0, DENY(0));
	EXPECT(&cp, "10.0.0.0", NP_PROTO_OTHER, 0, DENY(0));
	EXPECT(&cp, "10.255.255.255", NP_PROTO_UDP, 53, DENY(0));
	EXPECT(&cp, "9.255.255.255", NP_PROTO_UDP, 53, ALLOW_DEFAULT);
	EXPECT(&cp, "10.1.2.3", NP_PROTO_UDP, 53, ALLOW(1));
	EXPECT(&cp, "10.1.2.3", NP_PROTO_TCP, 53, ALLOW_DEFAULT);
	EXPECT(&cp, "10.1.2.129", NP_PROTO_TCP, 53, DENY(2));
	EXPECT(&cp, "10.1.2.129", NP_PROTO_UDP, 53, ALLOW(1));
	EXPECT(&cp, "10.1.2.201", NP_PROTO_TCP, 53, ALLOW_DEFAULT);
	EXPECT(&cp, "10.1.2.208", NP_PROTO_TCP, 53, DENY(2));
	/* an except wins over a "to" of the same rule inside it */
	EXPECT(&cp, "20.1.2.3", NP_PROTO_TCP, 53, ALLOW_DEFAULT);
	EXPECT(&cp, "20.1.3.3", NP_PROTO_TCP, 53, ALLOW_DEFAULT);
	EXPECT(&cp, "20.2.0.0", NP_PROTO_TCP, 53, DENY(3));
}

static void test_deny_beats_allow(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp =
	    BUILD("{\"name\":\"t\",\"default\":\"deny\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"any\"]},"
		  "{\"action\":\"allow\",\"to\":[\"1.2.3.0/24\"]},"
		  "{\"action\":\"deny\",\"to\":[\"1.2.3.4\"],\"ports\":[\"20-30\"]},"
		  "{\"action\":\"deny\",\"to\":[\"1.2.0.0/16\"],\"ports\":[25]}]}");

	EXPECT(&cp, "1.2.3.4", NP_PROTO_TCP, 22, DENY(2));
	EXPECT(&cp, "1.2.3.4", NP_PROTO_UDP, 25, DENY(2));
	EXPECT(&cp, "1.2.3.4", NP_PROTO_TCP, 31, ALLOW(0));
	EXPECT(&cp, "1.2.3.4", NP_PROTO_ICMP, 0, ALLOW(0));
	EXPECT(&cp, "1.2.3.5", NP_PROTO_TCP, 25, DENY(3));
	EXPECT(&cp, "1.2.3.5", NP_PROTO_TCP, 26, ALLOW(0));
	EXPECT(&cp, "8.8.8.8", NP_PROTO_TCP, 25, ALLOW(0));
	EXPECT(&cp, "2001:db8::1", NP_PROTO_OTHER, 0, ALLOW(0));
}

static void test_icmp_and_ports(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp =
	    BUILD("{\"name\":\"t\",\"default\":\"deny\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80]},"
		  "{\"action\":\"allow\",\"to\":[\"10.0.0.0/8\"],\"protocol\":\"icmp\"},"
		  "{\"action\":\"deny\",\"to\":[\"10.9.0.0/16\"]}]}");

	EXPECT(&cp, "8.8.8.8", NP_PROTO_ICMP, 0, DENY_DEFAULT);
	EXPECT(&cp, "8.8.8.8", NP_PROTO_TCP, 80, ALLOW(0));
	EXPECT(&cp, "8.8.8.8", NP_PROTO_UDP, 80, ALLOW(0));
	EXPECT(&cp, "8.8.8.8", NP_PROTO_OTHER, 0, DENY_DEFAULT);
	EXPECT(&cp, "10.0.0.1", NP_PROTO_ICMP, 0, ALLOW(1));
	EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 81, DENY_DEFAULT);
	EXPECT(&cp, "10.9.0.1", NP_PROTO_ICMP, 0, DENY(2));
	EXPECT(&cp, "10.9.0.1", NP_PROTO_TCP, 80, DENY(2));
	EXPECT(&cp, "10.9.0.1", NP_PROTO_OTHER, 0, DENY(2));
	CHECK(np_proto_class(6) == NP_PROTO_TCP);
	CHECK(np_proto_class(262) == NP_PROTO_TCP);
	CHECK(np_proto_class(17) == NP_PROTO_UDP);
	CHECK(np_proto_class(136) == NP_PROTO_UDP);
	CHECK(np_proto_class(1) == NP_PROTO_ICMP);
	CHECK(np_proto_class(58) == NP_PROTO_ICMP);
	CHECK(np_proto_class(132) == NP_PROTO_OTHER);
	CHECK(np_proto_class(255) == NP_PROTO_OTHER);
	CHECK(np_proto_class(0) == NP_PROTO_OTHER);
}

static void test_ipv6_and_mapped(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy a =
	    BUILD("{\"name\":\"t\",\"default\":\"deny\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"::ffff:1.2.3.0/120\"],\"protocol\":\"tcp\"},"
		  "{\"action\":\"allow\",\"to\":[\"2001:db8::/32\"],\"except\":[\"2001:db8:ffff::/48\"]},"
		  "{\"action\":\"deny\",\"to\":[\"2001:db8::1\"],\"protocol\":\"udp\"}]}");
	_cleanup_(compiled_policy_done) struct compiled_policy b =
	    BUILD("{\"name\":\"t\",\"default\":\"deny\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"1.2.3.0/24\"],\"protocol\":\"tcp\"},"
		  "{\"action\":\"allow\",\"to\":[\"2001:db8::/32\"],\"except\":[\"2001:db8:ffff::/48\"]},"
		  "{\"action\":\"deny\",\"to\":[\"2001:db8::1/128\"],\"protocol\":\"udp\"}]}");

	EXPECT(&a, "1.2.3.4", NP_PROTO_TCP, 1, ALLOW(0));
	EXPECT(&a, "::ffff:1.2.3.4", NP_PROTO_TCP, 1, ALLOW(0));
	EXPECT(&a, "1.2.4.4", NP_PROTO_TCP, 1, DENY_DEFAULT);
	/* IPv4-compatible (deprecated) is not IPv4-mapped */
	EXPECT(&a, "::1.2.3.4", NP_PROTO_TCP, 1, DENY_DEFAULT);
	EXPECT(&a, "2001:db8::2", NP_PROTO_UDP, 53, ALLOW(1));
	EXPECT(&a, "2001:db8::1", NP_PROTO_UDP, 53, DENY(2));
	EXPECT(&a, "2001:db8::1", NP_PROTO_TCP, 53, ALLOW(1));
	EXPECT(&a, "2001:db8:ffff::1", NP_PROTO_TCP, 53, DENY_DEFAULT);
	EXPECT(&a, "2001:db9::", NP_PROTO_TCP, 53, DENY_DEFAULT);
	if (a.c && b.c) {
		CHECK(a.c->n_entries == b.c->n_entries);
		CHECK(a.c->n_entries == b.c->n_entries &&
		      memcmp(a.c->entries, b.c->entries, a.c->n_entries * sizeof(*a.c->entries)) == 0);
	}
}

static void test_rule_index(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp =
	    BUILD("{\"name\":\"t\",\"default\":\"allow\",\"rules\":["
		  "{\"action\":\"allow\",\"to\":[\"10.0.0.0/24\"],\"ports\":[22]},"
		  "{\"action\":\"deny\",\"to\":[\"10.0.0.0/8\"],\"ports\":[\"1-1024\"]},"
		  "{\"action\":\"allow\",\"to\":[\"10.0.0.0/16\"]},"
		  "{\"action\":\"deny\",\"to\":[\"10.0.0.0/16\"],\"protocol\":\"udp\"},"
		  "{\"action\":\"allow\",\"to\":[\"10.0.0.0/24\"]}]}");

	EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 22, DENY(1));
	EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 2000, ALLOW(2));
	EXPECT(&cp, "10.0.0.1", NP_PROTO_UDP, 2000, DENY(3));
	EXPECT(&cp, "10.0.0.1", NP_PROTO_UDP, 22, DENY(1));
	EXPECT(&cp, "10.0.0.1", NP_PROTO_ICMP, 0, ALLOW(2));
	EXPECT(&cp, "10.0.1.1", NP_PROTO_ICMP, 0, ALLOW(2));
	EXPECT(&cp, "10.1.1.1", NP_PROTO_ICMP, 0, ALLOW_DEFAULT);
	EXPECT(&cp, "10.1.1.1", NP_PROTO_TCP, 1024, DENY(1));
	EXPECT(&cp, "10.1.1.1", NP_PROTO_TCP, 1025, ALLOW_DEFAULT);
}

static void test_segments_and_flags(void)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(
	    "{\"name\":\"t\",\"default\":\"deny\",\"audit\":true,\"log\":\"all\",\"raw_sockets\":\"allow\","
	    "\"rules\":[{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80,\"8000-8100\"],\"protocol\":"
	    "\"tcp\"},"
	    "{\"action\":\"allow\",\"to\":[\"10.0.0.0/8\",\"10.1.0.0/16\"],\"ports\":[53]}]}");
	static const struct np_port_seg want[] = {
	    {52, DENY_DEFAULT, DENY_DEFAULT, 0},    {53, ALLOW(1), ALLOW(1), 0},
	    {79, DENY_DEFAULT, DENY_DEFAULT, 0},    {80, ALLOW(0), DENY_DEFAULT, 0},
	    {7999, DENY_DEFAULT, DENY_DEFAULT, 0},  {8100, ALLOW(0), DENY_DEFAULT, 0},
	    {65535, DENY_DEFAULT, DENY_DEFAULT, 0},
	};
	const struct np_lpm_val *v;

	if (!cp.c)
		return;
	CHECK_SHAPE(cp.c, NP_POL_AUDIT | NP_POL_LOG_ALL | NP_POL_RAW_ALLOW);
	/* 10.1.0.0/16 adds nothing to 10.0.0.0/8: left out */
	CHECK(cp.c->n_entries == 2);
	if (cp.c->n_entries != 2)
		return;
	v = &cp.c->entries[0].val;
	CHECK(v->nsegs == 5);
	CHECK(v->icmp == DENY_DEFAULT && v->other == DENY_DEFAULT);
	CHECK(cp.c->entries[1].key.prefixlen == 104);
	v = &cp.c->entries[1].val;
	CHECK(v->nsegs == ELEMENTSOF(want));
	CHECK(v->nsegs == ELEMENTSOF(want) && memcmp(v->segs, want, sizeof(want)) == 0);
	/* audit does not change cells */
	EXPECT(&cp, "10.1.1.1", NP_PROTO_UDP, 80, DENY_DEFAULT);
	EXPECT(&cp, "10.1.1.1", NP_PROTO_UDP, 0, DENY_DEFAULT);
	EXPECT(&cp, "10.1.1.1", NP_PROTO_TCP, 65535, DENY_DEFAULT);
}

static void test_presets(void)
{
	const char *const *names = np_preset_names();
	size_t i;

	for (i = 0; names[i]; i++) {
		_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(np_preset_json(names[i]));

		if (cp.c)
			CHECK_SHAPE(cp.c, cp.p->raw_sockets ? NP_POL_RAW_ALLOW : 0);
	}
	{
		_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(np_preset_json("frontend"));

		EXPECT(&cp, "93.184.216.34", NP_PROTO_TCP, 443, ALLOW(0));
		EXPECT(&cp, "93.184.216.34", NP_PROTO_UDP, 443, DENY_DEFAULT);
		EXPECT(&cp, "93.184.216.34", NP_PROTO_UDP, 53, ALLOW(1));
		EXPECT(&cp, "93.184.216.34", NP_PROTO_TCP, 22, DENY_DEFAULT);
		EXPECT(&cp, "192.168.1.1", NP_PROTO_TCP, 22, ALLOW(2));
		EXPECT(&cp, "1.2.3.4", NP_PROTO_TCP, 8443, ALLOW(3));
		EXPECT(&cp, "1.2.3.4", NP_PROTO_TCP, 80, ALLOW(0));
	}
	{
		_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(np_preset_json("worker"));

		EXPECT(&cp, "10.0.1.50", NP_PROTO_TCP, 5672, ALLOW(0));
		EXPECT(&cp, "10.0.1.50", NP_PROTO_TCP, 5671, DENY_DEFAULT);
		EXPECT(&cp, "10.0.2.100", NP_PROTO_TCP, 9000, ALLOW(1));
		EXPECT(&cp, "10.0.2.100", NP_PROTO_UDP, 9000, DENY_DEFAULT);
		EXPECT(&cp, "10.0.0.2", NP_PROTO_UDP, 53, ALLOW(2));
		EXPECT(&cp, "8.8.8.8", NP_PROTO_UDP, 53, DENY_DEFAULT);
		EXPECT(&cp, "::1", NP_PROTO_TCP, 5432, ALLOW(3));
	}
	{
		_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(np_preset_json("deny-all"));

		if (cp.c)
			CHECK(cp.c->n_entries == 1 && cp.c->entries[0].val.nsegs == 1);
		EXPECT(&cp, "127.0.0.1", NP_PROTO_TCP, 80, DENY_DEFAULT);
	}
	{
		_cleanup_(compiled_policy_done) struct compiled_policy cp =
		    BUILD(np_preset_json("allow-all"));

		EXPECT(&cp, "127.0.0.1", NP_PROTO_OTHER, 0, ALLOW_DEFAULT);
	}
}

/* "ports": [2, 4, ..., 2n] and optionally "2n+2-65535", to 10.0.0.0/8 */
static char *alternating_ports_policy(unsigned n, bool tail)
{
	char *json = NULL, ports[1024] = "";
	unsigned i;

	for (i = 1; i <= n; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%u", i > 1 ? "," : "",
			 2 * i);
	if (tail)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), ",\"%u-65535\"", 2 * n + 2);
	if (asprintf(&json,
		     "{\"name\":\"t\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\","
		     "\"to\":[\"10.0.0.0/8\"],\"ports\":[%s]}]}",
		     ports) < 0)
		return NULL;
	return json;
}

static void test_segment_overflow(void)
{
	_cleanup_free_ char *fits = alternating_ports_policy(11, true);
	_cleanup_free_ char *overflows = alternating_ports_policy(12, false);
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
	struct np_error err = {};
	int r;

	{
		_cleanup_(compiled_policy_done) struct compiled_policy cp = BUILD(fits);

		if (cp.c) {
			CHECK(cp.c->n_entries == 2);
			CHECK(cp.c->n_entries == 2 && cp.c->entries[1].val.nsegs == NP_MAX_PORT_SEGS);
		}
		EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 22, ALLOW(0));
		EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 23, DENY_DEFAULT);
		EXPECT(&cp, "10.0.0.1", NP_PROTO_TCP, 65535, ALLOW(0));
	}
	r = np_policy_from_string(overflows, &p, &err);
	CHECK(r == 0);
	if (r < 0)
		return;
	r = np_policy_compile(p, &c, &err);
	CHECKF(r == -E2BIG, "compile returned %d", r);
	CHECK(c == NULL);
	CHECKF(strcmp(err.field, "rules") == 0, "field \"%s\"", err.field);
	CHECKF(strstr(err.message, "10.0.0.0/8") != NULL, "message: %s", err.message);
	CHECKF(strstr(err.message, "12 distinct port ranges") != NULL, "message: %s", err.message);
	CHECKF(strstr(err.message, "25 port segments") != NULL, "message: %s", err.message);
}

static void test_random(void)
{
	uint64_t rng = 0x6e6574706f6cull;
	unsigned i, k, bad = 0, dests = 0;

	for (i = 0; i < 400; i++) {
		_cleanup_(np_policy_freep) struct np_policy *p = np_ref_random_policy(&rng, 0);
		_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
		struct np_error err = {};
		int r;

		if (!CHECK(p != NULL))
			return;
		r = np_policy_compile(p, &c, &err);
		if (!CHECKF(r == 0, "random policy %u: %d %s: %s", i, r, err.field, err.message))
			continue;
		for (k = 0; k < 200; k++) {
			uint8_t addr[16], proto;
			uint16_t port, got, want;
			char text[64];

			np_ref_random_dest(&rng, p, addr, &proto, &port);
			dests++;
			if (!np_ref_dest_in_test_ranges(addr))
				bad++;
			got = np_compiled_decide(c, addr, proto, port);
			want = np_ref_decide(p, addr, proto, port);
			/* the kernel test cannot send "other" protocols; check them here */
			if (got == want && k % 4 == 0) {
				proto = NP_PROTO_OTHER;
				got = np_compiled_decide(c, addr, proto, port);
				want = np_ref_decide(p, addr, proto, port);
			}
			if (got == want)
				continue;
			np_addr_format(addr, text, sizeof(text));
			CHECKF(false,
			       "random policy %u: %s proto %u port %u: compiled 0x%04x, reference 0x%04x", i,
			       text, proto, port, got, want);
			break;
		}
	}
	CHECKF(bad == 0, "%u of %u random destinations outside the test ranges", bad, dests);
	n_pass += dests - bad;
}

static void random_v4_prefix(uint64_t *rng, struct np_cidr *c)
{
	uint32_t a = (uint32_t)np_ref_rand(rng);
	unsigned plen = 16 + (unsigned)(np_ref_rand(rng) % 17);

	memset(c->addr, 0, 16);
	c->addr[10] = c->addr[11] = 0xff;
	c->addr[12] = (uint8_t)(a >> 24);
	c->addr[13] = (uint8_t)(a >> 16);
	c->addr[14] = (uint8_t)(a >> 8);
	c->addr[15] = (uint8_t)a;
	c->plen = (uint8_t)(96 + plen);
	for (unsigned bit = c->plen; bit < 128; bit++)
		c->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

/* n_rules rules of per_rule random /16../32 IPv4 prefixes; every third rule
 * has ports, every fifth denies. */
static struct np_policy *big_policy(uint64_t *rng, size_t n_rules, size_t per_rule)
{
	static const struct np_port_range ports[] = {{80, 80}, {443, 443}, {8000, 8100}};
	struct np_policy *p = calloc(1, sizeof(*p));
	size_t i, k;

	if (!p)
		return NULL;
	strcpy(p->name, "big");
	p->rules = calloc(n_rules, sizeof(*p->rules));
	if (!p->rules)
		return np_policy_free(p);
	p->n_rules = n_rules;
	for (i = 0; i < n_rules; i++) {
		struct np_rule *r = &p->rules[i];

		r->action = i % 5 == 4 ? NP_ACTION_DENY : NP_ACTION_ALLOW;
		r->to = calloc(per_rule, sizeof(*r->to));
		if (!r->to)
			return np_policy_free(p);
		for (k = 0; k < per_rule; k++)
			random_v4_prefix(rng, &r->to[r->n_to++]);
		if (i % 3 == 0) {
			r->proto = NP_RULE_PROTO_TCP;
			r->ports = malloc(sizeof(ports));
			if (!r->ports)
				return np_policy_free(p);
			memcpy(r->ports, ports, sizeof(ports));
			r->n_ports = ELEMENTSOF(ports) - (i / 3) % 3;
		}
	}
	return p;
}

static void scale_one(const char *what, struct np_policy *p, uint64_t *rng, unsigned samples)
{
	_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
	struct np_error err = {};
	double t0, t1;
	unsigned k, mismatches = 0;
	int r;

	t0 = now();
	r = np_policy_compile(p, &c, &err);
	t1 = now();
	if (!CHECKF(r == 0, "%s: %d %s: %s", what, r, err.field, err.message))
		return;
	printf("%s: compiled to %zu entries in %.3f s\n", what, c->n_entries, t1 - t0);
	CHECKF(t1 - t0 < 5.0, "%s took %.1f s", what, t1 - t0);
	CHECK_SHAPE(c, 0);

	/* edges of the policy's own prefixes, where the trie is busiest */
	for (k = 0; k < samples; k++) {
		const struct np_rule *rule = &p->rules[np_ref_rand(rng) % p->n_rules];
		const struct np_cidr *pfx = &rule->to[np_ref_rand(rng) % rule->n_to];
		static const uint8_t protos[] = {NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_ICMP};
		static const uint16_t ports[] = {22, 80, 443, 8000, 8100, 8101};
		uint8_t addr[16], proto = protos[k % 3];
		uint16_t port = ports[np_ref_rand(rng) % ELEMENTSOF(ports)];

		memcpy(addr, pfx->addr, 16);
		if (k % 2)
			for (unsigned bit = pfx->plen; bit < 128; bit++)
				addr[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		if (np_compiled_decide(c, addr, proto, port) != np_ref_decide(p, addr, proto, port))
			mismatches++;
	}
	CHECKF(mismatches == 0, "%s: %u of %u samples differ from the reference", what, mismatches, samples);
	t0 = now();
	for (k = 0; k < 20000; k++) {
		uint8_t addr[16] = {[10] = 0xff, [11] = 0xff};
		uint32_t a = (uint32_t)np_ref_rand(rng);

		memcpy(addr + 12, &a, 4);
		(void)np_compiled_decide(c, addr, NP_PROTO_TCP, 443);
	}
	printf("%s: 20000 lookups in %.3f s\n", what, now() - t0);
}

static void test_scale(void)
{
	uint64_t rng = 42;

	{
		_cleanup_(np_policy_freep) struct np_policy *p = big_policy(&rng, 20000, 5);

		if (CHECK(p != NULL))
			scale_one("20000 rules x 5 prefixes", p, &rng, 300);
	}
	{
		_cleanup_(np_policy_freep) struct np_policy *p = big_policy(&rng, 1, 100000);

		if (CHECK(p != NULL))
			scale_one("1 rule x 100000 prefixes", p, &rng, 3000);
	}
}

/* The same through JSON: the parser must scale too. */
static void test_scale_json(void)
{
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	_cleanup_free_ char *json = NULL;
	struct np_error err = {};
	size_t size = 0, i;
	FILE *f;
	double t0;
	int r;

	f = open_memstream(&json, &size);
	if (!CHECK(f != NULL))
		return;
	fprintf(f, "{\"name\":\"big\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\",\"to\":[");
	for (i = 0; i < 100000; i++)
		fprintf(f, "%s\"%zu.%zu.%zu.0/24\"", i ? "," : "", 10 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
	fprintf(f, "],\"ports\":[443]}]}");
	fclose(f);
	t0 = now();
	r = np_policy_from_string(json, &p, &err);
	printf("parsing 100000 CIDRs: %.3f s\n", now() - t0);
	CHECKF(r == 0, "%s: %s", err.field, err.message);
	CHECK(r == 0 && p->rules[0].n_to == 100000);
}

/* Which ping sockets a policy lets be made. */
static void icmp_flags(const char *file, int line, const char *json, uint16_t want)
{
	_cleanup_(compiled_policy_done) struct compiled_policy cp = build(file, line, json);

	if (cp.c)
		check((cp.c->flags & ICMP_FLAGS) == want, file, line, "ICMP flags 0x%x, want 0x%x for %s",
		      cp.c->flags & ICMP_FLAGS, want, json);
}
#define ICMP_FLAGS_OF(json, want) icmp_flags(__FILE__, __LINE__, json, want)

static void test_icmp_flags(void)
{
	ICMP_FLAGS_OF(
	    "{\"name\":\"t\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\",\"to\":[\"any\"],"
	    "\"protocol\":\"tcp\"}]}",
	    NP_POL_NO_ICMP4 | NP_POL_NO_ICMP6);
	ICMP_FLAGS_OF("{\"name\":\"t\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\",\"to\":["
		      "\"203.0.113.0/24\"],\"protocol\":\"icmp\"}]}",
		      NP_POL_NO_ICMP6);
	ICMP_FLAGS_OF("{\"name\":\"t\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\",\"to\":["
		      "\"2001:db8::/32\"]}]}",
		      NP_POL_NO_ICMP4);
	/* a port list says nothing of ICMP */
	ICMP_FLAGS_OF("{\"name\":\"t\",\"default\":\"deny\",\"rules\":[{\"action\":\"allow\",\"to\":["
		      "\"any\"],\"ports\":[53]}]}",
		      NP_POL_NO_ICMP4 | NP_POL_NO_ICMP6);
	ICMP_FLAGS_OF("{\"name\":\"t\",\"default\":\"allow\",\"rules\":[]}", 0);
	/* a deny of all ICMP but to one IPv4 network */
	ICMP_FLAGS_OF("{\"name\":\"t\",\"default\":\"allow\",\"rules\":[{\"action\":\"deny\",\"to\":["
		      "\"any\"],\"except\":[\"10.0.0.0/8\"],\"protocol\":\"icmp\"}]}",
		      NP_POL_NO_ICMP6);
	/* the deny-all preset allows nothing */
	ICMP_FLAGS_OF(np_preset_json("deny-all"), NP_POL_NO_ICMP4 | NP_POL_NO_ICMP6);
}

int main(void)
{
	test_overlapping_ports();
	test_except();
	test_deny_beats_allow();
	test_icmp_and_ports();
	test_ipv6_and_mapped();
	test_rule_index();
	test_segments_and_flags();
	test_icmp_flags();
	test_presets();
	test_segment_overflow();
	test_random();
	test_scale();
	test_scale_json();
	printf("test-compile: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
