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

/* The shortest text that reads back as the same double, since the renderer
 * must compute from exactly what was measured; a few per fprintf(). */
static const char *g(double v)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];

	if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		snprintf(b, 32, "%.0f", v);
		return b;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(b, 32, "%.*g", p, v);
		if (strtod(b, NULL) == v)
			break;
	}
	return b;
}

/* A string as one TSV cell: no tab or newline. */
static const char *cell(const char *s)
{
	static char bufs[2][1024];
	static unsigned next;
	char *b = bufs[next++ % 2];

	snprintf(b, 1024, "%s", s);
	for (char *c = b; *c; c++)
		if (*c == '\t' || *c == '\n')
			*c = ' ';
	return b;
}

static FILE *tsv_open(const char *dir, const char *name, const char *header)
{
	_cleanup_free_ char *path = bench_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "we");

	if (f)
		fprintf(f, "# SPDX-License-Identifier: GPL-2.0-only\n%s\n", header);
	return f;
}

static void tsv_series(FILE *f, FILE *meta, const struct bench_series *s, const char *id)
{
	static const char *const kinds[] = {"none", "empty", "netpol", "nft", "iptables"};

	for (int i = 0; s && i < s->nv; i++) {
		const struct bench_variant *v = s->v[i];

		fprintf(meta, "%s\t%s\t%s\t%s\t%zu\t%zu\t%llu\t%s\n", id, cell(s->title), v->name,
			kinds[v->kind], v->cidrs, v->kind == BK_NETPOL ? v->entries : 0,
			(unsigned long long)s->r[i].fails,
			s->r[i].fails ? strerror(-s->r[i].first_err) : "-");
		for (int rep = 0; rep < s->reps; rep++) {
			fprintf(f, "%s\t%s\t%zu\t%d\t%s\t%.0f", id, v->name, v->cidrs, rep,
				g(s->r[i].ns[rep]), s->r[i].ops[rep]);
			for (int p = 0; p < BP__MAX; p++)
				fprintf(f, "\t%.0f\t%.0f", s->r[i].rt[rep][p], s->r[i].cnt[rep][p]);
			fprintf(f, "\n");
		}
	}
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
		snprintf(header + strlen(header), sizeof(header) - strlen(header),
			 "\t%s_run_time_ns\t%s_run_cnt", bench_prog_names[p], bench_prog_names[p]);
	f = tsv_open(dir, "results.tsv", header);
	if (!f || !meta)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		tsv_series(f, meta, all[i], all[i] ? all[i]->id : NULL);
	for (int pt = 0; pt < r->n_cg; pt++) {
		_cleanup_free_ char *id = bench_asprintf("k-bindings-%d", r->cg_counts[pt]);

		tsv_series(f, meta, r->k_cg[pt], id);
	}
	return 0;
}

/* run.tsv: the machine, the run and the daemon phase, one key a line. */
static int write_run(const struct bench_results *r, const char *dir)
{
	_cleanup_fclose_ FILE *f = tsv_open(dir, "run.tsv", "key\tvalue");
	const struct {
		const char *key, *value;
	} strs[] = {{"cmdline", r->cmdline},	     {"date", r->date},
		    {"kernel", r->kernel},	     {"cpu", r->cpu},
		    {"clocksource", r->clocksource}, {"nft_version", r->nft_version},
		    {"ipt_version", r->ipt_version}, {"perf", r->perf_note},
		    {"daemon_note", r->daemon_note}};
	const struct {
		const char *key;
		double value;
	} nums[] = {{"quick", r->quick},
		    {"ncpu", r->ncpu},
		    {"mem_mb", r->mem_mb},
		    {"jit", r->jit},
		    {"stats_sysctl_start", r->stats_sysctl_start},
		    {"stats_sysctl_end", r->stats_sysctl_end},
		    {"load_start", r->load_start},
		    {"load_end", r->load_end},
		    {"foreign_progs", r->foreign_progs},
		    {"reps", r->plan.reps},
		    {"chunks", r->plan.chunks},
		    {"chunk_ms", r->plan.chunk_ms},
		    {"seconds", r->seconds},
		    {"bindings_cidrs", r->cg_cidrs},
		    {"daemon_ran", r->daemon_ran},
		    {"rss_idle_kb", r->rss_idle_kb},
		    {"hwm_idle_kb", r->hwm_idle_kb},
		    {"rss_loaded_kb", r->rss_loaded_kb},
		    {"hwm_loaded_kb", r->hwm_loaded_kb},
		    {"loaded_cidrs", r->loaded_cidrs},
		    {"loaded_entries", r->loaded_entries},
		    {"loaded_bindings", r->loaded_bindings},
		    {"bind_failed", r->bind_failed},
		    {"big_add_ms", r->big_add_ms},
		    {"apply_ms", r->apply_ms},
		    {"flood_ran", r->flood_ran},
		    {"flood_seconds", r->flood_seconds},
		    {"flood_rate_target", r->flood_rate_target},
		    {"flood_rate", r->flood_rate},
		    {"flood_cores", r->flood_cores},
		    {"flood_denials", r->flood_denials},
		    {"flood_lost", r->flood_lost},
		    {"flood_stats_denied", r->flood_stats_denied},
		    {"flood_other_fail", r->flood_other_fail},
		    {"flood_created", r->flood_created},
		    {"flood_listed", r->flood_listed},
		    {"flood_listed_count", r->flood_listed_count},
		    {"flood_events", r->flood_events},
		    {"flood_counted", r->flood_counted},
		    {"flood_missed", r->flood_missed},
		    {"flood_followed", r->flood_followed}};

	if (!f)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(strs); i++)
		fprintf(f, "%s\t%s\n", strs[i].key, cell(strs[i].value));
	for (size_t i = 0; i < ELEMENTSOF(nums); i++)
		fprintf(f, "%s\t%s\n", nums[i].key, g(nums[i].value));
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
	for (size_t i = 0; r->have_nft && i < r->n_sizes; i++)
		fprintf(rs, "nft\t%zu\t%d\t%s\n", r->sizes[i], r->nft_intervals[i], g(r->nft_load_ms[i]));
	for (size_t i = 0; r->have_ipt && i < r->n_ipt; i++)
		fprintf(rs, "iptables\t%zu\t-\t%s\n", r->ipt_sizes[i], g(r->ipt_load_ms[i]));
	for (int i = 0; i < r->n_compile; i++)
		for (int k = 0; k < r->compile[i].n; k++)
			fprintf(c, "%zu\t%zu\t%d\t%s\t%s\t%s\n", r->compile[i].cidrs, r->compile[i].entries,
				k, g(r->compile[i].parse_ms[k]), g(r->compile[i].compile_ms[k]),
				g(r->compile[i].install_ms[k]));
	for (size_t p = 0; p < ELEMENTSOF(probes); p++)
		for (int i = 0; i < probes[p].n; i++) {
			const struct bench_latency *t = &probes[p].l[i];

			for (int k = 0; k < t->n; k++)
				fprintf(l, "%s\t%zu\t1\t%s\t%s\t%s\n", probes[p].name, t->cidrs,
					g(t->from_return_us[k]), g(t->from_start_us[k]), g(t->change_us[k]));
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
	for (int i = 0; i < 3; i++)
		for (const char *line = r->profile[i]; line && *line;) {
			size_t n = strcspn(line, "\n"), w = strcspn(line, " ");

			if (w < n)
				fprintf(f, "%s\t%.*s\t%.*s\n", cell(r->profile_title[i]), (int)w, line,
					(int)(n - w - strspn(line + w, " ")),
					line + w + strspn(line + w, " "));
			line += n + (line[n] == '\n');
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
