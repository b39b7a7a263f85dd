/* SPDX-License-Identifier: GPL-2.0-only */
/* Rule sets for the benchmark: see bench-policy.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-policy.h"
#include "cleanup-util.h"

#define TEST_NET1 0xCB007100u /* 203.0.113.0 */
#define TEST_NET2 0xC6336400u /* 198.51.100.0 */

struct gen {
	uint64_t x;
	struct bench_cidr *out;
	size_t n, want;
	uint64_t *seen; /* open addressing over (addr << 8 | plen) + 1 */
	size_t seen_cap;
};

static uint64_t xorshift(struct gen *g)
{
	g->x ^= g->x << 13;
	g->x ^= g->x >> 7;
	g->x ^= g->x << 17;
	return g->x;
}

static uint32_t mask_of(uint8_t plen)
{
	return plen == 0 ? 0 : ~0u << (32 - plen);
}

static bool seen_insert(struct gen *g, uint32_t addr, uint8_t plen)
{
	uint64_t key = ((uint64_t)addr << 8 | plen) + 1;
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) % g->seen_cap;

	while (g->seen[i]) {
		if (g->seen[i] == key)
			return false;
		i = (i + 1) % g->seen_cap;
	}
	g->seen[i] = key;
	return true;
}

static void add(struct gen *g, uint32_t addr, uint8_t plen, uint8_t group)
{
	addr &= mask_of(plen);
	if (g->n < g->want && seen_insert(g, addr, plen))
		g->out[g->n++] = (struct bench_cidr){.addr = addr, .plen = plen, .group = group};
}

/* A prefix overlapping neither test range, so that rule order in the
 * linear iptables chain really puts the test ranges last. */
static bool overlaps_test(uint32_t addr, uint8_t plen)
{
	uint8_t p = plen < 24 ? plen : 24;
	uint32_t m = mask_of(p);

	return (addr & m) == (TEST_NET1 & m) || (addr & m) == (TEST_NET2 & m);
}

/* The research's "narrow" mix: 20% /16-/23, 40% /24, 40% /25-/32; a third
 * of the long ones nested inside an earlier prefix so that the set has
 * overlaps (and LPM lookups go deep). */
static void random_prefix(struct gen *g, uint32_t *addr, uint8_t *plen)
{
	uint64_t r = xorshift(g);
	unsigned kind = (unsigned)(r % 10);

	*addr = (uint32_t)(xorshift(g) >> 16);
	if (kind < 2)
		*plen = (uint8_t)(16 + (r >> 8) % 8);
	else if (kind < 6)
		*plen = 24;
	else
		*plen = (uint8_t)(25 + (r >> 8) % 8);
	if (kind >= 6 && (r >> 16) % 3 == 0 && g->n > 2) {
		const struct bench_cidr *parent = &g->out[2 + (r >> 24) % (g->n - 2)];

		if (parent->plen < *plen)
			*addr = parent->addr | (*addr & ~mask_of(parent->plen));
	}
	/* Keep to 1.0.0.0-223.255.255.255: unicast, as a policy would. */
	if ((*addr >> 24) == 0 || (*addr >> 24) >= 224)
		*addr = (*addr & 0x00ffffffu) | ((1u + (*addr >> 24) % 223) << 24);
}

static uint8_t random_group(size_t i, size_t n_random)
{
	/* A 50%, B 20%, C 15%, D 15%, by position: deterministic sizes. */
	size_t pct = i * 100 / (n_random ? n_random : 1);

	return pct < 50 ? BENCH_GRP_A : pct < 70 ? BENCH_GRP_B : pct < 85 ? BENCH_GRP_C : BENCH_GRP_D;
}

int bench_cidrs_gen(size_t n, uint64_t seed, struct bench_cidr **ret)
{
	struct gen g = {.x = seed ? seed : 88172645463325252ull, .want = n};
	_cleanup_free_ uint64_t *seen = NULL;
	size_t n_sub, start;

	if (n < 4)
		return -EINVAL;
	g.out = calloc(n, sizeof(*g.out));
	g.seen_cap = n * 2 + 64;
	seen = g.seen = calloc(g.seen_cap, sizeof(*g.seen));
	if (!g.out || !g.seen) {
		free(g.out);
		return -ENOMEM;
	}
	add(&g, TEST_NET1, 24, BENCH_GRP_TEST);
	add(&g, TEST_NET2, 24, BENCH_GRP_TEST);

	/* 5% (at least one, at most 500) prefixes inside the test ranges. */
	n_sub = n / 20 ? n / 20 : 1;
	if (n_sub > 500)
		n_sub = 500;
	while (g.n < 2 + n_sub) {
		uint64_t r = xorshift(&g);
		uint8_t plen = (uint8_t)(25 + r % 8);

		add(&g, ((r >> 8) & 1 ? TEST_NET1 : TEST_NET2) | (uint32_t)((r >> 16) & 0xff), plen,
		    BENCH_GRP_SUB);
	}

	start = g.n;
	while (g.n < n) {
		uint32_t addr;
		uint8_t plen;

		random_prefix(&g, &addr, &plen);
		if (!overlaps_test(addr, plen))
			add(&g, addr, plen, random_group(g.n - start, n - start));
	}
	*ret = g.out;
	return 0;
}

/* ---- text output ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

static void cidr_text(const struct bench_cidr *c, char *out, size_t size)
{
	snprintf(out, size, "%u.%u.%u.%u/%u", c->addr >> 24, (c->addr >> 16) & 0xff, (c->addr >> 8) & 0xff,
		 c->addr & 0xff, c->plen);
}

/* One rule over the CIDRs of some groups; nothing when none is in it. */
static void json_rule(struct buf *b, bool *first, const struct bench_cidr *c, size_t n, unsigned groups,
		      const char *head)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		char t[32];

		if (!(groups & (1u << c[i].group)))
			continue;
		cidr_text(&c[i], t, sizeof(t));
		if (!any)
			buf_printf(b, "%s{%s, \"to\": [", *first ? "" : ", ", head);
		buf_printf(b, "%s\"%s\"", any ? ", " : "", t);
		any = true;
	}
	if (any) {
		buf_printf(b, "]}");
		*first = false;
	}
}

static void json_rules(struct buf *b, bool *first, const struct bench_cidr *c, size_t n, bool with_test)
{
	if (with_test)
		json_rule(b, first, c, n, 1u << BENCH_GRP_TEST | 1u << BENCH_GRP_A, "\"action\": \"allow\"");
	else
		json_rule(b, first, c, n, 1u << BENCH_GRP_A, "\"action\": \"allow\"");
	json_rule(b, first, c, n, 1u << BENCH_GRP_B,
		  "\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [443, \"8000-8100\"]");
	json_rule(b, first, c, n, 1u << BENCH_GRP_C,
		  "\"action\": \"allow\", \"protocol\": \"udp\", \"ports\": [53, 123]");
	json_rule(b, first, c, n, (with_test ? 1u << BENCH_GRP_SUB : 0) | 1u << BENCH_GRP_D,
		  "\"action\": \"deny\", \"protocol\": \"tcp\", \"ports\": [22, 23, 25]");
	if (with_test)
		json_rule(b, first, c, n, 1u << BENCH_GRP_SUB,
			  "\"action\": \"allow\", \"protocol\": \"tcp\", \"ports\": [\"8080-8081\"]");
}

char *bench_policy_json(const char *name, const struct bench_cidr *c, size_t n)
{
	struct buf b = {0};
	bool first = true;

	buf_printf(&b, "{\"name\": \"%s\", \"default\": \"deny\", \"rules\": [", name);
	json_rules(&b, &first, c, n, true);
	buf_printf(&b, "]}");
	return b.p;
}

char *bench_policy_json_latency(const char *name, const struct bench_cidr *c, size_t n, const char *target,
				unsigned allow_port)
{
	struct buf b = {0};
	bool first = true;

	buf_printf(&b, "{\"name\": \"%s\", \"default\": \"deny\", \"rules\": [", name);
	json_rules(&b, &first, c, n, false);
	if (allow_port)
		buf_printf(
		    &b, "%s{\"action\": \"allow\", \"protocol\": \"udp\", \"ports\": [%u], \"to\": [\"%s\"]}",
		    first ? "" : ", ", allow_port, target);
	buf_printf(&b, "]}");
	return b.p;
}

char *bench_nft_ruleset(const struct bench_cidr *c, size_t n)
{
	struct buf b = {0};

	buf_printf(&b, "table ip netpol_bench {\n\tset cidrs {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
		       "\t\tauto-merge\n\t\telements = {");
	for (size_t i = 0; i < n; i++) {
		char t[32];

		cidr_text(&c[i], t, sizeof(t));
		buf_printf(&b, "%s%s", i ? ", " : " ", t);
	}
	buf_printf(
	    &b,
	    " }\n\t}\n\tchain egress_filter {\n\t\ttype filter hook output priority filter; policy accept;\n"
	    "\t\tip daddr @cidrs accept\n\t}\n}\n");
	return b.p;
}

static void ipt_rules(struct buf *b, const struct bench_cidr *c, size_t n, bool test)
{
	for (size_t i = 0; i < n; i++) {
		char t[32];

		if ((c[i].group == BENCH_GRP_TEST || c[i].group == BENCH_GRP_SUB) != test)
			continue;
		cidr_text(&c[i], t, sizeof(t));
		buf_printf(b, "-A OUTPUT -d %s -j ACCEPT\n", t);
	}
}

char *bench_ipt_ruleset(const struct bench_cidr *c, size_t n)
{
	struct buf b = {0};

	buf_printf(&b, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
	ipt_rules(&b, c, n, false);
	ipt_rules(&b, c, n, true);
	buf_printf(&b, "COMMIT\n");
	return b.p;
}
