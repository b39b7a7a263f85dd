/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What an outgoing packet says, read on cgroup_skb egress (where the data
 * starts at the network header): its destination, protocol and port, and
 * whether it is source-routed. The kernel sends a packet where its header
 * says, and with an IPv4 source route or an IPv6 routing header that is the
 * first hop, not the destination the socket hooks saw.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"
#include "np-defs.bpf.h"
#include "np-report.bpf.h"
#include "np-decide.bpf.h"

#define NP_IPOPT_END	      0
#define NP_IPOPT_NOP	      1
#define NP_IPOPT_LSRR	      131
#define NP_IPOPT_SSRR	      137
#define NP_IPV4_MAX_OPT_BYTES 40

/* IPv6 extension headers walked to find the transport header. AH is one:
 * a routing header may follow it. */
#define NP_IPV6_HOPOPTS	 0
#define NP_IPV6_ROUTING	 43
#define NP_IPV6_FRAGMENT 44
#define NP_IPV6_AH	 51
#define NP_IPV6_DSTOPTS	 60
#define NP_IPV6_MAX_EXT	 8

static __always_inline int np_ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == NP_IPV6_HOPOPTS || nexthdr == NP_IPV6_ROUTING || nexthdr == NP_IPV6_FRAGMENT ||
	       nexthdr == NP_IPV6_AH || nexthdr == NP_IPV6_DSTOPTS;
}

/*
 * Whether the packet has IPv4 options or IPv6 extension headers: the one
 * test every packet pays, from the first 8 bytes of its header. Without
 * either, its destination is the header's, and for a connected socket the
 * socket's.
 */
static __always_inline int np_packet_has_options(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 head[8];

	if (data + sizeof(head) > end) {
		if (bpf_skb_load_bytes(skb, 0, head, sizeof(head)) < 0)
			return 1; /* let the full parse find out */
		data = head;
	}
	if (data[0] >> 4 == 4)
		return (data[0] & 0xf) != 5;
	if (data[0] >> 4 == 6)
		return np_ipv6_is_ext(data[6]);
	return 1;
}

/* The IPv4 options of a packet, scanned for a source route by bpf_loop():
 * an open-coded loop over a variable offset is more than the verifier can
 * walk. */
struct np_ipopts {
	__u8 b[NP_IPV4_MAX_OPT_BYTES];
	__u32 len;
	__u32 off;
	int routed;
};

static long np_ipopt_step(__u32 i, void *ctx)
{
	struct np_ipopts *o = ctx;
	__u32 off = o->off;
	__u8 type, len;

	if (off >= o->len || off >= NP_IPV4_MAX_OPT_BYTES)
		return 1;
	type = o->b[off];
	if (type == NP_IPOPT_END) {
		o->off = o->len;
		return 1;
	}
	if (type == NP_IPOPT_NOP) {
		o->off = off + 1;
		return 0;
	}
	if (type == NP_IPOPT_LSRR || type == NP_IPOPT_SSRR || off + 1 >= o->len ||
	    off + 1 >= NP_IPV4_MAX_OPT_BYTES) {
		o->routed = 1;
		return 1;
	}
	len = o->b[off + 1];
	if (len < 2) {
		o->routed = 1;
		return 1;
	}
	o->off = off + len;
	return 0;
}

/* Whether IPv4 options [20, ihl * 4) hold a loose or strict source route.
 * Malformed options count as one: a router reading them may find a route. */
static __always_inline int np_ipv4_source_routed(struct __sk_buff *skb, __u32 ihl)
{
	struct np_ipopts o = {.len = ihl * 4 - 20};

	if (o.len == 0 || o.len > NP_IPV4_MAX_OPT_BYTES)
		return 1;
	if (bpf_skb_load_bytes(skb, 20, o.b, o.len) < 0)
		return 1;
	bpf_loop(NP_IPV4_MAX_OPT_BYTES, np_ipopt_step, &o, 0);
	return o.routed || o.off != o.len;
}

/*
 * Walks the IPv6 extension headers from the fixed header: *nexthdr and *off
 * end at the transport header. A routing header with segments left routes
 * the packet through other hosts; a chain too long to read to its end
 * counts as one. A non-first fragment ends the walk: its payload is data.
 */
static __always_inline int np_ipv6_walk(struct __sk_buff *skb, __u8 *nexthdr, __u32 *off, int *has_l4,
					int *routed)
{
	int i;

	for (i = 0; i < NP_IPV6_MAX_EXT; i++) {
		__u8 ext[4];

		if (!np_ipv6_is_ext(*nexthdr))
			return 0;
		if (bpf_skb_load_bytes(skb, *off, ext, sizeof(ext)) < 0)
			return -1;
		if (*nexthdr == NP_IPV6_ROUTING && ext[3] != 0)
			*routed = 1;
		if (*nexthdr == NP_IPV6_FRAGMENT) {
			*off += 8;
			if ((ext[2] << 8 | ext[3]) & 0xfff8) {
				*has_l4 = 0;
				*nexthdr = ext[0];
				return 0;
			}
		} else if (*nexthdr == NP_IPV6_AH) {
			*off += (ext[1] + 2) * 4;
		} else {
			*off += (ext[1] + 1) * 8;
		}
		*nexthdr = ext[0];
	}
	if (np_ipv6_is_ext(*nexthdr))
		*routed = 1;
	return 0;
}

/* What np_parse_packet() read. */
struct np_pkt {
	struct np_lpm_key key; /* the header's destination: a source route's next hop */
	__u16 port;	       /* 0 for ICMP, other, and non-first fragments */
	__u8 family;
	__u8 ipproto;
	__u8 proto;  /* NP_PROTO_* */
	__u8 routed; /* IPv4 source route, IPv6 routing header with segments left */
	__u8 _pad[2];
};

/*
 * Destination, protocol and port of an outgoing packet, and whether it is
 * source-routed. Returns <0 when malformed. A global function: the verifier
 * checks it once, not at each of the egress program's call sites.
 */
__attribute__((noinline)) int np_parse_packet(struct __sk_buff *skb, struct np_pkt *p)
{
	__u32 off, has_l4 = 1;
	__u8 ver;

	if (!p)
		return -1;
	__builtin_memset(p, 0, sizeof(*p));
	if (bpf_skb_load_bytes(skb, 0, &ver, 1) < 0)
		return -1;
	if (ver >> 4 == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
			return -1;
		np_key_v4(&p->key, ip.daddr);
		p->family = AF_INET;
		p->ipproto = ip.protocol;
		off = ip.ihl * 4;
		if (ip.frag_off & bpf_htons(0x1fff))
			has_l4 = 0;
		if (ip.ihl > 5)
			p->routed = np_ipv4_source_routed(skb, ip.ihl);
	} else if (ver >> 4 == 6) {
		struct ipv6hdr ip6;
		__u8 nexthdr;
		int l4 = 1, routed = 0;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		np_key_v6(&p->key, ip6.daddr.in6_u.u6_addr32);
		p->family = AF_INET6;
		nexthdr = ip6.nexthdr;
		off = sizeof(ip6);
		if (np_ipv6_walk(skb, &nexthdr, &off, &l4, &routed) < 0)
			return -1;
		has_l4 = l4;
		p->routed = routed;
		p->ipproto = nexthdr;
	} else {
		return -1;
	}

	p->proto = np_proto_class(p->ipproto);
	if (has_l4 && (p->proto == NP_PROTO_TCP || p->proto == NP_PROTO_UDP)) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) < 0)
			return -1;
		p->port = bpf_ntohs(ports[1]);
	}
	return 0;
}

/* A parsed packet's destination, protocol and port into a decision. */
static __always_inline void np_decision_of_packet(struct np_decision *d, const struct np_pkt *p)
{
	d->key = p->key;
	d->family = p->family;
	d->ipproto = p->ipproto;
	d->proto = p->proto;
	d->port = p->port;
}
