// SPDX-License-Identifier: GPL-2.0-only
/*
 * netpol's enforcing programs. Attached once, with bpf_link, at the attach
 * cgroup; they judge every socket below it by the policy bound to its cgroup
 * or nearest bound ancestor (np-decide.bpf.h).
 *
 *   connect4/6      TCP, MPTCP, connected UDP, ping connect(), TFO, io_uring
 *   sendmsg4/6      unconnected UDP (sendto, sendmsg, sendmmsg, io_uring)
 *   cgroup_skb      the backstop for what those never see: ping sendto(),
 *                   raw sockets, sockets connected before a policy existed
 *   sock_create     refuses SOCK_RAW inet sockets unless the policy allows
 *
 * No sockops program: it would run for every TCP callback of both ends of
 * every connection, only to tell accepted sockets (np_tcp_has_backlog).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3

/* Verdicts, as every cgroup hook reads its return value. */
#define NP_PASS 1
#define NP_DROP 0

#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define NP_SK_READ(sk, field) (*(volatile __u32 *)&(sk)->field)

#include "np-report.bpf.h"
#include "np-decide.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The generation to judge by, or 0 when nothing is bound anywhere (then every
 * hook returns at once: unpoliced hosts pay one array read). */
static __always_inline int np_active(__u32 *gen)
{
	struct np_state *st = np_state_get();

	if (!st || !READ_ONCE_U32(st->nbindings))
		return 0;
	*gen = READ_ONCE_U32(st->gen);
	return 1;
}

/*
 * Whether a TCP socket has a listen backlog. accept() clones the listener,
 * backlog included, so accepted sockets have one; sockets that connect()
 * have none unless they listened before. The egress lets an accepted
 * socket's packets pass (they answer a peer) and tells it from one that
 * connect()ed with this, not with socket storage, whose creation costs more
 * than a whole decision: connect4/6 give storage marked NP_SKC_CONNECTED
 * only to the rare socket that connect()s with a backlog (np_tcp_mark).
 * A listener with backlog 0 (listen(fd, 0)) passes none on: its accepted
 * sockets are judged as if they had connected.
 */
static __always_inline int np_tcp_has_backlog(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp && tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog != 0;
}

/* Before any policy exists too: a socket connected then is judged by the
 * egress once its cgroup is bound. */
static __always_inline void np_tcp_mark(struct bpf_sock_addr *ctx)
{
	struct np_sk_cache *sc;

	if (ctx->type != SOCK_STREAM || !ctx->sk || !np_tcp_has_backlog(ctx->sk))
		return;
	sc = bpf_sk_storage_get(&np_sk_cache, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (sc)
		sc->state |= NP_SKC_CONNECTED;
}

static __always_inline int np_sock_addr(struct bpf_sock_addr *ctx, __u8 hook, int v6)
{
	struct np_decision d = {};
	struct np_sk_cache *sc = NULL;
	__u32 gen;

	if (hook == NP_HOOK_CONNECT4 || hook == NP_HOOK_CONNECT6)
		np_tcp_mark(ctx);
	if (!np_active(&gen))
		return NP_PASS;

	if (v6) {
		__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};

		np_key_v6(&d.key, a);
		d.family = AF_INET6;
	} else {
		np_key_v4(&d.key, ctx->user_ip4);
		d.family = AF_INET;
	}
	d.ipproto = ctx->protocol;
	d.proto = np_proto_class(ctx->protocol); /* before truncation: MPTCP is 262 */
	/* user_port holds the port in network byte order in its low 16 bits;
	 * ICMP has no port (a ping socket's "port" is its echo id). */
	if (d.proto == NP_PROTO_TCP || d.proto == NP_PROTO_UDP)
		d.port = bpf_ntohs((__u16)ctx->user_port);
	d.hook = hook;
	d.cgroup_id = bpf_get_current_cgroup_id();

	/* A TCP socket connect()s once: its decision is cached in np_stats,
	 * which the egress reads, and it needs no storage of its own. A
	 * datagram socket's storage caches its last destination's verdict. */
	if (ctx->sk && ctx->type != SOCK_STREAM)
		sc = bpf_sk_storage_get(&np_sk_cache, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return np_decide(&d, sc, NULL, gen) ? NP_PASS : NP_DROP;
}

/* IPv6 extension headers we skip to find the transport header. */
#define NP_IPV6_HOPOPTS 0
#define NP_IPV6_ROUTING 43
#define NP_IPV6_FRAGMENT 44
#define NP_IPV6_DSTOPTS 60
#define NP_IPV6_MAX_EXT 4

/* Destination, protocol and port of an outgoing packet; the data starts at
 * the network header on cgroup_skb egress. Returns <0 when malformed.
 * A non-first fragment carries no port: it is judged with port 0. */
static __always_inline int np_parse_packet(struct __sk_buff *skb, struct np_decision *d)
{
	__u32 off, has_l4 = 1;
	__u8 ver;

	if (bpf_skb_load_bytes(skb, 0, &ver, 1) < 0)
		return -1;
	if (ver >> 4 == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
			return -1;
		np_key_v4(&d->key, ip.daddr);
		d->family = AF_INET;
		d->ipproto = ip.protocol;
		off = ip.ihl * 4;
		if (ip.frag_off & bpf_htons(0x1fff))
			has_l4 = 0;
	} else if (ver >> 4 == 6) {
		struct ipv6hdr ip6;
		__u8 nexthdr;
		int i;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) < 0)
			return -1;
		np_key_v6(&d->key, ip6.daddr.in6_u.u6_addr32);
		d->family = AF_INET6;
		nexthdr = ip6.nexthdr;
		off = sizeof(ip6);
		for (i = 0; i < NP_IPV6_MAX_EXT; i++) {
			__u8 ext[4];

			if (nexthdr != NP_IPV6_HOPOPTS && nexthdr != NP_IPV6_ROUTING &&
			    nexthdr != NP_IPV6_FRAGMENT && nexthdr != NP_IPV6_DSTOPTS)
				break;
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)) < 0)
				return -1;
			if (nexthdr == NP_IPV6_FRAGMENT) {
				if ((ext[2] << 8 | ext[3]) & 0xfff8)
					has_l4 = 0;
				off += 8;
			} else {
				off += (ext[1] + 1) * 8;
			}
			nexthdr = ext[0];
		}
		d->ipproto = nexthdr;
	} else {
		return -1;
	}

	d->proto = np_proto_class(d->ipproto);
	if (has_l4 && (d->proto == NP_PROTO_TCP || d->proto == NP_PROTO_UDP)) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) < 0)
			return -1;
		d->port = bpf_ntohs(ports[1]);
	}
	return 0;
}

/* A connected TCP or UDP socket sends only to its peer: the destination
 * comes from the socket, with no header parsing. (A connected UDP socket's
 * sendto() to another address was judged by sendmsg4/6.) */
static __always_inline int np_dest_of_socket(struct bpf_sock *sk, struct np_decision *d)
{
	/* Volatile loads, each at a fixed offset: otherwise clang merges them
	 * into a load from a computed address (sk + offset), which the
	 * verifier refuses on a socket pointer. */
	__u32 family = NP_SK_READ(sk, family), protocol = NP_SK_READ(sk, protocol);
	__u32 port = NP_SK_READ(sk, dst_port), ip4 = NP_SK_READ(sk, dst_ip4);
	__u32 ip6[4] = {NP_SK_READ(sk, dst_ip6[0]), NP_SK_READ(sk, dst_ip6[1]), NP_SK_READ(sk, dst_ip6[2]),
			NP_SK_READ(sk, dst_ip6[3])};

	if ((protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) || !port)
		return 0;
	if (family == AF_INET)
		np_key_v4(&d->key, ip4);
	else
		np_key_v6(&d->key, ip6); /* ::ffff:a.b.c.d when v4-mapped */
	d->family = family;
	d->ipproto = protocol;
	d->proto = np_proto_class(protocol);
	d->port = bpf_ntohs((__u16)port);
	return 1;
}

static __always_inline int np_egress(struct __sk_buff *skb)
{
	struct np_decision d = {};
	struct np_sk_cache *sc;
	struct bpf_sock *sk;
	__u32 gen;

	if (!np_active(&gen))
		return NP_PASS;
	/* The kernel runs egress programs only for full sockets. */
	sk = skb->sk;
	if (!sk)
		return NP_PASS;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return NP_PASS;

	/* A listener sends only SYN-ACKs and RSTs: answers to a peer. */
	if (sk->type == SOCK_STREAM && sk->state == BPF_TCP_LISTEN)
		return NP_PASS;
	/* Every datagram of an unconnected UDP socket names its destination
	 * and was judged by sendmsg4/6 (ping and raw sockets are not UDP). */
	if (sk->type == SOCK_DGRAM && sk->protocol == IPPROTO_UDP && !sk->dst_port)
		return NP_PASS;

	d.hook = NP_HOOK_EGRESS;
	d.no_task = 1;
	d.cgroup_id = bpf_skb_cgroup_id(skb);
	if (!np_dest_of_socket(sk, &d) && np_parse_packet(skb, &d) < 0) {
		/* Unreadable headers: no destination to judge. Refuse it
		 * where a policy applies (np_decide on :: with "other"). */
		__builtin_memset(&d.key, 0, sizeof(d.key));
		d.key.prefixlen = 128;
		d.proto = NP_PROTO_OTHER;
		d.port = 0;
	}

	/* A TCP socket without a backlog connect()ed: no storage to look at.
	 * One with a backlog was accept()ed, unless connect4/6 marked it. */
	if (sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP) {
		if (!np_tcp_has_backlog(sk))
			return np_decide_flow(&d, skb, gen) ? NP_PASS : NP_DROP;
		sc = bpf_sk_storage_get(&np_sk_cache, sk, 0, 0);
		if (sc && (sc->state & NP_SKC_CONNECTED))
			return np_decide(&d, sc, skb, gen) ? NP_PASS : NP_DROP;
		return NP_PASS; /* accepted: it answers a peer */
	}
	sc = bpf_sk_storage_get(&np_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return np_decide(&d, sc, skb, gen) ? NP_PASS : NP_DROP;
}

static __always_inline int np_sock_create(struct bpf_sock *sk)
{
	struct np_decision d = {};
	struct np_stats_key k;
	struct np_lpm_val *v;
	__u32 gen;

	if ((sk->family != AF_INET && sk->family != AF_INET6) || sk->type != SOCK_RAW)
		return NP_PASS;
	if (!np_active(&gen))
		return NP_PASS;

	d.cgroup_id = bpf_get_current_cgroup_id();
	d.policy_id = np_resolve_policy(d.cgroup_id, NULL, gen);
	if (!d.policy_id)
		return NP_PASS;
	/* prefixlen 0 finds the ::/0 entry every compiled policy has; its
	 * flags are the policy's. */
	v = np_policy_lookup(d.policy_id, &d.key);
	d.flags = v ? v->flags : 0;
	if (d.flags & NP_POL_RAW_ALLOW)
		return NP_PASS;

	d.hook = NP_HOOK_SOCK_CREATE;
	d.family = sk->family;
	d.ipproto = sk->protocol;
	d.proto = np_proto_class(sk->protocol);
	d.cell = NP_CELL_DENY | NP_CELL_RULE_DEFAULT;
	d.verdict = (d.flags & NP_POL_AUDIT) ? NP_VERDICT_AUDIT : NP_VERDICT_DENY;
	np_stats_key_of(&d, &k);
	np_report(&d, NULL, &k, gen, 1);
	return d.verdict == NP_VERDICT_AUDIT ? NP_PASS : NP_DROP;
}

SEC("cgroup/connect4") int np_connect4(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_CONNECT4, 0); }
SEC("cgroup/connect6") int np_connect6(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_CONNECT6, 1); }
SEC("cgroup/sendmsg4") int np_sendmsg4(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_SENDMSG4, 0); }
SEC("cgroup/sendmsg6") int np_sendmsg6(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_SENDMSG6, 1); }
SEC("cgroup_skb/egress") int np_egress_skb(struct __sk_buff *skb) { return np_egress(skb); }
SEC("cgroup/sock_create") int np_sock_create_prog(struct bpf_sock *sk) { return np_sock_create(sk); }
