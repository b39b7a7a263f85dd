/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sd-load: the workload of the systemd phase (bench/systemd/run), run as
 * services inside a systemd container, so that netpol and systemd's
 * IPAddressDeny=/IPAddressAllow= police the same unit and the same traffic.
 * It uses nothing but libc: the container has the project's runtime
 * libraries, not its build.
 *
 *   sd-load serve DIR
 *       the far end, in an unfiltered unit: TCP listeners on 0.0.0.0:8080
 *       (accept and close) and :8081 (read until EOF), a UDP sink on :9
 *       (never read); creates DIR/ready once listening, then waits.
 *   sd-load run [--cpu N] ALLOWED DENIED
 *       the measured unit: reads commands "WORKLOAD SECS" from stdin and
 *       answers each with one TSV line (op, ns_per_op, ops, fails,
 *       first_err, bytes, elapsed_ns) on stdout. Workloads: tcp_crr
 *       (connect + close with RST), udp_sendto (1 byte, unconnected),
 *       stream (64 KiB writes on one connection) to ALLOWED; deny_udp,
 *       deny_tcp to DENIED.
 *       "kstats 1" answers the run time and run count summed over every BPF
 *       program in effect at the socket and packet hooks for its cgroup.
 *   sd-load stats-on READY
 *       holds the kernel's BPF run-time statistics on (BPF_ENABLE_STATS)
 *       until it is killed; creates READY once they are.
 *   sd-load deny-wait CAP_S DENIED
 *       one blocking TCP connect to DENIED:8080, waited for at most
 *       CAP_S seconds: how it ends (errno name, or "pending") and when.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PORT_CRR    8080
#define PORT_STREAM 8081
#define PORT_UDP    9
#define CHUNK	    (64 * 1024)
/* A denial slower than this is not looped: one attempt says it all. */
#define FAST_DENIAL_NS 10000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EINPROGRESS:
		return "pending";
	default:
		return strerrorname_np(e) ? strerrorname_np(e) : "E?";
	}
}

static struct sockaddr_in addr(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "sd-load: '%s' is not an IPv4 address\n", ip);
		exit(2);
	}
	return a;
}

/* ---- serve ---- */

static int listener(int type, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (type == SOCK_STREAM && listen(fd, 4096) < 0)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void *drain(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static char buf[CHUNK];

	while (read(fd, buf, sizeof(buf)) > 0 || errno == EINTR)
		;
	close(fd);
	return NULL;
}

/* The stream's reader: one thread per connection, reading until EOF. */
static void *accept_stream(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t th;

		if (a < 0)
			continue;
		if (pthread_create(&th, NULL, drain, (void *)(intptr_t)a) != 0)
			close(a);
		else
			pthread_detach(th);
	}
	return NULL;
}

/* The connect+close loop's far end: the client resets each connection. */
static void *accept_close(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (a >= 0)
			close(a);
	}
	return NULL;
}

static int serve(const char *dir)
{
	int crr = listener(SOCK_STREAM, PORT_CRR), st = listener(SOCK_STREAM, PORT_STREAM);
	int udp = listener(SOCK_DGRAM, PORT_UDP), small = 1;
	char path[4096];
	pthread_t t1, t2;

	if (crr < 0 || st < 0 || udp < 0) {
		fprintf(stderr, "sd-load serve: cannot listen: %s\n",
			strerror(-(crr < 0  ? crr
				   : st < 0 ? st
					    : udp)));
		return 1;
	}
	/* Rounded up to the minimum: the queue fills at once and later
	 * datagrams are dropped at the socket, with no ICMP. */
	(void)setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (pthread_create(&t1, NULL, accept_close, (void *)(intptr_t)crr) != 0 ||
	    pthread_create(&t2, NULL, accept_stream, (void *)(intptr_t)st) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/ready", dir);
	if (close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "sd-load serve: cannot create %s: %m\n", path);
		return 1;
	}
	for (;;)
		pause();
}

/* ---- run ---- */

struct res {
	const char *op;
	uint64_t ops, fails, bytes, elapsed_ns;
	int first_err;
};

static void fail(struct res *r, int err)
{
	if (!r->fails)
		r->first_err = err;
	r->fails++;
}

static void print(const struct res *r)
{
	printf("%s\t%.1f\t%llu\t%llu\t%s\t%llu\t%llu\n", r->op,
	       r->ops ? (double)r->elapsed_ns / (double)r->ops : 0.0, (unsigned long long)r->ops,
	       (unsigned long long)r->fails, r->fails ? err_name(r->first_err) : "-",
	       (unsigned long long)r->bytes, (unsigned long long)r->elapsed_ns);
	fflush(stdout);
}

/* A blocking connect, as an application makes it, given up after wait_ms
 * (SO_SNDTIMEO): 0, the errno it ended with, or EINPROGRESS if it had not
 * ended by then. */
static int tcp_connect(const struct sockaddr_in *d, int wait_ms, int *fdp)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct timeval tv = {.tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*fdp = fd;
	if (fd < 0)
		return errno;
	/* Close with RST: no TIME_WAIT, so ports never run out. */
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)d, sizeof(*d)) == 0)
		return 0;
	return errno == EAGAIN ? EINPROGRESS : errno;
}

/* The timed loops: until secs have passed, the clock read every 16
 * operations. */
struct timer {
	uint64_t t0, end;
};

static struct timer timer_start(double secs)
{
	uint64_t t0 = now_ns();

	return (struct timer){.t0 = t0, .end = t0 + (uint64_t)(secs * 1e9)};
}

/* Counts one operation; false (with the elapsed time set) once it is over. */
static int more(struct res *r, const struct timer *t)
{
	uint64_t now;

	r->ops++;
	if ((r->ops & 15) != 0 || (now = now_ns()) < t->end)
		return 1;
	r->elapsed_ns = now - t->t0;
	return 0;
}

static void run_crr(const struct sockaddr_in *d, double secs)
{
	struct res r = {.op = "tcp_crr"};

	for (struct timer t = timer_start(secs);;) {
		int fd, e = tcp_connect(d, 1000, &fd);

		if (e)
			fail(&r, e);
		if (fd >= 0)
			close(fd);
		if (!more(&r, &t))
			break;
	}
	print(&r);
}

static void run_sendto(const struct sockaddr_in *d, double secs, const char *op)
{
	struct res r = {.op = op};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char byte = 'x';

	if (fd < 0) {
		fail(&r, errno);
		print(&r);
		return;
	}
	for (struct timer t = timer_start(secs);;) {
		if (sendto(fd, &byte, 1, 0, (const struct sockaddr *)d, sizeof(*d)) < 0)
			fail(&r, errno);
		if (!more(&r, &t))
			break;
	}
	close(fd);
	print(&r);
}

static void run_stream(const struct sockaddr_in *d, double secs)
{
	static char buf[CHUNK];
	struct res r = {.op = "stream"};
	int fd, e = tcp_connect(d, 1000, &fd);

	if (e) {
		fail(&r, e);
	} else {
		for (struct timer t = timer_start(secs);;) {
			ssize_t n = write(fd, buf, sizeof(buf));

			if (n < 0) {
				fail(&r, errno);
				break;
			}
			r.bytes += (uint64_t)n;
			if (!more(&r, &t))
				break;
		}
	}
	if (fd >= 0)
		close(fd);
	print(&r);
}

/* A denied connect: looped like the others when it fails at once (netpol:
 * EPERM from connect()); otherwise one attempt, given up after 1 s, says
 * what the application sees (deny-wait measures how long until it ends). */
static void run_deny_tcp(const struct sockaddr_in *d, double secs)
{
	struct res r = {.op = "deny_tcp"};
	uint64_t t0 = now_ns();
	int fd, e = tcp_connect(d, 1000, &fd);

	if (fd >= 0)
		close(fd);
	if (e == 0 || e == EINPROGRESS || now_ns() - t0 > FAST_DENIAL_NS) {
		r.elapsed_ns = now_ns() - t0;
		r.ops = 1;
		if (e)
			fail(&r, e);
		print(&r);
		return;
	}
	for (struct timer t = timer_start(secs);;) {
		int e2 = tcp_connect(d, 1000, &fd);

		if (e2)
			fail(&r, e2);
		if (fd >= 0)
			close(fd);
		if (!more(&r, &t))
			break;
	}
	print(&r);
}

/* ---- in-kernel cost ---- */

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* The socket and packet hooks; each effective program attached there for
 * a cgroup runs for its sockets. */
static const enum bpf_attach_type net_hooks[] = {
    BPF_CGROUP_INET_INGRESS,	  BPF_CGROUP_INET_EGRESS,     BPF_CGROUP_INET_SOCK_CREATE,
    BPF_CGROUP_INET_SOCK_RELEASE, BPF_CGROUP_SOCK_OPS,	      BPF_CGROUP_INET4_BIND,
    BPF_CGROUP_INET6_BIND,	  BPF_CGROUP_INET4_CONNECT,   BPF_CGROUP_INET6_CONNECT,
    BPF_CGROUP_INET4_POST_BIND,	  BPF_CGROUP_INET6_POST_BIND, BPF_CGROUP_UDP4_SENDMSG,
    BPF_CGROUP_UDP6_SENDMSG,	  BPF_CGROUP_UDP4_RECVMSG,    BPF_CGROUP_UDP6_RECVMSG,
    BPF_CGROUP_GETSOCKOPT,	  BPF_CGROUP_SETSOCKOPT,
};

/* Sums run_time_ns and run_cnt of every program in effect at those hooks
 * for the calling process's cgroup (its cgroup2 path from /proc/self/cgroup,
 * below /sys/fs/cgroup). */
static int kstats(uint64_t *ns, uint64_t *cnt, unsigned *progs)
{
	char line[4096], path[4200] = "";
	FILE *f = fopen("/proc/self/cgroup", "re");
	int cg;

	*ns = *cnt = 0;
	*progs = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
		}
	fclose(f);
	cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!path[0] || cg < 0)
		return -ENOENT;
	for (size_t h = 0; h < sizeof(net_hooks) / sizeof(net_hooks[0]); h++) {
		__u32 ids[64];
		union bpf_attr q = {.query = {.target_fd = (__u32)cg,
					      .attach_type = net_hooks[h],
					      .query_flags = BPF_F_QUERY_EFFECTIVE,
					      .prog_ids = (__u64)(uintptr_t)ids,
					      .prog_cnt = 64}};

		if (sys_bpf(BPF_PROG_QUERY, &q) < 0)
			continue;
		for (__u32 i = 0; i < q.query.prog_cnt && i < 64; i++) {
			struct bpf_prog_info info = {0};
			union bpf_attr g = {.prog_id = ids[i]};
			int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);

			if (fd < 0)
				continue;
			union bpf_attr o = {.info = {.bpf_fd = (__u32)fd,
						     .info_len = sizeof(info),
						     .info = (__u64)(uintptr_t)&info}};
			if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &o) == 0) {
				*ns += info.run_time_ns;
				*cnt += info.run_cnt;
				++*progs;
			}
			close(fd);
		}
	}
	close(cg);
	return 0;
}

/* Keeps the run-time statistics of every BPF program on (a kernel-wide
 * switch) while it runs: BPF_ENABLE_STATS holds them on while its fd is
 * open, so they go off with this process, however it ends. */
static int stats_on(const char *ready)
{
	union bpf_attr a = {.enable_stats = {.type = BPF_STATS_RUN_TIME}};
	int fd = (int)sys_bpf(BPF_ENABLE_STATS, &a);

	if (fd < 0) {
		fprintf(stderr, "sd-load stats-on: BPF_ENABLE_STATS: %m\n");
		return 1;
	}
	if (close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "sd-load stats-on: cannot create %s: %m\n", ready);
		return 1;
	}
	for (;;)
		pause();
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int run(int argc, char **argv)
{
	char line[128], op[32];
	double secs;
	int cpu = -1, i = 2;

	if (argc > 3 && strcmp(argv[i], "--cpu") == 0) {
		cpu = atoi(argv[i + 1]);
		i += 2;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: sd-load run [--cpu N] ALLOWED DENIED\n");
		return 2;
	}
	struct sockaddr_in crr = addr(argv[i], PORT_CRR), st = addr(argv[i], PORT_STREAM);
	struct sockaddr_in udp = addr(argv[i], PORT_UDP), dudp = addr(argv[i + 1], PORT_UDP);
	struct sockaddr_in dtcp = addr(argv[i + 1], PORT_CRR);

	if (cpu >= 0 && pin(cpu) < 0)
		fprintf(stderr, "sd-load: cannot pin to CPU %d: %m\n", cpu);
	/* Every socket is made after its command: the first one comes once
	 * the unit's policy is in place. */
	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "%31s %lf", op, &secs) != 2 || secs <= 0) {
			fprintf(stderr, "sd-load: bad command '%s'\n", line);
			return 2;
		}
		if (strcmp(op, "kstats") == 0) {
			uint64_t ns, cnt;
			unsigned progs;
			int r = kstats(&ns, &cnt, &progs);

			printf("kstats\t%llu\t%llu\t%u\t%s\n", (unsigned long long)ns,
			       (unsigned long long)cnt, progs, r < 0 ? strerror(-r) : "-");
			fflush(stdout);
		} else if (strcmp(op, "tcp_crr") == 0)
			run_crr(&crr, secs);
		else if (strcmp(op, "udp_sendto") == 0)
			run_sendto(&udp, secs, op);
		else if (strcmp(op, "stream") == 0)
			run_stream(&st, secs);
		else if (strcmp(op, "deny_udp") == 0)
			run_sendto(&dudp, secs, op);
		else if (strcmp(op, "deny_tcp") == 0)
			run_deny_tcp(&dtcp, secs);
		else {
			fprintf(stderr, "sd-load: unknown workload '%s'\n", op);
			return 2;
		}
	}
	return 0;
}

static int deny_wait(int argc, char **argv)
{
	struct sockaddr_in d;
	uint64_t t0;
	int fd, e;

	if (argc != 4) {
		fprintf(stderr, "usage: sd-load deny-wait CAP_S DENIED\n");
		return 2;
	}
	d = addr(argv[3], PORT_CRR);
	t0 = now_ns();
	e = tcp_connect(&d, (int)(atof(argv[2]) * 1000), &fd);
	printf("result\tseconds\n%s\t%.3f\n", err_name(e), (double)(now_ns() - t0) / 1e9);
	if (fd >= 0)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "deny-wait") == 0)
		return deny_wait(argc, argv);
	if (argc == 3 && strcmp(argv[1], "stats-on") == 0)
		return stats_on(argv[2]);
	fprintf(stderr, "usage: sd-load serve DIR | run [OPTIONS] ALLOWED DENIED | deny-wait CAP_S DENIED | "
			"stats-on READY\n");
	return 2;
}
