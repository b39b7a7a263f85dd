/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The benchmark's sandbox (tests/lib/sandbox.h). bench_env_setup() must run
 * before any socket exists. It moves the process into a new network
 * namespace (only lo, the local ranges, no route out), creates
 * <cgroup2 mount>/netpol-bench-<pid> (every cgroup of the run is below it),
 * /sys/fs/bpf/netpol-bench-<pid> (every pin) and a scratch directory
 * /tmp/netpol-bench-<pid>, and removes them all at exit, on a fatal signal
 * and on failure: cleanup hooks first (newest first), then tracked children,
 * then cgroups. Further namespaces (one per nftables / iptables ruleset) are
 * made the same way and die with the process, taking their rules with them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

#define BENCH_MAX_NETNS 16

struct bench_env {
	struct np_sandbox sb; /* sb.root: <cg2>/netpol-bench-<pid>, sb.pin_dir: its bpffs twin */
	char *tmp_dir;	      /* /tmp/netpol-bench-<pid> */
	int netns[BENCH_MAX_NETNS];
	char *netns_name[BENCH_MAX_NETNS];
	int n_netns; /* netns[0] is the plain one the process lives in */
	bool keep_tmp;
	int jit; /* net.core.bpf_jit_enable, read before leaving the host namespace */
};

extern struct bench_env *bench_env;

/* Sets up everything above; dies with a reason when it cannot. */
struct bench_env *bench_env_setup(void);
/* A new namespace like the first (lo only, local ranges), verified; the
 * calling thread stays in the plain one. Returns its index. */
int bench_netns_new(const char *name);
/* Refuses (dies) unless the namespace has only lo and no default route. */
void bench_netns_verify(int idx);
/* Enter a namespace by index (calling thread only). */
int bench_netns_enter(int idx);

/* <root>/<rel>, created (with parents) and removed at teardown. */
const char *bench_cgroup(const char *rel);

/* Kill (SIGKILL) and reap at teardown unless untracked first
 * (np_sb_untrack_child()); dies when too many are tracked. */
void bench_track_child(pid_t pid);

/* Cleanup hooks run at teardown, newest first. */
void bench_on_cleanup(void (*fn)(void *arg), void *arg);

/* Idempotent; atexit and the signal handlers call it. */
void bench_teardown(void);
