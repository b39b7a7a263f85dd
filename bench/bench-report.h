/* SPDX-License-Identifier: GPL-2.0-only */
/* Everything one run measured, and its writer: TSV files that bench/render
 * turns into the report and the plot. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench-measure.h"

#define BENCH_MAX_SIZES	    4
#define BENCH_MAX_TRIALS    64
#define BENCH_MAX_CG_POINTS 3

struct bench_latency {
	size_t cidrs;
	int n, fails;
	double from_return_us[BENCH_MAX_TRIALS]; /* first allowed connect - change returned */
	double from_start_us[BENCH_MAX_TRIALS];	 /* first allowed connect - change started */
	double change_us[BENCH_MAX_TRIALS];	 /* how long the change call took */
};

struct bench_compile {
	size_t cidrs, entries;
	int n;
	double parse_ms[BENCH_MAX_REPS], compile_ms[BENCH_MAX_REPS], install_ms[BENCH_MAX_REPS];
};

struct bench_results {
	bool quick;
	char cmdline[512];
	char date[64], kernel[160], cpu[160], clocksource[32], ipt_version[96], nft_version[96],
	    perf_note[160];
	int ncpu, jit, stats_sysctl_start, stats_sysctl_end;
	long mem_mb;
	double load_start, load_end, seconds;
	int foreign_progs; /* cgroup BPF programs loaded by others */
	struct bench_plan plan;

	size_t n_sizes, sizes[BENCH_MAX_SIZES], entries[BENCH_MAX_SIZES];
	size_t n_ipt, ipt_sizes[BENCH_MAX_SIZES];
	double nft_load_ms[BENCH_MAX_SIZES], ipt_load_ms[BENCH_MAX_SIZES];
	int nft_intervals[BENCH_MAX_SIZES];
	bool have_nft, have_ipt;

	/* stats off */
	struct bench_series *conn_same, *conn_rot, *send_rot, *send_same, *tcp_rot, *tcp_same, *stream,
	    *flood;
	/* stats on */
	struct bench_series *k_conn_same, *k_conn_rot, *k_send_rot, *k_tcp_rot, *k_flood, *k_stream;
	int n_cg;
	int cg_counts[BENCH_MAX_CG_POINTS];
	size_t cg_cidrs;
	struct bench_series *k_cg[BENCH_MAX_CG_POINTS];

	int n_compile;
	struct bench_compile compile[BENCH_MAX_SIZES];
	int n_lat_lib, n_lat_ctl;
	struct bench_latency lat_lib[2], lat_ctl[2];

	bool daemon_ran;
	char daemon_note[1024];
	long rss_idle_kb, hwm_idle_kb, rss_loaded_kb, hwm_loaded_kb;
	size_t loaded_cidrs, loaded_entries, loaded_bindings, bind_failed;
	double big_add_ms, apply_ms;
	bool flood_ran;
	double flood_seconds, flood_rate_target, flood_rate, flood_cores;
	uint64_t flood_denials, flood_lost, flood_stats_denied, flood_other_fail;
	uint64_t flood_created;			   /* violations the daemon created (status) */
	uint64_t flood_listed, flood_listed_count; /* `violations` afterwards: entries, sum of counts */
	uint64_t flood_events, flood_counted, flood_missed; /* the follower's stream */
	bool flood_followed;

	char *profile[3];
	char profile_title[3][96];
};

/* Frees res, its series and its profiles. */
void bench_results_free(struct bench_results *res);

/* results.tsv, series.tsv, run.tsv, rulesets.tsv, compile.tsv, latency.tsv
 * and profiles.tsv in dir (created). */
int bench_results_write(const struct bench_results *res, const char *dir);
