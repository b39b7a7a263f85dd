/* SPDX-License-Identifier: (LGPL-2.1-or-later OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs (bpf/netpol.bpf.c) and user space
 * (daemon/). Every struct that crosses the boundary is here, with fixed-width
 * types, explicit padding and the byte order of each field.
 *
 * How a decision is made (see docs/architecture.md):
 *
 *   cgroup id --np_cg_cache/np_bindings--> policy id
 *   policy id --np_policies (array of maps)--> that policy's LPM trie
 *   destination --LPM lookup--> struct np_lpm_val (one "address class")
 *   (protocol, port) --np_val_cell()--> verdict cell: allow/deny + rule index
 *
 * A policy is replaced by building a whole new LPM trie and swapping the
 * inner-map pointer in np_policies: one atomic xchg, so a concurrent
 * connect() sees the whole old policy or the whole new one.
 *
 * IPv4 addresses are stored as IPv4-mapped IPv6 (::ffff:a.b.c.d), so an IPv4
 * destination and its mapped form are the same key and get the same verdict.
 */
#ifndef NETPOL_API_H
#define NETPOL_API_H

#ifdef __bpf__
/* vmlinux.h already provides the __uN types. */
#else
#include <linux/types.h>
#endif

/* Limits. Changing one changes the pinned maps' shape: bump NP_ABI_VERSION. */
#define NP_ABI_VERSION 2
#define NP_MAX_POLICIES 1024       /* policy ids 1..1023; 0 means "no policy" */
#define NP_MAX_BINDINGS 65536      /* bound cgroups */
#define NP_CG_CACHE_ENTRIES 65536  /* resolved cgroup -> policy, LRU */
#define NP_STATS_ENTRIES 65536     /* (cgroup, dest, port, proto) counters, LRU */
#define NP_MAX_CGROUP_DEPTH 32     /* deeper ancestors are not searched */
#define NP_MAX_PORT_SEGS 24        /* port segments in one address class */
#define NP_EVENTS_BYTES (1u << 20) /* ring buffer size */
#define NP_POLICY_NAME_MAX 64

/* Kernel-visible names (bpffs pin names and map/prog names). */
#define NP_PIN_DIR_DEFAULT "/sys/fs/bpf/netpol"

/*
 * A verdict cell, __u16: bit 15 set = deny; bits 0..14 = index of the rule
 * that decided (0-based, in the policy's rule order), or NP_CELL_RULE_DEFAULT
 * when no rule matched and the policy default decided.
 */
#define NP_CELL_DENY 0x8000u
#define NP_CELL_RULE_MASK 0x7fffu
#define NP_CELL_RULE_DEFAULT 0x7fffu
#define NP_MAX_RULES 0x7ffe

/* Protocol classes a policy distinguishes. */
enum {
	NP_PROTO_TCP = 6,    /* IPPROTO_TCP and IPPROTO_MPTCP */
	NP_PROTO_UDP = 17,   /* IPPROTO_UDP and IPPROTO_UDPLITE */
	NP_PROTO_ICMP = 1,   /* IPPROTO_ICMP and IPPROTO_ICMPV6 */
	NP_PROTO_OTHER = 255 /* any other IP protocol (raw sockets) */
};

/* Policy-wide flags, copied into every LPM value of the policy. Only the
 * low NP_VERDICT_FLAG_BITS travel in a cached verdict word; the others are
 * read from the trie by sock_create alone. */
enum {
	NP_POL_AUDIT = 1 << 0,	   /* decide and report, but let denials through */
	NP_POL_LOG_ALL = 1 << 1,   /* report allowed decisions too */
	NP_POL_RAW_ALLOW = 1 << 2, /* SOCK_RAW inet sockets may be created */
	NP_POL_NO_ICMP4 = 1 << 4,  /* ICMP to no IPv4 address: no ping socket */
	NP_POL_NO_ICMP6 = 1 << 5,  /* ICMPv6 to no IPv6 address: no ping6 socket */
};

/* Flags of one LPM value alone (the NP_POL_* are the same in all). */
enum {
	NP_VAL_SOME_ALLOWED = 1 << 8, /* some protocol or port is allowed */
};

/* Where a decision was taken. */
enum {
	NP_HOOK_CONNECT4 = 1,
	NP_HOOK_CONNECT6 = 2,
	NP_HOOK_SENDMSG4 = 3,
	NP_HOOK_SENDMSG6 = 4,
	NP_HOOK_EGRESS = 5,
	NP_HOOK_SOCK_CREATE = 6,
	NP_HOOK_SOCK_OPS = 7, /* earlier loaders' sockops; no longer used */
};

/* Why a denial was not the policy's rules: np_event.reason. */
enum {
	NP_REASON_RULES = 0,	    /* the rule (or default) named by np_event.rule */
	NP_REASON_SOURCE_ROUTE = 1, /* an IPv4 source route or IPv6 routing header,
				     * refused under every policy */
};

/* Event verdicts. */
enum {
	NP_VERDICT_ALLOW = 0,
	NP_VERDICT_DENY = 1,
	NP_VERDICT_AUDIT = 2, /* would have been denied; audit mode let it through */
};

/* LPM trie key. prefixlen counts bits of addr (0..128); IPv4 a.b.c.d/n is
 * ::ffff:a.b.c.d with prefixlen 96 + n. addr is in network byte order. */
struct np_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Port segments partition 0..65535 for TCP and UDP: segment i covers
 * (segs[i-1].last_port, segs[i].last_port], segs[0] starts at 0, and
 * segs[nsegs-1].last_port is 65535. ICMP and other protocols carry no port.
 */
struct np_port_seg {
	__u16 last_port; /* host byte order, inclusive */
	__u16 tcp;       /* verdict cell */
	__u16 udp;       /* verdict cell */
	__u16 _pad;
};

/* One address class: every address whose longest matching prefix is this
 * entry's key gets exactly these verdicts. */
struct np_lpm_val {
	__u16 nsegs; /* 1..NP_MAX_PORT_SEGS */
	__u16 icmp;  /* verdict cell */
	__u16 other; /* verdict cell */
	__u16 flags; /* NP_POL_* */
	struct np_port_seg segs[NP_MAX_PORT_SEGS];
};

/* np_bindings: cgroup id (__u64, the cgroup directory's inode) -> this. */
struct np_binding {
	__u32 policy_id;
	__u32 _pad;
};

/* np_cg_cache: cgroup id -> resolved policy (nearest bound ancestor). */
struct np_cg_cache_val {
	__u32 policy_id; /* 0 = no binding on the path */
	__u32 gen;       /* np_state.gen when resolved */
};

/* np_state[0]. User space changes maps first, then bumps gen, so a cache
 * entry stamped with the current gen was resolved from current maps. */
struct np_state {
	__u32 gen;       /* bumped after every policy or binding change */
	__u32 nbindings; /* 0: nothing is bound, every decision is "allow" */
	__u32 abi;       /* NP_ABI_VERSION of the loader that created the maps */
	__u32 pidns;	 /* the last loader's pid namespace (inode); 0: a loader
			  * before pids were counted in it */
};

/* Per-socket cache of the last decision (socket-local storage) of datagram,
 * ping and raw sockets, so an established flow costs one lookup per packet
 * while the policy is unchanged. TCP sockets have none (their flows' verdicts
 * are read from np_stats), except those marked NP_SKC_CONNECTED. */
struct np_sk_cache {
	__u8 addr[16];   /* network byte order, v4-mapped for IPv4 */
	__u64 cgroup_id; /* the cgroup the cached decision was made for */
	__u32 gen;
	__u32 policy_id;
	__u16 port;      /* host byte order */
	__u16 cell;
	__u16 flags;     /* NP_POL_* of the deciding policy */
	__u8 proto;      /* NP_PROTO_* */
	__u8 state;      /* NP_SKC_* */
};

enum {
	NP_SKC_VALID = 1 << 0,	   /* addr..proto hold a decision */
	NP_SKC_INBOUND = 1 << 1,   /* retired: earlier loaders' sockops marked
				    * accepted sockets; no longer read */
	NP_SKC_CONNECTED = 1 << 2, /* a TCP socket with a listen backlog that
				    * connect()ed: its packets are egress */
};

/* np_sk_creator: who made a raw or ping socket (socket-local storage,
 * recorded by sock_create, in the creator's own context), so that its
 * packets name a process even when the kernel sends them from softirq.
 * (Earlier loaders' np_sk_owner had no pidns; its pin is retired.) */
struct np_sk_creator {
	__u32 pid;     /* tgid in the pid namespace pidns; 0: none there */
	__u32 uid;
	__u32 pidns;   /* the recording loader's np_pidns_ino */
	__u8 task;     /* NP_TASK_* */
	__u8 _pad[3];
	char comm[16]; /* the program: the thread group leader's comm */
};

/* What np_event.task (and np_sk_creator.task) says about pid. */
enum {
	NP_TASK_PID_HIDDEN = 1 << 0, /* a process was named (comm), but it has no
				      * pid in the loader's pid namespace: pid 0 */
};

/* The initial pid namespace's inode (PROC_PID_INIT_INO). */
#define NP_PIDNS_INIT_INO 0xEFFFFFFCu

/* np_policy_meta[policy id]: what user space installed; never read by BPF. */
struct np_policy_meta {
	char name[NP_POLICY_NAME_MAX];
	__u64 installed_ns; /* CLOCK_REALTIME of the install */
	__u32 n_entries;    /* LPM entries of the installed trie */
	__u32 flags;        /* NP_POL_* */
};

/* np_stats: counters per (cgroup, destination, port, protocol). */
struct np_stats_key {
	__u64 cgroup_id;
	__u8 addr[16]; /* network byte order, v4-mapped for IPv4 */
	__u16 port;    /* host byte order; 0 for ICMP/other */
	__u8 proto;    /* NP_PROTO_* */
	__u8 _pad[5];
};

struct np_stats_val {
	__u64 allowed; /* flows let through: first decision per socket and destination */
	__u64 denied;  /* every refused (or audited) attempt */
	__u64 last_ns; /* bpf_ktime_get_coarse_ns() of the last decision */
	__u64 verdict; /* np_verdict_pack(): this key's decision, cached */
};

/*
 * The decision cached in np_stats_val.verdict, so that a destination seen
 * before under the current generation costs no LPM lookup: one 64-bit word,
 * written and read whole, so no reader sees half of an update.
 *   bits 63..32 gen, 31..20 policy id, 19..16 flags, 15..0 cell
 * A word with policy id 0 never matches: a zeroed entry caches nothing.
 */
#define NP_VERDICT_POLICY_BITS 12
#define NP_VERDICT_FLAG_BITS 4

static inline __u64 np_verdict_pack(__u32 gen, __u32 policy_id, __u16 flags, __u16 cell)
{
	return (__u64)gen << 32 | (__u64)(policy_id & 0xfff) << 20 | (__u64)(flags & 0xf) << 16 | cell;
}

static inline __u32 np_verdict_policy(__u64 w)
{
	return (w >> 20) & 0xfff;
}

/* Stamped with gen; a word naming no policy caches nothing. */
static inline int np_verdict_current(__u64 w, __u32 gen)
{
	return (__u32)(w >> 32) == gen && np_verdict_policy(w) != 0;
}

static inline __u16 np_verdict_flags(__u64 w)
{
	return (w >> 16) & 0xf;
}

static inline __u16 np_verdict_cell(__u64 w)
{
	return w & 0xffff;
}

/*
 * Ring-buffer event, one per denial (and audit hit, and allow with LOG_ALL).
 * Fields are only ever added at the end, so that the events of an earlier
 * loader's programs, still in the ring when a new loader replaced them, read
 * as a prefix (NP_EVENT_MIN_SIZE) with the new fields zero.
 *
 * pid, uid, comm and thread name who made the attempt (pid as netpold,
 * the loader, sees it: in its pid namespace, np_pidns_ino): in the socket hooks
 * the calling task; on the packet path (hook NP_HOOK_EGRESS), where the
 * current task may be unrelated (softirq), a raw or ping socket's packet
 * names the process that made the socket (np_sk_creator; thread empty), a
 * UDP socket's (and a raw or ping socket's without np_sk_creator) the current
 * task if it is in the socket's cgroup, a TCP socket's none. Zero: no one
 * can be named.
 */
struct np_event {
	__u64 ts_ns;     /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u64 cgroup_id; /* the cgroup the decision was made for */
	__u32 pid;       /* the process (tgid), 0: none */
	__u32 uid;
	char comm[16];   /* the program: the thread group leader's comm */
	__u8 addr[16];   /* network byte order, v4-mapped for IPv4 */
	__u32 policy_id;
	__u16 port;      /* host byte order */
	__u16 rule;      /* rule index or NP_CELL_RULE_DEFAULT */
	__u8 hook;       /* NP_HOOK_* */
	__u8 proto;      /* IP protocol number, low 8 bits (MPTCP, 262, reads 6) */
	__u8 verdict;    /* NP_VERDICT_* */
	__u8 family;     /* AF_INET or AF_INET6 of the socket */
	__u8 reason;	 /* NP_REASON_* */
	__u8 task;	 /* NP_TASK_* */
	__u8 _pad[2];
	char thread[16]; /* the thread's own comm (prctl(PR_SET_NAME)) */
	__u32 pidns;	 /* the pid namespace (inode) pid counts in: the
			  * loader's np_pidns_ino; 0 from earlier loaders,
			  * whose pids were the initial namespace's */
	__u32 _pad2;
};

/* The size of the first np_event, without thread. */
#define NP_EVENT_MIN_SIZE 72

/* np_counters (per-CPU array) indices. */
enum {
	NP_CNT_EVENTS_LOST = 0, /* ring buffer full */
	NP_CNT_NO_POLICY_MAP,   /* bound to a policy id with no trie: denied */
	NP_CNT_NO_LPM_ENTRY,    /* trie without a ::/0 entry: denied */
	NP_CNT_STATS_FULL,      /* counters map could not take a new key */
	NP_CNT__MAX = 8,
};

/* The IP protocol number to its NP_PROTO_* class. */
static inline __u8 np_proto_class(__u32 ipproto)
{
	switch (ipproto) {
	case 6:   /* TCP */
	case 262: /* MPTCP */
		return NP_PROTO_TCP;
	case 17:  /* UDP */
	case 136: /* UDP-Lite */
		return NP_PROTO_UDP;
	case 1:  /* ICMP */
	case 58: /* ICMPv6 */
		return NP_PROTO_ICMP;
	default:
		return NP_PROTO_OTHER;
	}
}

/*
 * The verdict cell for (protocol class, port) in an address class. Shared by
 * the kernel and by user space (netpolctl test, unit tests), so both decide
 * the same way. Binary search over segs, bounded for the verifier.
 */
static inline __u16 np_val_cell(const struct np_lpm_val *v, __u8 proto, __u16 port)
{
	__u32 lo = 0, hi, i;

	if (proto == NP_PROTO_ICMP)
		return v->icmp;
	if (proto != NP_PROTO_TCP && proto != NP_PROTO_UDP)
		return v->other;

	hi = v->nsegs;
	if (hi == 0 || hi > NP_MAX_PORT_SEGS)
		return NP_CELL_DENY | NP_CELL_RULE_DEFAULT; /* malformed: fail closed */
	hi -= 1;
	/* find the first segment whose last_port >= port; 5 rounds cover 24 */
	for (i = 0; i < 5 && lo < hi; i++) {
		__u32 mid = (lo + hi) / 2;

		if (mid >= NP_MAX_PORT_SEGS)
			break;
		if (v->segs[mid].last_port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* clang proves lo < NP_MAX_PORT_SEGS and drops the check; the
	 * verifier cannot prove it. The empty asm hides lo from clang. */
	__asm__ __volatile__("" : "+r"(lo));
	if (lo >= NP_MAX_PORT_SEGS)
		return NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	return proto == NP_PROTO_TCP ? v->segs[lo].tcp : v->segs[lo].udp;
}

#ifndef __bpf__
_Static_assert(sizeof(struct np_lpm_key) == 20, "np_lpm_key");
_Static_assert(sizeof(struct np_port_seg) == 8, "np_port_seg");
_Static_assert(sizeof(struct np_lpm_val) == 8 + 8 * NP_MAX_PORT_SEGS, "np_lpm_val");
_Static_assert(sizeof(struct np_binding) == 8, "np_binding");
_Static_assert(sizeof(struct np_cg_cache_val) == 8, "np_cg_cache_val");
_Static_assert(sizeof(struct np_state) == 16, "np_state");
_Static_assert(sizeof(struct np_sk_cache) == 40, "np_sk_cache");
_Static_assert(sizeof(struct np_policy_meta) == 80, "np_policy_meta");
_Static_assert(sizeof(struct np_sk_creator) == 32, "np_sk_creator");
_Static_assert(sizeof(struct np_stats_key) == 32, "np_stats_key");
_Static_assert(sizeof(struct np_stats_val) == 32, "np_stats_val");
_Static_assert(NP_MAX_POLICIES <= 1 << NP_VERDICT_POLICY_BITS, "policy ids fit the verdict word");
_Static_assert((NP_POL_AUDIT | NP_POL_LOG_ALL) < 1 << NP_VERDICT_FLAG_BITS,
	       "the flags a cached verdict needs fit the verdict word");
_Static_assert(sizeof(struct np_event) == 96, "np_event");
_Static_assert(__builtin_offsetof(struct np_event, thread) == NP_EVENT_MIN_SIZE, "np_event grows at its end");
#endif

#endif
