/* SPDX-License-Identifier: GPL-2.0-only */
/* The phases of a run and the topology they share (netpol-bench.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "bench-measure.h"
#include "bench-policy.h"
#include "bench-report.h"

enum bench_phase {
	BENCH_PHASE_DATAPATH = 1 << 0,
	BENCH_PHASE_KERNEL = 1 << 1,
	BENCH_PHASE_BINDINGS = 1 << 2,
	BENCH_PHASE_CONTROL = 1 << 3,
	BENCH_PHASE_DAEMON = 1 << 4,
	BENCH_PHASE_PROFILE = 1 << 5,
	BENCH_PHASE_ALL = (1 << 6) - 1,
};

struct bench_opts {
	bool quick, keep_tmp;
	unsigned phases; /* BENCH_PHASE_* */
	const char *out_dir, *netpold, *netpolctl, *cmdline;
	const char *series; /* NULL, or the comma-separated ids to run */
};

/* Ports: the baseline's listeners (free/srv, and the firewall namespaces)
 * and netpol's (np/srv) differ, since both live in the bench namespace. */
#define PORT_TCP_FREE 8080
#define PORT_UDP_FREE 9
#define PORT_TCP_NP   8081
#define PORT_UDP_NP   10

struct bench_topo {
	struct np_dataplane *dp;
	const char *np_attach;
	struct bench_variant none, empty;
	struct bench_variant np[BENCH_MAX_SIZES], nft[BENCH_MAX_SIZES], ipt[BENCH_MAX_SIZES];
	uint32_t np_policy_id[BENCH_MAX_SIZES];
	uint64_t np_cgroup_id[BENCH_MAX_SIZES];
	struct bench_cidr *cidrs[BENCH_MAX_SIZES];
	int n_np, n_nft, n_ipt;
	int lfd_np, sink_np; /* netpol's listeners in np/srv, bench namespace */
};
extern struct bench_topo bench_topo;

void bench_machine_info(struct bench_results *res);
void bench_machine_info_end(struct bench_results *res);
/* Namespaces, cgroups, programs, policies, rule sets, listeners, workers. */
void bench_topology_setup(const struct bench_opts *o, struct bench_results *res);

/* 1 and 3 of issue 4: connect(), sendto(), TCP, stream and flood; stats off. */
void bench_phase_datapath(const struct bench_opts *o, struct bench_results *res);
/* 2: in-kernel cost with kernel.bpf_stats_enabled. */
void bench_phase_kernel(const struct bench_opts *o, struct bench_results *res);
void bench_phase_bindings(const struct bench_opts *o, struct bench_results *res);
/* 4, library part: compile, install, change-to-enforcement. */
void bench_phase_control(const struct bench_opts *o, struct bench_results *res);
/* 4, netpold part. */
void bench_phase_daemon(const struct bench_opts *o, struct bench_results *res);
/* Only the series whose ids are in list (comma-separated); NULL: all. */
void bench_series_select(const char *list);
void bench_phase_profile(const struct bench_opts *o, struct bench_results *res);

/* Parse, compile and install a policy text as policy_id; entries (may be
 * NULL) gets the compiled size; times in ms (may be NULL). */
int bench_policy_install(const char *json, uint32_t policy_id, size_t *entries, double times_ms[3]);
