/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Compiles a policy into the per-prefix verdict entries of its LPM trie, so
 * that the kernel pays one longest-prefix lookup and one small binary search
 * per decision however many rules the policy has.
 *
 * Let P be every prefix of every rule's "to" and "except", plus ::/0. Two
 * addresses with the same longest match p in P lie in exactly the same
 * members of P (those containing p), so they match the same rules: one entry
 * per p describes them all. Sorting P by (address, length) lists it in trie
 * pre-order, and a stack of the prefixes containing the current one gives,
 * at each p, every "to" and "except" that covers it without a trie.
 *
 * What a set of matching rules decides is summed up by the lowest-index
 * deny and allow rule per protocol class and per port range. Going down the
 * trie only adds rules, and "lowest" only goes down, so a prefix's summary
 * is its parent's plus its own "to" rules; only a prefix that is itself an
 * "except" (which removes rules) is summed up again from the whole stack.
 * That keeps the cost per prefix near its own size even under many rules
 * to "any".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

#define NO_RULE UINT32_MAX

/* One prefix as it occurs in one rule. */
struct occ {
	uint8_t addr[16];
	uint8_t plen;
	bool except;
	uint32_t rule;
};

/* The lowest-index deny and allow rules that match; lower index reports. */
struct best {
	uint32_t deny, allow;
};

/* A matching rule's port range, reduced to what decides. */
struct port_item {
	uint16_t first, last;
	uint8_t deny, tcp, udp;
	uint32_t rule;
};

/* What the rules matching a prefix decide (see the top of the file). */
struct summary {
	struct best icmp, other, tcp_all, udp_all;
	struct port_item *items;
	size_t n_items, cap_items;
};

/* A prefix of P containing the one being compiled. */
struct frame {
	const struct occ *occ; /* its occurrences, sorted together */
	size_t n_occ;
	bool has_except;
	size_t emitted; /* entry of the nearest emitted prefix at or above it */
	struct summary sum;
};

struct interval {
	struct best tcp, udp;
};

struct compiler {
	const struct np_policy *p;
	struct np_error *err;
	uint16_t default_cell, flags;

	struct occ *occ;
	size_t n_occ;
	struct frame stack[130]; /* lengths strictly increase: at most 129 deep */
	size_t depth;

	/* per rule: "except" prefixes of it on the stack */
	uint32_t *ex_count;
	/* rules seen while summing up from the stack; stamps avoid clearing */
	uint32_t *to_stamp, serial;

	/* port range ends of the matching rules, and their elementary intervals */
	uint16_t *cuts;
	size_t n_cuts, cap_cuts;
	struct interval *iv;
	size_t cap_iv;

	struct np_lpm_entry *entries;
	size_t n_entries, cap_entries;
};

struct np_compiled *np_compiled_free(struct np_compiled *c)
{
	if (c) {
		free(c->entries);
		free(c);
	}
	return NULL;
}

static void compiler_done(struct compiler *c)
{
	size_t i;

	for (i = 0; i < ELEMENTSOF(c->stack); i++)
		free(c->stack[i].sum.items);
	free(c->occ);
	free(c->ex_count);
	free(c->to_stamp);
	free(c->cuts);
	free(c->iv);
	free(c->entries);
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *nv;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	nv = reallocarray(*v, ncap, size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static bool rule_covers_tcp(const struct np_rule *r)
{
	return r->proto == NP_RULE_PROTO_ANY || r->proto == NP_RULE_PROTO_TCP;
}

static bool rule_covers_udp(const struct np_rule *r)
{
	return r->proto == NP_RULE_PROTO_ANY || r->proto == NP_RULE_PROTO_UDP;
}

/* Port lists exist only for TCP and UDP, so a rule with ports says nothing
 * about ICMP or other protocols. */
static bool rule_covers_icmp(const struct np_rule *r)
{
	return r->proto == NP_RULE_PROTO_ICMP || (r->proto == NP_RULE_PROTO_ANY && r->n_ports == 0);
}

static bool rule_covers_other(const struct np_rule *r)
{
	return r->proto == NP_RULE_PROTO_ANY && r->n_ports == 0;
}

static void best_init(struct best *b)
{
	b->deny = b->allow = NO_RULE;
}

static void best_add(struct best *b, bool deny, uint32_t idx)
{
	uint32_t *slot = deny ? &b->deny : &b->allow;

	if (idx < *slot)
		*slot = idx;
}

/* Any matching deny wins; then any matching allow; then the default. */
static uint16_t best_cell(const struct best *b, uint16_t default_cell)
{
	if (b->deny != NO_RULE)
		return (uint16_t)(NP_CELL_DENY | b->deny);
	if (b->allow != NO_RULE)
		return (uint16_t)b->allow;
	return default_cell;
}

static int occ_cmp(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;
	int d = memcmp(x->addr, y->addr, 16);

	if (d)
		return d;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return (int)x->except - (int)y->except;
}

static int add_occ(struct compiler *c, const struct np_cidr *cidr, uint32_t rule, bool except, size_t *n)
{
	struct occ *o = &c->occ[(*n)++];

	if (cidr->plen > 128) {
		np_error_set(c->err, "rules", "rule %u has a prefix length of %u; at most 128 is possible",
			     rule, cidr->plen);
		return -EINVAL;
	}
	memcpy(o->addr, cidr->addr, 16);
	/* policies built in code rather than parsed may carry host bits */
	np_prefix_mask(o->addr, cidr->plen);
	o->plen = cidr->plen;
	o->rule = rule;
	o->except = except;
	return 0;
}

static int collect_prefixes(struct compiler *c)
{
	const struct np_policy *p = c->p;
	size_t total = 0, n = 0, i, k;
	int r;

	for (i = 0; i < p->n_rules; i++)
		total += p->rules[i].n_to + p->rules[i].n_except;
	c->occ = calloc(total ? total : 1, sizeof(*c->occ));
	if (!c->occ)
		return -ENOMEM;
	for (i = 0; i < p->n_rules; i++) {
		for (k = 0; k < p->rules[i].n_to; k++) {
			r = add_occ(c, &p->rules[i].to[k], (uint32_t)i, false, &n);
			if (r < 0)
				return r;
		}
		for (k = 0; k < p->rules[i].n_except; k++) {
			r = add_occ(c, &p->rules[i].except[k], (uint32_t)i, true, &n);
			if (r < 0)
				return r;
		}
	}
	c->n_occ = n;
	qsort(c->occ, n, sizeof(*c->occ), occ_cmp);
	return 0;
}

/* ---- summaries ---- */

static void summary_reset(struct summary *s)
{
	best_init(&s->icmp);
	best_init(&s->other);
	best_init(&s->tcp_all);
	best_init(&s->udp_all);
	s->n_items = 0;
}

static int summary_copy(struct summary *to, const struct summary *from)
{
	int r;

	r = grow((void **)&to->items, &to->cap_items, from->n_items, sizeof(*to->items));
	if (r < 0)
		return r;
	to->icmp = from->icmp;
	to->other = from->other;
	to->tcp_all = from->tcp_all;
	to->udp_all = from->udp_all;
	if (from->n_items)
		memcpy(to->items, from->items, from->n_items * sizeof(*to->items));
	to->n_items = from->n_items;
	return 0;
}

static int summary_add_rule(struct compiler *c, struct summary *s, uint32_t idx)
{
	const struct np_rule *rule = &c->p->rules[idx];
	bool deny = rule->action == NP_ACTION_DENY;
	size_t k;
	int r;

	if (rule_covers_icmp(rule))
		best_add(&s->icmp, deny, idx);
	if (rule_covers_other(rule))
		best_add(&s->other, deny, idx);
	if (rule->n_ports == 0) {
		if (rule_covers_tcp(rule))
			best_add(&s->tcp_all, deny, idx);
		if (rule_covers_udp(rule))
			best_add(&s->udp_all, deny, idx);
		return 0;
	}
	r = grow((void **)&s->items, &s->cap_items, s->n_items + rule->n_ports, sizeof(*s->items));
	if (r < 0)
		return r;
	for (k = 0; k < rule->n_ports; k++)
		s->items[s->n_items++] = (struct port_item){
		    .first = rule->ports[k].first,
		    .last = rule->ports[k].last,
		    .deny = deny,
		    .tcp = rule_covers_tcp(rule),
		    .udp = rule_covers_udp(rule),
		    .rule = idx,
		};
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct port_item *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	if (x->deny != y->deny || x->tcp != y->tcp || x->udp != y->udp)
		return (x->deny * 4 + x->tcp * 2 + x->udp) - (y->deny * 4 + y->tcp * 2 + y->udp);
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool item_same_kind(const struct port_item *x, const struct port_item *y)
{
	return x->first == y->first && x->last == y->last && x->deny == y->deny && x->tcp == y->tcp &&
	       x->udp == y->udp;
}

/* Of items that differ only in the rule, the lowest index decides alone;
 * this bounds a summary by the distinct port ranges, not by the rules. */
static void summary_normalize(struct summary *s)
{
	size_t i, w = 0;

	/* items stays NULL until a rule with ports matches, and qsort() must
	 * not be given NULL even for no elements */
	if (s->n_items > 0)
		qsort(s->items, s->n_items, sizeof(*s->items), item_cmp);
	for (i = 0; i < s->n_items; i++)
		if (w == 0 || !item_same_kind(&s->items[w - 1], &s->items[i]))
			s->items[w++] = s->items[i];
	s->n_items = w;
}

/* From scratch: the rules covered by one of their "to" prefixes on the
 * stack and by none of their "except" prefixes. */
static int summary_from_stack(struct compiler *c, struct summary *s)
{
	size_t f, i;
	int r;

	summary_reset(s);
	c->serial++;
	for (f = 0; f < c->depth; f++)
		for (i = 0; i < c->stack[f].n_occ; i++) {
			const struct occ *o = &c->stack[f].occ[i];

			if (o->except || c->ex_count[o->rule] > 0 || c->to_stamp[o->rule] == c->serial)
				continue;
			c->to_stamp[o->rule] = c->serial;
			r = summary_add_rule(c, s, o->rule);
			if (r < 0)
				return r;
		}
	summary_normalize(s);
	return 0;
}

/* The parent's rules plus those this prefix is a "to" of. */
static int summary_from_parent(struct compiler *c, struct summary *s, const struct summary *parent,
			       const struct frame *f)
{
	size_t i;
	int r;

	r = summary_copy(s, parent);
	if (r < 0)
		return r;
	for (i = 0; i < f->n_occ; i++) {
		if (c->ex_count[f->occ[i].rule] > 0)
			continue;
		r = summary_add_rule(c, s, f->occ[i].rule);
		if (r < 0)
			return r;
	}
	summary_normalize(s);
	return 0;
}

/* ---- from a summary to an LPM value ---- */

static int u16_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Interval i covers (cuts[i-1], cuts[i]]; a range first..last then starts
 * right after the cut first-1 and ends on the cut last. */
static int build_cuts(struct compiler *c, const struct summary *s)
{
	size_t k, n = 0, w;
	int r;

	r = grow((void **)&c->cuts, &c->cap_cuts, 2 * s->n_items + 1, sizeof(*c->cuts));
	if (r < 0)
		return r;
	c->cuts[n++] = 65535;
	for (k = 0; k < s->n_items; k++) {
		c->cuts[n++] = (uint16_t)(s->items[k].first - 1);
		c->cuts[n++] = s->items[k].last;
	}
	qsort(c->cuts, n, sizeof(*c->cuts), u16_cmp);
	for (w = 0, k = 0; k < n; k++)
		if (w == 0 || c->cuts[w - 1] != c->cuts[k])
			c->cuts[w++] = c->cuts[k];
	c->n_cuts = w;
	return 0;
}

static size_t cut_index(const struct compiler *c, uint16_t port)
{
	size_t lo = 0, hi = c->n_cuts - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->cuts[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Per elementary port interval, the best TCP and UDP rules (rules without
 * ports cover every interval). */
static int fill_intervals(struct compiler *c, const struct summary *s)
{
	size_t i, k;
	int r;

	r = grow((void **)&c->iv, &c->cap_iv, c->n_cuts, sizeof(*c->iv));
	if (r < 0)
		return r;
	for (i = 0; i < c->n_cuts; i++) {
		c->iv[i].tcp = s->tcp_all;
		c->iv[i].udp = s->udp_all;
	}
	for (k = 0; k < s->n_items; k++) {
		const struct port_item *it = &s->items[k];
		size_t last = cut_index(c, it->last);

		for (i = cut_index(c, it->first); i <= last; i++) {
			if (it->tcp)
				best_add(&c->iv[i].tcp, it->deny, it->rule);
			if (it->udp)
				best_add(&c->iv[i].udp, it->deny, it->rule);
		}
	}
	return 0;
}

static size_t count_distinct_ranges(const struct summary *s)
{
	size_t k, n = 0;

	/* items are sorted by (first, last) */
	for (k = 0; k < s->n_items; k++)
		if (k == 0 || s->items[k - 1].first != s->items[k].first ||
		    s->items[k - 1].last != s->items[k].last)
			n++;
	return n;
}

static int too_many_segments(struct compiler *c, const struct summary *s, const uint8_t addr[16],
			     uint8_t plen, size_t nsegs)
{
	struct np_cidr cidr = {.plen = plen};
	char text[64];

	memcpy(cidr.addr, addr, 16);
	np_cidr_format(&cidr, text, sizeof(text));
	np_error_set(c->err, "rules",
		     "%s needs %zu port segments, at most %d are possible: %zu distinct port ranges of the "
		     "rules matching it overlap there; merge or drop some port ranges, or split the policy",
		     text, nsegs, NP_MAX_PORT_SEGS, count_distinct_ranges(s));
	return -E2BIG;
}

/* Merge neighbouring intervals with equal verdicts into segments. */
static size_t fill_segments(struct compiler *c, struct np_lpm_val *val)
{
	uint16_t prev_tcp = 0, prev_udp = 0;
	size_t i, n = 0;

	for (i = 0; i < c->n_cuts; i++) {
		uint16_t tcp = best_cell(&c->iv[i].tcp, c->default_cell);
		uint16_t udp = best_cell(&c->iv[i].udp, c->default_cell);

		if (n == 0 || tcp != prev_tcp || udp != prev_udp) {
			if (n < NP_MAX_PORT_SEGS) {
				val->segs[n].tcp = tcp;
				val->segs[n].udp = udp;
			}
			n++;
			prev_tcp = tcp;
			prev_udp = udp;
		}
		if (n <= NP_MAX_PORT_SEGS)
			val->segs[n - 1].last_port = c->cuts[i];
	}
	return n;
}

/* Whether an address class lets anything through: a UDP connect() to an
 * address that allows nothing is refused at once, where the datagram that
 * would be refused is probably never sent (a client gives up). */
static bool val_allows_some(const struct np_lpm_val *val)
{
	if (!(val->icmp & NP_CELL_DENY) || !(val->other & NP_CELL_DENY))
		return true;
	for (uint16_t i = 0; i < val->nsegs; i++)
		if (!(val->segs[i].tcp & NP_CELL_DENY) || !(val->segs[i].udp & NP_CELL_DENY))
			return true;
	return false;
}

static int summary_to_val(struct compiler *c, const struct summary *s, struct np_lpm_val *val,
			  const uint8_t addr[16], uint8_t plen)
{
	size_t nsegs;
	int r;

	r = build_cuts(c, s);
	if (r < 0)
		return r;
	r = fill_intervals(c, s);
	if (r < 0)
		return r;
	/* zeroed padding: entries are compared and hashed bytewise */
	memset(val, 0, sizeof(*val));
	val->icmp = best_cell(&s->icmp, c->default_cell);
	val->other = best_cell(&s->other, c->default_cell);
	val->flags = c->flags;
	nsegs = fill_segments(c, val);
	if (nsegs > NP_MAX_PORT_SEGS)
		return too_many_segments(c, s, addr, plen, nsegs);
	val->nsegs = (uint16_t)nsegs;
	if (val_allows_some(val))
		val->flags |= NP_VAL_SOME_ALLOWED;
	return 0;
}

/* The verdicts for the prefix on top of the stack. */
static int compute_val(struct compiler *c, struct np_lpm_val *val, const uint8_t addr[16], uint8_t plen)
{
	struct frame *f = &c->stack[c->depth - 1];
	int r;

	if (c->depth == 1 || f->has_except)
		r = summary_from_stack(c, &f->sum);
	else
		r = summary_from_parent(c, &f->sum, &c->stack[c->depth - 2].sum, f);
	if (r < 0)
		return r;
	return summary_to_val(c, &f->sum, val, addr, plen);
}

static int emit(struct compiler *c, const uint8_t addr[16], uint8_t plen, const struct np_lpm_val *val)
{
	struct np_lpm_entry *e;
	int r;

	r = grow((void **)&c->entries, &c->cap_entries, c->n_entries + 1, sizeof(*c->entries));
	if (r < 0)
		return r;
	e = &c->entries[c->n_entries++];
	memset(e, 0, sizeof(*e));
	e->key.prefixlen = plen;
	memcpy(e->key.addr, addr, 16);
	e->val = *val;
	return 0;
}

/* Compile the prefix just pushed. One equal to its nearest emitted ancestor
 * is left out: the LPM lookup falls back to that ancestor anyway. */
static int visit(struct compiler *c, const uint8_t addr[16], uint8_t plen)
{
	struct frame *f = &c->stack[c->depth - 1];
	struct np_lpm_val val;
	int r;

	r = compute_val(c, &val, addr, plen);
	if (r < 0)
		return r;
	if (c->depth > 1) {
		size_t up = c->stack[c->depth - 2].emitted;

		if (memcmp(&c->entries[up].val, &val, sizeof(val)) == 0) {
			f->emitted = up;
			return 0;
		}
	}
	r = emit(c, addr, plen, &val);
	if (r < 0)
		return r;
	f->emitted = c->n_entries - 1;
	return 0;
}

static size_t group_end(const struct compiler *c, size_t i)
{
	size_t j = i + 1;

	while (j < c->n_occ && c->occ[j].plen == c->occ[i].plen &&
	       memcmp(c->occ[j].addr, c->occ[i].addr, 16) == 0)
		j++;
	return j;
}

static void push(struct compiler *c, const struct occ *occ, size_t n)
{
	struct frame *f = &c->stack[c->depth++];
	size_t i;

	f->occ = occ;
	f->n_occ = n;
	f->has_except = false;
	for (i = 0; i < n; i++)
		if (occ[i].except) {
			c->ex_count[occ[i].rule]++;
			f->has_except = true;
		}
}

static void pop(struct compiler *c)
{
	struct frame *f = &c->stack[--c->depth];
	size_t i;

	for (i = 0; i < f->n_occ; i++)
		if (f->occ[i].except)
			c->ex_count[f->occ[i].rule]--;
}

static int walk(struct compiler *c)
{
	static const uint8_t zero[16];
	size_t i = 0, j;
	int r;

	/* ::/0 sorts first if present; it is always emitted, present or not */
	j = c->n_occ > 0 && c->occ[0].plen == 0 ? group_end(c, 0) : 0;
	push(c, c->occ, j);
	r = visit(c, zero, 0);
	if (r < 0)
		return r;

	for (i = j; i < c->n_occ; i = j) {
		const struct occ *o = &c->occ[i];

		j = group_end(c, i);
		while (c->depth > 1) {
			const struct occ *top = c->stack[c->depth - 1].occ;

			if (top->plen <= o->plen && np_prefix_contains(top->addr, top->plen, o->addr))
				break;
			pop(c);
		}
		push(c, o, j - i);
		r = visit(c, o->addr, o->plen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct np_lpm_key *x = &((const struct np_lpm_entry *)a)->key;
	const struct np_lpm_key *y = &((const struct np_lpm_entry *)b)->key;

	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

static uint16_t policy_flags(const struct np_policy *p)
{
	return (uint16_t)((p->audit ? NP_POL_AUDIT : 0) | (p->log == NP_LOG_ALL ? NP_POL_LOG_ALL : 0) |
			  (p->raw_sockets ? NP_POL_RAW_ALLOW : 0));
}

/* Whether some address of the prefix is IPv4 (::ffff:0:0/96), and whether
 * some is not. */
static bool prefix_meets_v4(const uint8_t addr[16], uint8_t plen)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	uint8_t bits = plen < 96 ? plen : 96;

	for (uint8_t i = 0; i < bits; i++)
		if ((addr[i / 8] ^ mapped[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool prefix_meets_v6(const uint8_t addr[16], uint8_t plen)
{
	return plen <= 96 || !prefix_meets_v4(addr, plen);
}

/* A ping socket of a family to whose addresses no entry allows ICMP is
 * refused at socket(): an ICMPv6 ping's sendto() reports no egress drop. An
 * entry counts for each family its prefix meets, even where more specific
 * entries take its addresses: it errs towards allowing the socket, whose
 * packets the egress still judges. */
static void add_icmp_flags(struct compiler *c)
{
	bool icmp4 = false, icmp6 = false;
	uint16_t flags;

	for (size_t i = 0; i < c->n_entries; i++) {
		const struct np_lpm_entry *e = &c->entries[i];

		if (e->val.icmp & NP_CELL_DENY)
			continue;
		icmp4 |= prefix_meets_v4(e->key.addr, (uint8_t)e->key.prefixlen);
		icmp6 |= prefix_meets_v6(e->key.addr, (uint8_t)e->key.prefixlen);
	}
	flags = (icmp4 ? 0 : NP_POL_NO_ICMP4) | (icmp6 ? 0 : NP_POL_NO_ICMP6);
	c->flags |= flags;
	for (size_t i = 0; i < c->n_entries; i++)
		c->entries[i].val.flags |= flags;
}

static int compile(struct compiler *c)
{
	size_t n = c->p->n_rules ? c->p->n_rules : 1;
	int r;

	if (c->p->n_rules > NP_MAX_RULES) {
		np_error_set(c->err, "rules", "has %zu rules; at most %d are allowed", c->p->n_rules,
			     NP_MAX_RULES);
		return -E2BIG;
	}
	c->ex_count = calloc(n, sizeof(*c->ex_count));
	c->to_stamp = calloc(n, sizeof(*c->to_stamp));
	if (!c->ex_count || !c->to_stamp)
		return -ENOMEM;
	r = collect_prefixes(c);
	if (r < 0)
		return r;
	r = walk(c);
	if (r < 0)
		return r;
	qsort(c->entries, c->n_entries, sizeof(*c->entries), entry_cmp);
	add_icmp_flags(c);
	return 0;
}

int np_policy_compile(const struct np_policy *p, struct np_compiled **ret, struct np_error *err)
{
	_cleanup_(np_compiled_freep) struct np_compiled *out = NULL;
	struct compiler c = {
	    .p = p,
	    .err = err,
	    .flags = policy_flags(p),
	    .default_cell = p->default_action == NP_ACTION_DENY ? NP_CELL_DENY | NP_CELL_RULE_DEFAULT
								: NP_CELL_RULE_DEFAULT,
	};
	int r;

	out = calloc(1, sizeof(*out));
	if (!out) {
		np_error_set(err, NULL, "out of memory");
		return -ENOMEM;
	}
	r = compile(&c);
	if (r < 0) {
		if (r == -ENOMEM)
			np_error_set(err, NULL, "out of memory");
		compiler_done(&c);
		return r;
	}
	out->entries = TAKE_PTR(c.entries);
	out->n_entries = c.n_entries;
	out->flags = c.flags;
	compiler_done(&c);
	*ret = TAKE_PTR(out);
	return 0;
}

/* ---- the kernel's lookup, in user space ---- */

static int key_cmp(uint32_t plen_a, const uint8_t *addr_a, const struct np_lpm_key *b)
{
	if (plen_a != b->prefixlen)
		return plen_a < b->prefixlen ? -1 : 1;
	return memcmp(addr_a, b->addr, 16);
}

/* First entry in [lo, hi) whose key is >= (plen, addr). */
static size_t lower_bound(const struct np_compiled *c, size_t lo, size_t hi, uint32_t plen,
			  const uint8_t *addr)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(plen, addr, &c->entries[mid].key) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Entries are sorted by (prefixlen, addr): walk the prefix lengths present,
 * longest first, with one binary search each. */
static const struct np_lpm_val *lookup(const struct np_compiled *c, const uint8_t addr[16])
{
	static const uint8_t zero[16];
	size_t hi = c->n_entries;

	while (hi > 0) {
		uint32_t plen = c->entries[hi - 1].key.prefixlen;
		size_t lo = lower_bound(c, 0, hi, plen, zero), at;
		uint8_t masked[16];

		memcpy(masked, addr, 16);
		np_prefix_mask(masked, plen > 128 ? 128 : plen);
		at = lower_bound(c, lo, hi, plen, masked);
		if (at < hi && key_cmp(plen, masked, &c->entries[at].key) == 0)
			return &c->entries[at].val;
		hi = lo;
	}
	return NULL;
}

uint16_t np_compiled_decide(const struct np_compiled *c, const uint8_t addr[16], uint8_t proto, uint16_t port)
{
	const struct np_lpm_val *v = c ? lookup(c, addr) : NULL;

	/* the kernel denies when the trie has no ::/0 either */
	if (!v)
		return NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	return np_val_cell(v, proto, port);
}
