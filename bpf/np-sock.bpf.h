/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the socket hooks (connect4/6, sendmsg4/6) learn of a socket beyond
 * their context: the cgroup it was made in, its sticky source route, and
 * where the kernel really sends to an unspecified address. Read from the
 * kernel's socket through BTF (bpf_rdonly_cast), which faults to zero
 * rather than fail.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"
#include "np-defs.bpf.h"

#define NP_LOOPBACK4 0x7f000001 /* host byte order */

/* The cgroup the socket was made in. Every packet of the socket is judged
 * by its policy at the egress; the socket hooks judge it too, beside the
 * caller's, so that a process that leaves a policed cgroup cannot take its
 * sockets' policy off. */
static __always_inline struct cgroup *np_sk_cgroup(struct bpf_sock *sk)
{
	struct sock *s = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock));

	return s->sk_cgrp_data.cgroup;
}

/* The same, as a number, for the ancestor walk (np_resolve_upward(), a
 * global subprogram, whose arguments carry no kernel type). A helper call:
 * read only for a socket made in another cgroup than the caller's. */
static __always_inline __u64 np_sk_cgroup_addr(struct bpf_sock *sk)
{
	struct sock *s = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock));
	__u64 cg = 0;

	bpf_probe_read_kernel(&cg, sizeof(cg), &s->sk_cgrp_data.cgroup);
	return cg;
}

/* Whether the socket's own options route its packets to dest4 (an IPv4 or
 * v4-mapped destination) or to an IPv6 one through other hosts: an IPv4
 * source route (IP_OPTIONS), or an IPv6 routing header with segments left
 * (IPV6_RTHDR). A route given per datagram in a control message is seen by
 * the egress only. */
static __always_inline int np_sk_source_routed(struct bpf_sock_addr *ctx, int dest4)
{
	struct inet_sock *inet = bpf_rdonly_cast(ctx->sk, bpf_core_type_id_kernel(struct inet_sock));
	struct ip_options_rcu *opt;
	struct ipv6_txoptions *opt6;
	struct ipv6_pinfo *np6;
	struct ipv6_rt_hdr *rt;

	if (dest4) {
		opt = inet->inet_opt;
		return opt && opt->opt.srr;
	}
	np6 = inet->pinet6;
	opt6 = np6 ? np6->opt : NULL;
	rt = opt6 ? opt6->srcrt : NULL;
	return rt && rt->segments_left;
}

/*
 * Where the kernel sends to 0.0.0.0: to the source address (the socket's
 * bound one, or for a datagram the IP_PKTINFO one, both in src_be), else to
 * 127.0.0.1 (ip_route_output_key_hash_rcu()).
 */
static __always_inline __u32 np_unspec_dest4(__u32 src_be)
{
	return src_be ?: bpf_htonl(NP_LOOPBACK4);
}

/* Where connect() sends to ::: ::1, or ::ffff:127.0.0.1 for a socket bound
 * to a v4-mapped address (tcp_v6_connect(), ip6_datagram_connect()); a
 * datagram to :: goes to ::1 (udpv6_sendmsg()). */
static __always_inline void np_unspec_dest6(__u32 a[4], const __u32 bound[4], int connect)
{
	int mapped = connect && bound[0] == 0 && bound[1] == 0 && bound[2] == bpf_htonl(0xffff);

	a[0] = 0;
	a[1] = 0;
	a[2] = mapped ? bpf_htonl(0xffff) : 0;
	a[3] = mapped ? bpf_htonl(NP_LOOPBACK4) : bpf_htonl(1);
}

static __always_inline int np_addr6_unspec(const __u32 a[4])
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static __always_inline int np_addr6_mapped_unspec(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff) && a[3] == 0;
}
