/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy JSON, as a client or a state file gives it. Whatever the input:
 * a refusal says what is wrong; a policy that parses either compiles or is
 * refused with a reason; what compiles has the shape the kernel relies on
 * and decides like the reference evaluator (tests/ref-eval.c); and the
 * canonical form parses back to the same policy, which compiles to the same
 * entries.
 */
#include <errno.h>
#include <string.h>

#include "cleanup-util.h"
#include "fuzz-util.h"
#include "policy.h"
#include "ref-eval.h"

/* Bounds the differential check's cost per input. */
#define MAX_PROBE_CIDRS 16
#define MAX_PROBE_PORTS 12

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* the same object iteration for the same input, run after run */
	json_object_seed(1);
	return 0;
}

static uint16_t expected_flags(const struct np_policy *p)
{
	return (uint16_t)((p->audit ? NP_POL_AUDIT : 0) | (p->log == NP_LOG_ALL ? NP_POL_LOG_ALL : 0) |
			  (p->raw_sockets ? NP_POL_RAW_ALLOW : 0));
}

static int key_cmp(const struct np_lpm_key *a, const struct np_lpm_key *b)
{
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return memcmp(a->addr, b->addr, 16);
}

#define ICMP_FLAGS (NP_POL_NO_ICMP4 | NP_POL_NO_ICMP6)

/* Whether an entry lets anything through, from its cells. */
static bool val_allows_some(const struct np_lpm_val *v)
{
	bool any = !(v->icmp & NP_CELL_DENY) || !(v->other & NP_CELL_DENY);

	for (size_t k = 0; k < v->nsegs && k < NP_MAX_PORT_SEGS; k++)
		any |= !(v->segs[k].tcp & NP_CELL_DENY) || !(v->segs[k].udp & NP_CELL_DENY);
	return any;
}

/* flags: the policy's, the same in every entry; NP_VAL_SOME_ALLOWED is
 * the entry's own. */
static void check_val(const struct np_lpm_val *v, uint16_t flags)
{
	static const struct np_port_seg zero;
	size_t k;

	fuzz_assert(v->nsegs >= 1 && v->nsegs <= NP_MAX_PORT_SEGS, "nsegs %u", v->nsegs);
	fuzz_assert((v->flags & ~NP_VAL_SOME_ALLOWED) == flags, "flags 0x%x, want 0x%x", v->flags, flags);
	fuzz_assert(!(v->flags & NP_VAL_SOME_ALLOWED) == !val_allows_some(v), "flags 0x%x, but %s allowed",
		    v->flags, val_allows_some(v) ? "something is" : "nothing is");
	fuzz_assert(v->segs[v->nsegs - 1].last_port == 65535, "last segment ends at %u",
		    v->segs[v->nsegs - 1].last_port);
	for (k = 1; k < v->nsegs; k++)
		fuzz_assert(v->segs[k - 1].last_port < v->segs[k].last_port, "segment %zu not after %zu", k,
			    k - 1);
	/* entries are compared bytewise when a policy is replaced */
	for (k = v->nsegs; k < NP_MAX_PORT_SEGS; k++)
		fuzz_assert(memcmp(&v->segs[k], &zero, sizeof(zero)) == 0, "unused segment %zu not zero", k);
}

/* What the kernel needs of the entries: ::/0 first, sorted, no host bits. */
static void check_shape(const struct np_policy *p, const struct np_compiled *c)
{
	uint16_t flags = expected_flags(p);
	size_t i;

	fuzz_assert(c->n_entries >= 1 && c->entries[0].key.prefixlen == 0, "no ::/0 entry first");
	fuzz_assert((c->flags & ~ICMP_FLAGS) == flags, "flags 0x%x, want 0x%x", c->flags, flags);
	flags = c->flags;
	for (i = 0; i < c->n_entries; i++) {
		const struct np_lpm_key *k = &c->entries[i].key;
		uint8_t masked[16];

		fuzz_assert(k->prefixlen <= 128, "entry %zu: prefix length %u", i, k->prefixlen);
		memcpy(masked, k->addr, 16);
		for (unsigned b = k->prefixlen; b < 128; b++)
			masked[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
		fuzz_assert(memcmp(masked, k->addr, 16) == 0, "entry %zu has host bits", i);
		fuzz_assert(i == 0 || key_cmp(&c->entries[i - 1].key, k) < 0, "entries %zu, %zu out of order",
			    i - 1, i);
		check_val(&c->entries[i].val, flags);
	}
}

/* The first and last address of c, and the ones just outside it. */
static size_t probe_addrs(const struct np_cidr *c, uint8_t out[4][16])
{
	uint8_t last[16];
	int i;

	memcpy(out[0], c->addr, 16);
	memcpy(last, c->addr, 16);
	for (unsigned b = c->plen; b < 128; b++)
		last[b / 8] |= (uint8_t)(0x80u >> (b % 8));
	memcpy(out[1], last, 16);
	memcpy(out[2], c->addr, 16);
	for (i = 15; i >= 0 && out[2][i]-- == 0; i--)
		;
	memcpy(out[3], last, 16);
	for (i = 15; i >= 0 && ++out[3][i] == 0; i--)
		;
	return 4;
}

static size_t probe_ports(const struct np_policy *p, uint16_t *ports)
{
	size_t n = 0, i, k;

	ports[n++] = 1;
	ports[n++] = 65535;
	for (i = 0; i < p->n_rules; i++)
		for (k = 0; k < p->rules[i].n_ports && n + 4 <= MAX_PROBE_PORTS; k++) {
			const struct np_port_range *r = &p->rules[i].ports[k];

			ports[n++] = r->first;
			ports[n++] = r->last;
			if (r->first > 1)
				ports[n++] = (uint16_t)(r->first - 1);
			if (r->last < 65535)
				ports[n++] = (uint16_t)(r->last + 1);
		}
	return n;
}

static bool addr_is_v4(const uint8_t addr[16])
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	return memcmp(addr, mapped, 12) == 0;
}

static void check_addr(const struct np_policy *p, const struct np_compiled *c, const uint8_t addr[16],
		       const uint16_t *ports, size_t n_ports)
{
	static const uint8_t classes[] = {NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_ICMP, NP_PROTO_OTHER};
	size_t i, k;

	for (i = 0; i < ELEMENTSOF(classes); i++) {
		size_t n = classes[i] == NP_PROTO_TCP || classes[i] == NP_PROTO_UDP ? n_ports : 1;

		for (k = 0; k < n; k++) {
			uint16_t port = n == 1 ? 0 : ports[k];
			uint16_t got = np_compiled_decide(c, addr, classes[i], port);
			uint16_t want = np_ref_decide(p, addr, classes[i], port);
			char text[64];

			np_addr_format(addr, text, sizeof(text));
			fuzz_assert(got == want, "%s proto %u port %u: compiled 0x%04x, reference 0x%04x",
				    text, classes[i], port, got, want);
			/* a family's ping sockets are refused only where no ICMP of it is allowed */
			if (classes[i] == NP_PROTO_ICMP && !(want & NP_CELL_DENY))
				fuzz_assert(
				    !(c->flags & (addr_is_v4(addr) ? NP_POL_NO_ICMP4 : NP_POL_NO_ICMP6)),
				    "ICMP to %s is allowed, but flags 0x%x refuse ping sockets", text,
				    c->flags);
		}
	}
}

/* Compiled against reference at the edges of (some of) the policy's prefixes. */
static void check_decisions(const struct np_policy *p, const struct np_compiled *c)
{
	static const uint8_t zero[16];
	uint16_t ports[MAX_PROBE_PORTS];
	size_t n_ports = probe_ports(p, ports), n_cidrs = 0, i, k, a;

	check_addr(p, c, zero, ports, n_ports);
	for (i = 0; i < p->n_rules && n_cidrs < MAX_PROBE_CIDRS; i++) {
		const struct np_rule *r = &p->rules[i];

		for (k = 0; k < r->n_to + r->n_except && n_cidrs < MAX_PROBE_CIDRS; k++, n_cidrs++) {
			const struct np_cidr *cidr = k < r->n_to ? &r->to[k] : &r->except[k - r->n_to];
			uint8_t addrs[4][16];
			size_t n = probe_addrs(cidr, addrs);

			for (a = 0; a < n; a++)
				check_addr(p, c, addrs[a], ports, n_ports);
		}
	}
}

static char *canonical_text(const struct np_policy *p)
{
	json_t *j = np_policy_to_json(p);
	char *text;

	fuzz_assert(j != NULL, "np_policy_to_json failed");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	fuzz_assert(text != NULL, "json_dumps failed");
	return text;
}

/* parse(to_json(p)) is p, its canonical form is the same text, and it
 * compiles as p did (r, and the entries byte for byte). */
static void check_round_trip(const struct np_policy *p, int compiled, const struct np_compiled *c)
{
	_cleanup_(np_policy_freep) struct np_policy *q = NULL;
	_cleanup_(np_compiled_freep) struct np_compiled *qc = NULL;
	_cleanup_free_ char *text = canonical_text(p), *again = NULL;
	struct np_error err = {};
	int r;

	r = np_policy_from_string(text, &q, &err);
	fuzz_assert(r == 0, "canonical form refused: %s: %s\n%s", err.field, err.message, text);
	fuzz_assert(np_ref_policy_equal(p, q), "round trip changed the policy:\n%s", text);
	again = canonical_text(q);
	fuzz_assert(strcmp(text, again) == 0, "canonical form not stable:\n%s\n%s", text, again);

	r = np_policy_compile(q, &qc, &err);
	fuzz_assert(r == compiled, "compiles to %d after the round trip, %d before", r, compiled);
	if (r < 0)
		return;
	fuzz_assert(qc->n_entries == c->n_entries && qc->flags == c->flags &&
			memcmp(qc->entries, c->entries, c->n_entries * sizeof(*c->entries)) == 0,
		    "other entries after the round trip (%zu, %zu before)", qc->n_entries, c->n_entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_text(data, size);
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
	struct np_error err = {};
	int r;

	r = np_policy_from_string(text, &p, &err);
	if (r < 0) {
		fuzz_assert(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "parse returned %d", r);
		fuzz_assert(err.message[0] != '\0', "refused without a message");
		fuzz_assert(p == NULL, "refused but returned a policy");
		return 0;
	}
	fuzz_assert(p != NULL && np_policy_name_valid(p->name), "parsed without a valid name");

	r = np_policy_compile(p, &c, &err);
	if (r < 0) {
		/* too many port segments under one prefix; nothing else */
		fuzz_assert(r == -E2BIG || r == -ENOMEM, "compile returned %d: %s", r, err.message);
		fuzz_assert(err.message[0] != '\0', "compile refused without a message");
	} else {
		check_shape(p, c);
		check_decisions(p, c);
	}
	check_round_trip(p, r, c);
	return 0;
}
