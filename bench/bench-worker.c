/* SPDX-License-Identifier: GPL-2.0-only */
/* Workers and the measured loops they run: see bench-worker.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-env.h"
#include "bench-util.h"
#include "bench-worker.h"

#define STREAM_WRITE	  (64 * 1024)
#define STREAM_READ	  (256 * 1024)
#define ACCEPT_TIMEOUT_MS 2000

static struct bench_slot *shared;

struct bench_slot *bench_shared(void)
{
	if (!shared) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			bench_die("mmap: %m");
		shared = p;
	}
	return shared;
}

/* ---- listeners ---- */

static int listen_socket(int type, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd, r;

	fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int bench_tcp_listener(uint16_t port)
{
	int fd = listen_socket(SOCK_STREAM, port), r;

	if (fd < 0)
		return fd;
	if (listen(fd, 4096) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int bench_udp_sink(uint16_t port)
{
	int fd = listen_socket(SOCK_DGRAM, port), small = 1;

	/* The kernel rounds it up to its minimum: the queue fills at once and
	 * later datagrams are dropped at the socket, the same for every variant. */
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	return fd;
}

/* ---- the worker's side ---- */

static struct {
	struct sockaddr_in dests[BENCH_N_DESTS];
	struct sockaddr_in one;
	int udp_connect_fd, udp_send_fd, udp_flood_fd, deny_fd;
	uint16_t flood_port;
	const char *cgroup;
} wk = {.udp_connect_fd = -1, .udp_send_fd = -1, .udp_flood_fd = -1, .deny_fd = -1};

static void dests_init(void)
{
	for (int i = 0; i < BENCH_N_DESTS / 2; i++) {
		wk.dests[2 * i] = (struct sockaddr_in){
		    .sin_family = AF_INET, .sin_addr.s_addr = htonl(0xCB007100u + (uint32_t)i + 1)};
		wk.dests[2 * i + 1] = (struct sockaddr_in){
		    .sin_family = AF_INET, .sin_addr.s_addr = htonl(0xC6336400u + (uint32_t)i + 1)};
	}
	wk.one = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xCB007107u)};
}

static void dests_port(uint16_t port)
{
	for (int i = 0; i < BENCH_N_DESTS; i++)
		wk.dests[i].sin_port = htons(port);
	wk.one.sin_port = htons(port);
}

static void fail(struct bench_res *r, int err)
{
	if (!r->fails)
		r->first_err = err;
	r->fails++;
}

/* Sockets kept across chunks, created in the worker's cgroup and namespace. */
static int udp_socket(int *fd)
{
	if (*fd < 0)
		*fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return *fd < 0 ? -errno : *fd;
}

static void op_udp_connect(const struct bench_cmd *c, struct bench_res *r)
{
	int fd = udp_socket(&wk.udp_connect_fd);
	uint64_t t0;
	size_t k = 0;

	if (fd < 0)
		return fail(r, fd);
	dests_port(c->udp_port);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++) {
		const struct sockaddr_in *d = c->rotate ? &wk.dests[k] : &wk.one;

		if (++k == BENCH_N_DESTS)
			k = 0;
		if (connect(fd, (const struct sockaddr *)d, sizeof(*d)) < 0)
			fail(r, -errno);
	}
	r->elapsed_ns = (int64_t)(bench_now_ns() - t0);
	r->ops = c->n;
}

static void op_udp_sendto(const struct bench_cmd *c, struct bench_res *r)
{
	int fd = udp_socket(&wk.udp_send_fd);
	char byte = 'x';
	uint64_t t0;
	size_t k = 0;

	if (fd < 0)
		return fail(r, fd);
	dests_port(c->udp_port);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++) {
		const struct sockaddr_in *d = c->rotate ? &wk.dests[k] : &wk.one;

		if (++k == BENCH_N_DESTS)
			k = 0;
		if (sendto(fd, &byte, 1, 0, (const struct sockaddr *)d, sizeof(*d)) < 0)
			fail(r, -errno);
	}
	r->elapsed_ns = (int64_t)(bench_now_ns() - t0);
	r->ops = c->n;
}

/* On loopback the handshake completes inside connect(): the child is
 * normally queued already; wait a little if not. */
static int accept_one(int lfd)
{
	for (;;) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (a >= 0)
			return a;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (poll(&p, 1, ACCEPT_TIMEOUT_MS) == 0)
			return -ETIMEDOUT;
	}
}

/* One connection: connect, accept, close with RST (no TIME_WAIT, so the
 * ephemeral ports never run out and every connection costs the same). */
static int tcp_one(int lfd, const struct sockaddr_in *d)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int s, a, r = 0;

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	(void)setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(s, (const struct sockaddr *)d, sizeof(*d)) < 0) {
		r = -errno;
		close(s);
		return r;
	}
	a = accept_one(lfd);
	close(s);
	if (a < 0)
		return a;
	close(a);
	return 0;
}

static void op_tcp_crr(const struct bench_cmd *c, struct bench_res *r)
{
	uint64_t t0;
	size_t k = 0;

	dests_port(c->tcp_port);
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++) {
		const struct sockaddr_in *d = c->rotate ? &wk.dests[k] : &wk.one;
		int e;

		if (++k == BENCH_N_DESTS)
			k = 0;
		e = tcp_one(c->listen_fd, d);
		if (e < 0)
			fail(r, e);
	}
	r->elapsed_ns = (int64_t)(bench_now_ns() - t0);
	r->ops = c->n;
}

struct reader {
	int lfd;
	uint64_t bytes;
	int err;
};

/* The receiving end of the stream, on the other CPU. */
static void *stream_reader(void *arg)
{
	struct reader *rd = arg;
	_cleanup_free_ char *buf = malloc(STREAM_READ);
	int a;

	(void)bench_pin_cpu(0);
	a = accept_one(rd->lfd);
	if (a < 0 || !buf) {
		rd->err = a < 0 ? a : -ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t n = read(a, buf, STREAM_READ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rd->bytes += (uint64_t)n;
	}
	close(a);
	return NULL;
}

static int stream_write(int s, const char *buf, uint64_t duration_ns, uint64_t *bytes, int64_t *elapsed)
{
	uint64_t t0 = bench_now_ns(), now = t0;

	for (unsigned i = 0;; i++) {
		ssize_t n = write(s, buf, STREAM_WRITE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		*bytes += (uint64_t)n;
		if ((i & 7) == 7) {
			now = bench_now_ns();
			if (now - t0 >= duration_ns)
				break;
		}
	}
	*elapsed = (int64_t)(now - t0);
	return 0;
}

static void op_tcp_stream(const struct bench_cmd *c, struct bench_res *r)
{
	struct reader rd = {.lfd = c->listen_fd};
	_cleanup_free_ char *buf = calloc(1, STREAM_WRITE);
	pthread_t th;
	int s, e;

	dests_port(c->tcp_port);
	if (!buf || pthread_create(&th, NULL, stream_reader, &rd) != 0)
		return fail(r, -ENOMEM);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (const struct sockaddr *)&wk.one, sizeof(wk.one)) < 0)
		e = -errno;
	else
		e = stream_write(s, buf, c->duration_ns, &r->bytes, &r->elapsed_ns);
	if (s >= 0)
		close(s);
	pthread_join(th, NULL);
	if (e < 0 || rd.err < 0)
		fail(r, e < 0 ? e : rd.err);
	r->ops = r->bytes;
}

static void op_udp_flood(const struct bench_cmd *c, struct bench_res *r)
{
	char payload[16] = "netpol-bench";
	uint64_t t0;

	/* Connected once: per packet only the egress program runs. */
	if (wk.udp_flood_fd < 0 || wk.flood_port != c->udp_port) {
		int fd = udp_socket(&wk.udp_flood_fd);

		if (fd < 0)
			return fail(r, fd);
		dests_port(c->udp_port);
		if (connect(fd, (const struct sockaddr *)&wk.one, sizeof(wk.one)) < 0)
			return fail(r, -errno);
		wk.flood_port = c->udp_port;
	}
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++)
		if (send(wk.udp_flood_fd, payload, sizeof(payload), 0) < 0)
			fail(r, -errno);
	r->elapsed_ns = (int64_t)(bench_now_ns() - t0);
	r->ops = c->n;
}

/* A UDP connect() is refused where its address allows nothing at all; one
 * to an address that allows only other ports passes, and its first datagram
 * is refused: only a datagram tells. */
static int connect_send(int fd, const struct sockaddr *d, socklen_t len)
{
	char byte = 'x';

	if (connect(fd, d, len) < 0 || send(fd, &byte, 1, 0) < 0)
		return -errno;
	return 0;
}

static int connect_once_v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET6, addr, &a.sin6_addr);
	e = connect_send(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return e;
}

static int connect_once_v4(const struct sockaddr_in *d)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -errno;
	e = connect_send(fd, (const struct sockaddr *)d, sizeof(*d));
	close(fd);
	return e;
}

/* Enforcement must be on where it should be, or the numbers mean nothing:
 * 203.0.113.7 must pass (UDP and TCP), [2001:db8::5] is outside every
 * benchmark policy (default deny). */
static void op_verify(const struct bench_cmd *c, struct bench_res *r)
{
	dests_port(c->udp_port);
	r->allowed_rc = connect_once_v4(&wk.one);
	if (r->allowed_rc == 0 && c->listen_fd >= 0) {
		dests_port(c->tcp_port);
		r->allowed_rc = tcp_one(c->listen_fd, &wk.one);
	}
	r->denied_rc = connect_once_v6("2001:db8::5", 9);
}

static void op_probe(const struct bench_cmd *c, struct bench_res *r)
{
	struct sockaddr_in d = {.sin_family = AF_INET,
				.sin_port = htons(c->udp_port),
				.sin_addr.s_addr = htonl(0xCB0071C8u)}; /* 203.0.113.200 */
	struct bench_slot *slot = &bench_shared()[c->slot];
	uint64_t t0 = bench_now_ns(), deadline = t0 + c->duration_ns;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fail(r, -errno);
	for (uint64_t i = 0;; i++) {
		if (connect_send(fd, (struct sockaddr *)&d, sizeof(d)) == 0) {
			r->t_ok_ns = bench_now_ns();
			break;
		}
		if (errno != EPERM) {
			fail(r, -errno);
			break;
		}
		if (!slot->armed)
			__atomic_store_n(&slot->armed, 1, __ATOMIC_SEQ_CST);
		if ((i & 255) == 0 && bench_now_ns() > deadline) {
			fail(r, -ETIMEDOUT);
			break;
		}
	}
	r->ops = 1;
	close(fd);
}

/* Keep to the rate: after each batch, wait until the schedule catches up. */
static void pace(uint64_t t0, uint64_t done, uint64_t rate)
{
	for (;;) {
		uint64_t due = (bench_now_ns() - t0) * rate / 1000000000ull;
		struct timespec ts = {.tv_nsec = 20000};

		if (done <= due)
			return;
		nanosleep(&ts, NULL);
	}
}

static void op_deny_flood(const struct bench_cmd *c, struct bench_res *r)
{
	int fd = udp_socket(&wk.deny_fd);
	char byte = 'x';
	uint64_t t0, i;
	size_t k = 1;

	if (fd < 0)
		return fail(r, fd);
	dests_port(c->udp_port);
	t0 = bench_now_ns();
	for (i = 0;; i++) {
		if ((i & 63) == 0) {
			if (bench_now_ns() - t0 >= c->duration_ns)
				break;
			pace(t0, i, c->rate);
		}
		/* 198.51.100.1-254: the odd entries of the table. */
		if (sendto(fd, &byte, 1, 0, (const struct sockaddr *)&wk.dests[k], sizeof(wk.dests[k])) < 0 &&
		    errno == EPERM)
			r->bytes++; /* denials */
		else
			fail(r, -errno);
		k += 2;
		if (k >= BENCH_N_DESTS)
			k = 1;
	}
	r->elapsed_ns = (int64_t)(bench_now_ns() - t0);
	r->ops = i;
}

static void op_visit(const struct bench_cmd *c, struct bench_res *r)
{
	dests_port(c->udp_port);
	for (uint64_t i = 0; i < c->n; i++) {
		_cleanup_free_ char *p = bench_asprintf("%s/%04u", c->path, (unsigned)i);
		int e = np_sb_cgroup_join(p);

		if (e == 0)
			e = connect_once_v4(&wk.one);
		if (e < 0)
			fail(r, e);
	}
	if (np_sb_cgroup_join(wk.cgroup) < 0)
		fail(r, -EIO);
	r->ops = c->n;
}

static void run_op(const struct bench_cmd *c, struct bench_res *r)
{
	switch (c->op) {
	case BENCH_OP_UDP_CONNECT:
		return op_udp_connect(c, r);
	case BENCH_OP_UDP_SENDTO:
		return op_udp_sendto(c, r);
	case BENCH_OP_TCP_CRR:
		return op_tcp_crr(c, r);
	case BENCH_OP_TCP_STREAM:
		return op_tcp_stream(c, r);
	case BENCH_OP_UDP_FLOOD:
		return op_udp_flood(c, r);
	case BENCH_OP_VERIFY:
		return op_verify(c, r);
	case BENCH_OP_PROBE:
		return op_probe(c, r);
	case BENCH_OP_DENY_FLOOD:
		return op_deny_flood(c, r);
	case BENCH_OP_VISIT:
		return op_visit(c, r);
	default:
		return fail(r, -EINVAL);
	}
}

/* In the worker, once it is in its cgroup and namespace. */
static int worker_init(void *userdata)
{
	const struct bench_worker *w = userdata;

	wk.cgroup = w->cgroup;
	(void)bench_pin_cpu(w->cpu);
	dests_init();
	return 0;
}

static int worker_call(void *arg, size_t len)
{
	struct bench_call *call = arg;

	call->r = (struct bench_res){0};
	run_op(&call->c, &call->r);
	return 0;
}

int bench_worker_start(struct bench_worker *w, const char *name, const char *cgroup, int netns_idx, int cpu)
{
	struct np_sb_worker_opts o = {.cgroup = cgroup,
				      .netns_fd = bench_env->netns[netns_idx],
				      .comm = name,
				      .init = worker_init,
				      .userdata = w};

	bench_shared();
	*w = (struct bench_worker){.cgroup = cgroup, .cpu = cpu};
	snprintf(w->name, sizeof(w->name), "%s", name);
	return np_sb_worker_start(&bench_env->sb, &w->sb, &o);
}

int bench_worker_send(struct bench_worker *w, const struct bench_cmd *c)
{
	w->call.c = *c;
	return np_sb_worker_send(&w->sb, worker_call, &w->call, sizeof(w->call));
}

int bench_worker_recv(struct bench_worker *w, struct bench_res *r, int timeout_ms)
{
	int result, n = np_sb_worker_poll(&w->sb, timeout_ms > 0 ? timeout_ms : -1, &result);

	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return n;
	*r = w->call.r;
	return 0;
}

int bench_worker_call(struct bench_worker *w, const struct bench_cmd *c, struct bench_res *r, int timeout_ms)
{
	int e = bench_worker_send(w, c);

	return e < 0 ? e : bench_worker_recv(w, r, timeout_ms);
}

void bench_worker_stop(struct bench_worker *w)
{
	if (w->sb.pid > 0)
		np_sb_worker_stop(&bench_env->sb, &w->sb);
}
