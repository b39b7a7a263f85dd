/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The integration tests' traffic generator. It first joins a cgroup and a
 * network namespace (in that order: entering the netns does not touch
 * cgroupfs), then:
 *
 *   probe [OPTS] tcp|udp|udp-sendto ADDR PORT
 *       one attempt (tcp: connect(); udp: connect() and one datagram, which
 *       is what a policy judges; udp-sendto: one datagram); exit 0 on
 *       success, 1 on EPERM, 2 on another error
 *   probe [OPTS] loop tcp|udp|udp-sendto ADDR PORT[-LAST] [INTERVAL_US]
 *       attempts (a new socket each, cycling through the ports) until
 *       SIGTERM/SIGINT or --count; prints "ok=N eperm=N other=N" at the end
 *   probe [OPTS] listen ADDR PORT
 *       a TCP listener that accepts and closes; prints "ready"
 *   probe [OPTS] exec CMD [ARGS...]
 *
 * OPTS: --cgroup DIR (a cgroup2 directory), --netns PATH (/run/netns/X),
 * --count N, --thread NAME (one attempt made from a second thread, named
 * NAME with prctl(PR_SET_NAME), as resolvers and servers name theirs).
 * Traffic only ever goes where the caller says, and the callers only name
 * addresses of the test's own network namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "probes.h"
#include "sandbox.h"

enum {
	EXIT_ALLOWED = 0,
	EXIT_DENIED = 1,
	EXIT_ERROR = 2,
};

enum mode {
	MODE_TCP,
	MODE_UDP,
	MODE_UDP_SENDTO,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int join_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = np_sb_netns_enter(fd);
	close(fd);
	return r;
}

static int parse_addr(const char *addr, const char *port, struct np_dest *d)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (*end || p > 65535)
		return -EINVAL;
	return np_dest_parse(AF_UNSPEC, addr, (uint16_t)p, d);
}

static int parse_mode(const char *s, enum mode *ret)
{
	if (!strcmp(s, "tcp"))
		*ret = MODE_TCP;
	else if (!strcmp(s, "udp"))
		*ret = MODE_UDP;
	else if (!strcmp(s, "udp-sendto"))
		*ret = MODE_UDP_SENDTO;
	else
		return -EINVAL;
	return 0;
}

static const char *thread_name; /* --thread */

/* One attempt: 0, or negative errno. */
static int attempt(enum mode mode, const struct np_dest *d)
{
	static const np_probe_fn probes[] = {
	    [MODE_TCP] = np_probe_tcp_connect,
	    [MODE_UDP] = np_probe_udp_connect_send,
	    [MODE_UDP_SENDTO] = np_probe_udp_sendto,
	};

	return probes[mode](d);
}

struct thread_attempt {
	enum mode mode;
	const struct np_dest *d;
	int r;
};

static void *attempt_thread(void *arg)
{
	struct thread_attempt *a = arg;

	a->r = prctl(PR_SET_NAME, thread_name) < 0 ? -errno : attempt(a->mode, a->d);
	return NULL;
}

/* The attempt, from a thread named --thread if given. */
static int attempt_named(enum mode mode, const struct np_dest *d)
{
	struct thread_attempt a = {.mode = mode, .d = d};
	pthread_t t;
	int r;

	if (!thread_name)
		return attempt(mode, d);
	r = pthread_create(&t, NULL, attempt_thread, &a);
	if (r != 0)
		return -r;
	pthread_join(t, NULL);
	return a.r;
}

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Prints the time of the attempt, for latency measurements. */
static int run_once(enum mode mode, const struct np_dest *d, const char *what)
{
	long long t = realtime_ns();
	int r = attempt_named(mode, d);

	if (r == 0)
		printf("probe: %s: ok pid=%d t=%lld\n", what, getpid(), t);
	else
		printf("probe: %s: %s (%s, errno %d) pid=%d t=%lld\n", what, r == -EPERM ? "EPERM" : "error",
		       strerror(-r), -r, getpid(), t);
	return r == 0 ? EXIT_ALLOWED : r == -EPERM ? EXIT_DENIED : EXIT_ERROR;
}

static void set_port(struct np_dest *d, unsigned port)
{
	if (d->family == AF_INET)
		d->in.sin_port = htons((uint16_t)port);
	else
		d->in6.sin6_port = htons((uint16_t)port);
}

static int run_loop(enum mode mode, struct np_dest *d, unsigned first, unsigned last, long interval_us,
		    long count)
{
	struct timespec ts = {.tv_sec = interval_us / 1000000, .tv_nsec = (interval_us % 1000000) * 1000};
	unsigned long ok = 0, eperm = 0, other = 0;
	int last_other = 0;

	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	for (long i = 0; !stop && (count <= 0 || i < count); i++) {
		int r;

		set_port(d, first + (unsigned)(i % (long)(last - first + 1)));
		r = attempt(mode, d);
		if (r == -EINTR && stop)
			break; /* the stop signal cut this attempt short: not a result */

		if (r == 0)
			ok++;
		else if (r == -EPERM)
			eperm++;
		else {
			other++;
			last_other = -r;
		}
		if (interval_us > 0)
			nanosleep(&ts, NULL);
	}
	printf("ok=%lu eperm=%lu other=%lu%s%s\n", ok, eperm, other, other ? " last_error=" : "",
	       other ? strerror(last_other) : "");
	return EXIT_ALLOWED;
}

static int run_listen(const struct np_dest *d)
{
	int one = 1, fd;

	fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, &d->sa, d->len) < 0 || listen(fd, 1024) < 0) {
		fprintf(stderr, "probe: listen: %m\n");
		return EXIT_ERROR;
	}
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	while (!stop) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
	return EXIT_ALLOWED;
}

static int usage(void)
{
	fprintf(stderr, "usage: probe [--cgroup DIR] [--netns PATH] [--count N] [--thread NAME] "
			"tcp|udp|udp-sendto|loop MODE|listen|exec ...\n");
	return EXIT_ERROR;
}

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

/* Joins --cgroup and --netns; returns the index of the first non-option. */
static int setup(int argc, char **argv, long *count)
{
	int i, r;

	for (i = 1; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--cgroup"))
			r = np_sb_cgroup_join(argv[i + 1]);
		else if (!strcmp(argv[i], "--netns"))
			r = join_netns(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			r = (*count = strtol(argv[i + 1], NULL, 10)) > 0 ? 0 : -EINVAL;
		else if (!strcmp(argv[i], "--thread"))
			r = (thread_name = argv[i + 1])[0] ? 0 : -EINVAL;
		else
			r = -EINVAL;
		if (r < 0) {
			fprintf(stderr, "probe: %s %s: %s\n", argv[i], argv[i + 1], strerror(-r));
			return r;
		}
	}
	return i;
}

int main(int argc, char **argv)
{
	struct np_dest d;
	char what[256];
	enum mode mode;
	long count = 0;
	int i;

	i = setup(argc, argv, &count);
	if (i < 0 || i >= argc)
		return i < 0 ? EXIT_ERROR : usage();
	if (!strcmp(argv[i], "exec") && i + 1 < argc) {
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "probe: exec %s: %m\n", argv[i + 1]);
		return 127;
	}
	catch_signals();
	if (!strcmp(argv[i], "listen") && i + 2 < argc) {
		if (parse_addr(argv[i + 1], argv[i + 2], &d) < 0)
			return usage();
		return run_listen(&d);
	}
	if (!strcmp(argv[i], "loop") && i + 3 < argc) {
		unsigned first, last;
		char port[8];

		if (sscanf(argv[i + 3], "%u-%u", &first, &last) != 2)
			last = first = (unsigned)strtoul(argv[i + 3], NULL, 10);
		snprintf(port, sizeof(port), "%u", first);
		if (parse_mode(argv[i + 1], &mode) < 0 || parse_addr(argv[i + 2], port, &d) < 0 ||
		    last < first || last > 65535)
			return usage();
		return run_loop(mode, &d, first, last, i + 4 < argc ? strtol(argv[i + 4], NULL, 10) : 1000,
				count);
	}
	if (i + 2 >= argc || parse_mode(argv[i], &mode) < 0 || parse_addr(argv[i + 1], argv[i + 2], &d) < 0)
		return usage();
	snprintf(what, sizeof(what), "%s %s port %s", argv[i], argv[i + 1], argv[i + 2]);
	return run_once(mode, &d, what);
}
