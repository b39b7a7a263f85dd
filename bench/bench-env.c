/* SPDX-License-Identifier: GPL-2.0-only */
/* The benchmark's sandbox: see bench-env.h. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-env.h"
#include "bench-util.h"
#include "dataplane.h"

#define MAX_HOOKS 32

struct bench_env *bench_env;

static struct {
	struct {
		void (*fn)(void *arg);
		void *arg;
	} hooks[MAX_HOOKS];
	int n_hooks;
	int teardown; /* 0 not yet, 1 running, 2 done */
} g;

void bench_track_child(pid_t pid)
{
	if (np_sb_track_child(&bench_env->sb, pid) < 0)
		bench_die("too many child processes");
}

void bench_on_cleanup(void (*fn)(void *arg), void *arg)
{
	if (g.n_hooks == MAX_HOOKS)
		bench_die("too many cleanup hooks");
	g.hooks[g.n_hooks].fn = fn;
	g.hooks[g.n_hooks].arg = arg;
	g.n_hooks++;
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

void bench_teardown(void)
{
	struct bench_env *e = bench_env;

	if (!e || getpid() != e->sb.owner)
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
	np_sb_children_kill(&e->sb);
	(void)np_sb_cgroups_remove(&e->sb);
	if (e->sb.pin_dir)
		remove_tree(e->sb.pin_dir);
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
	const char *path;
	int r = np_sb_cgroup(&bench_env->sb, rel, &path);

	if (r < 0)
		bench_die("cannot create cgroup %s/%s: %s", bench_env->sb.root, rel, strerror(-r));
	return path;
}

/* ---- network namespaces ---- */

int bench_netns_enter(int idx)
{
	if (idx < 0 || idx >= bench_env->n_netns)
		return -EINVAL;
	return np_sb_netns_enter(bench_env->netns[idx]);
}

void bench_netns_verify(int idx)
{
	int r;

	if (bench_netns_enter(idx) < 0)
		bench_die("cannot enter namespace %s", bench_env->netns_name[idx]);
	r = np_sb_netns_verify();
	if (bench_netns_enter(0) < 0)
		bench_die("cannot return to the bench namespace");
	if (r < 0)
		bench_die("namespace %s is not isolated (an interface other than lo or a route out): "
			  "refusing to run (%s)",
			  bench_env->netns_name[idx], strerror(-r));
}

/* The calling thread gets the new namespace: keep an fd to it. */
static int netns_make(const char *name)
{
	int idx = bench_env->n_netns, r;

	if (idx == BENCH_MAX_NETNS)
		bench_die("too many namespaces");
	r = np_sb_netns_new(NULL, &bench_env->netns[idx]);
	if (r < 0)
		bench_die("cannot set up an isolated namespace %s (only lo, no route out): %s", name,
			  strerror(-r));
	bench_env->netns_name[idx] = strdup(name);
	return bench_env->n_netns++;
}

int bench_netns_new(const char *name)
{
	int idx = netns_make(name);

	if (bench_netns_enter(0) < 0)
		bench_die("cannot return to the bench namespace");
	return idx;
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

	r = np_sb_init(&e->sb, "netpol-bench");
	if (r < 0)
		bench_die("cannot create the bench cgroup below the cgroup2 mount: %s", strerror(-r));
	r = np_bpffs_ensure(e->sb.pin_dir);
	if (r < 0)
		bench_die("cannot create %s on bpffs: %s", e->sb.pin_dir, strerror(-r));
	e->tmp_dir = bench_asprintf("/tmp/netpol-bench-%d", (int)pid);
	if (mkdir(e->tmp_dir, 0700) < 0)
		bench_die("cannot create %s: %m", e->tmp_dir);
	return e;
}
