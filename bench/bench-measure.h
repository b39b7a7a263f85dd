/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interleaved measurement. A series runs one operation over several
 * variants (each a worker in its own cgroup or namespace). Every variant is
 * first calibrated so that one chunk lasts about chunk_ms; then each rep runs
 * `chunks` rounds, and each round runs one chunk of every variant, in an
 * order reversed every round (A B C, C B A, ...), so that drift of the host
 * falls on all variants alike. A rep's figure for a variant is its total
 * time over its total operations; paired deltas compare a variant with the
 * baseline of the same rep. With `stats`, run_time_ns and run_cnt of every
 * program of interest are read around every chunk (kernel.bpf_stats_enabled
 * must then be on).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench-worker.h"

#define BENCH_MAX_REPS	   16
#define BENCH_MAX_VARIANTS 16

enum bench_prog {
	BP_NP_CONNECT4 = 0,
	BP_NP_CONNECT6,
	BP_NP_SENDMSG4,
	BP_NP_SENDMSG6,
	BP_NP_EGRESS,
	BP_NP_SOCK_CREATE,
	BP_EMPTY_CONNECT4,
	BP_EMPTY_SENDMSG4,
	BP_EMPTY_EGRESS,
	BP_EMPTY_SOCK_CREATE,
	BP__MAX,
};
extern const char *const bench_prog_names[BP__MAX];
/* Program fds whose statistics are read (-1: absent). */
extern int bench_prog_fds[BP__MAX];

enum bench_kind {
	BK_NONE = 0, /* no program anywhere above the socket's cgroup */
	BK_EMPTY,    /* empty programs at connect4, sendmsg4, egress, sock_create */
	BK_NETPOL,
	BK_NFT,
	BK_IPT,
};

struct bench_variant {
	char name[32];
	enum bench_kind kind;
	size_t cidrs;	/* rules in the set (0 for none/empty) */
	size_t entries; /* netpol: compiled LPM entries */
	const char *cgroup;
	int netns;
	uint16_t tcp_port, udp_port;
	int listen_fd;
	struct bench_worker w;
	bool policed; /* netpol: [2001:db8::5] must be refused */
};

struct bench_vres {
	double ns[BENCH_MAX_REPS]; /* ns per operation, per rep */
	double ops[BENCH_MAX_REPS];
	double rt[BENCH_MAX_REPS][BP__MAX];  /* run_time_ns delta per rep */
	double cnt[BENCH_MAX_REPS][BP__MAX]; /* run_cnt delta per rep */
	uint64_t fails;
	int first_err;
	uint64_t chunk_n;
};

struct bench_plan {
	int reps, chunks;
	double chunk_ms;
	uint64_t calib_n;
};

struct bench_series {
	char id[32];
	char title[160];
	int op;
	int rotate;
	bool stats;
	int nv;
	struct bench_variant *v[BENCH_MAX_VARIANTS];
	struct bench_vres r[BENCH_MAX_VARIANTS];
	int reps;
	double seconds; /* wall time the series took */
};

/* Runs the series (dies if a worker fails; counts operation failures). */
void bench_series_run(struct bench_series *s, const struct bench_plan *plan);
/* Checks enforcement (allowed passes everywhere, denied refused exactly
 * where policed); dies otherwise. */
void bench_variant_verify(struct bench_variant *v);

/* Summaries over reps. */
struct bench_sum {
	double med, min, max;
};
struct bench_sum bench_sum_ns(const struct bench_series *s, int vi);
/* Paired against variant base: median of (v - base) and of (v / base). */
double bench_paired_delta(const struct bench_series *s, int vi, int base);
double bench_paired_ratio(const struct bench_series *s, int vi, int base);
/* In-kernel ns per run of a program (median over reps), or NAN if it never
 * ran; and the same summed over several programs per operation. */
double bench_kern_per_run(const struct bench_series *s, int vi, enum bench_prog p);
struct bench_sum bench_kern_per_run_sum(const struct bench_series *s, int vi, enum bench_prog p);
double bench_kern_per_op(const struct bench_series *s, int vi, const enum bench_prog *progs, int n);
double bench_kern_runs_per_op(const struct bench_series *s, int vi, enum bench_prog p);
/* Paired in-kernel: per rep (ns/run of p in vi) - (ns/run of q in base). */
double bench_kern_paired(const struct bench_series *s, int vi, enum bench_prog p, int base,
			 enum bench_prog q);
int bench_series_find(const struct bench_series *s, const char *name);
