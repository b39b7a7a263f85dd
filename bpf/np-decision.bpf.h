/* SPDX-License-Identifier: GPL-2.0-only */
#pragma once

#include "vmlinux.h"

#include "netpol-api.h"

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
	__u8 no_task;  /* no meaningful current task (packet path) */
	__u8 reason;   /* NP_REASON_* */
	__u8 refusal;  /* not the rules' verdict for the destination */
};
