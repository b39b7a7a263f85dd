/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the egress (cgroup_skb) backstop: unconnected ping sendto(),
 * established TCP flows re-judged on a policy change, accepted connections.
 */
#include "test-bpf.h"

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
	/* a ping socket's packet names the process that made the socket */
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "egress event of a ping socket: pid %u comm '%.16s', expected %d np-worker", ev.pid, ev.comm,
		 (int)w.sb.pid);
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

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-egress", 0);

	np_test_run(env, "ping socket sendto (egress backstop)", case_ping_sendto);
	np_test_run(env, "established tcp, policy tightened then loosened", case_established_tcp);
	np_test_run(env, "established tcp from a port bound by hand", case_established_tcp_bound_port);
	np_test_run(env, "established tcp from a former listener", case_established_tcp_was_listener);
	np_test_run(env, "established tcp connected before binding", case_established_tcp_before_binding);
	np_test_run(env, "accepted tcp4: a policed server answers", case_accepted_tcp4);
	np_test_run(env, "accepted tcp6, listen backlog 1", case_accepted_tcp6);
	np_test_run(env, "accepted tcp4, listener without bind()", case_accepted_tcp4_autobind);
	return np_test_finish(env);
}
