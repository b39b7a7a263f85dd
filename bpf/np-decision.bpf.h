/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include "vmlinux.h"

#include "netpol-api.h"

/* Whom a decision's event names (np_event_task()). The socket hooks run in
 * the calling task; the packet path may run in softirq, for any task. */
enum {
	NP_NAMED_BY_CURRENT = 0, /* the current task: a socket hook's caller */
	NP_NAMED_BY_OWNER,	 /* the socket's np_sk_creator (raw, ping); without
				  * one (made before anything was bound), as
				  * NP_NAMED_BY_CGROUP */
	NP_NAMED_BY_CGROUP,	 /* the current task if in the socket's cgroup (UDP):
				  * such a socket sends in its caller's context,
				  * but for a netfilter queue's or IPsec's */
	NP_NAMED_BY_NONE,	 /* no one (TCP, SCTP: ACKs, retransmits from softirq) */
};

/* What one decision was: filled by the hook, consumed by np_report(). */
struct np_decision {
	struct np_lpm_key key; /* prefixlen 128, the destination */
	__u64 cgroup_id;
	__u32 policy_id;
	__u16 port;    /* host byte order; 0 for ICMP and other */
	__u16 cell;
	__u16 flags;   /* NP_POL_* */
	__u8 proto;    /* NP_PROTO_* class */
	__u8 ipproto;  /* as the socket or packet said */
	__u8 family;   /* AF_INET / AF_INET6 of the address */
	__u8 hook;     /* NP_HOOK_* */
	__u8 verdict;  /* NP_VERDICT_* */
	__u8 named_by; /* NP_NAMED_BY_*: whom the event names */
	__u8 reason;   /* NP_REASON_* */
	__u8 refusal;  /* not the rules' verdict for the destination */
	struct bpf_sock *sk; /* the packet's socket (NP_NAMED_BY_OWNER), else NULL */
};
