/* SPDX-License-Identifier: GPL-2.0-only */
/* The decision: cgroup -> policy -> LPM address class -> verdict cell. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"
#include "np-decision.bpf.h"
#include "np-defs.bpf.h"
#include "np-maps.bpf.h"
#include "np-report.bpf.h"

static __always_inline struct np_state *np_state_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&np_state, &zero);
}

/*
 * Where the ancestors of the cgroup being judged are read from: the packet's
 * socket (skb), a cgroup reached through a socket (cg, in the syscall hooks
 * when the socket was made in another cgroup than the caller's), or else the
 * current task.
 */
struct np_cg_src {
	struct __sk_buff *skb;
	__u64 cg; /* a struct cgroup *, as a number */
};

/* An id no policy has: np_policy_lookup() finds no trie for it, so a cgroup
 * whose ancestors cannot all be searched fails closed. */
#define NP_POLICY_UNRESOLVED NP_MAX_POLICIES

static __always_inline struct cgroup *np_cgroup_at(__u64 addr)
{
	return bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct cgroup));
}

static __always_inline struct cgroup *np_cgroup_parent(struct cgroup *cg)
{
	struct cgroup_subsys_state *p = cg->self.parent;

	return p ? p->cgroup : NULL;
}

/*
 * The walks of np_resolve_policy(), on a cache miss: the deepest binding
 * among the cgroup's ancestors (and itself). Each is a global subprogram,
 * verified once on its own: inlined, or as a static subprogram verified at
 * every call, their unrolled loops multiplied the verifier's states and
 * loading took seconds. They run once per cgroup and generation.
 */

/* From a cgroup pointer (a scalar here: a global subprogram's arguments
 * carry no kernel type), which has only its parent at hand: climb to the
 * deepest level the ancestor walks search, then take the nearest binding on
 * the way up. */
__noinline __u32 np_resolve_upward(__u64 cg_ptr)
{
	struct cgroup *cg = np_cgroup_at(cg_ptr);
	__u32 i;

	for (i = 0; i < NP_MAX_CGROUP_DEPTH && cg && cg->level >= NP_MAX_CGROUP_DEPTH; i++)
		cg = np_cgroup_parent(cg);
	if (!cg || cg->level >= NP_MAX_CGROUP_DEPTH)
		return NP_POLICY_UNRESOLVED;
	for (i = 0; i < NP_MAX_CGROUP_DEPTH && cg; i++) {
		__u64 id = cg->kn->id;
		struct np_binding *b = bpf_map_lookup_elem(&np_bindings, &id);

		if (b)
			return b->policy_id;
		cg = np_cgroup_parent(cg);
	}
	return 0;
}

/* Down an ancestry from the root (level 0): the packet's socket's when skb
 * is given, else the current task's. */
static __always_inline __u32 np_resolve_down(struct __sk_buff *skb, __u64 cgid)
{
	__u32 level, policy_id = 0;

	for (level = 0; level < NP_MAX_CGROUP_DEPTH; level++) {
		__u64 id =
		    skb ? bpf_skb_ancestor_cgroup_id(skb, level) : bpf_get_current_ancestor_cgroup_id(level);
		struct np_binding *b;

		if (!id)
			break;
		b = bpf_map_lookup_elem(&np_bindings, &id);
		if (b)
			policy_id = b->policy_id;
		if (id == cgid)
			break;
	}
	return policy_id;
}

__noinline __u32 np_resolve_task(__u64 cgid)
{
	return np_resolve_down(NULL, cgid);
}

__noinline __u32 np_resolve_skb(struct __sk_buff *skb, __u64 cgid)
{
	return np_resolve_down(skb, cgid);
}

static __always_inline __u32 np_resolve_walk(__u64 cgid, const struct np_cg_src *src)
{
	if (src->cg)
		return np_resolve_upward(src->cg);
	if (src->skb)
		return np_resolve_skb(src->skb, cgid);
	return np_resolve_task(cgid);
}

/*
 * The policy of a cgroup: its own binding, else its nearest bound ancestor's.
 * The answer is cached per cgroup id and stamped with gen. gen is read before
 * the walk, so a binding changed during the walk leaves a stale stamp and the
 * next decision walks again. Cgroup ids are never reused.
 */
static __always_inline __u32 np_resolve_policy(__u64 cgid, const struct np_cg_src *src, __u32 gen)
{
	struct np_cg_cache_val *cached, fresh = {.gen = gen};

	cached = bpf_map_lookup_elem(&np_cg_cache, &cgid);
	if (cached && cached->gen == gen)
		return cached->policy_id;
	fresh.policy_id = np_resolve_walk(cgid, src);
	bpf_map_update_elem(&np_cg_cache, &cgid, &fresh, BPF_ANY);
	return fresh.policy_id;
}

/* The LPM value for key in the policy's trie, or NULL (counted). A bound
 * policy whose trie is missing fails closed. */
static __always_inline struct np_lpm_val *np_policy_lookup(__u32 policy_id, struct np_lpm_key *key)
{
	struct np_lpm_val *v;
	void *trie;

	trie = bpf_map_lookup_elem(&np_policies, &policy_id);
	if (!trie) {
		np_count(NP_CNT_NO_POLICY_MAP);
		return NULL;
	}
	v = bpf_map_lookup_elem(trie, key);
	if (!v)
		np_count(NP_CNT_NO_LPM_ENTRY);
	return v;
}

/* 32-bit words: the key's address sits at offset 4, and the verifier
 * refuses misaligned 64-bit stack reads. */
static __always_inline int np_addr_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline int np_cache_same_dest(const struct np_sk_cache *c, const struct np_decision *d)
{
	return c->port == d->port && c->proto == d->proto && np_addr_eq(c->addr, d->key.addr);
}

static __always_inline void np_cache_store(struct np_sk_cache *c, const struct np_decision *d, __u32 gen)
{
	__builtin_memcpy(c->addr, d->key.addr, sizeof(c->addr));
	c->cgroup_id = d->cgroup_id;
	c->gen = gen;
	c->policy_id = d->policy_id;
	c->port = d->port;
	c->cell = d->cell;
	c->flags = d->flags;
	c->proto = d->proto;
	c->state |= NP_SKC_VALID;
}

/* The verdict cell of (proto, port) in v. A global subprogram, verified
 * once on its own: inlined, its binary search multiplied the verifier's
 * states on every path of every hook, and loading took seconds. */
__noinline __u16 np_cell_of(const struct np_lpm_val *v, __u32 proto, __u32 port)
{
	if (!v)
		return NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	return np_val_cell(v, proto, port);
}

/*
 * The verdict for d: from the counters' cached word when it carries the
 * current gen (the word names the policy too, so neither the cgroup's policy
 * nor the trie is looked up), else the policy (policy_id, or resolved when 0)
 * and one LPM lookup. *sv is the key's entry, for counting, or NULL. Returns
 * 1 when the cached word answered. A bound policy without a trie fails closed.
 *
 * The word is trusted on gen alone: user space changes bindings and tries
 * before it bumps gen, so a word stamped with the current gen was decided
 * from the current policy of the key's cgroup.
 */
static __always_inline int np_judge(struct np_decision *d, const struct np_stats_key *k,
				    struct np_stats_val **sv, __u32 gen, __u32 policy_id,
				    const struct np_cg_src *src)
{
	struct np_lpm_val *v;
	__u64 w;

	*sv = bpf_map_lookup_elem(&np_stats, k);
	if (*sv) {
		w = *(volatile __u64 *)&(*sv)->verdict; /* one load */
		if (np_verdict_current(w, gen)) {
			d->policy_id = np_verdict_policy(w);
			d->cell = np_verdict_cell(w);
			d->flags = np_verdict_flags(w);
			return 1;
		}
	}
	d->policy_id = policy_id ?: np_resolve_policy(d->cgroup_id, src, gen);
	if (!d->policy_id)
		return 0;
	v = np_policy_lookup(d->policy_id, &d->key);
	if (v) {
		d->cell = np_cell_of(v, d->proto, d->port);
		d->flags = v->flags;
	} else {
		d->cell = NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
		d->flags = 0;
	}
	return 0;
}

static __always_inline void np_verdict_of(struct np_decision *d)
{
	if (!(d->cell & NP_CELL_DENY))
		d->verdict = NP_VERDICT_ALLOW;
	else if (d->flags & NP_POL_AUDIT)
		d->verdict = NP_VERDICT_AUDIT;
	else
		d->verdict = NP_VERDICT_DENY;
}

/* The policy of d's cgroup, with its flags read from the ::/0 entry every
 * compiled policy has; 0 when the cgroup is not policed. */
static __always_inline __u32 np_policy_of(struct np_decision *d, const struct np_cg_src *src, __u32 gen)
{
	struct np_lpm_key any = {};
	struct np_lpm_val *v;

	d->policy_id = np_resolve_policy(d->cgroup_id, src, gen);
	if (!d->policy_id)
		return 0;
	v = np_policy_lookup(d->policy_id, &any);
	d->flags = v ? v->flags : 0;
	return d->policy_id;
}

/* A refusal that the rules did not decide (a raw or ping socket the policy
 * does not allow, a source route), for d's policy (np_policy_of): reported
 * and counted like a denial, or let through under audit. Returns 1 to let
 * it pass. */
static __always_inline int np_refuse(struct np_decision *d, __u32 gen)
{
	struct np_stats_key k;

	d->cell = NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	d->refusal = 1;
	np_verdict_of(d);
	np_stats_key_of(d, &k);
	np_report(d, NULL, &k, gen, 1);
	return d->verdict != NP_VERDICT_DENY;
}

/* Whether d's address allows anything at all (NP_VAL_SOME_ALLOWED). */
static __always_inline int np_address_allows_some(struct np_decision *d)
{
	struct np_lpm_val *v = np_policy_lookup(d->policy_id, &d->key);

	return v && (v->flags & NP_VAL_SOME_ALLOWED);
}

/*
 * Decide d (destination, protocol, port and cgroup filled in) and report it.
 * Returns 1 to let it pass, 0 to refuse. dgram_connect: d is a datagram
 * socket's connect(), which sends nothing; it is refused only where its
 * address allows nothing at all, else its first datagram is judged.
 *
 * Three caches, each stamped with gen, so no lookup of the policy's trie
 * runs for what was seen before under the current policies:
 * - sc, the socket's last decision: its policy id, and for the same
 *   destination its verdict. A flow already let through is reported once,
 *   at its first decision: repeats on the same socket return here.
 * - np_stats: the counters of (cgroup, destination, port, protocol) also
 *   hold that key's verdict and policy (np_judge), so a destination seen
 *   before costs one hash lookup, whatever the number of rules.
 * - np_cg_cache: cgroup -> policy id (np_resolve_policy), for the rest.
 */
static __always_inline int np_decide_as(struct np_decision *d, struct np_sk_cache *sc,
					const struct np_cg_src *src, __u32 gen, int dgram_connect)
{
	int fresh = sc && (sc->state & NP_SKC_VALID) && sc->gen == gen && sc->cgroup_id == d->cgroup_id;
	struct np_stats_val *sv = NULL;
	struct np_stats_key k;

	if (fresh && !sc->policy_id)
		return 1;
	/* The counters' key is built only where the counters are touched: not
	 * for the packets of a flow already let through (the hottest path). */
	if (fresh && np_cache_same_dest(sc, d)) {
		if (!(sc->cell & NP_CELL_DENY) || (sc->flags & NP_POL_AUDIT))
			return 1;
		d->policy_id = sc->policy_id;
		d->cell = sc->cell;
		d->flags = sc->flags;
		if (dgram_connect && np_address_allows_some(d))
			return 1;
		np_stats_key_of(d, &k);
		sv = bpf_map_lookup_elem(&np_stats, &k);
	} else {
		np_stats_key_of(d, &k);
		np_judge(d, &k, &sv, gen, fresh ? sc->policy_id : 0, src);
		if (sc)
			np_cache_store(sc, d, gen);
		if (!d->policy_id)
			return 1; /* unpoliced cgroup: no counters, no events */
		if (dgram_connect && (d->cell & NP_CELL_DENY) && np_address_allows_some(d))
			return 1;
	}
	np_verdict_of(d);
	np_report(d, sv, &k, gen, 1);
	return d->verdict != NP_VERDICT_DENY;
}

static __always_inline int np_decide(struct np_decision *d, struct np_sk_cache *sc,
				     const struct np_cg_src *src, __u32 gen)
{
	return np_decide_as(d, sc, src, gen, 0);
}

/*
 * Decide a packet of a connected TCP socket, which has no socket storage:
 * its flow was counted when it connected, so a verdict found cached lets
 * the packet pass uncounted (one hash lookup per packet), and a verdict
 * decided afresh (after a policy change, or for a socket connected before
 * its policy) is cached without counting the flow again. Denials and audit
 * hits are reported as ever: denials on every packet, audit hits once.
 */
static __always_inline int np_decide_flow(struct np_decision *d, struct __sk_buff *skb, __u32 gen)
{
	struct np_cg_src src = {.skb = skb};
	struct np_stats_val *sv;
	struct np_stats_key k;
	int cached;

	np_stats_key_of(d, &k);
	cached = np_judge(d, &k, &sv, gen, 0, &src);
	if (!d->policy_id)
		return 1;
	np_verdict_of(d);
	if (cached && d->verdict != NP_VERDICT_DENY)
		return 1;
	np_report(d, sv, &k, gen, 0);
	return d->verdict != NP_VERDICT_DENY;
}

/* IPv4 a.b.c.d as ::ffff:a.b.c.d, so v4 and v4-mapped v6 share keys. */
static __always_inline void np_key_v4(struct np_lpm_key *k, __u32 addr_be)
{
	__u32 *w = (__u32 *)k->addr;

	k->prefixlen = 128;
	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0xffff);
	w[3] = addr_be;
}

static __always_inline void np_key_v6(struct np_lpm_key *k, const __u32 *addr_be)
{
	__u32 *w = (__u32 *)k->addr;

	k->prefixlen = 128;
	w[0] = addr_be[0];
	w[1] = addr_be[1];
	w[2] = addr_be[2];
	w[3] = addr_be[3];
}
