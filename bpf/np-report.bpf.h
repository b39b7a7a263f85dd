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

/* netpold's pid namespace, set by the loader before load (the device and
 * inode of its /proc/self/ns/pid): an event names a process by its pid
 * there, the pid its administrator sees, also when netpold runs in a
 * container. 0: the initial namespace. */
const volatile __u64 np_pidns_dev = 0;
const volatile __u32 np_pidns_ino = 0;

#define NP_PIDNS_MAX_LEVEL 32 /* MAX_PID_NS_LEVEL */

/* The number of the struct pid at pid_addr (a scalar: a global subprogram's
 * arguments carry no kernel type) in np_pidns_ino's namespace, 0 if it has
 * none there: its numbers[] go from the initial namespace (level 0) down
 * to its own, and netpold's may be any of them, or none. A global
 * subprogram: its loop is verified once, not at every caller. */
__noinline __u32 np_pid_nr_in_ns(__u64 pid_addr)
{
	struct pid *p = bpf_rdonly_cast((void *)pid_addr, bpf_core_type_id_kernel(struct pid));
	__u64 numbers = pid_addr + bpf_core_field_offset(struct pid, numbers);
	__u32 i, level;

	if (!pid_addr)
		return 0;
	level = p->level;
	for (i = 0; i < NP_PIDNS_MAX_LEVEL && i <= level; i++) {
		struct upid *u = bpf_rdonly_cast((void *)(numbers + i * bpf_core_type_size(struct upid)),
						 bpf_core_type_id_kernel(struct upid));
		struct pid_namespace *ns = u->ns;

		if (ns && ns->ns.inum == np_pidns_ino)
			return u->nr;
	}
	return 0;
}

/* The current task's process id in netpold's pid namespace, or 0 with
 * NP_TASK_PID_HIDDEN in *task: it is not visible there. */
static __always_inline __u32 np_current_tgid(struct task_struct *t, __u8 *task)
{
	struct bpf_pidns_info ns;
	__u32 nr;

	if (np_pidns_ino == 0 || np_pidns_ino == NP_PIDNS_INIT_INO)
		return bpf_get_current_pid_tgid() >> 32;
	/* A task in netpold's own namespace: the helper. One in a namespace
	 * below it (a container's, of a netpold in a container) has a pid
	 * there too, which only the walk finds. */
	if (bpf_get_ns_current_pid_tgid(np_pidns_dev, np_pidns_ino, &ns, sizeof(ns)) == 0)
		return ns.tgid;
	nr = np_pid_nr_in_ns((__u64)BPF_CORE_READ(t, group_leader, thread_pid));
	if (!nr)
		*task |= NP_TASK_PID_HIDDEN;
	return nr;
}

/* The current task's process, program and thread. */
static __always_inline void np_event_current(struct np_event *e)
{
	struct task_struct *t = bpf_get_current_task_btf();

	e->pid = np_current_tgid(t, &e->task);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->thread, sizeof(e->thread));
	/* A thread may rename itself (prctl(PR_SET_NAME)): the program is
	 * its thread group leader's name, as ps shows it. */
	BPF_CORE_READ_STR_INTO(&e->comm, t, group_leader, comm);
}

/* Who made the attempt, as d->named_by says (np-decision.bpf.h). */
static __always_inline void np_event_task(struct np_event *e, const struct np_decision *d)
{
	struct np_sk_creator *o;

	__builtin_memset(e->comm, 0, sizeof(e->comm));
	__builtin_memset(e->thread, 0, sizeof(e->thread));
	e->pid = 0;
	e->uid = 0;
	e->task = 0;
	e->pidns = np_pidns_ino ?: NP_PIDNS_INIT_INO;
	switch (d->named_by) {
	case NP_NAMED_BY_CURRENT:
		np_event_current(e);
		break;
	case NP_NAMED_BY_OWNER:
		o = d->sk ? bpf_sk_storage_get(&np_sk_creator, d->sk, 0, 0) : NULL;
		if (o) {
			/* Recorded by an earlier loader in another namespace:
			 * its pid means nothing here. */
			if (o->pidns == e->pidns) {
				e->pid = o->pid;
				e->task = o->task;
			} else {
				e->task = NP_TASK_PID_HIDDEN;
			}
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
	e->_pad2 = 0;
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
