/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold under the benchmark: started as a child with its own socket,
 * state directory, pin directory (below the bench's bpffs directory) and
 * attach cgroup (below the bench cgroup), driven through its control
 * protocol (docs/protocol.md) and through netpolctl, and stopped at exit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <jansson.h>

struct np_conn;

struct bench_daemon {
	pid_t pid;
	const char *netpold, *netpolctl;
	char *sock, *state_dir, *pin_dir, *log, *conf;
	char *attach_cgroup; /* absolute */
	struct np_conn *conn; /* NULL until the first request */
	uint64_t next_id;
};

/* Starts netpold and waits (at most 20 s) until it answers `status`. */
int bench_daemon_start(struct bench_daemon *d, const char *netpold, const char *netpolctl,
		       const char *attach_cgroup);
void bench_daemon_stop(struct bench_daemon *d);
/* The last lines of its log, for error messages (static buffer). */
const char *bench_daemon_log_tail(const struct bench_daemon *d);

/* One request; *result (may be NULL) gets the reply's result object.
 * A reply with "ok": false is -EBADMSG, its message in err (may be NULL). */
int bench_daemon_call(struct bench_daemon *d, const char *command, json_t *params, json_t **result, char *err,
		      size_t err_size);
/* n requests sent before their replies are read (in batches); the number
 * of failed replies in *failed. params[i] are stolen. */
int bench_daemon_call_many(struct bench_daemon *d, const char *command, json_t **params, size_t n,
			   size_t *failed);
/* netpolctl --socket S ARGS...: its exit status, stdout+stderr in out. */
int bench_netpolctl(struct bench_daemon *d, char *out, size_t out_size, const char *const *args);

/* A second connection following `violations` of one target: sums the
 * counts of every violation event (first occurrences and folded repeats)
 * and the events the daemon said this follower missed. */
struct bench_follow {
	struct bench_daemon *d;
	char *target;
	struct np_conn *conn; /* its socket read here, past the first reply */
	pthread_t thread;
	volatile int stop;
	uint64_t events, counted, missed;
	int err;
};
int bench_follow_start(struct bench_daemon *d, const char *target, struct bench_follow *f);
void bench_follow_stop(struct bench_follow *f);

/* From /proc: resident set (VmRSS) and its peak (VmHWM) in KiB, and the
 * CPU time used (user + system) in nanoseconds. */
int bench_proc_mem_kb(pid_t pid, long *rss_kb, long *hwm_kb);
int bench_proc_cpu_ns(pid_t pid, uint64_t *ret);
