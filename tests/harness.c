/* SPDX-License-Identifier: GPL-2.0-only */
/* Test harness for the kernel tests: see harness.h. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef NP_HAVE_LIBURING
#include <liburing.h>
#endif

#include "harness.h"
#include "io-util.h"

extern char **environ;

#define NP_TEST_MAX_CGROUPS  512
#define NP_TEST_MAX_CHILDREN 256
#define NP_TEST_MAX_EVENTS   8192

struct np_test_env {
	char prog[64];
	pid_t owner;
	unsigned flags;
	char *cg_mount;
	char *cg_root;	   /* attach cgroup */
	char *orig_cgroup; /* where we came from */
	char pin_dir[PATH_MAX];
	char *cgroups[NP_TEST_MAX_CGROUPS]; /* known cgroups, in creation order */
	bool cg_ours[NP_TEST_MAX_CGROUPS];  /* created by us: remove at teardown */
	int n_cgroups;
	struct np_dataplane *dp;
	int tcp_fd, udp_fd;
	pid_t children[NP_TEST_MAX_CHILDREN];
	int n_children;
	struct np_event *events; /* ring of received events */
	size_t n_events, ev_head;
	bool events_open;
	unsigned passed, failed;
	unsigned printed; /* "ok"/"not ok" lines: the TAP plan */
	uint32_t next_policy_id;
	bool torn_down;
};

static struct np_test_env *g_env;

/* ---- small utilities ---- */

static void __attribute__((format(printf, 1, 2), noreturn)) np_test_die(const char *fmt, ...);

uint64_t np_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		return -errno;
	return 0;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

const char *np_test_strerr(int r)
{
	static char bufs[4][64]; /* a few calls may share one printf */
	static unsigned next;
	char *buf = bufs[next++ % 4];
	const char *name;

	if (r == 0)
		return "success";
	if (r == NP_WORKER_FAILED)
		return "worker failed/timed out";
	if (r > 0) {
		snprintf(buf, sizeof(bufs[0]), "%d", r);
		return buf;
	}
	name = strerrorname_np(-r);
	snprintf(buf, sizeof(bufs[0]), "%s", name ? name : strerror(-r));
	return buf;
}

/* ---- test case bookkeeping ---- */

static struct {
	bool active;
	bool failed;
	char reason[768];
	sigjmp_buf jmp;
} g_case;

void np_test_fail_at(int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (g_case.failed)
		return;
	g_case.failed = true;
	n = snprintf(g_case.reason, sizeof(g_case.reason), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(g_case.reason + n, sizeof(g_case.reason) - n, fmt, ap);
	va_end(ap);
}

bool np_test_case_failed(void)
{
	return g_case.failed;
}

/* A harness operation failed: inside a case, fail it and leave it; outside,
 * give up on the whole program. */
static void __attribute__((format(printf, 1, 2), noreturn)) np_test_die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_case.active && g_env && getpid() == g_env->owner) {
		np_test_fail_at(0, "harness: %s", msg);
		siglongjmp(g_case.jmp, 1);
	}
	printf("Bail out! %s\n", msg);
	fflush(stdout);
	exit(99);
}

/* Exit 0: under meson's TAP protocol any other status is an error, and
 * the empty plan already says "skipped". */
static void __attribute__((noreturn)) np_test_skip(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

void np_test_result(const char *name, bool ok, const char *reason)
{
	if (ok) {
		printf("ok - %s\n", name);
		if (g_env)
			g_env->passed++;
	} else {
		printf("not ok - %s: %s\n", name, reason ? reason : "failed");
		if (g_env)
			g_env->failed++;
	}
	if (g_env)
		g_env->printed++;
	fflush(stdout);
}

void np_test_run(struct np_test_env *env, const char *name, void (*fn)(struct np_test_env *env))
{
	g_case.failed = false;
	g_case.reason[0] = 0;
	g_case.active = true;
	if (sigsetjmp(g_case.jmp, 1) == 0)
		fn(env);
	g_case.active = false;
	np_test_result(name, !g_case.failed, g_case.reason);
}

int np_test_finish(struct np_test_env *env)
{
	printf("1..%u\n# %s: %u passed, %u failed\n", env->printed, env->prog, env->passed, env->failed);
	fflush(stdout);
	return env->failed == 0 ? 0 : 1;
}

/* ---- spawning commands ---- */

int np_test_spawn(char *const argv[], char *out, size_t out_size, int timeout_ms)
{
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rfd = -EBADF;
	int p[2], status, r;
	size_t used = 0;
	uint64_t deadline = np_test_now_ms() + timeout_ms;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	rfd = p[0];
	if (r != 0) {
		return -r;
	}
	if (g_env)
		np_test_track_child(g_env, pid);
	for (;;) {
		struct pollfd pfd = {.fd = rfd, .events = POLLIN};
		int64_t left = (int64_t)deadline - (int64_t)np_test_now_ms();
		char buf[1024];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(rfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (out && used + 1 < out_size) {
			size_t c = (size_t)n < out_size - 1 - used ? (size_t)n : out_size - 1 - used;

			memcpy(out + used, buf, c);
			used += c;
		}
	}
	if (out && out_size)
		out[used] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (g_env)
		np_test_untrack_child(g_env, pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -ECHILD;
}

static void run_or_die(const char *cmd)
{
	char *argv[32], *copy = strdup(cmd), *save = NULL, *tok;
	int argc = 0, r;

	for (tok = strtok_r(copy, " ", &save); tok && argc < 31; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	r = np_test_spawn(argv, NULL, 0, 10000);
	if (r != 0)
		np_test_die("'%s' failed: %d", cmd, r);
	free(copy);
}

/* ---- network namespace ---- */

static void netns_setup(void)
{
	char line[512];
	_cleanup_fclose_ FILE *f = NULL;
	int r, n;

	if (unshare(CLONE_NEWNET) < 0) {
		if (errno == EPERM || errno == EINVAL || errno == ENOSYS)
			np_test_skip("cannot create a network namespace");
		np_test_die("unshare(CLONE_NEWNET): %m");
	}
	run_or_die("ip link set lo up");
	run_or_die("ip addr add 203.0.113.1/32 dev lo");
	run_or_die("ip route add local 203.0.113.0/24 dev lo");
	run_or_die("ip route add local 198.51.100.0/24 dev lo");
	run_or_die("ip -6 addr add 2001:db8::1/128 dev lo");
	run_or_die("ip -6 route add local 2001:db8::/32 dev lo");
	r = write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
	if (r < 0)
		np_test_die("ping_group_range: %s", strerror(-r));
	r = write_file("/proc/sys/net/ipv4/tcp_fastopen", "3");
	if (r < 0)
		np_test_die("tcp_fastopen: %s", strerror(-r));

	/* Verify: only lo, and no default route. */
	f = fopen("/proc/net/dev", "re");
	if (!f)
		np_test_die("/proc/net/dev: %m");
	n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *name = line;

		if (!colon)
			continue;
		*colon = 0;
		while (*name == ' ')
			name++;
		if (strcmp(name, "lo") != 0)
			np_test_die("network namespace has interface '%s': refusing to run", name);
		n++;
	}
	if (n != 1)
		np_test_die("network namespace: expected only lo");
	fclose(f);
	f = fopen("/proc/net/route", "re");
	if (!f)
		np_test_die("/proc/net/route: %m");
	while (fgets(line, sizeof(line), f)) {
		char ifname[64], dest[64];

		if (sscanf(line, "%63s %63s", ifname, dest) == 2 && strcmp(dest, "00000000") == 0)
			np_test_die("network namespace has a default route: refusing to run");
	}
	fclose(f);
	f = fopen("/proc/net/ipv6_route", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char dest[64], plen[8], ifname[64];

			if (sscanf(line, "%63s %7s %*s %*s %*s %*s %*s %*s %*s %63s", dest, plen, ifname) ==
				3 &&
			    strcmp(ifname, "lo") != 0)
				np_test_die("IPv6 route via '%s': refusing to run", ifname);
		}
	}
}

/* ---- cgroups ---- */

static const char *record_cgroup(struct np_test_env *env, const char *path, bool ours)
{
	if (env->n_cgroups >= NP_TEST_MAX_CGROUPS)
		np_test_die("too many cgroups");
	env->cg_ours[env->n_cgroups] = ours;
	env->cgroups[env->n_cgroups] = strdup(path);
	return env->cgroups[env->n_cgroups++];
}

static int join_cgroup(const char *dir)
{
	char path[PATH_MAX], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(path, pid);
}

static char *original_cgroup(const char *mount)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX];

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = 0;
			return xasprintf("%s%s", mount, strcmp(line + 3, "/") == 0 ? "" : line + 3);
		}
	}
	return NULL;
}

const char *np_test_cgroup(struct np_test_env *env, const char *rel, uint64_t *id)
{
	char path[PATH_MAX], *p;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", env->cg_root, rel) >= (int)sizeof(path))
		np_test_die("cgroup path too long");
	/* mkdir -p, recording what we create */
	for (p = path + strlen(env->cg_root) + 1;; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;

			*p = 0;
			if (mkdir(path, 0755) == 0)
				record_cgroup(env, path, true);
			else if (errno != EEXIST)
				np_test_die("mkdir %s: %m", path);
			*p = c;
			if (c == 0)
				break;
		}
	}
	if (id) {
		r = np_cgroup_id(path, id);
		if (r < 0)
			np_test_die("np_cgroup_id(%s): %s", path, strerror(-r));
	}
	for (int i = env->n_cgroups - 1; i >= 0; i--)
		if (strcmp(env->cgroups[i], path) == 0)
			return env->cgroups[i];
	/* pre-existing: remember it, but it is not ours to remove */
	return record_cgroup(env, path, false);
}

uint64_t np_test_cgroup_id(struct np_test_env *env, const char *rel)
{
	char path[PATH_MAX];
	uint64_t id;
	int r;

	snprintf(path, sizeof(path), "%s/%s", env->cg_root, rel);
	r = np_cgroup_id(path, &id);
	if (r < 0)
		np_test_die("np_cgroup_id(%s): %s", path, strerror(-r));
	return id;
}

/* ---- children ---- */

void np_test_track_child(struct np_test_env *env, pid_t pid)
{
	if (env->n_children < NP_TEST_MAX_CHILDREN)
		env->children[env->n_children++] = pid;
}

void np_test_untrack_child(struct np_test_env *env, pid_t pid)
{
	for (int i = 0; i < env->n_children; i++)
		if (env->children[i] == pid) {
			env->children[i] = env->children[--env->n_children];
			return;
		}
}

/* ---- teardown ---- */

void np_test_teardown(void)
{
	struct np_test_env *env = g_env;

	if (!env || env->torn_down || getpid() != env->owner)
		return;
	env->torn_down = true;

	for (int i = 0; i < env->n_children; i++)
		kill(env->children[i], SIGKILL);
	for (int i = 0; i < env->n_children; i++)
		while (waitpid(env->children[i], NULL, 0) < 0 && errno == EINTR)
			;
	env->n_children = 0;
	if (env->tcp_fd >= 0)
		close(env->tcp_fd);
	if (env->udp_fd >= 0)
		close(env->udp_fd);
	env->tcp_fd = env->udp_fd = -EBADF;

	if (env->orig_cgroup && join_cgroup(env->orig_cgroup) < 0)
		fprintf(stderr, "teardown: cannot move back to %s\n", env->orig_cgroup);

	if (!env->dp && env->pin_dir[0] && access(env->pin_dir, F_OK) == 0) {
		/* pinned by someone else (np-loader): adopt to unpin */
		struct np_dataplane_opts o = {.pin_dir = env->pin_dir, .attach_cgroup = env->cg_root};

		if (np_dataplane_open(&o, &env->dp, NULL) < 0)
			env->dp = NULL;
	}
	if (env->dp) {
		int r = np_dataplane_unpin(env->dp);

		if (r < 0)
			fprintf(stderr, "teardown: np_dataplane_unpin: %s\n", strerror(-r));
		env->dp = np_dataplane_free(env->dp);
	}
	if (env->pin_dir[0] && access(env->pin_dir, F_OK) == 0) {
		fprintf(stderr, "teardown: %s still exists after unpin\n", env->pin_dir);
		rmdir(env->pin_dir);
	}

	for (int i = env->n_cgroups - 1; i >= 0; i--) {
		int tries = 0;

		if (!env->cg_ours[i])
			continue;
		while (rmdir(env->cgroups[i]) < 0 && errno == EBUSY && tries++ < 100)
			usleep(10000);
		if (access(env->cgroups[i], F_OK) == 0)
			fprintf(stderr, "teardown: cannot remove %s: %m\n", env->cgroups[i]);
	}
}

static void fatal_signal(int sig)
{
	np_test_teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- listeners ---- */

static int make_listeners(struct np_test_env *env)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	int zero = 0, one = 1, qlen = 64, rcvbuf = 4 << 20;

	env->tcp_fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (env->tcp_fd < 0)
		return -errno;
	setsockopt(env->tcp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(env->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin6_port = htons(NP_TEST_TCP_PORT);
	if (bind(env->tcp_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	if (setsockopt(env->tcp_fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) < 0)
		return -errno;
	if (listen(env->tcp_fd, 4096) < 0)
		return -errno;

	env->udp_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (env->udp_fd < 0)
		return -errno;
	setsockopt(env->udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(env->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	a.sin6_port = htons(NP_TEST_UDP_PORT);
	if (bind(env->udp_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

int np_test_listen_tcp(struct np_test_env *env, uint16_t port)
{
	struct sockaddr_in6 a = {
	    .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT, .sin6_port = htons(port)};
	int zero = 0, one = 1;
	_cleanup_close_ int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int np_test_tcp_listener(struct np_test_env *env)
{
	return env->tcp_fd;
}

int np_test_udp_listener(struct np_test_env *env)
{
	return env->udp_fd;
}

void np_test_tcp_drain(struct np_test_env *env)
{
	int fd;

	while ((fd = accept4(env->tcp_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

int np_test_tcp_accept(struct np_test_env *env, uint16_t peer_port, int timeout_ms)
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct pollfd pfd = {.fd = env->tcp_fd, .events = POLLIN};
		int64_t left;
		int fd = accept4(env->tcp_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

		if (fd >= 0) {
			uint16_t port = ss.ss_family == AF_INET6
					    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					    : ntohs(((struct sockaddr_in *)&ss)->sin_port);

			if (port == peer_port)
				return fd;
			close(fd);
			continue;
		}
		left = (int64_t)deadline - (int64_t)np_test_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		poll(&pfd, 1, (int)left);
	}
}

bool np_test_udp_seen(struct np_test_env *env, const char *token, int timeout_ms)
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;
	size_t tlen = strlen(token);

	for (;;) {
		char buf[2048];
		struct pollfd pfd = {.fd = env->udp_fd, .events = POLLIN};
		int64_t left;
		ssize_t n = recv(env->udp_fd, buf, sizeof(buf), 0);

		if (n >= 0) {
			if ((size_t)n == tlen && memcmp(buf, token, tlen) == 0)
				return true;
			continue;
		}
		left = (int64_t)deadline - (int64_t)np_test_now_ms();
		if (left <= 0)
			return false;
		poll(&pfd, 1, (int)left);
	}
}

void np_test_udp_drain(struct np_test_env *env)
{
	char buf[2048];

	while (recv(env->udp_fd, buf, sizeof(buf), 0) >= 0)
		;
}

/* ---- events and counters ---- */

static void on_event(const struct np_event *e, void *userdata)
{
	struct np_test_env *env = userdata;
	size_t slot = (env->ev_head + env->n_events) % NP_TEST_MAX_EVENTS;

	env->events[slot] = *e;
	if (env->n_events < NP_TEST_MAX_EVENTS)
		env->n_events++;
	else
		env->ev_head = (env->ev_head + 1) % NP_TEST_MAX_EVENTS;
}

static bool event_matches(const struct np_event *e, const struct np_event_match *m)
{
	if (m->cgroup_id && e->cgroup_id != m->cgroup_id)
		return false;
	if (m->policy_id && e->policy_id != m->policy_id)
		return false;
	if (m->verdict >= 0 && e->verdict != m->verdict)
		return false;
	if (m->hook && e->hook != m->hook)
		return false;
	if (m->port && e->port != m->port)
		return false;
	if (m->match_addr && memcmp(e->addr, m->addr, 16) != 0)
		return false;
	if (m->match_reason && e->reason != m->reason)
		return false;
	return true;
}

static int events_ensure(struct np_test_env *env)
{
	int r;

	if (env->events_open)
		return 0;
	if (!env->dp)
		return -ENODEV;
	r = np_dataplane_events_open(env->dp, on_event, env);
	if (r < 0)
		return r;
	env->events_open = true;
	return 0;
}

bool np_test_event_wait(struct np_test_env *env, const struct np_event_match *m, int timeout_ms,
			struct np_event *out)
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;
	int r = events_ensure(env);

	if (r < 0)
		np_test_die("np_dataplane_events_open: %s", strerror(-r));
	for (;;) {
		struct pollfd pfd = {.fd = np_dataplane_events_fd(env->dp), .events = POLLIN};
		int64_t left;

		r = np_dataplane_events_consume(env->dp, 0);
		if (r < 0)
			np_test_die("np_dataplane_events_consume: %s", strerror(-r));
		for (size_t i = 0; i < env->n_events; i++) {
			const struct np_event *e = &env->events[(env->ev_head + i) % NP_TEST_MAX_EVENTS];

			if (event_matches(e, m)) {
				if (out)
					*out = *e;
				return true;
			}
		}
		left = (int64_t)deadline - (int64_t)np_test_now_ms();
		if (left <= 0)
			return false;
		if (pfd.fd >= 0)
			poll(&pfd, 1, left > 50 ? 50 : (int)left);
		else
			usleep(10000);
	}
}

void np_test_events_clear(struct np_test_env *env)
{
	int r = events_ensure(env);

	if (r < 0)
		np_test_die("np_dataplane_events_open: %s", strerror(-r));
	np_dataplane_events_consume(env->dp, 0);
	env->n_events = env->ev_head = 0;
}

struct stats_find {
	struct np_stats_key key;
	struct np_stats_val val;
	bool found;
};

static int stats_cb(const struct np_stats_key *k, const struct np_stats_val *v, void *userdata)
{
	struct stats_find *sf = userdata;

	if (k->cgroup_id == sf->key.cgroup_id && memcmp(k->addr, sf->key.addr, 16) == 0 &&
	    k->port == sf->key.port && k->proto == sf->key.proto) {
		sf->val = *v;
		sf->found = true;
	}
	return 0;
}

bool np_test_stats_get(struct np_test_env *env, uint64_t cgroup_id, const uint8_t addr[16], uint16_t port,
		       uint8_t proto, struct np_stats_val *out)
{
	struct stats_find sf = {.key = {.cgroup_id = cgroup_id, .port = port, .proto = proto}};
	int r;

	memcpy(sf.key.addr, addr, 16);
	r = np_dataplane_stats_foreach(env->dp, stats_cb, &sf);
	if (r < 0)
		np_test_die("np_dataplane_stats_foreach: %s", strerror(-r));
	if (sf.found && out)
		*out = sf.val;
	return sf.found;
}

/* ---- setup ---- */

int np_test_open_dataplane(struct np_test_env *env, bool *adopted)
{
	struct np_dataplane_opts o = {.pin_dir = env->pin_dir, .attach_cgroup = env->cg_root};
	int r;

	if (env->dp)
		return 0;
	r = np_dataplane_open(&o, &env->dp, adopted);
	if (r < 0)
		env->dp = NULL;
	return r;
}

int np_test_close_dataplane(struct np_test_env *env, bool unpin)
{
	int r = 0;

	if (!env->dp)
		return -ENODEV;
	if (unpin)
		r = np_dataplane_unpin(env->dp);
	env->dp = np_dataplane_free(env->dp);
	env->events_open = false;
	return r;
}

void np_test_tally(struct np_test_env *env, bool ok)
{
	if (ok)
		env->passed++;
	else
		env->failed++;
}

struct np_dataplane *np_test_dp(struct np_test_env *env)
{
	return env->dp;
}

const char *np_test_pin_dir(const struct np_test_env *env)
{
	return env->pin_dir;
}

const char *np_test_attach_cgroup(const struct np_test_env *env)
{
	return env->cg_root;
}

struct np_test_env *np_test_setup(const char *prog, unsigned flags)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				   SIGBUS, SIGABRT, SIGFPE, SIGILL};
	struct np_test_env *env;
	const char *path;
	char *srv;
	int r;

	if (geteuid() != 0)
		np_test_skip("kernel tests need root");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* PATH for ip(8) */
	path = getenv("PATH");
	if (!path || !strstr(path, "/usr/sbin")) {
		char *np = xasprintf("%s%s/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "", path ? ":" : "");

		setenv("PATH", np, 1);
		free(np);
	}

	/* Before anything creates a socket. */
	netns_setup();

	env = calloc(1, sizeof(*env));
	env->events = calloc(NP_TEST_MAX_EVENTS, sizeof(*env->events));
	if (!env || !env->events)
		abort();
	snprintf(env->prog, sizeof(env->prog), "%s", prog);
	env->owner = getpid();
	env->flags = flags;
	env->tcp_fd = env->udp_fd = -EBADF;

	r = np_cgroup2_mount(&env->cg_mount);
	if (r == -ENOMEDIUM)
		np_test_skip("no cgroup2 mount");
	if (r < 0)
		np_test_die("np_cgroup2_mount: %s", strerror(-r));
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		np_test_skip("kernel has no BTF (/sys/kernel/btf/vmlinux)");
	env->orig_cgroup = original_cgroup(env->cg_mount);
	if (!env->orig_cgroup)
		np_test_die("cannot find our cgroup2 cgroup in /proc/self/cgroup");

	g_env = env;
	atexit(np_test_teardown);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		signal(sigs[i], fatal_signal);
	signal(SIGPIPE, SIG_IGN);

	env->cg_root = xasprintf("%s/netpol-test-%d", env->cg_mount, (int)env->owner);
	if (mkdir(env->cg_root, 0755) < 0)
		np_test_die("mkdir %s: %m", env->cg_root);
	record_cgroup(env, env->cg_root, true);
	snprintf(env->pin_dir, sizeof(env->pin_dir), "/sys/fs/bpf/netpol-test-%d", (int)env->owner);

	srv = xasprintf("%s/srv", env->cg_root);
	if (mkdir(srv, 0755) < 0)
		np_test_die("mkdir %s: %m", srv);
	record_cgroup(env, srv, true);
	r = join_cgroup(srv);
	if (r < 0)
		np_test_die("cannot move into %s: %s", srv, strerror(-r));
	free(srv);

	r = make_listeners(env);
	if (r < 0)
		np_test_die("listeners: %s", strerror(-r));

	if (!(flags & NP_TEST_NO_DATAPLANE)) {
		r = np_test_open_dataplane(env, NULL);
		/* root here: anything but "not supported" is a real failure */
		if (r == -EOPNOTSUPP || r == -ENOSYS)
			np_test_skip("the kernel cannot load these BPF programs");
		if (r < 0)
			np_test_die("np_dataplane_open: %s", strerror(-r));
		r = events_ensure(env);
		if (r < 0)
			np_test_die("np_dataplane_events_open: %s", strerror(-r));
	}
	return env;
}

/* ---- policies and bindings ---- */

int np_test_try_install_policy(struct np_test_env *env, uint32_t policy_id, const struct np_policy *p)
{
	struct np_compiled *c = NULL;
	struct np_error err = {};
	int r;

	r = np_policy_compile(p, &c, &err);
	if (r < 0)
		return r;
	r = np_dataplane_install(env->dp, policy_id, p->name, c);
	np_compiled_free(c);
	return r;
}

void np_test_install_policy(struct np_test_env *env, uint32_t policy_id, const struct np_policy *p)
{
	struct np_compiled *c = NULL;
	struct np_error err = {};
	int r;

	if (!env->dp)
		np_test_die("no data plane");
	r = np_policy_compile(p, &c, &err);
	if (r < 0)
		np_test_die("np_policy_compile: %s: %s: %s", strerror(-r), err.field, err.message);
	r = np_dataplane_install(env->dp, policy_id, p->name, c);
	np_compiled_free(c);
	if (r < 0)
		np_test_die("np_dataplane_install(%u): %s", policy_id, strerror(-r));
}

uint32_t np_test_policy_id(struct np_test_env *env)
{
	return ++env->next_policy_id;
}

uint32_t np_test_bound_worker(struct np_test_env *env, const char *rel, const char *json,
			      struct np_test_worker *w)
{
	uint32_t id = np_test_policy_id(env);
	int r;

	np_test_cgroup(env, rel, NULL);
	np_test_install(env, id, json);
	np_test_bind(env, rel, id);
	r = np_test_worker_start(env, rel, w);
	if (r < 0) {
		np_test_fail_at(__LINE__, "worker in %s: %s", rel, np_test_strerr(r));
		return 0;
	}
	return id;
}

void np_test_install(struct np_test_env *env, uint32_t policy_id, const char *json_text)
{
	struct np_policy *p = NULL;
	struct np_error err = {};
	int r;

	r = np_policy_from_string(json_text, &p, &err);
	if (r < 0)
		np_test_die("np_policy_from_string: %s: %s: %s (%s)", strerror(-r), err.field, err.message,
			    json_text);
	np_test_install_policy(env, policy_id, p);
	np_policy_free(p);
}

void np_test_bind(struct np_test_env *env, const char *rel, uint32_t policy_id)
{
	uint64_t id = np_test_cgroup_id(env, rel);
	int r = np_dataplane_bind(env->dp, id, policy_id);

	if (r < 0)
		np_test_die("np_dataplane_bind(%s, %u): %s", rel, policy_id, strerror(-r));
}

void np_test_unbind(struct np_test_env *env, const char *rel)
{
	uint64_t id = np_test_cgroup_id(env, rel);
	int r = np_dataplane_unbind(env->dp, id);

	if (r < 0)
		np_test_die("np_dataplane_unbind(%s): %s", rel, strerror(-r));
}

/* ---- workers ---- */

struct worker_req {
	np_worker_fn fn;
	uint32_t len;
};

struct worker_resp {
	int32_t result;
	uint32_t len;
};

static void __attribute__((noreturn)) worker_main(int req_fd, int resp_fd, const char *cgroup, pid_t parent)
{
	static uint8_t buf[NP_WORKER_ARG_MAX];
	int32_t ready;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "np-worker");
	for (size_t i = 0; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal(i, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	ready = join_cgroup(cgroup);
	if (np_write_full(resp_fd, &ready, sizeof(ready)) < 0 || ready < 0)
		_exit(1);
	for (;;) {
		struct worker_req rq;
		struct worker_resp rs;

		if (np_read_full(req_fd, &rq, sizeof(rq)) < 0)
			_exit(0);
		if (rq.len > sizeof(buf) || np_read_full(req_fd, buf, rq.len) < 0)
			_exit(2);
		rs.result = rq.fn(buf, rq.len);
		rs.len = rq.len;
		if (np_write_full(resp_fd, &rs, sizeof(rs)) < 0 || np_write_full(resp_fd, buf, rq.len) < 0)
			_exit(3);
	}
}

int np_test_worker_start(struct np_test_env *env, const char *rel, struct np_test_worker *w)
{
	int req[2], resp[2];
	char cg[PATH_MAX];
	pid_t parent = getpid(), pid;
	struct pollfd pfd;
	int32_t ready;

	*w = (struct np_test_worker){.env = env, .pid = -1, .req_fd = -EBADF, .resp_fd = -EBADF};
	snprintf(cg, sizeof(cg), "%s/%s", env->cg_root, rel);
	if (pipe2(req, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(resp, O_CLOEXEC) < 0) {
		close(req[0]);
		close(req[1]);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		worker_main(req[0], resp[1], cg, parent);
	}
	close(req[0]);
	close(resp[1]);
	w->pid = pid;
	w->req_fd = req[1];
	w->resp_fd = resp[0];
	np_test_track_child(env, pid);

	pfd = (struct pollfd){.fd = w->resp_fd, .events = POLLIN};
	if (poll(&pfd, 1, 5000) <= 0 || np_read_full(w->resp_fd, &ready, sizeof(ready)) < 0) {
		np_test_worker_stop(w);
		return -ECHILD;
	}
	if (ready < 0) {
		np_test_worker_stop(w);
		return ready;
	}
	return 0;
}

void np_test_worker_stop(struct np_test_worker *w)
{
	if (!w->env)
		return; /* never started (zero-initialized) */
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (w->env)
			np_test_untrack_child(w->env, w->pid);
	}
	w->pid = -1;
	if (w->req_fd >= 0)
		close(w->req_fd);
	if (w->resp_fd >= 0)
		close(w->resp_fd);
	w->req_fd = w->resp_fd = -EBADF;
}

int np_test_worker_send(struct np_test_worker *w, np_worker_fn fn, void *arg, size_t len)
{
	struct worker_req rq = {.fn = fn, .len = len};

	if (w->pid <= 0 || len > NP_WORKER_ARG_MAX)
		return NP_WORKER_FAILED;
	if (np_write_full(w->req_fd, &rq, sizeof(rq)) < 0 || (len && np_write_full(w->req_fd, arg, len) < 0)) {
		np_test_worker_stop(w);
		return NP_WORKER_FAILED;
	}
	w->pending_out = arg;
	w->pending_len = len;
	return 0;
}

int np_test_worker_poll(struct np_test_worker *w, int timeout_ms, int *result)
{
	struct pollfd pfd = {.fd = w->resp_fd, .events = POLLIN};
	struct worker_resp rs;
	int r;

	if (w->pid <= 0)
		return NP_WORKER_FAILED;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (np_read_full(w->resp_fd, &rs, sizeof(rs)) < 0 || rs.len != w->pending_len ||
	    (rs.len && np_read_full(w->resp_fd, w->pending_out, rs.len) < 0)) {
		np_test_worker_stop(w);
		return NP_WORKER_FAILED;
	}
	*result = rs.result;
	return 1;
}

int np_test_worker_call(struct np_test_worker *w, np_worker_fn fn, void *arg, size_t len, int timeout_ms)
{
	int r, result;

	r = np_test_worker_send(w, fn, arg, len);
	if (r < 0)
		return r;
	r = np_test_worker_poll(w, timeout_ms, &result);
	if (r <= 0) {
		np_test_worker_stop(w);
		return NP_WORKER_FAILED;
	}
	return result;
}

int np_test_run_in(struct np_test_env *env, const char *rel, np_worker_fn fn, void *arg, size_t len)
{
	_cleanup_worker_ struct np_test_worker w = {};
	int r;

	r = np_test_worker_start(env, rel, &w);
	if (r < 0)
		np_test_die("worker in %s: %s", rel, strerror(-r));
	return np_test_worker_call(&w, fn, arg, len, 30000);
}

/* ---- destinations ---- */

void np_dest_token(struct np_dest *d)
{
	static unsigned counter;

	snprintf(d->payload, sizeof(d->payload), "np-%d-%u-%u", (int)getpid(), counter++,
		 (unsigned)(np_test_now_ms() & 0xffff));
}

struct np_dest np_dest_v4(const char *ip, uint16_t port)
{
	struct np_dest d = {.family = AF_INET, .len = sizeof(struct sockaddr_in)};

	d.in.sin_family = AF_INET;
	d.in.sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &d.in.sin_addr) != 1)
		np_test_die("bad IPv4 address '%s'", ip);
	np_dest_token(&d);
	return d;
}

struct np_dest np_dest_v6(const char *ip, uint16_t port)
{
	struct np_dest d = {.family = AF_INET6, .len = sizeof(struct sockaddr_in6)};

	d.in6.sin6_family = AF_INET6;
	d.in6.sin6_port = htons(port);
	if (inet_pton(AF_INET6, ip, &d.in6.sin6_addr) != 1)
		np_test_die("bad IPv6 address '%s'", ip);
	np_dest_token(&d);
	return d;
}

struct np_dest np_dest_mapped(const char *ipv4, uint16_t port)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "::ffff:%s", ipv4);
	return np_dest_v6(buf, port);
}

static bool addr_is_v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, pfx, 12) == 0;
}

struct np_dest np_dest_from_addr(const uint8_t addr[16], uint16_t port, bool v4_on_v6)
{
	struct np_dest d = {};

	if (addr_is_v4mapped(addr) && !v4_on_v6) {
		d.family = AF_INET;
		d.len = sizeof(struct sockaddr_in);
		d.in.sin_family = AF_INET;
		d.in.sin_port = htons(port);
		memcpy(&d.in.sin_addr, addr + 12, 4);
	} else {
		d.family = AF_INET6;
		d.len = sizeof(struct sockaddr_in6);
		d.in6.sin6_family = AF_INET6;
		d.in6.sin6_port = htons(port);
		memcpy(&d.in6.sin6_addr, addr, 16);
	}
	np_dest_token(&d);
	return d;
}

void np_dest_addr16(const struct np_dest *d, uint8_t addr[16])
{
	if (d->family == AF_INET) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &d->in.sin_addr, 4);
	} else {
		memcpy(addr, &d->in6.sin6_addr, 16);
	}
}

uint16_t np_dest_port(const struct np_dest *d)
{
	return ntohs(d->family == AF_INET ? d->in.sin_port : d->in6.sin6_port);
}

const char *np_dest_str(const struct np_dest *d)
{
	static char buf[96];
	char a[INET6_ADDRSTRLEN];

	if (d->family == AF_INET) {
		inet_ntop(AF_INET, &d->in.sin_addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "%s:%u", a, np_dest_port(d));
	} else {
		inet_ntop(AF_INET6, &d->in6.sin6_addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "[%s]:%u", a, np_dest_port(d));
	}
	return buf;
}

/* ---- probes (run inside workers) ---- */

static void set_timeouts(int fd, int snd_ms, int rcv_ms)
{
	struct timeval tv;

	if (snd_ms) {
		tv = (struct timeval){.tv_sec = snd_ms / 1000, .tv_usec = (snd_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (rcv_ms) {
		tv = (struct timeval){.tv_sec = rcv_ms / 1000, .tv_usec = (rcv_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
}

int np_probe_tcp_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_timeouts(fd, 1000, 0);
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_connect_send(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* A broadcast destination is refused by connect() itself without it,
	 * before the policy is asked (it judges the first datagram). */
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	if (send(fd, d->payload, strlen(d->payload), 0) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_sendto(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (sendto(fd, d->payload, strlen(d->payload), 0, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_sendmmsg(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct np_dest copy = *d;
	struct iovec iov[2];
	struct mmsghdr m[2] = {};
	int r;

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		iov[i] = (struct iovec){.iov_base = copy.payload, .iov_len = strlen(copy.payload)};
		m[i].msg_hdr.msg_name = &copy.sa;
		m[i].msg_hdr.msg_namelen = copy.len;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, m, 2, 0);
	if (r < 0)
		return -errno;
	return r == 2 ? 0 : -EIO;
}

static uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An echo request: type, code, csum, id, seq, payload. */
static size_t build_echo(uint8_t *buf, bool v6, uint16_t id, uint16_t seq, bool csum)
{
	size_t len = 8 + 16;

	memset(buf, 0, len);
	buf[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	buf[4] = id >> 8;
	buf[5] = id & 0xff;
	buf[6] = seq >> 8;
	buf[7] = seq & 0xff;
	memcpy(buf + 8, "netpol-echo-test", 16);
	if (csum && !v6) {
		uint16_t c = inet_csum(buf, len);

		memcpy(buf + 2, &c, 2);
	}
	return len;
}

/* Wait for an echo reply; raw sockets see every ICMP packet (including our own
 * request on lo), ping sockets only replies to their id. */
static int wait_echo_reply(int fd, bool v6, bool raw_v4_hdr, int id, uint16_t seq, int timeout_ms)
{
	uint64_t deadline = np_test_now_ms() + timeout_ms;

	for (;;) {
		uint8_t buf[1500];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = (int64_t)deadline - (int64_t)np_test_now_ms();
		const uint8_t *icmp = buf;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			continue;
		if (raw_v4_hdr) {
			size_t ihl = (buf[0] & 0xf) * 4;

			if ((size_t)n < ihl + 8)
				continue;
			icmp = buf + ihl;
			n -= ihl;
		}
		if (n < 8)
			continue;
		if (icmp[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
			continue;
		if (id >= 0 && (icmp[4] << 8 | icmp[5]) != id)
			continue;
		if ((icmp[6] << 8 | icmp[7]) != seq)
			continue;
		return 0;
	}
}

static int ping_socket(const struct np_dest *d)
{
	return socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC,
		      d->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
}

int np_probe_ping_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = ping_socket(d);

	if (fd < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

int np_probe_ping_connect_echo(const struct np_dest *d)
{
	_cleanup_close_ int fd = ping_socket(d);
	bool v6 = d->family == AF_INET6;
	uint8_t pkt[64];
	size_t len;

	if (fd < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	len = build_echo(pkt, v6, 0, 1, false);
	if (send(fd, pkt, len, 0) < 0)
		return -errno;
	return wait_echo_reply(fd, v6, false, -1, 1, 300);
}

int np_probe_ping_sendto(const struct np_dest *d)
{
	_cleanup_close_ int fd = ping_socket(d);
	bool v6 = d->family == AF_INET6;
	uint8_t pkt[64];
	size_t len;

	if (fd < 0)
		return -errno;
	len = build_echo(pkt, v6, 0, 2, false);
	if (sendto(fd, pkt, len, 0, &d->sa, d->len) < 0)
		return -errno;
	return wait_echo_reply(fd, v6, false, -1, 2, 300);
}

static int raw_socket(const struct np_dest *d)
{
	return socket(d->family, SOCK_RAW | SOCK_CLOEXEC,
		      d->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
}

int np_probe_raw_socket(const struct np_dest *d)
{
	_cleanup_close_ int fd = raw_socket(d);

	return fd < 0 ? -errno : 0;
}

int np_probe_raw_icmp_sendto(const struct np_dest *d)
{
	_cleanup_close_ int fd = raw_socket(d);
	bool v6 = d->family == AF_INET6;
	uint16_t id = (uint16_t)(getpid() ^ np_test_now_ms());
	uint8_t pkt[64];
	size_t len;

	if (fd < 0)
		return -errno;
	len = build_echo(pkt, v6, id, 3, true);
	if (sendto(fd, pkt, len, 0, &d->sa, d->len) < 0)
		return -errno;
	return wait_echo_reply(fd, v6, !v6, id, 3, 300);
}

int np_probe_tcp_fastopen(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_timeouts(fd, 1000, 0);
	if (sendto(fd, d->payload, strlen(d->payload), MSG_FASTOPEN, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

#ifdef NP_HAVE_LIBURING
bool np_probe_have_uring(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

static int uring_one(int fd, bool connect_op, const struct np_dest *d)
{
	struct np_dest copy = *d;
	struct iovec iov = {.iov_base = copy.payload, .iov_len = strlen(copy.payload)};
	struct msghdr msg = {.msg_name = &copy.sa, .msg_namelen = copy.len, .msg_iov = &iov, .msg_iovlen = 1};
	struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 500000000};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int r;

	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0)
		return r;
	sqe = io_uring_get_sqe(&ring);
	if (connect_op)
		io_uring_prep_connect(sqe, fd, &copy.sa, copy.len);
	else
		io_uring_prep_sendmsg(sqe, fd, &msg, 0);
	r = io_uring_submit(&ring);
	if (r < 0)
		goto out;
	r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (r == -ETIME) {
		r = -ETIMEDOUT;
		goto out;
	}
	if (r < 0)
		goto out;
	r = cqe->res < 0 ? cqe->res : 0;
	io_uring_cqe_seen(&ring, cqe);
out:
	io_uring_queue_exit(&ring);
	return r;
}

int np_probe_uring_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return uring_one(fd, true, d);
}

int np_probe_uring_sendmsg(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return uring_one(fd, false, d);
}
#else
bool np_probe_have_uring(void)
{
	return false;
}

int np_probe_uring_connect(const struct np_dest *d)
{
	return -ENOSYS;
}

int np_probe_uring_sendmsg(const struct np_dest *d)
{
	return -ENOSYS;
}
#endif

/* A probe call through a worker: the function pointer and the destination
 * travel together (same binary, so the pointer is valid in the child). */
struct probe_call {
	np_probe_fn probe;
	struct np_dest dest;
};

static int probe_trampoline(void *arg, size_t len)
{
	struct probe_call *pc = arg;

	assert(len == sizeof(*pc));
	return pc->probe(&pc->dest);
}

int np_test_worker_probe(struct np_test_worker *w, np_probe_fn probe, const struct np_dest *d)
{
	struct probe_call pc = {.probe = probe, .dest = *d};

	return np_test_worker_call(w, probe_trampoline, &pc, sizeof(pc), 10000);
}

int np_test_probe_in(struct np_test_env *env, const char *rel, np_probe_fn probe, const struct np_dest *d)
{
	struct probe_call pc = {.probe = probe, .dest = *d};

	return np_test_run_in(env, rel, probe_trampoline, &pc, sizeof(pc));
}
