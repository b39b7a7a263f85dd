/* SPDX-License-Identifier: GPL-2.0-only */
/* Test harness for the kernel tests: see harness.h. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NP_TEST_MAX_EVENTS 8192

struct np_test_env {
	char prog[64];
	unsigned flags;
	struct np_sandbox sb; /* sb.root is the attach cgroup */
	struct np_dataplane *dp;
	int tcp_fd, udp_fd;
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
	if (g_case.active && g_env && getpid() == g_env->sb.owner) {
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
	struct np_sb_spawn s = {
	    .argv = argv, .netns_fd = -EBADF, .out = out, .out_size = out_size, .timeout_ms = timeout_ms};

	return np_sb_spawn(g_env ? &g_env->sb : NULL, &s);
}

/* ---- network namespace ---- */

static void netns_setup(void)
{
	int fd, r;

	r = np_sb_netns_new(NULL, &fd);
	if (r == -EPERM || r == -EINVAL || r == -ENOSYS)
		np_test_skip("cannot create a network namespace");
	if (r == -EEXIST)
		np_test_die("network namespace not isolated (not only lo, or a route out): refusing to run");
	if (r < 0)
		np_test_die("network namespace: %s", strerror(-r));
	close(fd);
	r = np_sb_write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
	if (r < 0)
		np_test_die("ping_group_range: %s", strerror(-r));
	r = np_sb_write_file("/proc/sys/net/ipv4/tcp_fastopen", "3");
	if (r < 0)
		np_test_die("tcp_fastopen: %s", strerror(-r));
}

/* ---- cgroups ---- */

const char *np_test_cgroup(struct np_test_env *env, const char *rel, uint64_t *id)
{
	const char *path;
	int r;

	r = np_sb_cgroup(&env->sb, rel, &path);
	if (r < 0)
		np_test_die("cgroup %s: %s", rel, strerror(-r));
	if (id) {
		r = np_cgroup_id(path, id);
		if (r < 0)
			np_test_die("np_cgroup_id(%s): %s", path, strerror(-r));
	}
	return path;
}

uint64_t np_test_cgroup_id(struct np_test_env *env, const char *rel)
{
	char path[PATH_MAX];
	uint64_t id;
	int r;

	snprintf(path, sizeof(path), "%s/%s", env->sb.root, rel);
	r = np_cgroup_id(path, &id);
	if (r < 0)
		np_test_die("np_cgroup_id(%s): %s", path, strerror(-r));
	return id;
}

/* ---- teardown ---- */

void np_test_teardown(void)
{
	struct np_test_env *env = g_env;
	const char *pin_dir;
	int r;

	if (!env || env->torn_down || getpid() != env->sb.owner)
		return;
	env->torn_down = true;
	pin_dir = env->sb.pin_dir;

	np_sb_children_kill(&env->sb);
	if (env->tcp_fd >= 0)
		close(env->tcp_fd);
	if (env->udp_fd >= 0)
		close(env->udp_fd);
	env->tcp_fd = env->udp_fd = -EBADF;

	if (np_sb_cgroup_join(env->sb.orig_cgroup) < 0)
		fprintf(stderr, "teardown: cannot move back to %s\n", env->sb.orig_cgroup);

	if (!env->dp && access(pin_dir, F_OK) == 0) {
		/* pinned by someone else (np-loader): adopt to unpin */
		struct np_dataplane_opts o = {.pin_dir = pin_dir, .attach_cgroup = env->sb.root};

		if (np_dataplane_open(&o, &env->dp, NULL) < 0)
			env->dp = NULL;
	}
	if (env->dp) {
		r = np_dataplane_unpin(env->dp);
		if (r < 0)
			fprintf(stderr, "teardown: np_dataplane_unpin: %s\n", strerror(-r));
		env->dp = np_dataplane_free(env->dp);
	}
	if (access(pin_dir, F_OK) == 0) {
		fprintf(stderr, "teardown: %s still exists after unpin\n", pin_dir);
		rmdir(pin_dir);
	}
	if (np_sb_cgroups_remove(&env->sb) < 0)
		fprintf(stderr, "teardown: cannot remove every cgroup below %s\n", env->sb.root);
}

static void fatal_signal(int sig)
{
	np_test_teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- listeners ---- */

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

static int make_listeners(struct np_test_env *env)
{
	struct sockaddr_in6 a = {
	    .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT, .sin6_port = htons(NP_TEST_UDP_PORT)};
	int zero = 0, qlen = 64, rcvbuf = 4 << 20;

	env->tcp_fd = np_test_listen_tcp(env, NP_TEST_TCP_PORT);
	if (env->tcp_fd < 0)
		return env->tcp_fd;
	if (setsockopt(env->tcp_fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) < 0)
		return -errno;

	env->udp_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (env->udp_fd < 0)
		return -errno;
	setsockopt(env->udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(env->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(env->udp_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
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
	struct np_dataplane_opts o = {.pin_dir = env->sb.pin_dir, .attach_cgroup = env->sb.root};
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
	return env->sb.pin_dir;
}

const char *np_test_attach_cgroup(const struct np_test_env *env)
{
	return env->sb.root;
}

struct np_test_env *np_test_setup(const char *prog, unsigned flags)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				   SIGBUS, SIGABRT, SIGFPE, SIGILL};
	struct np_test_env *env;
	const char *path, *srv;
	int r;

	if (geteuid() != 0)
		np_test_skip("kernel tests need root");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* PATH for ip(8) */
	path = getenv("PATH");
	if (!path || !strstr(path, "/usr/sbin")) {
		char *np;

		if (asprintf(&np, "%s%s/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "", path ? ":" : "") < 0)
			abort();
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
	env->flags = flags;
	env->tcp_fd = env->udp_fd = -EBADF;

	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		np_test_skip("kernel has no BTF (/sys/kernel/btf/vmlinux)");
	r = np_sb_init(&env->sb, "netpol-test");
	if (r == -ENOMEDIUM)
		np_test_skip("no cgroup2 mount");
	if (r < 0)
		np_test_die("cannot set up the cgroups: %s", strerror(-r));

	g_env = env;
	atexit(np_test_teardown);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		signal(sigs[i], fatal_signal);
	signal(SIGPIPE, SIG_IGN);

	srv = np_test_cgroup(env, "srv", NULL);
	r = np_sb_cgroup_join(srv);
	if (r < 0)
		np_test_die("cannot move into %s: %s", srv, strerror(-r));

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

int np_test_worker_start(struct np_test_env *env, const char *rel, struct np_test_worker *w)
{
	char cg[PATH_MAX];
	struct np_sb_worker_opts o = {.cgroup = cg, .netns_fd = -EBADF, .comm = "np-worker"};

	*w = (struct np_test_worker){.env = env};
	snprintf(cg, sizeof(cg), "%s/%s", env->sb.root, rel);
	return np_sb_worker_start(&env->sb, &w->sb, &o);
}

void np_test_worker_stop(struct np_test_worker *w)
{
	if (w->env) /* else never started (zero-initialized) */
		np_sb_worker_stop(&w->env->sb, &w->sb);
}

int np_test_worker_send(struct np_test_worker *w, np_worker_fn fn, void *arg, size_t len)
{
	if (!w->env || np_sb_worker_send(&w->sb, fn, arg, len) < 0) {
		np_test_worker_stop(w);
		return NP_WORKER_FAILED;
	}
	return 0;
}

int np_test_worker_poll(struct np_test_worker *w, int timeout_ms, int *result)
{
	int r = w->env ? np_sb_worker_poll(&w->sb, timeout_ms, result) : -EPIPE;

	if (r < 0) {
		np_test_worker_stop(w);
		return NP_WORKER_FAILED;
	}
	return r;
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

static struct np_dest dest_or_die(int family, const char *ip, uint16_t port)
{
	struct np_dest d;

	if (np_dest_parse(family, ip, port, &d) < 0)
		np_test_die("bad IPv%c address '%s'", family == AF_INET ? '4' : '6', ip);
	return d;
}

struct np_dest np_dest_v4(const char *ip, uint16_t port)
{
	return dest_or_die(AF_INET, ip, port);
}

struct np_dest np_dest_v6(const char *ip, uint16_t port)
{
	return dest_or_die(AF_INET6, ip, port);
}

struct np_dest np_dest_mapped(const char *ipv4, uint16_t port)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "::ffff:%s", ipv4);
	return np_dest_v6(buf, port);
}

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

/* The same from a thread of the worker that renamed itself, as the worker
 * threads of resolvers and servers do. */
struct probe_thread_call {
	struct probe_call pc;
	char name[16];
	int result;
};

static void *probe_thread(void *arg)
{
	struct probe_thread_call *tc = arg;

	if (prctl(PR_SET_NAME, tc->name) < 0)
		tc->result = -errno;
	else
		tc->result = tc->pc.probe(&tc->pc.dest);
	return NULL;
}

static int probe_thread_trampoline(void *arg, size_t len)
{
	struct probe_thread_call *tc = arg;
	pthread_t t;
	int r;

	assert(len == sizeof(*tc));
	r = pthread_create(&t, NULL, probe_thread, tc);
	if (r != 0)
		return -r;
	pthread_join(t, NULL);
	return tc->result;
}

int np_test_worker_probe_thread(struct np_test_worker *w, const char *thread_name, np_probe_fn probe,
				const struct np_dest *d)
{
	struct probe_thread_call tc = {.pc = {.probe = probe, .dest = *d}};

	snprintf(tc.name, sizeof(tc.name), "%s", thread_name);
	return np_test_worker_call(w, probe_thread_trampoline, &tc, sizeof(tc), 10000);
}

int np_test_probe_in(struct np_test_env *env, const char *rel, np_probe_fn probe, const struct np_dest *d)
{
	struct probe_call pc = {.probe = probe, .dest = *d};

	return np_test_run_in(env, rel, probe_trampoline, &pc, sizeof(pc));
}
