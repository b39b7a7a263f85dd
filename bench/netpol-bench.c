/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpol-bench: what a netpol policy costs, against no program, an empty
 * program, an nftables interval set and linear iptables rules, side by side
 * in one run (docs/benchmarks.md). It measures and writes TSV; bench/render
 * makes the report. Run both through bench/run, as root.
 *
 * Layout of the run (all below <cgroup2>/netpol-bench-<pid>, in network
 * namespaces of its own):
 *   free/{ctl,cli,srv}   no program: the coordinator, the baseline client,
 *                        listeners for the baseline and the firewall variants
 *   empty/cli            empty programs attached at empty/
 *   np/                  netpol's attach cgroup (pins in
 *                        /sys/fs/bpf/netpol-bench-<pid>/lib); np/c<N> bound to
 *                        the N-CIDR policy, np/srv an unbound sibling with
 *                        the listeners, np/many/NNNN for the bindings sweep,
 *                        np/lat for the change-to-enforcement probe
 *   npd/                 netpold's attach cgroup (pins .../daemon)
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-env.h"
#include "bench-main.h"
#include "bench-util.h"
#include "cleanup-util.h"

static void help(void)
{
	printf("Usage: netpol-bench --out DIR [OPTIONS]\n"
	       "\n"
	       "Measures netpol's cost against no program, nftables and iptables, inside\n"
	       "network namespaces and cgroups of its own; writes the measurements as TSV\n"
	       "files into DIR, which bench/render turns into DIR/report.md and the plot. Use\n"
	       "bench/run, which builds, measures and renders.\n"
	       "\n"
	       "  --quick            a smoke run of a few seconds (small rule sets, 2 reps)\n"
	       "  --out DIR          where the TSV files go (created)\n"
	       "  --netpold PATH     netpold to measure (default: none, daemon part skipped)\n"
	       "  --netpolctl PATH   its client\n"
	       "  --no-profile       skip the perf profiles\n"
	       "  --phases LIST      only these, comma-separated: datapath, kernel, bindings,\n"
	       "                     control, daemon, profile (default: all)\n"
	       "  --series LIST      only the measured series with these ids (comma-separated,\n"
	       "                     e.g. tcp-rot,k-tcp-rot): for working on one number\n"
	       "  --cmdline TEXT     the command to name in the report\n"
	       "  --keep-tmp         keep /tmp/netpol-bench-PID (netpold's log, perf data)\n"
	       "  -h, --help         this help\n");
}

static int parse_phases(const char *list, unsigned *ret)
{
	static const char *const names[] = {"datapath", "kernel", "bindings", "control", "daemon", "profile"};
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	*ret = 0;
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < ELEMENTSOF(names) && strcmp(names[i], t) != 0; i++)
			;
		if (i == ELEMENTSOF(names)) {
			fprintf(stderr, "netpol-bench: unknown phase '%s'\n", t);
			return -EINVAL;
		}
		*ret |= 1u << i;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	enum {
		ARG_QUICK = 0x100,
		ARG_OUT,
		ARG_NETPOLD,
		ARG_NETPOLCTL,
		ARG_NO_PROFILE,
		ARG_CMDLINE,
		ARG_KEEP,
		ARG_PHASES,
		ARG_SERIES
	};
	static const struct option opts[] = {
	    {"quick", no_argument, NULL, ARG_QUICK},
	    {"out", required_argument, NULL, ARG_OUT},
	    {"netpold", required_argument, NULL, ARG_NETPOLD},
	    {"netpolctl", required_argument, NULL, ARG_NETPOLCTL},
	    {"no-profile", no_argument, NULL, ARG_NO_PROFILE},
	    {"cmdline", required_argument, NULL, ARG_CMDLINE},
	    {"keep-tmp", no_argument, NULL, ARG_KEEP},
	    {"phases", required_argument, NULL, ARG_PHASES},
	    {"series", required_argument, NULL, ARG_SERIES},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case ARG_QUICK:
			o->quick = true;
			break;
		case ARG_OUT:
			o->out_dir = optarg;
			break;
		case ARG_NETPOLD:
			o->netpold = optarg;
			break;
		case ARG_NETPOLCTL:
			o->netpolctl = optarg;
			break;
		case ARG_NO_PROFILE:
			o->phases &= ~(unsigned)BENCH_PHASE_PROFILE;
			break;
		case ARG_PHASES:
			if (parse_phases(optarg, &o->phases) < 0)
				return -EINVAL;
			break;
		case ARG_SERIES:
			o->series = optarg;
			break;
		case ARG_CMDLINE:
			o->cmdline = optarg;
			break;
		case ARG_KEEP:
			o->keep_tmp = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc || !o->out_dir) {
		fprintf(stderr, "netpol-bench: --out DIR is required; see --help\n");
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.phases = BENCH_PHASE_ALL};
	struct bench_results *res = calloc(1, sizeof(*res));
	uint64_t t0 = bench_now_ns();
	int r;

	if (!res)
		return 1;
	r = parse_args(argc, argv, &o);
	if (r <= 0) {
		free(res);
		return r < 0 ? 2 : 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_env_setup()->keep_tmp = o.keep_tmp;
	res->quick = o.quick;
	snprintf(res->cmdline, sizeof(res->cmdline), "%s", o.cmdline ? o.cmdline : "netpol-bench");

	bench_series_select(o.series);
	bench_machine_info(res);
	bench_topology_setup(&o, res);
	if (o.phases & BENCH_PHASE_DATAPATH)
		bench_phase_datapath(&o, res);
	if (o.phases & BENCH_PHASE_KERNEL)
		bench_phase_kernel(&o, res);
	if (o.phases & BENCH_PHASE_BINDINGS)
		bench_phase_bindings(&o, res);
	if (o.phases & BENCH_PHASE_CONTROL)
		bench_phase_control(&o, res);
	if (o.phases & BENCH_PHASE_DAEMON)
		bench_phase_daemon(&o, res);
	if (o.phases & BENCH_PHASE_PROFILE)
		bench_phase_profile(&o, res);

	res->seconds = (double)(bench_now_ns() - t0) / 1e9;
	bench_machine_info_end(res);
	r = bench_results_write(res, o.out_dir);
	if (r < 0)
		bench_die("cannot write the results into %s: %s", o.out_dir, strerror(-r));
	bench_log("results written to %s (%.0f s)", o.out_dir, res->seconds);
	bench_results_free(res);
	return 0;
}
