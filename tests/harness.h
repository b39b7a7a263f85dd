/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test harness for the kernel tests (test-bpf-*, test-escapes, test-diff, test-adopt).
 *
 * np_test_setup() must be the first thing main() does. It enters a new
 * network namespace (before any socket exists), creates the attach cgroup
 * <cgroup2 mount>/netpol-test-<pid> and names the pin directory
 * /sys/fs/bpf/netpol-test-<pid> (the sandbox: tests/lib/sandbox.h); moves the
 * test process into <attach cgroup>/srv, which is never bound, and creates
 * the listeners there (TCP [::]:80 with TCP_FASTOPEN, UDP [::]:9999), so they
 * are never policed; opens the data plane (unless NP_TEST_NO_DATAPLANE) and
 * its events. On exit (atexit, fatal signals) it kills its children, moves
 * back to its original cgroup, unpins the data plane and removes its cgroups.
 *
 * Client actions run in workers that join a cgroup below the attach cgroup
 * first: policy follows the cgroup a socket was created in, and the
 * sock_addr hooks judge the current task's cgroup.
 *
 * Only 203.0.113.0/24, 198.51.100.0/24, 127.0.0.0/8, 2001:db8::/32 and ::1
 * are ever used as destinations.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cleanup-util.h"
#include "dataplane.h"
#include "netpol-api.h"
#include "policy.h"
#include "probes.h"
#include "sandbox.h"

#define NP_TEST_TCP_PORT 80   /* dual-stack TCP listener (TFO enabled) */
#define NP_TEST_UDP_PORT 9999 /* dual-stack UDP listener */

enum {
	NP_TEST_NO_DATAPLANE = 1 << 0, /* do not open the data plane in setup */
};

struct np_test_env;

/* ---- environment ---- */

/* Sets everything up (see above); prints a TAP skip plan and exits 0 if not
 * root or the kernel lacks cgroup2/BPF, bails out (exit 99) on any other
 * failure. */
struct np_test_env *np_test_setup(const char *prog, unsigned flags);
/* Opens (or adopts) the data plane if setup did not. *adopted may be NULL. */
int np_test_open_dataplane(struct np_test_env *env, bool *adopted);
/* Closes our fds (after unpinning if unpin): without pins and fds the
 * programs detach. Workers forked while it was open still hold copies. */
int np_test_close_dataplane(struct np_test_env *env, bool unpin);
struct np_dataplane *np_test_dp(struct np_test_env *env);
const char *np_test_pin_dir(const struct np_test_env *env);
const char *np_test_attach_cgroup(const struct np_test_env *env);
/* Idempotent; also runs from atexit and the signal handlers. */
void np_test_teardown(void);

/* Create <attach cgroup>/<rel> (and missing parents); id may be NULL. Aborts
 * on failure. Returns the absolute path (owned by env). */
const char *np_test_cgroup(struct np_test_env *env, const char *rel, uint64_t *id);
/* The id of an existing test cgroup. */
uint64_t np_test_cgroup_id(struct np_test_env *env, const char *rel);

/* A policy id no earlier call returned (1, 2, ...). */
uint32_t np_test_policy_id(struct np_test_env *env);

/* Parse + compile + install; aborts on error. */
void np_test_install(struct np_test_env *env, uint32_t policy_id, const char *json_text);
void np_test_install_policy(struct np_test_env *env, uint32_t policy_id, const struct np_policy *p);
/* Same, returning negative errno instead of aborting (for tight loops). */
int np_test_try_install_policy(struct np_test_env *env, uint32_t policy_id, const struct np_policy *p);
void np_test_bind(struct np_test_env *env, const char *rel, uint32_t policy_id);
void np_test_unbind(struct np_test_env *env, const char *rel);

/* Run a command (argv[0] searched in PATH + /usr/sbin:/sbin), capture its
 * stdout (NUL-terminated, into out if not NULL). Returns the exit status
 * (0..255) or negative errno / -ECHILD for death by signal. */
int np_test_spawn(char *const argv[], char *out, size_t out_size, int timeout_ms);

/* ---- workers: a forked child in a cgroup running functions on request ---- */

/* fn gets a copy of arg (len bytes, at most NP_WORKER_ARG_MAX); it may
 * modify it, the modified bytes are sent back with the int result. */
#define NP_WORKER_ARG_MAX NP_SB_ARG_MAX
typedef np_sb_fn np_worker_fn;

struct np_test_worker {
	struct np_test_env *env;
	struct np_sb_worker sb;
};

/* Forks a worker that joins <attach cgroup>/<rel> (comm "np-worker"). */
int np_test_worker_start(struct np_test_env *env, const char *rel, struct np_test_worker *w);
/* Kills and reaps; idempotent, and a no-op on a zero-initialized worker
 * that was never started. */
void np_test_worker_stop(struct np_test_worker *w);
static inline void np_test_worker_stopp(struct np_test_worker *w)
{
	np_test_worker_stop(w);
}
#define _cleanup_worker_ _cleanup_(np_test_worker_stopp)
/* Synchronous call: returns fn's result, or NP_WORKER_FAILED if the worker
 * died or did not answer within timeout_ms (it is then stopped). */
#define NP_WORKER_FAILED (-100000)
int np_test_worker_call(struct np_test_worker *w, np_worker_fn fn, void *arg, size_t len, int timeout_ms);
/* Asynchronous: send now, collect later. */
int np_test_worker_send(struct np_test_worker *w, np_worker_fn fn, void *arg, size_t len);
/* 1 and *result when the answer arrived, 0 on timeout, NP_WORKER_FAILED if dead. */
int np_test_worker_poll(struct np_test_worker *w, int timeout_ms, int *result);

/* <attach cgroup>/<rel> (created), bound to json installed under a fresh
 * policy id, with a worker in it. Returns the policy id, or 0 after
 * recording the failure. */
uint32_t np_test_bound_worker(struct np_test_env *env, const char *rel, const char *json,
			      struct np_test_worker *w);
/* The same, returning from the test case on failure. */
#define NP_SETUP_BOUND(env, rel, json, w)                                                                    \
	({                                                                                                   \
		uint32_t _id_ = np_test_bound_worker((env), (rel), (json), (w));                             \
		if (!_id_)                                                                                   \
			return;                                                                              \
		_id_;                                                                                        \
	})
/* A worker in <attach cgroup>/<rel> (created), or the case fails. */
#define NP_START_WORKER(env, rel, w)                                                                         \
	do {                                                                                                 \
		int _r_;                                                                                     \
		np_test_cgroup((env), (rel), NULL);                                                          \
		_r_ = np_test_worker_start((env), (rel), (w));                                               \
		NP_CHECK(_r_ == 0, "worker in %s: %s", (rel), np_test_strerr(_r_));                          \
	} while (0)

/* One-shot: fork a worker in rel, run fn(arg), stop it. */
int np_test_run_in(struct np_test_env *env, const char *rel, np_worker_fn fn, void *arg, size_t len);

/* ---- destinations and probes (probes.h) ---- */

/* Build destinations (np_dest_parse); abort on a malformed address. */
struct np_dest np_dest_v4(const char *ip, uint16_t port);	/* AF_INET */
struct np_dest np_dest_v6(const char *ip, uint16_t port);	/* AF_INET6 */
struct np_dest np_dest_mapped(const char *ipv4, uint16_t port); /* AF_INET6, ::ffff:a.b.c.d */

/* Run a probe in a worker / in a one-shot child. */
int np_test_worker_probe(struct np_test_worker *w, np_probe_fn probe, const struct np_dest *d);
/* The same from a new thread of the worker, named thread_name (prctl). */
int np_test_worker_probe_thread(struct np_test_worker *w, const char *thread_name, np_probe_fn probe,
				const struct np_dest *d);
int np_test_probe_in(struct np_test_env *env, const char *rel, np_probe_fn probe, const struct np_dest *d);

/* ---- listeners (created by the test process in srv) ---- */

int np_test_tcp_listener(struct np_test_env *env);
/* An extra dual-stack TCP listener on [::]:port (non-blocking); the caller
 * owns the fd. */
int np_test_listen_tcp(struct np_test_env *env, uint16_t port);
int np_test_udp_listener(struct np_test_env *env);
/* Accept and close everything waiting on the TCP listener. */
void np_test_tcp_drain(struct np_test_env *env);
/* Accept the connection whose peer port is peer_port (others are closed);
 * returns the fd or -ETIMEDOUT. */
int np_test_tcp_accept(struct np_test_env *env, uint16_t peer_port, int timeout_ms);
/* Read the UDP listener until a datagram equal to token arrives (true) or
 * timeout_ms passes (false). Other datagrams are discarded. */
bool np_test_udp_seen(struct np_test_env *env, const char *token, int timeout_ms);
void np_test_udp_drain(struct np_test_env *env);

/* ---- events and counters ---- */

struct np_event_match {
	uint64_t cgroup_id; /* 0: any */
	uint32_t policy_id; /* 0: any */
	int verdict;	    /* -1: any */
	int hook;	    /* 0: any */
	uint16_t port;	    /* 0: any */
	bool match_addr;
	uint8_t addr[16];
	bool match_reason;
	uint8_t reason; /* NP_REASON_* */
};
/* Waits (polling the events fd) until an event matching m arrives; returns
 * true and copies it into out. Events seen earlier are kept and searched
 * too (the oldest are dropped beyond a few thousand). */
bool np_test_event_wait(struct np_test_env *env, const struct np_event_match *m, int timeout_ms,
			struct np_event *out);
/* Forget all events received so far (consumes what is pending first). */
void np_test_events_clear(struct np_test_env *env);
/* Counters for one key; false if the key is absent. */
bool np_test_stats_get(struct np_test_env *env, uint64_t cgroup_id, const uint8_t addr[16], uint16_t port,
		       uint8_t proto, struct np_stats_val *out);

/* ---- test cases ---- */

/* Record a failure for the current case (first one wins) and return. */
void np_test_fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool np_test_case_failed(void);
#define NP_CHECK(cond, ...)                                                                                  \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			np_test_fail_at(__LINE__, __VA_ARGS__);                                              \
			return;                                                                              \
		}                                                                                            \
	} while (0)
/* Like NP_CHECK but for an errno-style result: expect == got. */
#define NP_CHECK_RC(got, expect, what)                                                                       \
	do {                                                                                                 \
		int _g_ = (got), _e_ = (expect);                                                             \
		if (_g_ != _e_) {                                                                            \
			np_test_fail_at(__LINE__, "%s: got %d (%s), expected %d (%s)", (what), _g_,          \
					np_test_strerr(_g_), _e_, np_test_strerr(_e_));                      \
			return;                                                                              \
		}                                                                                            \
	} while (0)
/* "EPERM", "success", "worker failed/timed out"...; four rotating buffers,
 * so a few calls may appear in one printf. */
const char *np_test_strerr(int r);

/* Run one case: prints "ok - name" or "not ok - name: reason". */
void np_test_run(struct np_test_env *env, const char *name, void (*fn)(struct np_test_env *env));
/* Counts outside np_test_run (e.g. per-case loops in test-diff). */
void np_test_result(const char *name, bool ok, const char *reason);
/* Count a result without printing a line (for thousands of small cases). */
void np_test_tally(struct np_test_env *env, bool ok);
/* Prints the TAP plan and "# <prog>: N passed, M failed"; returns the exit
 * code (0 iff M == 0). */
int np_test_finish(struct np_test_env *env);

/* Milliseconds on CLOCK_MONOTONIC. */
#define np_test_now_ms() np_sb_now_ms()
