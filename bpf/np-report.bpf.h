/* SPDX-License-Identifier: GPL-2.0-only */
/* Reporting: ring-buffer events, per-destination counters, error counters. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"
#include "np-decision.bpf.h"
#include "np-defs.bpf.h"
#include "np-maps.bpf.h"

static __always_inline void np_count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&np_counters, &idx);

	if (c)
		*c += 1; /* per-CPU: no atomics needed */
}

static __always_inline void np_stats_key_of(const struct np_decision *d, struct np_stats_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->cgroup_id = d->cgroup_id;
	__builtin_memcpy(k->addr, d->key.addr, sizeof(k->addr));
	k->port = d->port;
	k->proto = d->proto;
}

/* Count d in v, the key's entry if the decision already looked it up (else
 * NULL), and cache d's verdict there, stamped with gen. An allowed decision
 * is counted only when it starts a flow (new_flow). A refusal (a source
 * route, a socket the policy does not allow) says nothing of the
 * destination's verdict, so it is counted but not cached. */
static __always_inline void np_stats_add(const struct np_decision *d, struct np_stats_val *v,
					 const struct np_stats_key *k, __u32 gen, int new_flow)
{
	__u64 w = np_verdict_pack(gen, d->policy_id, d->flags, d->cell);
	__u64 now = bpf_ktime_get_coarse_ns(); /* no clock-source read */
	int denied = d->verdict != NP_VERDICT_ALLOW;

	if (!v) {
		struct np_stats_val fresh = {.last_ns = now, .verdict = d->refusal ? 0 : w};

		if (denied)
			fresh.denied = 1;
		else
			fresh.allowed = new_flow ? 1 : 0;
		if (bpf_map_update_elem(&np_stats, k, &fresh, BPF_NOEXIST) == 0)
			return;
		/* Lost the race to another CPU inserting the same key. */
		v = bpf_map_lookup_elem(&np_stats, k);
		if (!v) {
			np_count(NP_CNT_STATS_FULL);
			return;
		}
	}
	if (denied)
		__sync_fetch_and_add(&v->denied, 1);
	else if (new_flow)
		__sync_fetch_and_add(&v->allowed, 1);
	v->last_ns = now;
	if (!d->refusal && v->verdict != w)
		*(volatile __u64 *)&v->verdict = w; /* one store */
}

/* The current task's process, program and thread. */
static __always_inline void np_event_current(struct np_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();

	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->thread, sizeof(e->thread));
	/* A thread may rename itself (prctl(PR_SET_NAME)): the program is
	 * its thread group leader's name, as ps shows it. */
	BPF_CORE_READ_STR_INTO(&e->comm, t, group_leader, comm);
}

/* Who made the attempt, as d->named_by says (np-decision.bpf.h). */
static __always_inline void np_event_task(struct np_event *e, const struct np_decision *d)
{
	struct np_sk_owner *o;

	__builtin_memset(e->comm, 0, sizeof(e->comm));
	__builtin_memset(e->thread, 0, sizeof(e->thread));
	e->pid = 0;
	e->uid = 0;
	switch (d->named_by) {
	case NP_NAMED_BY_CURRENT:
		np_event_current(e);
		break;
	case NP_NAMED_BY_OWNER:
		o = d->sk ? bpf_sk_storage_get(&np_sk_owner, d->sk, 0, 0) : NULL;
		if (o) {
			e->pid = o->pid;
			e->uid = o->uid;
			__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
			break;
		}
		/* Made before anything was bound: no record. */
		/* fallthrough */
	case NP_NAMED_BY_CGROUP:
		if (bpf_get_current_cgroup_id() == d->cgroup_id)
			np_event_current(e);
		break;
	}
}

static __always_inline void np_event_emit(const struct np_decision *d, __u64 now)
{
	struct np_event *e = bpf_ringbuf_reserve(&np_events, sizeof(*e), 0);

	if (!e) {
		np_count(NP_CNT_EVENTS_LOST);
		return;
	}
	e->ts_ns = now;
	e->cgroup_id = d->cgroup_id;
	np_event_task(e, d);
	__builtin_memcpy(e->addr, d->key.addr, sizeof(e->addr));
	e->policy_id = d->policy_id;
	e->port = d->port;
	e->rule = d->cell & NP_CELL_RULE_MASK;
	e->hook = d->hook;
	e->proto = d->ipproto;
	e->verdict = d->verdict;
	e->family = d->family;
	e->reason = d->reason;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	bpf_ringbuf_submit(e, 0);
}

/* Counters for every decision on a policed cgroup; an event for every
 * denial and audit hit, and for allowed flows when the policy logs all.
 * v: d's np_stats entry if the caller has it, else NULL. new_flow: an
 * allowed decision starts a flow (not a packet of one re-judged). A
 * subprogram, not inlined: a program reports from several places, and one
 * copy keeps it small. */
static __noinline void np_report(struct np_decision *d, struct np_stats_val *v, const struct np_stats_key *k,
				 __u32 gen, int new_flow)
{
	np_stats_add(d, v, k, gen, new_flow);
	if (d->verdict != NP_VERDICT_ALLOW || ((d->flags & NP_POL_LOG_ALL) && new_flow))
		np_event_emit(d, bpf_ktime_get_ns());
}
