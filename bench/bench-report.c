/* SPDX-License-Identifier: GPL-2.0-only */
/* The run's measurements as TSV: see bench-report.h. bench/render makes the
 * report from them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench-report.h"
#include "bench-util.h"

/* The shortest text that reads back as the same double: the renderer must
 * compute from exactly what was measured. */
static void put_num(FILE *f, double v)
{
	char b[40];

	for (int p = 1; p <= 17; p++) {
		snprintf(b, sizeof(b), "%.*g", p, v);
		if (strtod(b, NULL) == v)
			break;
	}
	fputs(b, f);
}

/* Strings in a TSV cell: no tab or newline. */
static void put_str(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
}

static const char *const kind_names[] = {"none", "empty", "netpol", "nft", "iptables"};

static void tsv_series(FILE *f, FILE *meta, const struct bench_series *s, const char *id)
{
	if (!s)
		return;
	for (int i = 0; i < s->nv; i++) {
		const struct bench_variant *v = s->v[i];

		fprintf(meta, "%s\t", id);
		put_str(meta, s->title);
		fprintf(meta, "\t%s\t%s\t%zu\t%zu\t%llu\t%s\n", v->name, kind_names[v->kind], v->cidrs,
			v->kind == BK_NETPOL ? v->entries : 0, (unsigned long long)s->r[i].fails,
			s->r[i].fails ? strerror(-s->r[i].first_err) : "-");
		for (int rep = 0; rep < s->reps; rep++) {
			fprintf(f, "%s\t%s\t%zu\t%d\t", id, v->name, v->cidrs, rep);
			put_num(f, s->r[i].ns[rep]);
			fprintf(f, "\t%.0f", s->r[i].ops[rep]);
			for (int p = 0; p < BP__MAX; p++)
				fprintf(f, "\t%.0f\t%.0f", s->r[i].rt[rep][p], s->r[i].cnt[rep][p]);
			fprintf(f, "\n");
		}
	}
}

static FILE *tsv_open(const char *dir, const char *name, const char *header)
{
	_cleanup_free_ char *path = bench_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "we");

	if (f)
		fprintf(f, "# SPDX-License-Identifier: GPL-2.0-only\n%s\n", header);
	return f;
}

/* results.tsv: one line per series, variant and rep; series.tsv: what
 * each series and variant is. */
static int write_series(const struct bench_results *r, const char *dir)
{
	char header[1024] = "series\tvariant\tcidrs\trep\tns_per_op\tops";
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_fclose_ FILE *meta =
	    tsv_open(dir, "series.tsv", "series\ttitle\tvariant\tkind\tcidrs\tentries\tfails\tfirst_error");
	const struct bench_series *all[] = {r->conn_same,   r->conn_rot,   r->send_rot,	  r->send_same,
					    r->tcp_rot,	    r->tcp_same,   r->stream,	  r->flood,
					    r->k_conn_same, r->k_conn_rot, r->k_send_rot, r->k_tcp_rot,
					    r->k_flood,	    r->k_stream};

	for (int p = 0; p < BP__MAX; p++)
		snprintf(header + strlen(header), sizeof(header) - strlen(header), "\t%s_run_time_ns\t%s_run_cnt",
			 bench_prog_names[p], bench_prog_names[p]);
	f = tsv_open(dir, "results.tsv", header);
	if (!f || !meta)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (all[i])
			tsv_series(f, meta, all[i], all[i]->id);
	for (int pt = 0; pt < r->n_cg; pt++) {
		char id[48];

		snprintf(id, sizeof(id), "k-bindings-%d", r->cg_counts[pt]);
		tsv_series(f, meta, r->k_cg[pt], id);
	}
	return 0;
}

#define KV_STR(k, v)                                                                                         \
	do {                                                                                                 \
		fputs(k "\t", f);                                                                            \
		put_str(f, v);                                                                               \
		fputc('\n', f);                                                                              \
	} while (0)
#define KV_NUM(k, v)                                                                                         \
	do {                                                                                                 \
		fputs(k "\t", f);                                                                            \
		put_num(f, (double)(v));                                                                     \
		fputc('\n', f);                                                                              \
	} while (0)

/* run.tsv: the machine, the run and the daemon phase, one key a line. */
static int write_run(const struct bench_results *r, const char *dir)
{
	_cleanup_fclose_ FILE *f = tsv_open(dir, "run.tsv", "key\tvalue");

	if (!f)
		return -errno;
	KV_STR("cmdline", r->cmdline);
	KV_STR("date", r->date);
	KV_NUM("quick", r->quick);
	KV_STR("kernel", r->kernel);
	KV_STR("cpu", r->cpu);
	KV_NUM("ncpu", r->ncpu);
	KV_NUM("mem_mb", r->mem_mb);
	KV_STR("clocksource", r->clocksource);
	KV_NUM("jit", r->jit);
	KV_NUM("stats_sysctl_start", r->stats_sysctl_start);
	KV_NUM("stats_sysctl_end", r->stats_sysctl_end);
	KV_NUM("load_start", r->load_start);
	KV_NUM("load_end", r->load_end);
	KV_STR("nft_version", r->nft_version);
	KV_STR("ipt_version", r->ipt_version);
	KV_STR("perf", r->perf_note);
	KV_NUM("foreign_progs", r->foreign_progs);
	KV_NUM("reps", r->plan.reps);
	KV_NUM("chunks", r->plan.chunks);
	KV_NUM("chunk_ms", r->plan.chunk_ms);
	KV_NUM("seconds", r->seconds);
	KV_NUM("bindings_cidrs", r->cg_cidrs);
	KV_NUM("daemon_ran", r->daemon_ran);
	KV_STR("daemon_note", r->daemon_note);
	KV_NUM("rss_idle_kb", r->rss_idle_kb);
	KV_NUM("hwm_idle_kb", r->hwm_idle_kb);
	KV_NUM("rss_loaded_kb", r->rss_loaded_kb);
	KV_NUM("hwm_loaded_kb", r->hwm_loaded_kb);
	KV_NUM("loaded_cidrs", r->loaded_cidrs);
	KV_NUM("loaded_entries", r->loaded_entries);
	KV_NUM("loaded_bindings", r->loaded_bindings);
	KV_NUM("bind_failed", r->bind_failed);
	KV_NUM("big_add_ms", r->big_add_ms);
	KV_NUM("apply_ms", r->apply_ms);
	KV_NUM("flood_ran", r->flood_ran);
	KV_NUM("flood_seconds", r->flood_seconds);
	KV_NUM("flood_rate_target", r->flood_rate_target);
	KV_NUM("flood_rate", r->flood_rate);
	KV_NUM("flood_cores", r->flood_cores);
	KV_NUM("flood_denials", r->flood_denials);
	KV_NUM("flood_lost", r->flood_lost);
	KV_NUM("flood_stats_denied", r->flood_stats_denied);
	KV_NUM("flood_other_fail", r->flood_other_fail);
	KV_NUM("flood_created", r->flood_created);
	KV_NUM("flood_listed", r->flood_listed);
	KV_NUM("flood_listed_count", r->flood_listed_count);
	KV_NUM("flood_events", r->flood_events);
	KV_NUM("flood_counted", r->flood_counted);
	KV_NUM("flood_missed", r->flood_missed);
	KV_NUM("flood_followed", r->flood_followed);
	return 0;
}

/* rulesets.tsv (what each rule set became and how long it took to load),
 * compile.tsv (the library, per rep), latency.tsv (change to enforcement,
 * per trial; a failed trial has no times). */
static int write_control(const struct bench_results *r, const char *dir)
{
	_cleanup_fclose_ FILE *rs = tsv_open(dir, "rulesets.tsv", "firewall\tcidrs\tentries\tload_ms");
	_cleanup_fclose_ FILE *c =
	    tsv_open(dir, "compile.tsv", "cidrs\tentries\trep\tparse_ms\tcompile_ms\tinstall_ms");
	_cleanup_fclose_ FILE *l =
	    tsv_open(dir, "latency.tsv", "probe\tcidrs\tok\tfrom_return_us\tfrom_start_us\tchange_us");
	const struct {
		const char *name;
		const struct bench_latency *l;
		int n;
	} probes[] = {{"library", r->lat_lib, r->n_lat_lib}, {"netpolctl", r->lat_ctl, r->n_lat_ctl}};

	if (!rs || !c || !l)
		return -errno;
	for (size_t i = 0; i < r->n_sizes; i++)
		fprintf(rs, "netpol\t%zu\t%zu\t-\n", r->sizes[i], r->entries[i]);
	for (size_t i = 0; r->have_nft && i < r->n_sizes; i++) {
		fprintf(rs, "nft\t%zu\t%d\t", r->sizes[i], r->nft_intervals[i]);
		put_num(rs, r->nft_load_ms[i]);
		fputc('\n', rs);
	}
	for (size_t i = 0; r->have_ipt && i < r->n_ipt; i++) {
		fprintf(rs, "iptables\t%zu\t-\t", r->ipt_sizes[i]);
		put_num(rs, r->ipt_load_ms[i]);
		fputc('\n', rs);
	}
	for (int i = 0; i < r->n_compile; i++)
		for (int k = 0; k < r->compile[i].n; k++) {
			fprintf(c, "%zu\t%zu\t%d\t", r->compile[i].cidrs, r->compile[i].entries, k);
			put_num(c, r->compile[i].parse_ms[k]);
			fputc('\t', c);
			put_num(c, r->compile[i].compile_ms[k]);
			fputc('\t', c);
			put_num(c, r->compile[i].install_ms[k]);
			fputc('\n', c);
		}
	for (size_t p = 0; p < ELEMENTSOF(probes); p++)
		for (int i = 0; i < probes[p].n; i++) {
			const struct bench_latency *t = &probes[p].l[i];

			for (int k = 0; k < t->n; k++) {
				fprintf(l, "%s\t%zu\t1\t", probes[p].name, t->cidrs);
				put_num(l, t->from_return_us[k]);
				fputc('\t', l);
				put_num(l, t->from_start_us[k]);
				fputc('\t', l);
				put_num(l, t->change_us[k]);
				fputc('\n', l);
			}
			for (int k = 0; k < t->fails; k++)
				fprintf(l, "%s\t%zu\t0\t-\t-\t-\n", probes[p].name, t->cidrs);
		}
	return 0;
}

/* profiles.tsv: perf's symbols above 1%, per profile. */
static int write_profiles(const struct bench_results *r, const char *dir)
{
	_cleanup_fclose_ FILE *f = tsv_open(dir, "profiles.tsv", "profile\tshare\tsymbol");

	if (!f)
		return -errno;
	for (int i = 0; i < 3; i++) {
		const char *line = r->profile[i];

		while (line && *line) {
			size_t n = strcspn(line, "\n"), w = strcspn(line, " ");

			if (w < n) {
				put_str(f, r->profile_title[i]);
				fprintf(f, "\t%.*s\t", (int)w, line);
				w += strspn(line + w, " ");
				fprintf(f, "%.*s\n", (int)(n - w), line + w);
			}
			line += n + (line[n] == '\n');
		}
	}
	return 0;
}

void bench_results_free(struct bench_results *res)
{
	struct bench_series *series[] = {
	    res->conn_same,  res->conn_rot,  res->send_rot, res->send_same,   res->tcp_rot,
	    res->tcp_same,   res->stream,    res->flood,    res->k_conn_same, res->k_conn_rot,
	    res->k_send_rot, res->k_tcp_rot, res->k_flood,  res->k_stream,
	};
	size_t i;

	for (i = 0; i < ELEMENTSOF(series); i++)
		free(series[i]);
	for (i = 0; i < ELEMENTSOF(res->k_cg); i++)
		free(res->k_cg[i]);
	for (i = 0; i < ELEMENTSOF(res->profile); i++)
		free(res->profile[i]);
	free(res);
}

int bench_results_write(const struct bench_results *r, const char *dir)
{
	int e;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	e = write_series(r, dir);
	if (e == 0)
		e = write_run(r, dir);
	if (e == 0)
		e = write_control(r, dir);
	if (e == 0)
		e = write_profiles(r, dir);
	return e;
}
