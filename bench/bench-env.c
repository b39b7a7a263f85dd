/* SPDX-License-Identifier: GPL-2.0-only */
/* The benchmark's sandbox: see bench-env.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-env.h"
#include "bench-util.h"
#include "dataplane.h"

#define MAX_CGROUPS	4096
#define MAX_CHILDREN	64
#define MAX_HOOKS	32
#define RTF_REJECT_FLAG 0x0200

struct bench_env *bench_env;

static struct {
	char *cgroups[MAX_CGROUPS]; /* in creation order */
	int n_cgroups;
	pid_t children[MAX_CHILDREN];
	struct {
		void (*fn)(void *arg);
		void *arg;
	} hooks[MAX_HOOKS];
	int n_hooks;
	int teardown; /* 0 not yet, 1 running, 2 done */
} g;

void bench_track_child(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (g.children[i] == 0) {
			g.children[i] = pid;
			return;
		}
	bench_die("too many child processes");
}

void bench_untrack_child(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (g.children[i] == pid)
			g.children[i] = 0;
}

void bench_on_cleanup(void (*fn)(void *arg), void *arg)
{
	if (g.n_hooks == MAX_HOOKS)
		bench_die("too many cleanup hooks");
	g.hooks[g.n_hooks].fn = fn;
	g.hooks[g.n_hooks].arg = arg;
	g.n_hooks++;
}

int bench_cgroup_join(const char *path)
{
	_cleanup_free_ char *procs = bench_asprintf("%s/cgroup.procs", path);

	return bench_write_file(procs, "0");
}

int bench_cgroup_id(const char *path, uint64_t *ret)
{
	return np_cgroup_id(path, ret);
}

/* Processes still in a cgroup (ours, if a kill raced) go to the original
 * cgroup so that rmdir can succeed. */
static void cgroup_evacuate(const char *path)
{
	_cleanup_free_ char *procs = bench_asprintf("%s/cgroup.procs", path);
	_cleanup_free_ char *dst = bench_asprintf("%s/cgroup.procs", bench_env->orig_cgroup);
	_cleanup_fclose_ FILE *f = fopen(procs, "re");
	char line[32];

	while (f && fgets(line, sizeof(line), f))
		(void)bench_write_file(dst, line);
}

static void cgroups_remove(void)
{
	for (int i = g.n_cgroups - 1; i >= 0; i--) {
		if (rmdir(g.cgroups[i]) < 0 && errno == EBUSY) {
			cgroup_evacuate(g.cgroups[i]);
			(void)rmdir(g.cgroups[i]);
		}
		free(g.cgroups[i]);
	}
	g.n_cgroups = 0;
}

/* Depth-first removal of a directory we created (bpffs pins, scratch). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = bench_asprintf("%s/%s", path, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(path);
}

static void children_kill(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (g.children[i] <= 0)
			continue;
		kill(g.children[i], SIGKILL);
		while (waitpid(g.children[i], NULL, 0) < 0 && errno == EINTR)
			;
		g.children[i] = 0;
	}
}

void bench_teardown(void)
{
	struct bench_env *e = bench_env;

	if (!e || getpid() != e->owner)
		return;
	/* A fatal signal may land on another thread while this one exits:
	 * the second caller waits for the first, so that exit never cuts a
	 * cleanup short. */
	if (__atomic_exchange_n(&g.teardown, 1, __ATOMIC_SEQ_CST) != 0) {
		while (__atomic_load_n(&g.teardown, __ATOMIC_SEQ_CST) != 2)
			usleep(10000);
		return;
	}
	while (g.n_hooks > 0) {
		g.n_hooks--;
		g.hooks[g.n_hooks].fn(g.hooks[g.n_hooks].arg);
	}
	children_kill();
	if (e->orig_cgroup)
		(void)bench_cgroup_join(e->orig_cgroup);
	cgroups_remove();
	if (e->pin_root)
		remove_tree(e->pin_root);
	if (e->tmp_dir && !e->keep_tmp)
		remove_tree(e->tmp_dir);
	__atomic_store_n(&g.teardown, 2, __ATOMIC_SEQ_CST);
}

static void on_signal(int sig)
{
	/* Cleaning up already (perhaps in the code this interrupted): let it
	 * finish; the process exits when it is done. */
	if (__atomic_load_n(&g.teardown, __ATOMIC_SEQ_CST) != 0)
		return;
	bench_teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signal_handlers(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGABRT, SIGFPE};
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	/* A worker that died leaves a pipe whose write must not kill us. */
	signal(SIGPIPE, SIG_IGN);
}

const char *bench_cgroup(const char *rel)
{
	_cleanup_free_ char *copy = strdup(rel);
	char *path = NULL, *slash;

	if (!copy)
		abort();
	/* Parents first, each one tracked once. */
	for (slash = copy;; slash++) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		free(path);
		path = bench_asprintf("%s/%s", bench_env->root, copy);
		if (mkdir(path, 0755) == 0) {
			if (g.n_cgroups == MAX_CGROUPS)
				bench_die("too many cgroups");
			g.cgroups[g.n_cgroups++] = strdup(path);
		} else if (errno != EEXIST) {
			bench_die("cannot create cgroup %s: %m", path);
		}
		if (!slash)
			break;
		*slash = '/';
	}
	/* Owned by the cgroup list (the last entry matching it). */
	for (int i = g.n_cgroups - 1; i >= 0; i--)
		if (strcmp(g.cgroups[i], path) == 0) {
			free(path);
			return g.cgroups[i];
		}
	return path; /* existed before: leaked, but only for pre-existing paths */
}

/* ---- network namespaces ---- */

static const char *const ns_setup[][8] = {
    {"ip", "link", "set", "lo", "up", NULL},
    {"ip", "addr", "add", "203.0.113.1/32", "dev", "lo", NULL},
    {"ip", "route", "add", "local", "203.0.113.0/24", "dev", "lo", NULL},
    {"ip", "addr", "add", "198.51.100.1/32", "dev", "lo", NULL},
    {"ip", "route", "add", "local", "198.51.100.0/24", "dev", "lo", NULL},
    {"ip", "-6", "addr", "add", "2001:db8::1/128", "dev", "lo", "nodad"},
    {"ip", "-6", "route", "add", "local", "2001:db8::/32", "dev", "lo"},
};

static int netns_configure(int fd)
{
	for (size_t i = 0; i < ELEMENTSOF(ns_setup); i++) {
		const char *argv[10] = {0};
		struct bench_spawn s = {.argv = (char *const *)argv, .netns_fd = fd, .timeout_ms = 10000};
		int r;

		memcpy(argv, ns_setup[i], sizeof(ns_setup[i]));
		r = bench_spawn_wait(&s);
		if (r != 0)
			return r < 0 ? r : -EIO;
	}
	return 0;
}

/* Only lo: interfaces are listed by if_nameindex() in the calling thread's
 * namespace. */
static int check_interfaces(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int r = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++)
		if (strcmp(i->if_name, "lo") != 0) {
			fprintf(stderr, "netpol-bench: interface %s in the bench namespace\n", i->if_name);
			r = -EPERM;
		}
	if_freenameindex(ifs);
	return r;
}

/* IPv4: every route on lo, none of them a default route. */
static int check_routes4(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/route", "re");
	char line[512], ifname[64];
	unsigned dst, gw, flags, mask;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifname, &dst, &gw, &flags, &mask) != 5)
			return -EINVAL;
		if (strcmp(ifname, "lo") != 0 || (dst == 0 && mask == 0))
			return -EPERM;
	}
	return 0;
}

/* IPv6: every route on lo; a ::/0 is allowed only as the kernel's
 * "unreachable" placeholder (RTF_REJECT). */
static int check_routes6(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/ipv6_route", "re");
	char line[512], dst[40], ifname[64];
	unsigned plen, flags;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %x %63s", dst, &plen, &flags, ifname) != 4)
			return -EINVAL;
		if (strcmp(ifname, "lo") != 0)
			return -EPERM;
		if (plen == 0 && !(flags & RTF_REJECT_FLAG))
			return -EPERM;
	}
	return 0;
}

int bench_netns_enter(int idx)
{
	if (idx < 0 || idx >= bench_env->n_netns)
		return -EINVAL;
	if (setns(bench_env->netns[idx], CLONE_NEWNET) < 0)
		return -errno;
	return 0;
}

void bench_netns_verify(int idx)
{
	int r;

	if (bench_netns_enter(idx) < 0)
		bench_die("cannot enter namespace %s", bench_env->netns_name[idx]);
	r = check_interfaces();
	if (r == 0)
		r = check_routes4();
	if (r == 0)
		r = check_routes6();
	if (bench_netns_enter(0) < 0)
		bench_die("cannot return to the bench namespace");
	if (r < 0)
		bench_die("namespace %s is not isolated (an interface other than lo or a route out): "
			  "refusing to run (%s)",
			  bench_env->netns_name[idx], strerror(-r));
}

/* unshare() gives the calling thread a fresh namespace: keep an fd to it. */
static int netns_make(const char *name)
{
	int idx = bench_env->n_netns, fd, r;

	if (idx == BENCH_MAX_NETNS)
		bench_die("too many namespaces");
	if (unshare(CLONE_NEWNET) < 0)
		bench_die("unshare(CLONE_NEWNET): %m");
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_die("open own netns: %m");
	bench_env->netns[idx] = fd;
	bench_env->netns_name[idx] = strdup(name);
	bench_env->n_netns++;
	r = netns_configure(fd);
	if (r < 0 || r > 0)
		bench_die("cannot set up namespace %s with ip(8) (%d)", name, r);
	bench_netns_verify(idx);
	return idx;
}

int bench_netns_new(const char *name)
{
	int idx = netns_make(name);

	if (bench_netns_enter(0) < 0)
		bench_die("cannot return to the bench namespace");
	return idx;
}

/* "0::/path" from /proc/self/cgroup. */
static char *own_cgroup(const char *cg2)
{
	_cleanup_free_ char *text = NULL;
	char *line;

	if (bench_read_file("/proc/self/cgroup", &text) < 0)
		return NULL;
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "0::", 3) == 0)
			return bench_asprintf("%s%s", cg2, strcmp(line + 3, "/") == 0 ? "" : line + 3);
	return NULL;
}

struct bench_env *bench_env_setup(void)
{
	struct bench_env *e = calloc(1, sizeof(*e));
	pid_t pid = getpid();
	int r;

	if (!e)
		abort();
	if (geteuid() != 0)
		bench_die("needs root: it loads BPF programs, creates cgroups and network namespaces");
	e->owner = pid;
	bench_env = e;
	install_signal_handlers();
	atexit(bench_teardown);

	/* Only visible in the initial namespace. */
	e->jit = -1;
	{
		_cleanup_free_ char *jit = NULL;

		if (bench_read_file("/proc/sys/net/core/bpf_jit_enable", &jit) == 0)
			e->jit = atoi(jit);
	}
	/* First of all: no socket of ours may ever exist outside it. */
	netns_make("bench");

	r = np_cgroup2_mount(&e->cg2);
	if (r < 0)
		bench_die("no cgroup2 mount: %s", strerror(-r));
	e->orig_cgroup = own_cgroup(e->cg2);
	if (!e->orig_cgroup)
		bench_die("cannot read the process's cgroup2 path");
	e->root = bench_asprintf("%s/netpol-bench-%d", e->cg2, (int)pid);
	if (mkdir(e->root, 0755) < 0)
		bench_die("cannot create %s: %m", e->root);
	g.cgroups[g.n_cgroups++] = strdup(e->root);

	e->pin_root = bench_asprintf("/sys/fs/bpf/netpol-bench-%d", (int)pid);
	r = np_bpffs_ensure(e->pin_root);
	if (r < 0)
		bench_die("cannot create %s on bpffs: %s", e->pin_root, strerror(-r));
	e->tmp_dir = bench_asprintf("/tmp/netpol-bench-%d", (int)pid);
	if (mkdir(e->tmp_dir, 0700) < 0)
		bench_die("cannot create %s: %m", e->tmp_dir);
	return e;
}
