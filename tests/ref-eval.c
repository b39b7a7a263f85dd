/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy semantics, evaluated the slow and obvious way: every rule,
 * every prefix, per destination. Shares no code with the compiler so that a
 * bug in one shows up as a difference against the other.
 */
#include <stdlib.h>
#include <string.h>

#include "ref-eval.h"

#define NO_RULE UINT32_MAX

static bool in_cidr(const struct np_cidr *c, const uint8_t addr[16])
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		unsigned bits = c->plen > 8 * i ? c->plen - 8 * i : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

		if ((addr[i] & mask) != (c->addr[i] & mask))
			return false;
	}
	return true;
}

static bool in_any(const struct np_cidr *v, size_t n, const uint8_t addr[16])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (in_cidr(&v[i], addr))
			return true;
	return false;
}

static bool proto_matches(const struct np_rule *r, uint8_t proto_class)
{
	switch (proto_class) {
	case NP_PROTO_TCP:
		return r->proto == NP_RULE_PROTO_ANY || r->proto == NP_RULE_PROTO_TCP;
	case NP_PROTO_UDP:
		return r->proto == NP_RULE_PROTO_ANY || r->proto == NP_RULE_PROTO_UDP;
	case NP_PROTO_ICMP:
		return r->proto == NP_RULE_PROTO_ICMP || (r->proto == NP_RULE_PROTO_ANY && r->n_ports == 0);
	default:
		return r->proto == NP_RULE_PROTO_ANY && r->n_ports == 0;
	}
}

static bool port_matches(const struct np_rule *r, uint8_t proto_class, uint16_t port)
{
	size_t i;

	if (r->n_ports == 0)
		return true;
	if (proto_class != NP_PROTO_TCP && proto_class != NP_PROTO_UDP)
		return false;
	for (i = 0; i < r->n_ports; i++)
		if (port >= r->ports[i].first && port <= r->ports[i].last)
			return true;
	return false;
}

static bool rule_matches(const struct np_rule *r, const uint8_t addr[16], uint8_t proto_class, uint16_t port)
{
	return in_any(r->to, r->n_to, addr) && !in_any(r->except, r->n_except, addr) &&
	       proto_matches(r, proto_class) && port_matches(r, proto_class, port);
}

uint16_t np_ref_decide(const struct np_policy *p, const uint8_t addr[16], uint8_t proto_class, uint16_t port)
{
	uint32_t deny = NO_RULE, allow = NO_RULE;
	size_t i;

	for (i = 0; i < p->n_rules; i++) {
		if (!rule_matches(&p->rules[i], addr, proto_class, port))
			continue;
		if (p->rules[i].action == NP_ACTION_DENY && deny == NO_RULE)
			deny = (uint32_t)i;
		if (p->rules[i].action == NP_ACTION_ALLOW && allow == NO_RULE)
			allow = (uint32_t)i;
	}
	if (deny != NO_RULE)
		return (uint16_t)(NP_CELL_DENY | deny);
	if (allow != NO_RULE)
		return (uint16_t)allow;
	if (p->default_action == NP_ACTION_DENY)
		return NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	return NP_CELL_RULE_DEFAULT;
}

uint64_t np_ref_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned pick(uint64_t *rng, unsigned n)
{
	return (unsigned)((np_ref_rand(rng) >> 11) % n);
}

/* ---- addresses in the test ranges ---- */

static const uint8_t doc_nets[2][3] = {{203, 0, 113}, {198, 51, 100}};
static const uint8_t edgy_bytes[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 200, 254, 255};

static void set_v4(uint8_t addr[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
	addr[12] = a;
	addr[13] = b;
	addr[14] = c;
	addr[15] = d;
}

static uint8_t edgy_byte(uint64_t *rng)
{
	if (pick(rng, 4) == 0)
		return (uint8_t)pick(rng, 256);
	return edgy_bytes[pick(rng, sizeof(edgy_bytes))];
}

static void random_v6(uint64_t *rng, uint8_t addr[16])
{
	static const uint8_t db8[4] = {0x20, 0x01, 0x0d, 0xb8};
	static const uint8_t sub[3] = {0x00, 0x01, 0x80};

	memset(addr, 0, 16);
	memcpy(addr, db8, 4);
	/* few varying bits, so that prefixes of many lengths nest */
	addr[4] = sub[pick(rng, 3)];
	addr[5] = pick(rng, 4) == 0 ? 1 : 0;
	if (pick(rng, 6) == 0)
		addr[8] = (uint8_t)(1u << pick(rng, 8));
	addr[15] = edgy_byte(rng);
	if (pick(rng, 8) == 0)
		addr[14] = (uint8_t)pick(rng, 2);
}

/* Kind 0, 1: the two /24 documentation networks, 2: 127/8, 3: 2001:db8::/32. */
static void random_in_range(uint64_t *rng, unsigned kind, uint8_t addr[16])
{
	if (kind < 2)
		set_v4(addr, doc_nets[kind][0], doc_nets[kind][1], doc_nets[kind][2], edgy_byte(rng));
	else if (kind == 2)
		set_v4(addr, 127, 0, (uint8_t)pick(rng, 2), edgy_byte(rng));
	else
		random_v6(rng, addr);
}

static void random_test_addr(uint64_t *rng, uint8_t addr[16])
{
	if (pick(rng, 16) == 0) {
		memset(addr, 0, 16);
		addr[15] = 1; /* ::1 */
		return;
	}
	random_in_range(rng, pick(rng, 4), addr);
}

bool np_ref_dest_in_test_ranges(const uint8_t addr[16])
{
	static const struct np_cidr ranges[] = {
	    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 0}, 120},
	    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 0}, 120},
	    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0}, 104},
	    {{0x20, 0x01, 0x0d, 0xb8}, 32},
	    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128},
	};

	return in_any(ranges, sizeof(ranges) / sizeof(ranges[0]), addr);
}

static void mask(uint8_t addr[16], unsigned plen)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;

		addr[i] &= bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
	}
}

static void random_prefix(uint64_t *rng, struct np_cidr *c)
{
	static const uint8_t v4_doc[] = {24, 25, 26, 28, 29, 30, 31, 32, 32};
	static const uint8_t v4_lo[] = {8, 16, 23, 24, 28, 30, 31, 32};
	static const uint8_t v6[] = {32, 33, 40, 47, 48, 64, 96, 112, 120, 124, 126, 127, 128, 128};
	unsigned kind = pick(rng, 4);

	random_in_range(rng, kind, c->addr);
	if (kind < 2)
		c->plen = (uint8_t)(96 + v4_doc[pick(rng, sizeof(v4_doc))]);
	else if (kind == 2)
		c->plen = (uint8_t)(96 + v4_lo[pick(rng, sizeof(v4_lo))]);
	else
		c->plen = v6[pick(rng, sizeof(v6))];
	mask(c->addr, c->plen);
}

/* A longer prefix inside c, to carve "except" holes out of "to". */
static void random_subprefix(uint64_t *rng, const struct np_cidr *c, struct np_cidr *out)
{
	unsigned extra = pick(rng, 9), i;

	*out = *c;
	if (c->plen < 32) {
		random_prefix(rng, out); /* "any" and friends: anything goes */
		return;
	}
	out->plen = (uint8_t)(c->plen + extra > 128 ? 128 : c->plen + extra);
	for (i = c->plen; i < out->plen; i++)
		if (pick(rng, 2))
			out->addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/* ---- random policies ---- */

struct port_pool {
	struct np_port_range r[8];
	unsigned n;
};

static void random_port_pool(uint64_t *rng, struct port_pool *pool)
{
	unsigned i;

	/* at most 8 distinct ranges cut 0..65535 into at most 17 intervals */
	pool->n = 1 + pick(rng, 8);
	for (i = 0; i < pool->n; i++) {
		unsigned first, len;

		switch (pick(rng, 10)) {
		case 0:
			first = 1000 + pick(rng, 3) * 7080; /* 1000, 8080, 15160 */
			break;
		case 1:
			first = 65530 + pick(rng, 6);
			break;
		case 2:
			first = 1;
			break;
		default:
			first = 1 + pick(rng, 40);
		}
		len = pick(rng, 5) < 3 ? 0 : pick(rng, 12);
		if (pick(rng, 20) == 0)
			len = 65535;
		pool->r[i].first = (uint16_t)first;
		pool->r[i].last = (uint16_t)(first + len > 65535 ? 65535 : first + len);
	}
}

static int random_targets(uint64_t *rng, struct np_rule *r)
{
	unsigned n = 1 + pick(rng, 3), i;

	r->to = calloc(2 * n, sizeof(*r->to));
	if (!r->to)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned what = pick(rng, 12);

		if (what == 0)
			np_entity_expand("any", &r->to[r->n_to++], 1);
		else if (what == 1) {
			np_entity_expand("loopback", &r->to[r->n_to], 2);
			r->n_to += 2;
		} else
			random_prefix(rng, &r->to[r->n_to++]);
	}
	if (pick(rng, 3) != 0)
		return 0;
	n = 1 + pick(rng, 2);
	r->except = calloc(n, sizeof(*r->except));
	if (!r->except)
		return -1;
	for (i = 0; i < n; i++) {
		if (pick(rng, 3) == 0)
			random_prefix(rng, &r->except[i]);
		else
			random_subprefix(rng, &r->to[pick(rng, (unsigned)r->n_to)], &r->except[i]);
	}
	r->n_except = n;
	return 0;
}

static int random_rule(uint64_t *rng, const struct port_pool *pool, struct np_rule *r)
{
	unsigned i, n;

	r->action = pick(rng, 2) ? NP_ACTION_ALLOW : NP_ACTION_DENY;
	r->proto = (enum np_rule_proto)pick(rng, 4);
	if (random_targets(rng, r) < 0)
		return -1;
	if (r->proto == NP_RULE_PROTO_ICMP || pick(rng, 2))
		return 0;
	n = 1 + pick(rng, 3);
	r->ports = calloc(n, sizeof(*r->ports));
	if (!r->ports)
		return -1;
	for (i = 0; i < n; i++)
		r->ports[i] = pool->r[pick(rng, pool->n)];
	r->n_ports = n;
	return 0;
}

struct np_policy *np_ref_random_policy(uint64_t *rng, unsigned max_rules)
{
	struct port_pool pool;
	struct np_policy *p;
	size_t i;

	if (max_rules == 0)
		max_rules = 8;
	if (max_rules > NP_MAX_RULES)
		max_rules = NP_MAX_RULES;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	strcpy(p->name, "random");
	p->default_action = pick(rng, 2) ? NP_ACTION_ALLOW : NP_ACTION_DENY;
	p->raw_sockets = p->default_action == NP_ACTION_ALLOW;
	random_port_pool(rng, &pool);
	p->n_rules = 1 + pick(rng, max_rules);
	p->rules = calloc(p->n_rules, sizeof(*p->rules));
	if (!p->rules)
		return np_policy_free(p);
	for (i = 0; i < p->n_rules; i++)
		if (random_rule(rng, &pool, &p->rules[i]) < 0)
			return np_policy_free(p);
	return p;
}

/* ---- random destinations ---- */

static void add_one(uint8_t addr[16], int delta)
{
	int i;

	for (i = 15; i >= 0; i--) {
		addr[i] = (uint8_t)(addr[i] + delta);
		if ((delta > 0 && addr[i] != 0) || (delta < 0 && addr[i] != 0xff))
			break;
	}
}

/* The first or last address of c, one outside it, or one inside. */
static void edge_addr(uint64_t *rng, const struct np_cidr *c, uint8_t addr[16])
{
	unsigned which = pick(rng, 5), i;

	memcpy(addr, c->addr, 16);
	mask(addr, c->plen);
	for (i = c->plen; i < 128; i++)
		if (which == 1 || which == 3 || (which == 4 && pick(rng, 2)))
			addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	if (which == 2)
		add_one(addr, -1);
	else if (which == 3)
		add_one(addr, 1);
}

static const struct np_cidr *random_policy_prefix(uint64_t *rng, const struct np_policy *p)
{
	const struct np_rule *r = &p->rules[pick(rng, (unsigned)p->n_rules)];
	unsigned n = (unsigned)(r->n_to + r->n_except), k;

	if (n == 0)
		return NULL;
	k = pick(rng, n);
	return k < r->n_to ? &r->to[k] : &r->except[k - r->n_to];
}

static uint16_t random_port(uint64_t *rng, const struct np_policy *p)
{
	const struct np_port_range *pr;
	const struct np_rule *r;
	long port;

	if (p->n_rules == 0 || pick(rng, 4) == 0)
		return (uint16_t)(pick(rng, 2) ? 1 + pick(rng, 50) : 1 + pick(rng, 65535));
	r = &p->rules[pick(rng, (unsigned)p->n_rules)];
	if (r->n_ports == 0)
		return (uint16_t)(1 + pick(rng, 50));
	pr = &r->ports[pick(rng, (unsigned)r->n_ports)];

	switch (pick(rng, 4)) {
	case 0:
		port = (long)pr->first - 1;
		break;
	case 1:
		port = pr->first;
		break;
	case 2:
		port = pr->last;
		break;
	default:
		port = (long)pr->last + 1;
	}
	if (port < 1)
		port = 1;
	if (port > 65535)
		port = 65535;
	return (uint16_t)port;
}

void np_ref_random_dest(uint64_t *rng, const struct np_policy *p, uint8_t addr[16], uint8_t *proto,
			uint16_t *port)
{
	static const uint8_t protos[] = {NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_ICMP};
	const struct np_cidr *c = NULL;

	if (p->n_rules > 0 && pick(rng, 4) != 0)
		c = random_policy_prefix(rng, p);
	if (c)
		edge_addr(rng, c, addr);
	/* only ever destinations a test may really send to */
	if (!c || !np_ref_dest_in_test_ranges(addr))
		random_test_addr(rng, addr);
	*proto = protos[pick(rng, sizeof(protos))];
	*port = *proto == NP_PROTO_ICMP ? 0 : random_port(rng, p);
}

/* ---- comparison ---- */

static bool rule_equal(const struct np_rule *a, const struct np_rule *b)
{
	return a->action == b->action && a->proto == b->proto && a->n_to == b->n_to &&
	       a->n_except == b->n_except && a->n_ports == b->n_ports &&
	       (a->n_to == 0 || memcmp(a->to, b->to, a->n_to * sizeof(*a->to)) == 0) &&
	       (a->n_except == 0 || memcmp(a->except, b->except, a->n_except * sizeof(*a->except)) == 0) &&
	       (a->n_ports == 0 || memcmp(a->ports, b->ports, a->n_ports * sizeof(*a->ports)) == 0);
}

bool np_ref_policy_equal(const struct np_policy *a, const struct np_policy *b)
{
	size_t i;

	if (strcmp(a->name, b->name) != 0 || a->default_action != b->default_action || a->audit != b->audit ||
	    a->log != b->log || a->raw_sockets != b->raw_sockets || a->n_rules != b->n_rules)
		return false;
	for (i = 0; i < a->n_rules; i++)
		if (!rule_equal(&a->rules[i], &b->rules[i]))
			return false;
	return true;
}
