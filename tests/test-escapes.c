/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the escapes an attacker inside a policed cgroup tried:
 * source routes, unspecified destinations, ping sockets, and sockets that
 * outlive their process's cgroup. Real syscalls from workers in bound
 * cgroups, inside the harness's network namespace (only lo; see harness.h).
 *
 * Where a packet goes is read off the wire: an AF_PACKET socket on lo sees
 * every packet that left a socket, with the destination its header names.
 * Each case also shows that the same attempt from an unbound cgroup does
 * leave (or is delivered), so that none can pass because the probe itself
 * is broken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define A4	 "203.0.113.9"	 /* allowed */
#define A4_LOCAL "203.0.113.1"	 /* allowed, the address on lo */
#define HOP4	 "198.51.100.7"	 /* denied: a source route's first hop */
#define D4	 "203.0.113.200" /* denied */
#define A6	 "2001:db8:1::9"
#define HOP6	 "2001:db8:2::9"
#define D6	 "2001:db8:2::9"
#define UDP_PORT NP_TEST_UDP_PORT
#define TCP_PORT NP_TEST_TCP_PORT

#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif
#define SRH_TYPE 4

static const char basic_json[] = "{\"name\":\"basic\",\"default\":\"deny\",\"rules\":["
				 "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}]}";
static const char no_loopback_json[] = "{\"name\":\"nolo\",\"default\":\"allow\",\"rules\":["
				       "{\"action\":\"deny\",\"to\":[\"127.0.0.0/8\",\"::1/128\"]}]}";

static int g_wire = -1; /* AF_PACKET on lo */

/* ---- the wire ---- */

static int wire_open(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (fd < 0)
		return -errno;
	sll.sll_ifindex = (int)if_nametoindex("lo");
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void wire_drain(void)
{
	char buf[4096];

	while (recv(g_wire, buf, sizeof(buf), 0) >= 0)
		;
}

/* Whether a packet carrying token left within timeout_ms; *dst gets the
 * destination its IP header names (v4-mapped for IPv4). */
static bool wire_seen(const char *token, int timeout_ms, uint8_t dst[16])
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;
	size_t tlen = strlen(token);

	for (;;) {
		struct pollfd pfd = {.fd = g_wire, .events = POLLIN};
		uint8_t buf[4096];
		int64_t left;
		ssize_t n = recv(g_wire, buf, sizeof(buf), 0);

		if (n > 0 && memmem(buf, (size_t)n, token, tlen)) {
			memset(dst, 0, 16);
			if (buf[0] >> 4 == 4 && n >= 20) {
				dst[10] = dst[11] = 0xff;
				memcpy(dst + 12, buf + 16, 4);
			} else if (buf[0] >> 4 == 6 && n >= 40) {
				memcpy(dst, buf + 24, 16);
			}
			return true;
		}
		if (n >= 0)
			continue;
		left = (int64_t)deadline - (int64_t)np_test_now_ms();
		if (left <= 0)
			return false;
		poll(&pfd, 1, (int)left);
	}
}

static const char *addr16_str(const uint8_t a[16])
{
	static char buf[INET6_ADDRSTRLEN];
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (memcmp(a, mapped, 12) == 0)
		return inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
	return inet_ntop(AF_INET6, a, buf, sizeof(buf));
}

/* ---- set-up ---- */

#define PROBE_OK(w, fn, dest)                                                                                \
	do {                                                                                                 \
		struct np_dest _d_ = (dest);                                                                 \
		int _r_ = np_test_worker_probe(&(w), (fn), &_d_);                                            \
		NP_CHECK(_r_ == 0, "%s %s: %s", #fn, np_dest_str(&_d_), np_test_strerr(_r_));                \
	} while (0)

/* ---- source routes ---- */

enum sr_how {
	SR_STICKY_SENDTO,    /* IP_OPTIONS / IPV6_RTHDR, then sendto() */
	SR_CMSG_SENDTO,	     /* the route in a control message of one sendmsg() */
	SR_CMSG_CONNECTED,   /* connect(), then send() with the route in a cmsg */
	SR_STICKY_CONNECTED, /* connect(), set the route, then send() */
	SR_STICKY_TCP,	     /* IP_OPTIONS / IPV6_RTHDR, then connect() */
	SR_STICKY_TFO,	     /* IP_OPTIONS, then sendto(MSG_FASTOPEN): data on the SYN */
};

struct sr_req {
	struct np_dest d; /* where the hooks see it go */
	uint8_t hop[16];  /* where it goes first */
	int how;
};

/* An IPv4 loose source route to dest through hop, as IP_OPTIONS takes it:
 * the first address is the first hop, the last the destination. */
static size_t lsrr(uint8_t *buf, const uint8_t hop[16], const struct np_dest *d)
{
	buf[0] = 1; /* NOP, to 4-byte alignment */
	buf[1] = 131;
	buf[2] = 11;
	buf[3] = 4;
	memcpy(buf + 4, hop + 12, 4);
	memcpy(buf + 8, &d->in.sin_addr, 4);
	return 12;
}

/* A type-4 (segment routing) header to dest through hop: segments are
 * listed last first. */
static size_t srh(uint8_t *buf, const uint8_t hop[16], const struct np_dest *d)
{
	memset(buf, 0, 8);
	buf[1] = 4; /* length in 8-byte units beyond the first 8: two segments */
	buf[2] = SRH_TYPE;
	buf[3] = 1; /* segments left */
	buf[4] = 1; /* last entry */
	memcpy(buf + 8, &d->in6.sin6_addr, 16);
	memcpy(buf + 24, hop, 16);
	return 40;
}

static int route_opt(const struct sr_req *q, uint8_t *buf, int *level, int *name)
{
	bool v6 = q->d.family == AF_INET6;

	*level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	*name = v6 ? IPV6_RTHDR
		   : (q->how == SR_CMSG_SENDTO || q->how == SR_CMSG_CONNECTED ? IP_RETOPTS : IP_OPTIONS);
	return (int)(v6 ? srh(buf, q->hop, &q->d) : lsrr(buf, q->hop, &q->d));
}

static int send_with_route_cmsg(int fd, const struct sr_req *q, const uint8_t *opt, int len, int level,
				int name, bool to)
{
	char control[CMSG_SPACE(64)] = {};
	struct iovec iov = {.iov_base = (void *)q->d.payload, .iov_len = strlen(q->d.payload)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = CMSG_SPACE(len)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	if (to) {
		mh.msg_name = (void *)&q->d.sa;
		mh.msg_namelen = q->d.len;
	}
	c->cmsg_level = level;
	c->cmsg_type = name;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), opt, len);
	return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

static int sr_probe(void *arg, size_t size)
{
	const struct sr_req *q = arg;
	bool tcp = q->how >= SR_STICKY_TCP;
	uint8_t opt[64];
	int fd, len, level, name, r = 0;
	struct timeval tv = {.tv_sec = 1};

	fd = socket(q->d.family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	len = route_opt(q, opt, &level, &name);
	if (q->how == SR_STICKY_CONNECTED) {
		if (connect(fd, &q->d.sa, q->d.len) < 0 ||
		    setsockopt(fd, level, name, opt, (socklen_t)len) < 0)
			r = -errno;
		else
			r = send(fd, q->d.payload, strlen(q->d.payload), 0) < 0 ? -errno : 0;
	} else if (q->how == SR_CMSG_SENDTO || q->how == SR_CMSG_CONNECTED) {
		if (q->how == SR_CMSG_CONNECTED && connect(fd, &q->d.sa, q->d.len) < 0)
			r = -errno;
		if (r == 0)
			r = send_with_route_cmsg(fd, q, opt, len, level, name, q->how == SR_CMSG_SENDTO);
	} else if (setsockopt(fd, level, name, opt, (socklen_t)len) < 0) {
		r = -errno;
	} else if (q->how == SR_STICKY_SENDTO) {
		r = sendto(fd, q->d.payload, strlen(q->d.payload), 0, &q->d.sa, q->d.len) < 0 ? -errno : 0;
	} else if (q->how == SR_STICKY_TFO) {
		r = sendto(fd, q->d.payload, strlen(q->d.payload), MSG_FASTOPEN, &q->d.sa, q->d.len) < 0
			? -errno
			: 0;
	} else {
		r = connect(fd, &q->d.sa, q->d.len) < 0 ? -errno : 0;
	}
	close(fd);
	return r;
}

/* The attempt from the unbound cgroup leaves for the hop; from the bound
 * one it fails with EPERM, nothing carrying its data leaves, and the
 * refusal is reported with the reason and the hook. */
static void source_route(struct np_test_env *env, const char *cg, struct sr_req q, int hook)
{
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct np_event_match m = {
	    .verdict = NP_VERDICT_DENY, .hook = hook, .match_reason = true, .reason = NP_REASON_SOURCE_ROUTE};
	bool tcp = q.how >= SR_STICKY_TCP;
	struct np_event ev;
	uint8_t dst[16];
	int r;

	np_test_cgroup(env, "sr-free", NULL);
	NP_START_WORKER(env, "sr-free", &free_w);
	np_dest_token(&q.d);
	wire_drain();
	r = np_test_worker_call(&free_w, sr_probe, &q, sizeof(q), 5000);
	if (!tcp) {
		NP_CHECK(r == 0, "unpoliced: %s", np_test_strerr(r));
		NP_CHECK(wire_seen(q.d.payload, 1000, dst),
			 "unpoliced: the source-routed datagram did not leave");
		NP_CHECK(memcmp(dst, q.hop, 16) == 0, "unpoliced: it left for %s, not the hop",
			 addr16_str(dst));
	}

	m.policy_id = NP_SETUP_BOUND(env, cg, basic_json, &w);
	m.cgroup_id = np_test_cgroup_id(env, cg);
	np_test_events_clear(env);
	np_dest_token(&q.d);
	wire_drain();
	r = np_test_worker_call(&w, sr_probe, &q, sizeof(q), 5000);
	NP_CHECK(r == -EPERM, "%s through %s: got %s, expected EPERM", np_dest_str(&q.d), addr16_str(q.hop),
		 np_test_strerr(r));
	NP_CHECK(!wire_seen(q.d.payload, 300, dst), "a packet with the data left for %s", addr16_str(dst));
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no source-route denial reported (hook %d)", hook);
	/* plain traffic to the same destination still works */
	q.how = tcp ? SR_STICKY_TCP : SR_STICKY_SENDTO;
	r = np_test_worker_probe(&w, tcp ? np_probe_tcp_connect : np_probe_udp_sendto, &q.d);
	NP_CHECK(r == 0, "plain %s to %s: %s", tcp ? "connect" : "sendto", np_dest_str(&q.d),
		 np_test_strerr(r));
	np_test_tcp_drain(env);
}

/* The source-route cases: each is tried from an unbound cgroup and from one
 * bound to basic_json (source_route()). */
struct sr_case {
	const char *name, *cgroup;
	bool v6;
	int how;
	uint16_t port;
	int hook; /* where the refusal is reported */
};

static const struct sr_case sr_cases[] = {
    {"IPv4 source route (IP_OPTIONS), sendto", "sr4-sticky", false, SR_STICKY_SENDTO, UDP_PORT,
     NP_HOOK_SENDMSG4},
    {"IPv4 source route in a control message, sendto", "sr4-cmsg", false, SR_CMSG_SENDTO, UDP_PORT,
     NP_HOOK_EGRESS},
    {"IPv4 source route in a control message, connected UDP", "sr4-cmsg-conn", false, SR_CMSG_CONNECTED,
     UDP_PORT, NP_HOOK_EGRESS},
    {"IPv4 source route set on a connected socket", "sr4-conn", false, SR_STICKY_CONNECTED, UDP_PORT,
     NP_HOOK_EGRESS},
    {"IPv4 source route, TCP connect", "sr4-tcp", false, SR_STICKY_TCP, TCP_PORT, NP_HOOK_CONNECT4},
    {"IPv4 source route, TCP Fast Open", "sr4-tfo", false, SR_STICKY_TFO, TCP_PORT, NP_HOOK_CONNECT4},
    {"IPv6 routing header (IPV6_RTHDR), sendto", "sr6-sticky", true, SR_STICKY_SENDTO, UDP_PORT,
     NP_HOOK_SENDMSG6},
    /* This kernel takes no IPv6 routing header in a control message (only
     * type 2, without CONFIG_IPV6_MIP6): one set on a connected socket is
     * sent by send(), which no socket hook sees. */
    {"IPv6 routing header set on a connected socket", "sr6-conn", true, SR_STICKY_CONNECTED, UDP_PORT,
     NP_HOOK_EGRESS},
    {"IPv6 routing header, TCP connect", "sr6-tcp", true, SR_STICKY_TCP, TCP_PORT, NP_HOOK_CONNECT6},
};

static const struct sr_case *g_sr_case;

static void case_source_route(struct np_test_env *env)
{
	const struct sr_case *c = g_sr_case;
	struct sr_req q = {.how = c->how};
	struct np_dest hop = c->v6 ? np_dest_v6(HOP6, c->port) : np_dest_v4(HOP4, c->port);

	q.d = c->v6 ? np_dest_v6(A6, c->port) : np_dest_v4(A4, c->port);
	np_dest_addr16(&hop, q.hop);
	source_route(env, c->cgroup, q, c->hook);
}

/* An accepted socket answers a peer and passes the egress untouched; with
 * a source route set after accept() its packets go to the hop first. */
static int g_server = -1, g_conn = -1;

static int server_listen(void *arg, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8090)};
	int one = 1;

	g_server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_server < 0)
		return -errno;
	setsockopt(g_server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(g_server, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(g_server, 4) < 0)
		return -errno;
	return 0;
}

static int server_accept_route_send(void *arg, size_t size)
{
	struct sr_req *q = arg;
	socklen_t sl = sizeof(q->d.in);
	uint8_t opt[16];
	size_t len;

	g_conn = accept4(g_server, &q->d.sa, &sl, SOCK_CLOEXEC);
	if (g_conn < 0)
		return -errno;
	q->d.family = AF_INET;
	len = lsrr(opt, q->hop, &q->d);
	if (setsockopt(g_conn, IPPROTO_IP, IP_OPTIONS, opt, (socklen_t)len) < 0)
		return -errno;
	return send(g_conn, q->d.payload, strlen(q->d.payload), 0) < 0 ? -errno : 0;
}

static void case_lsrr_accepted(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY,
				   .hook = NP_HOOK_EGRESS,
				   .match_reason = true,
				   .reason = NP_REASON_SOURCE_ROUTE};
	struct sr_req q = {.d = np_dest_v4(A4, 8090), .how = SR_STICKY_TCP};
	struct np_dest hop = np_dest_v4(HOP4, 8090);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(8090)};
	_cleanup_close_ int c = -EBADF;
	uint8_t dst[16];
	int r;

	np_dest_addr16(&hop, q.hop);
	m.policy_id = NP_SETUP_BOUND(env, "sr4-accepted", basic_json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "sr4-accepted");
	r = np_test_worker_call(&w, server_listen, NULL, 0, 5000);
	NP_CHECK(r == 0, "listen: %s", np_test_strerr(r));
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, A4, &to.sin_addr);
	NP_CHECK(connect(c, (struct sockaddr *)&to, sizeof(to)) == 0, "connect to the policed server: %m");
	np_test_events_clear(env);
	np_dest_token(&q.d);
	wire_drain();
	r = np_test_worker_call(&w, server_accept_route_send, &q, sizeof(q), 5000);
	NP_CHECK(r == 0 || r == -EPERM, "accept, route, send: %s", np_test_strerr(r));
	NP_CHECK(!wire_seen(q.d.payload, 500, dst), "the accepted socket's data left for %s",
		 addr16_str(dst));
	NP_CHECK(np_test_event_wait(env, &m, 2000, NULL),
		 "no source-route denial reported for the accepted socket");
}

/* ---- unspecified destinations ---- */

struct unspec_req {
	struct np_dest d;
	char bind_ip[INET6_ADDRSTRLEN];	  /* "" for none */
	char pktinfo_ip[INET_ADDRSTRLEN]; /* IP_PKTINFO source, "" for none */
};

static int unspec_sendto(void *arg, size_t size)
{
	const struct unspec_req *q = arg;
	char control[CMSG_SPACE(sizeof(struct in_pktinfo))] = {};
	struct iovec iov = {.iov_base = (void *)q->d.payload, .iov_len = strlen(q->d.payload)};
	struct msghdr mh = {
	    .msg_name = (void *)&q->d.sa, .msg_namelen = q->d.len, .msg_iov = &iov, .msg_iovlen = 1};
	_cleanup_close_ int fd = socket(q->d.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (q->bind_ip[0]) {
		struct sockaddr_in b = {.sin_family = AF_INET};

		inet_pton(AF_INET, q->bind_ip, &b.sin_addr);
		if (bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0)
			return -errno;
	}
	if (q->pktinfo_ip[0]) {
		struct cmsghdr *c;
		struct in_pktinfo pi = {};

		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		inet_pton(AF_INET, q->pktinfo_ip, &pi.ipi_spec_dst);
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	return sendmsg(fd, &mh, 0) < 0 ? -errno : 0;
}

/* A datagram to an unspecified address: allowed, it arrives; denied, it
 * fails with EPERM and does not. */
static bool unspec_expect(struct np_test_env *env, struct np_test_worker *w, struct unspec_req *q,
			  bool allowed, int line)
{
	bool arrived;
	int r;

	np_dest_token(&q->d);
	np_test_udp_drain(env);
	r = np_test_worker_call(w, unspec_sendto, q, sizeof(*q), 5000);
	arrived = np_test_udp_seen(env, q->d.payload, r == 0 ? 1000 : 200);
	if (allowed ? r == 0 && arrived : r == -EPERM && !arrived)
		return true;
	np_test_fail_at(line, "%s (bound '%s', pktinfo '%s'): got %s, %s; expected %s", np_dest_str(&q->d),
			q->bind_ip, q->pktinfo_ip, np_test_strerr(r), arrived ? "arrived" : "not delivered",
			allowed ? "delivery" : "EPERM");
	return false;
}

#define UNSPEC_DELIVERED(env, w, q)                                                                          \
	do {                                                                                                 \
		if (!unspec_expect((env), (w), &(q), true, __LINE__))                                        \
			return;                                                                              \
	} while (0)

#define UNSPEC_DENIED(env, w, q)                                                                             \
	do {                                                                                                 \
		if (!unspec_expect((env), (w), &(q), false, __LINE__))                                       \
			return;                                                                              \
	} while (0)

/* 0.0.0.0 and :: are delivered to loopback: judged as loopback. */
static void case_unspec_loopback(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct unspec_req v4 = {.d = np_dest_v4("0.0.0.0", UDP_PORT)};
	struct unspec_req v6 = {.d = np_dest_v6("::", UDP_PORT)};
	struct unspec_req mapped = {.d = np_dest_mapped("0.0.0.0", UDP_PORT)};

	NP_START_WORKER(env, "unspec-free", &free_w);
	UNSPEC_DELIVERED(env, &free_w, v4);
	UNSPEC_DELIVERED(env, &free_w, v6);
	UNSPEC_DELIVERED(env, &free_w, mapped);

	NP_SETUP_BOUND(env, "unspec-lo", no_loopback_json, &w);
	UNSPEC_DENIED(env, &w, v4);
	UNSPEC_DENIED(env, &w, v6);
	UNSPEC_DENIED(env, &w, mapped);
	PROBE_OK(w, np_probe_udp_sendto, np_dest_v4(A4, UDP_PORT));
}

/* 0.0.0.0 from a socket bound to an address, or with an IP_PKTINFO source,
 * goes to that address. */
static void case_unspec_source(struct np_test_env *env)
{
	static const char deny_json[] = "{\"name\":\"nod4\",\"default\":\"allow\",\"rules\":["
					"{\"action\":\"deny\",\"to\":[\"" D4 "/32\"]}]}";
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct unspec_req bound = {.d = np_dest_v4("0.0.0.0", UDP_PORT), .bind_ip = D4};
	struct unspec_req pktinfo = {.d = np_dest_v4("0.0.0.0", UDP_PORT), .pktinfo_ip = D4};
	struct unspec_req other = {.d = np_dest_v4("0.0.0.0", UDP_PORT), .bind_ip = A4};

	NP_START_WORKER(env, "unspec-src-free", &free_w);
	UNSPEC_DELIVERED(env, &free_w, bound);
	UNSPEC_DELIVERED(env, &free_w, pktinfo);

	NP_SETUP_BOUND(env, "unspec-src", deny_json, &w);
	UNSPEC_DENIED(env, &w, bound);
	UNSPEC_DENIED(env, &w, pktinfo);
	UNSPEC_DELIVERED(env, &w, other);
}

/* A denied connect() to an unspecified address fails at once with EPERM,
 * not after the SYN was dropped and retried. */
static void case_unspec_tcp(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct np_dest v4 = np_dest_v4("0.0.0.0", TCP_PORT), v6 = np_dest_v6("::", TCP_PORT);
	struct np_dest mapped = np_dest_mapped("0.0.0.0", TCP_PORT);
	struct np_dest list[] = {v4, v6, mapped};

	NP_START_WORKER(env, "unspec-tcp-free", &free_w);
	for (size_t i = 0; i < 3; i++) {
		int r = np_test_worker_probe(&free_w, np_probe_tcp_connect, &list[i]);

		NP_CHECK(r == 0, "unpoliced connect %s: %s", np_dest_str(&list[i]), np_test_strerr(r));
	}
	NP_SETUP_BOUND(env, "unspec-tcp", no_loopback_json, &w);
	for (size_t i = 0; i < 3; i++) {
		uint64_t t0 = np_test_now_ms();
		int r = np_test_worker_probe(&w, np_probe_tcp_connect, &list[i]);

		NP_CHECK(r == -EPERM, "connect %s: got %s after %llu ms, expected EPERM at once",
			 np_dest_str(&list[i]), np_test_strerr(r),
			 (unsigned long long)(np_test_now_ms() - t0));
	}
	np_test_tcp_drain(env);
}

/* ---- ping sockets ---- */

static void case_ping_socket_refused(struct np_test_env *env)
{
	static const char tcp_only[] = "{\"name\":\"tcponly\",\"default\":\"deny\",\"rules\":["
				       "{\"action\":\"allow\",\"to\":[\"any\"],\"protocol\":\"tcp\"}]}";
	static const char icmp4_only[] =
	    "{\"name\":\"icmp4\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/24\"],\"protocol\":\"icmp\"}]}";
	_cleanup_worker_ struct np_test_worker w = {}, w4 = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_SOCK_CREATE};
	struct np_event ev;
	int r;

	NP_SETUP_BOUND(env, "ping-none", tcp_only, &w);
	m.cgroup_id = np_test_cgroup_id(env, "ping-none");
	np_test_events_clear(env);
	r = np_test_worker_probe(&w, np_probe_ping_connect, &(struct np_dest){.family = AF_INET});
	NP_CHECK(r == -EPERM, "ping socket under a policy without ICMP: got %s, expected EPERM",
		 np_test_strerr(r));
	r = np_test_worker_probe(&w, np_probe_ping_connect, &(struct np_dest){.family = AF_INET6});
	NP_CHECK(r == -EPERM, "ping6 socket under a policy without ICMP: got %s, expected EPERM",
		 np_test_strerr(r));
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev) && ev.proto == IPPROTO_ICMP,
		 "no sock_create denial reported for the ping socket");

	NP_SETUP_BOUND(env, "ping-v4", icmp4_only, &w4);
	PROBE_OK(w4, np_probe_ping_connect_echo, np_dest_v4(A4, 0));
	r = np_test_worker_probe(&w4, np_probe_ping_connect, &(struct np_dest){.family = AF_INET6});
	NP_CHECK(r == -EPERM, "ping6 socket under an ICMPv4-only policy: got %s, expected EPERM",
		 np_test_strerr(r));
	/* TCP is untouched */
	PROBE_OK(w, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT));
	np_test_tcp_drain(env);
}

/* ICMPv6 ping sendto() to a denied address: the kernel reports no drop on
 * this path (documented), but the packet does not leave and it is reported. */
static void case_ping6_sendto_reported(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct np_dest d = np_dest_v6(D6, 0);
	int r;

	m.policy_id = NP_SETUP_BOUND(env, "ping6-sendto", basic_json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "ping6-sendto");
	np_test_events_clear(env);
	r = np_test_worker_probe(&w, np_probe_ping_sendto, &d);
	NP_CHECK(r == -ETIMEDOUT || r == -EPERM, "ping6 sendto %s: got %s, expected no reply",
		 np_dest_str(&d), np_test_strerr(r));
	np_dest_addr16(&d, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, NULL), "no egress denial reported for ping6 to %s",
		 np_dest_str(&d));
	PROBE_OK(w, np_probe_ping_sendto, np_dest_v6(A6, 0));
}

/* ---- a socket outlives its process's cgroup ---- */

static int g_sock = -1;

static int make_socket(void *arg, size_t size)
{
	int *type = arg;

	g_sock = socket(AF_INET, *type | SOCK_CLOEXEC, 0);
	return g_sock < 0 ? -errno : 0;
}

static int move_to(void *arg, size_t size)
{
	char path[4096], pid[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", (const char *)arg);
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fputs(pid, f) < 0 || fclose(f) != 0)
		return -errno;
	return 0;
}

static int sendto_saved(void *arg, size_t size)
{
	const struct np_dest *d = arg;

	return sendto(g_sock, d->payload, strlen(d->payload), 0, &d->sa, d->len) < 0 ? -errno : 0;
}

static int connect_send_saved(void *arg, size_t size)
{
	const struct np_dest *d = arg;

	if (connect(g_sock, &d->sa, d->len) < 0)
		return -errno;
	return send(g_sock, d->payload, strlen(d->payload), 0) < 0 ? -errno : 0;
}

static int connect_saved(void *arg, size_t size)
{
	const struct np_dest *d = arg;
	struct timeval tv = {.tv_sec = 1};

	setsockopt(g_sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return connect(g_sock, &d->sa, d->len) < 0 ? -errno : 0;
}

static int call_with_dest(struct np_test_worker *w, np_worker_fn fn, struct np_dest *d)
{
	np_dest_token(d);
	return np_test_worker_call(w, fn, d, sizeof(*d), 5000);
}

/* The socket is made in base/policed, or with inherit in base/policed/kid,
 * which only inherits the binding: the socket's own cgroup is then resolved
 * by the walk up from its struct cgroup. */
static void moved_out(struct np_test_env *env, const char *base, int type, int inherit)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY};
	struct np_dest denied = np_dest_v4(D4, type == SOCK_DGRAM ? UDP_PORT : TCP_PORT);
	struct np_dest allowed = np_dest_v4(A4, UDP_PORT);
	char bound[128], cg[160], free_cg[128];
	const char *outside;
	uint32_t id;
	int r;

	snprintf(bound, sizeof(bound), "%s/policed", base);
	snprintf(cg, sizeof(cg), "%s%s", bound, inherit ? "/kid" : "");
	snprintf(free_cg, sizeof(free_cg), "%s/free", base);
	outside = np_test_cgroup(env, free_cg, NULL);
	if (inherit) {
		id = np_test_policy_id(env);
		np_test_install(env, id, basic_json);
		np_test_cgroup(env, bound, NULL);
		np_test_bind(env, bound, id);
		NP_START_WORKER(env, cg, &w);
		m.policy_id = id;
	} else {
		m.policy_id = NP_SETUP_BOUND(env, cg, basic_json, &w);
	}
	m.cgroup_id = np_test_cgroup_id(env, cg);
	r = np_test_worker_call(&w, make_socket, &type, sizeof(type), 5000);
	NP_CHECK(r == 0, "socket: %s", np_test_strerr(r));
	r = np_test_worker_call(&w, move_to, (void *)outside, strlen(outside) + 1, 5000);
	NP_CHECK(r == 0, "moving to %s: %s", outside, np_test_strerr(r));
	np_test_events_clear(env);
	np_test_udp_drain(env);
	if (type == SOCK_DGRAM) {
		r = call_with_dest(&w, sendto_saved, &denied);
		NP_CHECK(r == -EPERM, "sendto %s from a socket made under the policy: got %s, expected EPERM",
			 np_dest_str(&denied), np_test_strerr(r));
		NP_CHECK(!np_test_udp_seen(env, denied.payload, 200), "the datagram to %s arrived",
			 np_dest_str(&denied));
		r = call_with_dest(&w, sendto_saved, &allowed);
		NP_CHECK(r == 0 && np_test_udp_seen(env, allowed.payload, 1000), "sendto %s: %s",
			 np_dest_str(&allowed), np_test_strerr(r));
	} else {
		uint64_t t0 = np_test_now_ms();

		r = call_with_dest(&w, connect_saved, &denied);
		NP_CHECK(
		    r == -EPERM,
		    "connect %s from a socket made under the policy: got %s after %llu ms, expected EPERM",
		    np_dest_str(&denied), np_test_strerr(r), (unsigned long long)(np_test_now_ms() - t0));
	}
	/* the denial is the socket's cgroup's */
	NP_CHECK(np_test_event_wait(env, &m, 2000, NULL), "no denial reported for the socket's cgroup");
	np_test_tcp_drain(env);
}

static void case_moved_out_udp(struct np_test_env *env)
{
	moved_out(env, "out-udp", SOCK_DGRAM, 0);
}

static void case_moved_out_tcp(struct np_test_env *env)
{
	moved_out(env, "out-tcp", SOCK_STREAM, 0);
}

static void case_moved_out_inherited(struct np_test_env *env)
{
	moved_out(env, "out-kid-udp", SOCK_DGRAM, 1);
	moved_out(env, "out-kid-tcp", SOCK_STREAM, 1);
}

/* A socket made outside and used by a process that joined a policed cgroup
 * is judged by the caller's policy at connect() and sendto(). */
static void case_moved_in(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	const char *policed = np_test_cgroup(env, "in/policed", NULL);
	struct np_dest denied = np_dest_v4(D4, UDP_PORT);
	int type = SOCK_DGRAM, r;
	uint32_t id = np_test_policy_id(env);

	np_test_install(env, id, basic_json);
	np_test_bind(env, "in/policed", id);
	NP_START_WORKER(env, "in/free", &w);
	r = np_test_worker_call(&w, make_socket, &type, sizeof(type), 5000);
	NP_CHECK(r == 0, "socket: %s", np_test_strerr(r));
	r = np_test_worker_call(&w, move_to, (void *)policed, strlen(policed) + 1, 5000);
	NP_CHECK(r == 0, "moving to %s: %s", policed, np_test_strerr(r));
	np_test_udp_drain(env);
	r = call_with_dest(&w, sendto_saved, &denied);
	NP_CHECK(r == -EPERM && !np_test_udp_seen(env, denied.payload, 200),
		 "sendto %s: got %s, expected EPERM", np_dest_str(&denied), np_test_strerr(r));
	r = call_with_dest(&w, connect_send_saved, &denied);
	NP_CHECK(r == -EPERM && !np_test_udp_seen(env, denied.payload, 200),
		 "connect+send %s: got %s, expected EPERM", np_dest_str(&denied), np_test_strerr(r));
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-escapes", 0);

	g_wire = wire_open();
	if (g_wire < 0) {
		fprintf(stderr, "Bail out! AF_PACKET on lo: %s\n", np_test_strerr(g_wire));
		return 99;
	}
	for (size_t i = 0; i < ELEMENTSOF(sr_cases); i++) {
		g_sr_case = &sr_cases[i];
		np_test_run(env, sr_cases[i].name, case_source_route);
	}
	np_test_run(env, "IPv4 source route set on an accepted socket", case_lsrr_accepted);
	np_test_run(env, "0.0.0.0 and :: are judged as loopback", case_unspec_loopback);
	np_test_run(env, "0.0.0.0 from a bound or IP_PKTINFO source", case_unspec_source);
	np_test_run(env, "TCP connect to an unspecified address", case_unspec_tcp);
	np_test_run(env, "ping sockets refused where no ICMP is allowed", case_ping_socket_refused);
	np_test_run(env, "ping6 sendto to a denied address is reported", case_ping6_sendto_reported);
	np_test_run(env, "UDP socket kept after leaving the policed cgroup", case_moved_out_udp);
	np_test_run(env, "TCP socket kept after leaving the policed cgroup", case_moved_out_tcp);
	np_test_run(env, "sockets kept after leaving a cgroup policed by its parent", case_moved_out_inherited);
	np_test_run(env, "socket brought into a policed cgroup", case_moved_in);
	close(g_wire);
	return np_test_finish(env);
}
