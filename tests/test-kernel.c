/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests: real syscalls from processes in bound cgroups, inside a
 * network namespace that has only lo (see harness.h). Every case checks that
 * a denied destination gets the documented errno AND that an allowed one
 * goes through, so no case can pass because nothing is enforced or because
 * everything is blocked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Destinations. Allowed ones are inside the "basic" policy's allow rule. */
#define A4	 "203.0.113.9"	 /* allowed */
#define D4	 "203.0.113.200" /* denied */
#define D4B	 "198.51.100.7"	 /* denied */
#define A6	 "2001:db8:1::9"
#define D6	 "2001:db8:2::9"
#define TCP_PORT NP_TEST_TCP_PORT
#define UDP_PORT NP_TEST_UDP_PORT

static const char basic_json[] = "{\"name\":\"basic\",\"default\":\"deny\",\"rules\":["
				 "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}]}";

/* ---- helpers ---- */

static bool probe_expect(struct np_test_worker *w, const char *name, np_probe_fn fn, const struct np_dest *d,
			 int expect, int line)
{
	char got[64], want[64];
	int r = np_test_worker_probe(w, fn, d);

	if (r == expect)
		return true;
	snprintf(got, sizeof(got), "%s", np_test_strerr(r));
	snprintf(want, sizeof(want), "%s", np_test_strerr(expect));
	np_test_fail_at(line, "%s %s (%s): got %s, expected %s", name, np_dest_str(d),
			d->family == AF_INET ? "AF_INET" : "AF_INET6", got, want);
	return false;
}

static bool probe_fails(struct np_test_worker *w, const char *name, np_probe_fn fn, const struct np_dest *d,
			int line)
{
	int r = np_test_worker_probe(w, fn, d);

	if (r != 0 && r != NP_WORKER_FAILED)
		return true;
	np_test_fail_at(line, "%s %s: got %s, expected a failure", name, np_dest_str(d), np_test_strerr(r));
	return false;
}

#define PROBE(w, fn, d, expect)                                                                              \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		if (!probe_expect((w), #fn, (fn), &_d_, (expect), __LINE__))                                 \
			return;                                                                              \
	} while (0)

#define PROBE_FAILS(w, fn, d)                                                                                \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		if (!probe_fails((w), #fn, (fn), &_d_, __LINE__))                                            \
			return;                                                                              \
	} while (0)

/* Probe and check delivery to the UDP listener (a fresh token each time). */
#define PROBE_DELIVERED(env, w, fn, d)                                                                       \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		np_test_udp_drain(env);                                                                      \
		if (!probe_expect((w), #fn, (fn), &_d_, 0, __LINE__))                                        \
			return;                                                                              \
		NP_CHECK(np_test_udp_seen((env), _d_.payload, 1000), "%s %s: payload not delivered", #fn,    \
			 np_dest_str(&_d_));                                                                 \
	} while (0)

#define PROBE_DENIED_UNDELIVERED(env, w, fn, d, expect)                                                      \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		np_test_udp_drain(env);                                                                      \
		if (!probe_expect((w), #fn, (fn), &_d_, (expect), __LINE__))                                 \
			return;                                                                              \
		NP_CHECK(!np_test_udp_seen((env), _d_.payload, 200), "%s %s: denied payload arrived", #fn,   \
			 np_dest_str(&_d_));                                                                 \
	} while (0)

/* ---- TCP / UDP basics ---- */

static void case_tcp4_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tcp4", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4B, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
}

/* A UDP connect() sends nothing: it is refused at once only where its address
 * allows nothing at all. Elsewhere (a program may only be picking a source
 * address, as ping does) it succeeds, and the socket's first datagram is
 * refused with EPERM and reported with the sender's pid. */
static void case_udp4_connect(struct np_test_env *env)
{
	static const char json[] =
	    "{\"name\":\"udpc\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]},"
	    "{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"],\"protocol\":\"icmp\"}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct np_dest icmp_only = np_dest_v4(D4B, UDP_PORT);
	struct np_event ev;

	NP_SETUP_BOUND(env, "udp4c", json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "udp4c");
	np_test_events_clear(env);
	PROBE(&w, np_probe_udp_connect, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE(&w, np_probe_udp_connect, icmp_only, 0);
	PROBE(&w, np_probe_udp_connect, np_dest_v4(A4, UDP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, icmp_only, -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v4(A4, UDP_PORT));
	np_dest_addr16(&icmp_only, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for the datagram to %s",
		 np_dest_str(&icmp_only));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "egress event of a datagram: pid %u comm '%.16s', expected %d np-worker", ev.pid, ev.comm,
		 (int)w.sb.pid);
}

static void case_udp4_sendto(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp4s", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4B, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(A4, UDP_PORT));
}

static void case_udp4_sendmmsg(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp4m", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v4(A4, UDP_PORT));
}

static void case_tcp6_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tcp6", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6("2001:db8::1", TCP_PORT), -EPERM);
}

static void case_udp6(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp6", basic_json, &w);
	PROBE(&w, np_probe_udp_connect, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v6(A6, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v6(A6, UDP_PORT));
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT));
}

/* AF_INET6 sockets to ::ffff:a.b.c.d: TCP connect is seen by connect6 only,
 * UDP sendto by sendmsg4 only, UDP connect by connect6 then sendmsg4. */
static void case_mapped(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "mapped", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(D4B, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, TCP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_mapped(A4, UDP_PORT));
	PROBE(&w, np_probe_udp_connect_send, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_mapped(A4, UDP_PORT));
}

/* ---- TCP Fast Open, io_uring ---- */

static void case_tcp_fastopen(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tfo", basic_json, &w);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(A4, TCP_PORT), 0);
	/* again: now with a cached cookie, data rides on the SYN */
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_mapped(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

static void case_uring_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_CHECK(np_probe_have_uring(), "io_uring is not available (liburing missing or io_uring disabled)");
	NP_SETUP_BOUND(env, "uringc", basic_json, &w);
	PROBE(&w, np_probe_uring_connect, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&w, np_probe_uring_connect, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_uring_connect, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_mapped(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

static void case_uring_sendmsg(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_CHECK(np_probe_have_uring(), "io_uring is not available (liburing missing or io_uring disabled)");
	NP_SETUP_BOUND(env, "urings", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v4(A4, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v6(A6, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_mapped(A4, UDP_PORT));
}

/* ---- ICMP ---- */

static void case_ping_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "pingc", basic_json, &w);
	PROBE(&w, np_probe_ping_connect, np_dest_v4(D4, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(D4, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(A4, 0), 0);
	PROBE(&w, np_probe_ping_connect, np_dest_v6(D6, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v6(A6, 0), 0);
}

/* Unconnected ping sendto() is seen by no sock_addr hook: the egress
 * backstop drops it (v4: EPERM to the caller; v6: sendto succeeds, no reply). */
static void case_ping_sendto(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct np_dest d = np_dest_v4(D4, 0);
	struct np_event ev;

	m.policy_id = NP_SETUP_BOUND(env, "pings", basic_json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "pings");
	np_test_events_clear(env);
	PROBE(&w, np_probe_ping_sendto, d, -EPERM);
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(D4B, 0), -EPERM);
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(A4, 0), 0);
	PROBE(&w, np_probe_ping_sendto, np_dest_v6(D6, 0), -ETIMEDOUT);
	PROBE(&w, np_probe_ping_sendto, np_dest_v6(A6, 0), 0);
	/* the backstop reports its denials too */
	np_dest_addr16(&d, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for ping sendto %s",
		 np_dest_str(&d));
	NP_CHECK(ev.proto == 1 && ev.port == 0, "egress event: proto %u port %u, expected 1/0", ev.proto,
		 ev.port);
}

static void case_raw_denied(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_SOCK_CREATE};
	struct np_event ev;

	/* default deny => raw_sockets deny unless said otherwise */
	NP_SETUP_BOUND(env, "rawdeny", basic_json, &w);
	np_test_cgroup(env, "rawfree", NULL);
	NP_START_WORKER(env, "rawfree", &free_w);
	m.cgroup_id = np_test_cgroup_id(env, "rawdeny");
	np_test_events_clear(env);
	PROBE(&w, np_probe_raw_socket, np_dest_v4(A4, 0), -EPERM);
	PROBE(&w, np_probe_raw_socket, np_dest_v6(A6, 0), -EPERM);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no SOCK_CREATE deny event for a raw socket");
	/* ping sockets are not raw sockets: still allowed */
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(A4, 0), 0);
	/* an unbound cgroup may create raw sockets and gets replies */
	PROBE(&free_w, np_probe_raw_icmp_sendto, np_dest_v4(A4, 0), 0);
	PROBE(&free_w, np_probe_raw_icmp_sendto, np_dest_v6(A6, 0), 0);
}

static void case_raw_allowed(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "rawallow",
		       "{\"name\":\"rawallow\",\"default\":\"deny\",\"raw_sockets\":\"allow\",\"rules\":["
		       "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}]}",
		       &w);
	PROBE(&w, np_probe_raw_socket, np_dest_v4(A4, 0), 0);
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v4(D4, 0), -EPERM);
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v4(A4, 0), 0);
	PROBE_FAILS(&w, np_probe_raw_icmp_sendto, np_dest_v6(D6, 0));
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v6(A6, 0), 0);
}

/* ---- sockets older than the binding ---- */

static int g_pre_unconnected = -1, g_pre_connected = -1;

static int pre_setup(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	g_pre_unconnected = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_pre_connected = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (g_pre_unconnected < 0 || g_pre_connected < 0)
		return -errno;
	if (connect(g_pre_connected, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

static int pre_send_connected(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	return send(g_pre_connected, d->payload, strlen(d->payload), 0) < 0 ? -errno : 0;
}

static int pre_sendto_unconnected(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	return sendto(g_pre_unconnected, d->payload, strlen(d->payload), 0, &d->sa, d->len) < 0 ? -errno : 0;
}

static void case_pre_existing_udp(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest denied = np_dest_v4(D4, UDP_PORT), allowed = np_dest_v4(A4, UDP_PORT);
	uint32_t id = np_test_policy_id(env);
	int r;

	np_test_cgroup(env, "pre", NULL);
	NP_START_WORKER(env, "pre", &w);
	r = np_test_worker_call(&w, pre_setup, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0, "setup before binding: %s", np_test_strerr(r));

	/* before the binding both work (the test is not vacuous) */
	np_test_udp_drain(env);
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_send_connected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0 && np_test_udp_seen(env, denied.payload, 1000), "connected send before binding: %s",
		 np_test_strerr(r));
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0 && np_test_udp_seen(env, denied.payload, 1000), "sendto before binding: %s",
		 np_test_strerr(r));

	np_test_install(env, id, basic_json);
	np_test_bind(env, "pre", id);

	np_test_udp_drain(env);
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_send_connected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == -EPERM, "connected send after binding: got %s, expected EPERM", np_test_strerr(r));
	NP_CHECK(!np_test_udp_seen(env, denied.payload, 200), "connected send after binding was delivered");
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == -EPERM, "sendto after binding: got %s, expected EPERM", np_test_strerr(r));
	NP_CHECK(!np_test_udp_seen(env, denied.payload, 200), "sendto after binding was delivered");
	/* the old unconnected socket can still reach an allowed destination */
	np_dest_token(&allowed);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &allowed, sizeof(allowed), 5000);
	NP_CHECK(r == 0, "sendto allowed after binding: %s", np_test_strerr(r));
	NP_CHECK(np_test_udp_seen(env, allowed.payload, 1000), "allowed sendto after binding not delivered");
}

/* ---- established TCP connection, policy tightened and loosened ---- */

/*
 * How the client socket came to be. The egress program tells an accepted
 * socket from one that connect()ed by its listen backlog: a former listener
 * that connect()s must still be judged, and so must a socket connected
 * before its cgroup was bound, or from a port bound by hand (a listener's
 * other trait).
 */
enum est_mode {
	EST_PLAIN,	   /* socket(), connect() */
	EST_BOUND_PORT,	   /* bind() to a fixed port first */
	EST_WAS_LISTENER,  /* listen(), connect(AF_UNSPEC), then connect() */
	EST_BEFORE_BINDING /* connected while its cgroup was not bound yet */
};

struct est_req {
	struct np_dest d;
	int mode;
	uint16_t bind_port;
};

static int g_est_fd = -1;

static int est_prepare(int fd, const struct est_req *q)
{
	struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in any4 = {.sin_family = AF_INET};
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	int one = 1;

	if (q->mode != EST_BOUND_PORT && q->mode != EST_WAS_LISTENER)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	any.sin6_port = any4.sin_port = htons(q->bind_port);
	if (q->d.family == AF_INET6 ? bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0
				    : bind(fd, (struct sockaddr *)&any4, sizeof(any4)) < 0)
		return -errno;
	if (q->mode != EST_WAS_LISTENER)
		return 0;
	if (listen(fd, 4) < 0 || connect(fd, &unspec, sizeof(unspec)) < 0)
		return -errno;
	return 0;
}

static int est_connect(void *arg, size_t len)
{
	const struct est_req *q = arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, r;

	g_est_fd = socket(q->d.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_est_fd < 0)
		return -errno;
	setsockopt(g_est_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = est_prepare(g_est_fd, q);
	if (r < 0)
		return r;
	if (connect(g_est_fd, &q->d.sa, q->d.len) < 0)
		return -errno;
	if (getsockname(g_est_fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
static int est_send(void *arg, size_t len)
{
	const char *text = arg;

	return send(g_est_fd, text, strlen(text), 0) < 0 ? -errno : 0;
}

/* Read from fd until `want` has been seen in the stream or timeout. */
static bool stream_wait_for(int fd, char *acc, size_t acc_size, const char *want, int timeout_ms)
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = (int64_t)deadline - (int64_t)np_test_now_ms();
		size_t used = strlen(acc);
		ssize_t n;

		if (strstr(acc, want))
			return true;
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, acc + used, acc_size - 1 - used, MSG_DONTWAIT);
		if (n <= 0) {
			if (n == 0)
				return false;
			continue;
		}
		acc[used + n] = 0;
	}
}

static void established_tcp(struct np_test_env *env, const char *cg, int mode, uint16_t bind_port)
{
	static const char allow_json[] = "{\"name\":\"est\",\"default\":\"deny\",\"rules\":["
					 "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]}]}";
	static const char tight_json[] = "{\"name\":\"est\",\"default\":\"deny\",\"rules\":["
					 "{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"]}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct est_req q = {.d = np_dest_v4(A4, TCP_PORT), .mode = mode, .bind_port = bind_port};
	_cleanup_close_ int afd = -EBADF;
	char acc[256] = "", msg[32];
	uint32_t id = np_test_policy_id(env);
	int port, r;

	np_test_cgroup(env, cg, NULL);
	np_test_install(env, id, allow_json);
	if (mode != EST_BEFORE_BINDING)
		np_test_bind(env, cg, id);
	NP_START_WORKER(env, cg, &w);
	np_test_tcp_drain(env);
	port = np_test_worker_call(&w, est_connect, &q, sizeof(q), 5000);
	NP_CHECK(port > 0, "connect: %s", np_test_strerr(port));
	afd = np_test_tcp_accept(env, port, 2000);
	NP_CHECK(afd >= 0, "listener did not get the connection from port %d", port);

	snprintf(msg, sizeof(msg), "one;");
	r = np_test_worker_call(&w, est_send, msg, sizeof(msg), 5000);
	NP_CHECK(r == 0, "send under the allowing policy: %s", np_test_strerr(r));
	NP_CHECK(stream_wait_for(afd, acc, sizeof(acc), "one;", 2000), "data under the allowing policy lost");

	np_test_install(env, id, tight_json);
	if (mode == EST_BEFORE_BINDING)
		np_test_bind(env, cg, id);
	snprintf(msg, sizeof(msg), "two;");
	r = np_test_worker_call(&w, est_send, msg, sizeof(msg), 5000);
	NP_CHECK(r == 0 || r == -EPERM, "send under the tight policy: %s", np_test_strerr(r));
	NP_CHECK(!stream_wait_for(afd, acc, sizeof(acc), "two;", 500),
		 "data sent after tightening reached the listener (send returned %s)", np_test_strerr(r));

	np_test_install(env, id, allow_json);
	snprintf(msg, sizeof(msg), "three;");
	r = np_test_worker_call(&w, est_send, msg, sizeof(msg), 5000);
	NP_CHECK(r == 0, "send after loosening: %s", np_test_strerr(r));
	/* the dropped segment is retransmitted (RTO backoff): allow a few s */
	NP_CHECK(stream_wait_for(afd, acc, sizeof(acc), "three;", 8000),
		 "data sent after loosening did not arrive (stream so far: '%s')", acc);
}

static void case_established_tcp(struct np_test_env *env)
{
	established_tcp(env, "est", EST_PLAIN, 0);
}

static void case_established_tcp_bound_port(struct np_test_env *env)
{
	established_tcp(env, "est-port", EST_BOUND_PORT, 40001);
}

static void case_established_tcp_was_listener(struct np_test_env *env)
{
	established_tcp(env, "est-lsn", EST_WAS_LISTENER, 40002);
}

static void case_established_tcp_before_binding(struct np_test_env *env)
{
	established_tcp(env, "est-pre", EST_BEFORE_BINDING, 0);
}

/* ---- accepted TCP connections: a policed server answers its clients ---- */

struct acc_req {
	int family;
	int backlog;
	bool bind_port; /* bind() a fixed port, or let listen() pick one */
	uint16_t port;
	char text[32];
};

static int g_acc_listener = -1, g_acc_fd = -1;

static int acc_listen(void *arg, size_t len)
{
	struct acc_req *q = arg;
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	g_acc_listener = socket(q->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_acc_listener < 0)
		return -errno;
	setsockopt(g_acc_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (q->bind_port) {
		a6.sin6_port = a4.sin_port = htons(q->port);
		if (q->family == AF_INET6 ? bind(g_acc_listener, (struct sockaddr *)&a6, sizeof(a6)) < 0
					  : bind(g_acc_listener, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			return -errno;
	}
	if (listen(g_acc_listener, q->backlog) < 0)
		return -errno;
	if (getsockname(g_acc_listener, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int acc_accept(void *arg, size_t len)
{
	int one = 1;

	g_acc_fd = accept4(g_acc_listener, NULL, NULL, SOCK_CLOEXEC);
	if (g_acc_fd < 0)
		return -errno;
	setsockopt(g_acc_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int acc_send(void *arg, size_t len)
{
	const struct acc_req *q = arg;

	return send(g_acc_fd, q->text, strlen(q->text), 0) < 0 ? -errno : 0;
}

static int acc_close_listener(void *arg, size_t len)
{
	return close(g_acc_listener) < 0 ? -errno : 0;
}

/* The server side of a connection from an unpoliced client at src: its
 * answers go to src, which the server's policy denies. */
static void accepted_tcp(struct np_test_env *env, const char *cg, struct acc_req q, const char *dst,
			 const char *src)
{
	static const char deny_json[] = "{\"name\":\"srv\",\"default\":\"deny\",\"rules\":["
					"{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"]}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest to, from = q.family == AF_INET6 ? np_dest_v6(src, 0) : np_dest_v4(src, 0);
	_cleanup_close_ int cfd = -EBADF;
	char acc[256] = "";
	uint32_t id;
	int port, r;

	id = NP_SETUP_BOUND(env, cg, deny_json, &w);
	port = np_test_worker_call(&w, acc_listen, &q, sizeof(q), 5000);
	NP_CHECK(port > 0, "listen: %s", np_test_strerr(port));
	to = q.family == AF_INET6 ? np_dest_v6(dst, port) : np_dest_v4(dst, port);

	cfd = socket(q.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	NP_CHECK(cfd >= 0, "client socket: %s", np_test_strerr(-errno));
	/* The ranges are routed "local" on lo; IPv6 binds only to a
	 * configured address without this. */
	setsockopt(cfd, SOL_IP, IP_FREEBIND, &(int){1}, sizeof(int));
	NP_CHECK(bind(cfd, &from.sa, from.len) == 0, "client bind %s: %s", src, np_test_strerr(-errno));
	NP_CHECK(connect(cfd, &to.sa, to.len) == 0, "connect to the policed listener: %s",
		 np_test_strerr(-errno));
	r = np_test_worker_call(&w, acc_accept, NULL, 0, 5000);
	NP_CHECK(r == 0, "accept: %s", np_test_strerr(r));

	snprintf(q.text, sizeof(q.text), "hello;");
	r = np_test_worker_call(&w, acc_send, &q, sizeof(q), 5000);
	NP_CHECK(r == 0, "the server's answer: %s", np_test_strerr(r));
	NP_CHECK(stream_wait_for(cfd, acc, sizeof(acc), "hello;", 2000), "the server's answer was dropped");

	/* A policy change re-judges every flow: answers still pass. */
	np_test_install(env, id, deny_json);
	r = np_test_worker_call(&w, acc_close_listener, NULL, 0, 5000);
	NP_CHECK(r == 0, "closing the listener: %s", np_test_strerr(r));
	snprintf(q.text, sizeof(q.text), "again;");
	r = np_test_worker_call(&w, acc_send, &q, sizeof(q), 5000);
	NP_CHECK(r == 0, "the server's answer after a change: %s", np_test_strerr(r));
	NP_CHECK(stream_wait_for(cfd, acc, sizeof(acc), "again;", 2000),
		 "the server's answer after a policy change was dropped (stream: '%s')", acc);

	/* The server's own connections are still judged. */
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4, TCP_PORT), -EPERM);
}

static void case_accepted_tcp4(struct np_test_env *env)
{
	accepted_tcp(env, "acc4",
		     (struct acc_req){.family = AF_INET, .backlog = 16, .bind_port = true, .port = 8001},
		     "203.0.113.60", "203.0.113.61");
}

static void case_accepted_tcp6(struct np_test_env *env)
{
	accepted_tcp(env, "acc6",
		     (struct acc_req){.family = AF_INET6, .backlog = 1, .bind_port = true, .port = 8002},
		     "2001:db8:2::60", "2001:db8:2::61");
}

static void case_accepted_tcp4_autobind(struct np_test_env *env)
{
	accepted_tcp(env, "acc4a", (struct acc_req){.family = AF_INET, .backlog = 8}, "203.0.113.62",
		     "203.0.113.63");
}

/* ---- ports ---- */

static void case_port_rules(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(
	    env, "ports",
	    "{\"name\":\"ports\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.9\"],\"protocol\":\"tcp\",\"ports\":[443]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.9\",\"2001:db8:1::9\"],\"protocol\":\"udp\","
	    "\"ports\":[\"8000-8100\", 9999]}]}",
	    &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 443), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 80), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 8050), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, 443), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, 80), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8000), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8050), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8100), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 7999), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8101), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 443), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.10", 8050), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 8050), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 8101), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(A4, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4("203.0.113.10", UDP_PORT), -EPERM);
	np_test_tcp_drain(env);
}

/* Overlapping prefixes with different ports: each (address, port) is allowed
 * iff some rule covers both. */
static void case_overlapping_rules(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	static const struct {
		const char *addr;
		uint16_t port;
		bool allowed;
	} combos[] = {
	    {"203.0.113.5", 80, true},	  {"203.0.113.5", 443, true},	{"203.0.113.15", 80, true},
	    {"203.0.113.16", 80, false},  {"203.0.113.100", 443, true}, {"203.0.113.100", 80, false},
	    {"203.0.113.5", 8080, false}, {"198.51.100.5", 443, false}, {"198.51.100.5", 80, false},
	    {"203.0.113.255", 443, true},
	};

	NP_SETUP_BOUND(env, "overlap",
		       "{\"name\":\"overlap\",\"default\":\"deny\",\"rules\":["
		       "{\"action\":\"allow\",\"to\":[\"203.0.113.0/24\"],\"ports\":[443]},"
		       "{\"action\":\"allow\",\"to\":[\"203.0.113.0/28\"],\"ports\":[80]}]}",
		       &w);
	for (size_t i = 0; i < ELEMENTSOF(combos); i++) {
		int expect = combos[i].allowed ? 0 : -EPERM;

		PROBE(&w, np_probe_tcp_connect, np_dest_v4(combos[i].addr, combos[i].port), expect);
		PROBE(&w, np_probe_udp_connect_send, np_dest_v4(combos[i].addr, combos[i].port), expect);
		PROBE(&w, np_probe_tcp_connect, np_dest_mapped(combos[i].addr, combos[i].port), expect);
	}
	np_test_tcp_drain(env);
}

/* Same idea with a deny rule inside an allow rule (and the reverse). */
static void case_nested_deny(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "nested",
		       "{\"name\":\"nested\",\"default\":\"allow\",\"rules\":["
		       "{\"action\":\"deny\",\"to\":[\"203.0.113.0/24\"],\"except\":[\"203.0.113.0/28\"]},"
		       "{\"action\":\"deny\",\"to\":[\"2001:db8::/32\"],\"protocol\":\"udp\"}]}",
		       &w);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.5", 80), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.16", 80), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("198.51.100.5", 80), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 80), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(A6, 80), 0);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v6(A6, 0), 0);
	PROBE(&w, np_probe_ping_connect, np_dest_v4("203.0.113.200", 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4("203.0.113.2", 0), 0);
	np_test_tcp_drain(env);
}

/* ---- inheritance ---- */

static void case_inheritance(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker wc = {}, wp = {}, wq = {};
	uint32_t deny_id = np_test_policy_id(env), allow_id = np_test_policy_id(env);

	np_test_install(env, deny_id, "{\"name\":\"inh-deny\",\"default\":\"deny\",\"rules\":[]}");
	np_test_install(env, allow_id, "{\"name\":\"inh-allow\",\"default\":\"allow\",\"rules\":[]}");
	np_test_cgroup(env, "inh/p", NULL);
	np_test_cgroup(env, "inh/q", NULL);
	np_test_bind(env, "inh/p", deny_id);
	/* created after the binding: inherits it from its very first connect */
	np_test_cgroup(env, "inh/p/c", NULL);
	NP_START_WORKER(env, "inh/p/c", &wc);
	NP_START_WORKER(env, "inh/p", &wp);
	NP_START_WORKER(env, "inh/q", &wq);

	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), -EPERM);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wq, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);

	/* the child's own binding overrides */
	np_test_bind(env, "inh/p/c", allow_id);
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), 0);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);

	/* unbinding returns to the parent's policy */
	np_test_unbind(env, "inh/p/c");
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), -EPERM);
	PROBE(&wq, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wq, np_probe_udp_connect_send, np_dest_v6(D6, UDP_PORT), 0);

	/* and unbinding the parent frees both */
	np_test_unbind(env, "inh/p");
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

/* ---- audit, events, counters ---- */

static void case_audit(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest d = np_dest_v4(D4, TCP_PORT);
	struct np_event_match m = {.verdict = NP_VERDICT_AUDIT, .port = TCP_PORT, .match_addr = true};
	struct np_event ev;
	uint64_t cgid;
	uint32_t id;

	id = NP_SETUP_BOUND(env, "audit",
			    "{\"name\":\"audit\",\"default\":\"deny\",\"audit\":true,\"rules\":["
			    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]}]}",
			    &w);
	cgid = np_test_cgroup_id(env, "audit");
	np_test_events_clear(env);
	PROBE(&w, np_probe_tcp_connect, d, 0);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4B, UDP_PORT));
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(D4B, 0), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);

	m.cgroup_id = cgid;
	m.policy_id = id;
	np_dest_addr16(&d, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no audit event for %s", np_dest_str(&d));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid, "audit event pid %u, expected %d", ev.pid, (int)w.sb.pid);
	/* no DENY event may exist for this cgroup */
	m = (struct np_event_match){.cgroup_id = cgid, .verdict = NP_VERDICT_DENY};
	NP_CHECK(!np_test_event_wait(env, &m, 100, &ev),
		 "audit policy produced a DENY event (hook %u port %u)", ev.hook, ev.port);
	np_test_tcp_drain(env);
}

static void case_events_and_stats(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest d4 = np_dest_v4(D4, TCP_PORT), a4 = np_dest_v4(A4, TCP_PORT);
	struct np_dest d6 = np_dest_v6(D6, 5353);
	struct np_event_match m = {.verdict = -1, .match_addr = true};
	struct np_stats_val sv;
	struct np_event ev;
	uint8_t addr[16];
	uint64_t cgid;
	uint32_t id;

	id = NP_SETUP_BOUND(
	    env, "events",
	    "{\"name\":\"events\",\"default\":\"allow\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"]},"
	    "{\"action\":\"deny\",\"to\":[\"203.0.113.128/25\"],\"protocol\":\"tcp\",\"ports\":[80]},"
	    "{\"action\":\"deny\",\"to\":[\"2001:db8:2::/48\"],\"protocol\":\"udp\"}]}",
	    &w);
	cgid = np_test_cgroup_id(env, "events");
	np_test_events_clear(env);
	for (int i = 0; i < 3; i++)
		PROBE(&w, np_probe_tcp_connect, d4, -EPERM);
	for (int i = 0; i < 2; i++)
		PROBE(&w, np_probe_tcp_connect, a4, 0);
	PROBE(&w, np_probe_udp_sendto, d6, -EPERM);

	/* TCP v4 denial: every field */
	m.cgroup_id = cgid;
	np_dest_addr16(&d4, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the denied connect to %s",
		 np_dest_str(&d4));
	NP_CHECK(ev.verdict == NP_VERDICT_DENY, "verdict %u, expected DENY", ev.verdict);
	NP_CHECK(ev.cgroup_id == cgid, "cgroup id %llu, expected %llu", (unsigned long long)ev.cgroup_id,
		 (unsigned long long)cgid);
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid, "pid %u, expected %d", ev.pid, (int)w.sb.pid);
	NP_CHECK(strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0, "comm '%.16s', expected np-worker",
		 ev.comm);
	NP_CHECK(ev.hook == NP_HOOK_CONNECT4, "hook %u, expected CONNECT4", ev.hook);
	NP_CHECK(ev.proto == 6, "proto %u, expected 6", ev.proto);
	NP_CHECK(ev.port == TCP_PORT, "port %u", ev.port);
	NP_CHECK(ev.policy_id == id, "policy id %u, expected %u", ev.policy_id, id);
	NP_CHECK(ev.rule == 1, "rule %u, expected 1", ev.rule);
	NP_CHECK(ev.family == AF_INET, "family %u, expected AF_INET", ev.family);
	NP_CHECK(ev.uid == getuid(), "uid %u", ev.uid);
	NP_CHECK(ev.ts_ns != 0, "ts_ns is 0");

	/* UDP v6 denial through sendmsg6 */
	np_dest_addr16(&d6, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the denied sendto to %s",
		 np_dest_str(&d6));
	NP_CHECK(ev.verdict == NP_VERDICT_DENY && ev.hook == NP_HOOK_SENDMSG6 && ev.proto == 17 &&
		     ev.port == 5353 && ev.rule == 2 && ev.family == AF_INET6 && ev.policy_id == id,
		 "v6 event: verdict %u hook %u proto %u port %u rule %u family %u policy %u", ev.verdict,
		 ev.hook, ev.proto, ev.port, ev.rule, ev.family, ev.policy_id);

	/* no event for allowed traffic without log "all" */
	np_dest_addr16(&a4, m.addr);
	NP_CHECK(!np_test_event_wait(env, &m, 100, &ev), "event for an allowed connect (verdict %u)",
		 ev.verdict);

	/* counters */
	np_dest_addr16(&d4, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, TCP_PORT, NP_PROTO_TCP, &sv), "no counters for %s",
		 np_dest_str(&d4));
	NP_CHECK(sv.denied == 3 && sv.allowed == 0, "counters for %s: allowed %llu denied %llu, expected 0/3",
		 np_dest_str(&d4), (unsigned long long)sv.allowed, (unsigned long long)sv.denied);
	NP_CHECK(sv.last_ns != 0, "last_ns is 0");
	np_dest_addr16(&a4, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, TCP_PORT, NP_PROTO_TCP, &sv), "no counters for %s",
		 np_dest_str(&a4));
	/* Exactly one per connect: the handshake's and FIN's packets are served
	 * from the socket cache and not counted again. */
	NP_CHECK(sv.allowed == 2 && sv.denied == 0,
		 "counters for %s: allowed %llu denied %llu, expected 2/0", np_dest_str(&a4),
		 (unsigned long long)sv.allowed, (unsigned long long)sv.denied);
	np_dest_addr16(&d6, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, 5353, NP_PROTO_UDP, &sv), "no counters for %s",
		 np_dest_str(&d6));
	NP_CHECK(sv.denied == 1, "counters for %s: denied %llu, expected 1", np_dest_str(&d6),
		 (unsigned long long)sv.denied);
	np_test_tcp_drain(env);
}

static void case_log_all(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest a = np_dest_v4(A4, TCP_PORT);
	struct np_event_match m = {.verdict = NP_VERDICT_ALLOW, .port = TCP_PORT, .match_addr = true};
	struct np_event ev;

	m.policy_id = NP_SETUP_BOUND(env, "logall",
				     "{\"name\":\"logall\",\"default\":\"deny\",\"log\":\"all\",\"rules\":["
				     "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]}]}",
				     &w);
	m.cgroup_id = np_test_cgroup_id(env, "logall");
	np_test_events_clear(env);
	PROBE(&w, np_probe_tcp_connect, a, 0);
	np_dest_addr16(&a, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no ALLOW event under log \"all\"");
	NP_CHECK(ev.rule == 0 && ev.hook == NP_HOOK_CONNECT4, "allow event: rule %u hook %u", ev.rule,
		 ev.hook);
	np_test_tcp_drain(env);
}

/* ---- atomic replacement ---- */

struct atomic_counts {
	int duration_ms;
	struct np_dest allowed, denied, flip;
	unsigned long total, allowed_eperm, allowed_other, denied_ok, flip_ok, flip_eperm;
	int other_errno;
};

static int atomic_loop(void *arg, size_t len)
{
	struct atomic_counts *c = arg;
	uint64_t end = np_test_now_ms() + c->duration_ms;

	while (np_test_now_ms() < end) {
		for (int i = 0; i < 64; i++) {
			int r = np_probe_udp_connect_send(&c->allowed);

			c->total++;
			if (r == -EPERM)
				c->allowed_eperm++;
			else if (r != 0) {
				c->allowed_other++;
				c->other_errno = r;
			}
		}
		if (np_probe_udp_connect_send(&c->denied) == 0)
			c->denied_ok++;
		if (np_probe_udp_connect_send(&c->flip) == 0)
			c->flip_ok++;
		else
			c->flip_eperm++;
	}
	return 0;
}

static void case_atomic_update(struct np_test_env *env)
{
	/* Both allow 203.0.113.9:80/udp, through differently shaped tries. Both
	 * deny 198.51.100.7. They differ on 203.0.113.20 (A allows, B denies),
	 * which shows the swaps really happen during the loop. */
	static const char a_json[] =
	    "{\"name\":\"atomic\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"],\"protocol\":\"tcp\"},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"],\"protocol\":\"udp\",\"ports\":[\"1-100\"]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.128/25\"]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/"
	    "25\"],\"protocol\":\"udp\",\"ports\":[\"101-65535\"]}]}";
	static const char b_json[] =
	    "{\"name\":\"atomic\",\"default\":\"allow\",\"rules\":["
	    "{\"action\":\"deny\",\"to\":[\"198.51.100.0/24\"]},"
	    "{\"action\":\"deny\",\"to\":[\"203.0.113.16/28\"]},"
	    "{\"action\":\"deny\",\"to\":[\"2001:db8::/32\"],\"protocol\":\"tcp\"}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct atomic_counts c = {.duration_ms = 2000};
	struct np_policy *pa = NULL, *pb = NULL;
	struct np_error err = {};
	unsigned long installs = 0;
	int r, result = 0, done = 0;
	uint32_t id;

	c.allowed = np_dest_v4(A4, 80);
	c.denied = np_dest_v4(D4B, 80);
	c.flip = np_dest_v4("203.0.113.20", 80);
	NP_CHECK(np_policy_from_string(a_json, &pa, &err) == 0, "policy A: %s", err.message);
	NP_CHECK(np_policy_from_string(b_json, &pb, &err) == 0, "policy B: %s", err.message);

	id = NP_SETUP_BOUND(env, "atomic", a_json, &w);
	r = np_test_worker_send(&w, atomic_loop, &c, sizeof(c));
	NP_CHECK(r == 0, "worker send failed");
	while (!done) {
		r = np_test_try_install_policy(env, id, installs % 2 ? pa : pb);
		if (r < 0)
			break;
		installs++;
		done = np_test_worker_poll(&w, 0, &result);
		if (done < 0)
			break;
	}
	if (!done)
		done = np_test_worker_poll(&w, 10000, &result);
	np_policy_free(pa);
	np_policy_free(pb);
	NP_CHECK(r >= 0, "install #%lu failed: %s", installs, np_test_strerr(r));
	NP_CHECK(done == 1, "worker did not report");
	printf("# atomic: %lu installs, %lu connects, flip allowed %lu denied %lu\n", installs, c.total,
	       c.flip_ok, c.flip_eperm);
	NP_CHECK(c.allowed_eperm == 0, "%lu of %lu connects to an always-allowed destination got EPERM",
		 c.allowed_eperm, c.total);
	NP_CHECK(c.allowed_other == 0, "%lu connects failed otherwise (%s)", c.allowed_other,
		 np_test_strerr(c.other_errno));
	NP_CHECK(c.denied_ok == 0, "%lu connects to an always-denied destination succeeded", c.denied_ok);
	NP_CHECK(c.total >= 2000, "only %lu connects", c.total);
	NP_CHECK(installs >= 20, "only %lu installs during the loop", installs);
	NP_CHECK(c.flip_ok > 0 && c.flip_eperm > 0, "the policies did not alternate (flip %lu/%lu)",
		 c.flip_ok, c.flip_eperm);
}

/* ---- unbound cgroups and the srv cgroup are never policed ---- */

static void case_unbound(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	np_test_cgroup(env, "unbound/deep/er", NULL);
	NP_START_WORKER(env, "unbound/deep/er", &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4, TCP_PORT), 0);
	PROBE(&w, np_probe_udp_sendto, np_dest_v6(D6, UDP_PORT), 0);
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(D4B, 0), 0);
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v4(D4B, 0), 0);
	np_test_tcp_drain(env);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-kernel", 0);
	_cleanup_close_ int l443 = np_test_listen_tcp(env, 443);

	if (l443 < 0) {
		fprintf(stderr, "Bail out! listener on 443: %s\n", np_test_strerr(l443));
		return 99;
	}

	np_test_run(env, "tcp4 connect", case_tcp4_connect);
	np_test_run(env, "udp4 connect and connect+send", case_udp4_connect);
	np_test_run(env, "udp4 sendto", case_udp4_sendto);
	np_test_run(env, "udp4 sendmmsg", case_udp4_sendmmsg);
	np_test_run(env, "tcp6 connect", case_tcp6_connect);
	np_test_run(env, "udp6 connect/sendto/sendmmsg", case_udp6);
	np_test_run(env, "v4-mapped on AF_INET6 (tcp, udp sendto, udp connect+send)", case_mapped);
	np_test_run(env, "tcp fast open", case_tcp_fastopen);
	np_test_run(env, "io_uring connect", case_uring_connect);
	np_test_run(env, "io_uring sendmsg", case_uring_sendmsg);
	np_test_run(env, "ping socket connect", case_ping_connect);
	np_test_run(env, "ping socket sendto (egress backstop)", case_ping_sendto);
	np_test_run(env, "raw socket denied by default-deny policy", case_raw_denied);
	np_test_run(env, "raw socket allowed, egress backstop", case_raw_allowed);
	np_test_run(env, "udp sockets created before binding", case_pre_existing_udp);
	np_test_run(env, "established tcp, policy tightened then loosened", case_established_tcp);
	np_test_run(env, "established tcp from a port bound by hand", case_established_tcp_bound_port);
	np_test_run(env, "established tcp from a former listener", case_established_tcp_was_listener);
	np_test_run(env, "established tcp connected before binding", case_established_tcp_before_binding);
	np_test_run(env, "accepted tcp4: a policed server answers", case_accepted_tcp4);
	np_test_run(env, "accepted tcp6, listen backlog 1", case_accepted_tcp6);
	np_test_run(env, "accepted tcp4, listener without bind()", case_accepted_tcp4_autobind);
	np_test_run(env, "port rules", case_port_rules);
	np_test_run(env, "overlapping prefixes with different ports", case_overlapping_rules);
	np_test_run(env, "deny with except, protocol-specific deny", case_nested_deny);
	np_test_run(env, "inheritance, override, unbind", case_inheritance);
	np_test_run(env, "audit mode", case_audit);
	np_test_run(env, "events and counters", case_events_and_stats);
	np_test_run(env, "log all", case_log_all);
	np_test_run(env, "atomic policy replacement", case_atomic_update);
	np_test_run(env, "unbound cgroup below the attach cgroup", case_unbound);
	return np_test_finish(env);
}
