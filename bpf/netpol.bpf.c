// SPDX-License-Identifier: GPL-2.0-only
/*
 * netpol's enforcing programs. Attached once, with bpf_link, at the attach
 * cgroup; they judge every socket below it by the policy bound to its cgroup
 * or nearest bound ancestor (np-decide.bpf.h).
 *
 *   connect4/6      TCP, MPTCP, ping connect(), TFO, io_uring; the caller's
 *                   cgroup and the socket's both judge
 *   sendmsg4/6      unconnected UDP (sendto, sendmsg, sendmmsg, io_uring)
 *   cgroup_skb      every packet, by the socket's cgroup: connected UDP at
 *                   its first datagram, ping sendto(), raw sockets, sockets
 *                   connected before a policy existed, source routes
 *   sock_create     refuses SOCK_RAW inet sockets unless the policy allows,
 *                   and ping sockets where it allows no ICMP of their family;
 *                   records who made the others (np_sk_creator)
 *
 * No sockops program: it would run for every TCP callback of both ends of
 * every connection, only to tell accepted sockets (np_tcp_has_backlog).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"
#include "np-defs.bpf.h"
#include "np-report.bpf.h"
#include "np-decide.bpf.h"
#include "np-packet.bpf.h"
#include "np-sock.bpf.h"

#define IPPROTO_ICMPV6_NR 58

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

/* A socket hook's destination, where the kernel will send: an unspecified
 * address is the address it stands for (np-sock.bpf.h). */
static __always_inline void np_sock_addr_dest(struct bpf_sock_addr *ctx, __u8 hook, int v6,
					      struct np_decision *d)
{
	struct bpf_sock *sk = ctx->sk;

	if (v6) {
		__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};

		if (np_addr6_unspec(a)) {
			__u32 bound[4] = {NP_SK_READ(sk, src_ip6[0]), NP_SK_READ(sk, src_ip6[1]),
					  NP_SK_READ(sk, src_ip6[2]), NP_SK_READ(sk, src_ip6[3])};

			np_unspec_dest6(a, bound, hook == NP_HOOK_CONNECT6);
		} else if (np_addr6_mapped_unspec(a)) {
			a[3] = np_unspec_dest4(NP_SK_READ(sk, src_ip4));
		}
		np_key_v6(&d->key, a);
		d->family = AF_INET6;
	} else {
		__u32 ip4 = ctx->user_ip4;

		if (!ip4)
			ip4 = np_unspec_dest4(hook == NP_HOOK_SENDMSG4 ? ctx->msg_src_ip4
								       : NP_SK_READ(sk, src_ip4));
		np_key_v4(&d->key, ip4);
		d->family = AF_INET;
	}
}

/* Whether d's destination is IPv4 (v4-mapped in the key). */
static __always_inline int np_dest_is_v4(const struct np_decision *d)
{
	const __u32 *w = (const __u32 *)d->key.addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

enum {
	NP_JUDGE_ROUTED = 1 << 0,	 /* the socket's own options route it */
	NP_JUDGE_DGRAM_CONNECT = 1 << 1, /* a datagram socket's connect() */
};

/* One cgroup's judgment in a socket hook. A source-routed socket is refused
 * under any policy, whatever its destination. A subprogram, not inlined: a
 * hook judges up to two cgroups, and one copy of the decision keeps the
 * program small. */
static __noinline int np_sock_addr_judge(struct np_decision *d, struct np_sk_cache *sc,
					 const struct np_cg_src *src, __u32 how, __u32 gen)
{
	if (!(how & NP_JUDGE_ROUTED))
		return np_decide_as(d, sc, src, gen, how & NP_JUDGE_DGRAM_CONNECT);
	if (!np_policy_of(d, src, gen))
		return 1;
	d->reason = NP_REASON_SOURCE_ROUTE;
	return np_refuse(d, gen);
}

static __always_inline int np_sock_addr(struct bpf_sock_addr *ctx, __u8 hook, int v6)
{
	int connect = hook == NP_HOOK_CONNECT4 || hook == NP_HOOK_CONNECT6;
	struct np_cg_src caller = {}, own = {};
	struct np_decision d = {};
	struct np_sk_cache *sc = NULL;
	__u32 gen, how = 0;
	struct cgroup *own_cg;
	__u64 own_id;

	if (connect)
		np_tcp_mark(ctx);
	if (!np_active(&gen))
		return NP_PASS;

	own_cg = np_sk_cgroup(ctx->sk);
	own_id = own_cg ? own_cg->kn->id : 0;
	d.cgroup_id = bpf_get_current_cgroup_id();
	if (own_id == d.cgroup_id)
		own_id = 0;
	/* A UDP connect() sends nothing: it is refused only where its address
	 * allows nothing at all, else its first datagram is judged (at the
	 * egress, by the socket's cgroup). So a connect() that only picks a
	 * source address, as ping's does, works. */
	if (connect && np_proto_class(ctx->protocol) == NP_PROTO_UDP)
		how |= NP_JUDGE_DGRAM_CONNECT;

	np_sock_addr_dest(ctx, hook, v6, &d);
	d.ipproto = ctx->protocol;
	d.proto = np_proto_class(ctx->protocol); /* before truncation: MPTCP is 262 */
	/* user_port holds the port in network byte order in its low 16 bits;
	 * ICMP has no port (a ping socket's "port" is its echo id). */
	if (d.proto == NP_PROTO_TCP || d.proto == NP_PROTO_UDP)
		d.port = bpf_ntohs((__u16)ctx->user_port);
	d.hook = hook;
	if (np_sk_source_routed(ctx, np_dest_is_v4(&d)))
		how |= NP_JUDGE_ROUTED;

	/* A TCP socket connect()s once: its decision is cached in np_stats,
	 * which the egress reads, and it needs no storage of its own. A
	 * datagram socket's storage caches its last destination's verdict. */
	if (ctx->type != SOCK_STREAM)
		sc = bpf_sk_storage_get(&np_sk_cache, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	/* The socket's cgroup and the caller's both judge: a process that left
	 * a policed cgroup keeps its sockets' policy. */
	if (own_id) {
		struct np_decision mine = d;

		mine.cgroup_id = own_id;
		own.cg = np_sk_cgroup_addr(ctx->sk);
		if (!np_sock_addr_judge(&mine, sc, &own, how, gen))
			return NP_DROP;
		sc = NULL;
	}
	return np_sock_addr_judge(&d, sc, &caller, how, gen) ? NP_PASS : NP_DROP;
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

static __always_inline int np_is_ping_socket(struct bpf_sock *sk)
{
	return sk->type == SOCK_DGRAM && (sk->protocol == IPPROTO_ICMP || sk->protocol == IPPROTO_ICMPV6_NR);
}

/*
 * The egress may run in softirq (TCP ACKs and retransmits, an asynchronous
 * IPsec transform resuming) or for a task that did not send (a netfilter
 * queue's verdict), where the current task is whatever ran on the CPU: its
 * event names who np-decision.bpf.h's NP_NAMED_BY_* says. A raw or ping
 * socket's packet names the process that made the socket.
 */
static __always_inline void np_egress_decision(struct np_decision *d, struct __sk_buff *skb,
					       struct bpf_sock *sk)
{
	d->hook = NP_HOOK_EGRESS;
	d->cgroup_id = bpf_skb_cgroup_id(skb);
	if (sk->type == SOCK_RAW || np_is_ping_socket(sk)) {
		d->named_by = NP_NAMED_BY_OWNER;
		d->sk = sk;
	} else if (sk->type == SOCK_DGRAM) {
		d->named_by = NP_NAMED_BY_CGROUP;
	} else {
		d->named_by = NP_NAMED_BY_NONE;
	}
}

/* A source-routed packet of a policed socket is refused, whatever its
 * destination, and reported with its next hop. */
static __always_inline int np_egress_source_routed(struct __sk_buff *skb, struct bpf_sock *sk,
						   const struct np_pkt *p, __u32 gen)
{
	struct np_cg_src src = {.skb = skb};
	struct np_decision d = {};

	np_egress_decision(&d, skb, sk);
	np_decision_of_packet(&d, p);
	if (!np_policy_of(&d, &src, gen))
		return NP_PASS;
	d.reason = NP_REASON_SOURCE_ROUTE;
	return np_refuse(&d, gen) ? NP_PASS : NP_DROP;
}

static __always_inline int np_egress(struct __sk_buff *skb)
{
	struct np_cg_src src = {.skb = skb};
	struct np_decision d = {};
	struct np_pkt pkt = {};
	struct np_sk_cache *sc;
	struct bpf_sock *sk;
	int parsed = 1; /* not yet; then np_parse_packet()'s result */
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

	/* Before any shortcut: a listener's, an accepted socket's or a
	 * datagram's packet goes where its header says, to its next hop. */
	if (np_packet_has_options(skb)) {
		parsed = np_parse_packet(skb, &pkt);
		if (parsed == 0 && pkt.routed)
			return np_egress_source_routed(skb, sk, &pkt, gen);
	}

	/* A listener sends only SYN-ACKs and RSTs: answers to a peer. */
	if (sk->type == SOCK_STREAM && sk->state == BPF_TCP_LISTEN)
		return NP_PASS;
	/* Every datagram of an unconnected UDP socket names its destination,
	 * which sendmsg4/6 judged for the socket's cgroup and the caller's
	 * (ping and raw sockets are not UDP). */
	if (sk->type == SOCK_DGRAM && sk->protocol == IPPROTO_UDP && !sk->dst_port)
		return NP_PASS;

	np_egress_decision(&d, skb, sk);

	if (!np_dest_of_socket(sk, &d)) {
		if (parsed > 0)
			parsed = np_parse_packet(skb, &pkt);
		if (parsed == 0) {
			np_decision_of_packet(&d, &pkt);
		} else {
			/* Unreadable headers: no destination to judge. Refuse
			 * it where a policy applies (:: with "other"). */
			__builtin_memset(&d.key, 0, sizeof(d.key));
			d.key.prefixlen = 128;
			d.proto = NP_PROTO_OTHER;
			d.port = 0;
		}
	}

	/* A TCP socket without a backlog connect()ed: no storage to look at.
	 * One with a backlog was accept()ed, unless connect4/6 marked it. */
	if (sk->type == SOCK_STREAM && sk->protocol == IPPROTO_TCP) {
		if (!np_tcp_has_backlog(sk))
			return np_decide_flow(&d, skb, gen) ? NP_PASS : NP_DROP;
		sc = bpf_sk_storage_get(&np_sk_cache, sk, 0, 0);
		if (sc && (sc->state & NP_SKC_CONNECTED))
			return np_decide(&d, sc, &src, gen) ? NP_PASS : NP_DROP;
		return NP_PASS; /* accepted: it answers a peer */
	}
	sc = bpf_sk_storage_get(&np_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return np_decide(&d, sc, &src, gen) ? NP_PASS : NP_DROP;
}

/* Whether a policy with these flags refuses the socket being made: a raw
 * inet socket unless it allows them, a ping socket where it allows no ICMP
 * of its family (ICMPv6 ping's sendto() reports no egress drop). */
static __always_inline int np_sock_refused(struct bpf_sock *sk, __u16 flags)
{
	if (sk->type == SOCK_RAW)
		return !(flags & NP_POL_RAW_ALLOW);
	return flags & (sk->family == AF_INET ? NP_POL_NO_ICMP4 : NP_POL_NO_ICMP6);
}

/* The creator of a raw or ping socket, for its packets' events: the egress
 * may run in softirq, where the current task is not the sender. */
static __always_inline void np_sk_creator_record(struct bpf_sock *sk)
{
	struct np_sk_creator *o = bpf_sk_storage_get(&np_sk_creator, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	struct task_struct *t = bpf_get_current_task_btf();

	if (!o)
		return;
	o->task = 0;
	o->pid = np_current_tgid(t, &o->task);
	o->pidns = np_pidns_ino ?: NP_PIDNS_INIT_INO;
	o->uid = (__u32)bpf_get_current_uid_gid();
	BPF_CORE_READ_STR_INTO(&o->comm, t, group_leader, comm);
}

static __always_inline int np_sock_create(struct bpf_sock *sk)
{
	struct np_cg_src caller = {};
	struct np_decision d = {};
	__u32 gen;

	if (sk->family != AF_INET && sk->family != AF_INET6)
		return NP_PASS;
	if (sk->type != SOCK_RAW && !np_is_ping_socket(sk))
		return NP_PASS;
	if (!np_active(&gen))
		return NP_PASS;

	d.cgroup_id = bpf_get_current_cgroup_id();
	if (np_policy_of(&d, &caller, gen) && np_sock_refused(sk, d.flags)) {
		d.hook = NP_HOOK_SOCK_CREATE;
		d.family = sk->family;
		d.ipproto = sk->protocol;
		d.proto = np_proto_class(sk->protocol);
		if (!np_refuse(&d, gen))
			return NP_DROP;
	}
	np_sk_creator_record(sk);
	return NP_PASS;
}

SEC("cgroup/connect4") int np_connect4(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_CONNECT4, 0); }
SEC("cgroup/connect6") int np_connect6(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_CONNECT6, 1); }
SEC("cgroup/sendmsg4") int np_sendmsg4(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_SENDMSG4, 0); }
SEC("cgroup/sendmsg6") int np_sendmsg6(struct bpf_sock_addr *ctx) { return np_sock_addr(ctx, NP_HOOK_SENDMSG6, 1); }
SEC("cgroup_skb/egress") int np_egress_skb(struct __sk_buff *skb) { return np_egress(skb); }
SEC("cgroup/sock_create") int np_sock_create_prog(struct bpf_sock *sk) { return np_sock_create(sk); }
