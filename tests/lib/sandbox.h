/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sandbox the kernel tests, the integration probe and the benchmark share:
 *   - network namespaces with only lo, where 203.0.113.0/24, 198.51.100.0/24
 *     and 2001:db8::/32 are routed "local", verified to have no way out;
 *   - cgroups below <cgroup2 mount>/<name>-<pid>, removed newest first;
 *   - children (commands and workers) tracked so that cleanup kills them;
 *   - workers: forked children that join a cgroup (and a namespace) before
 *     anything else and then run function calls sent over a pipe, so state
 *     (open sockets) lives in the worker across calls.
 * Functions return negative errno; nothing here prints or exits, the caller
 * decides what a failure means.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NP_SB_MAX_CGROUPS  4096
#define NP_SB_MAX_CHILDREN 256

struct np_sandbox {
	pid_t owner;
	char *cg2;	   /* cgroup2 mount point */
	char *root;	   /* <cg2>/<name>-<pid>: every cgroup is below it */
	char *orig_cgroup; /* where the process came from */
	char *pin_dir;	   /* /sys/fs/bpf/<name>-<pid> (not created here) */
	char *cgroups[NP_SB_MAX_CGROUPS];
	bool cg_ours[NP_SB_MAX_CGROUPS]; /* created by us: removed at cleanup */
	int n_cgroups;
	pid_t children[NP_SB_MAX_CHILDREN];
	int n_children;
};

uint64_t np_sb_now_ns(void);
uint64_t np_sb_now_ms(void);
/* Write text to an existing file (procfs, cgroupfs). */
int np_sb_write_file(const char *path, const char *text);

/* Finds cgroup2 (-ENOMEDIUM without it) and our cgroup, creates the root. */
int np_sb_init(struct np_sandbox *sb, const char *name);

/* <root>/<rel> and its missing parents, created; *ret is owned by sb. */
int np_sb_cgroup(struct np_sandbox *sb, const char *rel, const char **ret);
/* Move the calling process (all its threads) into a cgroup. */
int np_sb_cgroup_join(const char *path);
/* Back to the original cgroup, then rmdir what we created, newest first;
 * a cgroup still busy is emptied into the original one and retried. */
int np_sb_cgroups_remove(struct np_sandbox *sb);

int np_sb_track_child(struct np_sandbox *sb, pid_t pid); /* -ENOSPC when full */
void np_sb_untrack_child(struct np_sandbox *sb, pid_t pid);
/* SIGKILL and reap every tracked child. */
void np_sb_children_kill(struct np_sandbox *sb);

/* Gives the calling thread a new network namespace (lo up, the local
 * ranges), verifies it and returns an fd to it; the thread stays in it. */
int np_sb_netns_new(struct np_sandbox *sb, int *ret_fd);
/* -EEXIST unless the calling thread's namespace has only lo and no route out. */
int np_sb_netns_verify(void);
int np_sb_netns_enter(int fd); /* calling thread only */

struct np_sb_spawn {
	char *const *argv;	/* argv[0] is searched in PATH */
	int netns_fd;		/* >=0: the child enters this network namespace */
	const char *stdin_path; /* NULL: /dev/null */
	char *out;		/* captured stdout (and stderr if merge), may be NULL */
	size_t out_size;
	bool merge_stderr; /* stderr into out too; else stderr is inherited */
	int timeout_ms;	   /* 0: no limit */
};
/* Run a command to completion (tracked in sb if not NULL). Returns its exit
 * status (0..255), or negative errno (-ETIMEDOUT, -ECHILD on death by signal). */
int np_sb_spawn(struct np_sandbox *sb, struct np_sb_spawn *s);

/* ---- workers ---- */

/* fn gets a copy of arg (len bytes, at most NP_SB_ARG_MAX); it may modify
 * it, and the modified bytes come back with the int result. Same binary, so
 * the pointer is valid in the child. */
#define NP_SB_ARG_MAX 4096
typedef int (*np_sb_fn)(void *arg, size_t len);

struct np_sb_worker {
	pid_t pid;
	int req_fd;  /* parent -> child */
	int resp_fd; /* child -> parent */
	size_t pending_len;
	void *pending_out;
};

struct np_sb_worker_opts {
	const char *cgroup; /* absolute path, joined first */
	int netns_fd;	    /* >=0: entered next */
	const char *comm;
	/* Runs in the child after both; a negative result ends the worker. */
	int (*init)(void *userdata);
	void *userdata;
};

/* Forks a worker and waits until it is in place (or -ECHILD/its error). */
int np_sb_worker_start(struct np_sandbox *sb, struct np_sb_worker *w, const struct np_sb_worker_opts *o);
/* Kills and reaps; a no-op on a worker that is not running. */
void np_sb_worker_stop(struct np_sandbox *sb, struct np_sb_worker *w);
/* Asynchronous: send now; arg must stay valid until the answer arrives. */
int np_sb_worker_send(struct np_sb_worker *w, np_sb_fn fn, void *arg, size_t len);
/* 1 and *result when the answer arrived, 0 on timeout (<0: wait forever),
 * -EPIPE if the worker is gone. */
int np_sb_worker_poll(struct np_sb_worker *w, int timeout_ms, int *result);
