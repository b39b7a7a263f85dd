/* SPDX-License-Identifier: GPL-2.0-only */
/* Interleaved measurement: see bench-measure.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bench-measure.h"
#include "bench-util.h"

#define CHUNK_TIMEOUT_MS 120000
#define MIN_CHUNK_N	 20

const char *const bench_prog_names[BP__MAX] = {
    "np_connect4",    "np_connect6",	"np_sendmsg4",	  "np_sendmsg6",  "np_egress_skb",
    "np_sock_create", "empty_connect4", "empty_sendmsg4", "empty_egress", "empty_sock_create",
};
int bench_prog_fds[BP__MAX] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

struct prog_sample {
	uint64_t rt[BP__MAX], cnt[BP__MAX];
};

static void progs_read(struct prog_sample *ps)
{
	for (int p = 0; p < BP__MAX; p++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		ps->rt[p] = ps->cnt[p] = 0;
		if (bench_prog_fds[p] < 0 || bpf_obj_get_info_by_fd(bench_prog_fds[p], &info, &len) < 0)
			continue;
		ps->rt[p] = info.run_time_ns;
		ps->cnt[p] = info.run_cnt;
	}
}

static struct bench_cmd cmd_for(const struct bench_series *s, const struct bench_variant *v, uint64_t n,
				double chunk_ms)
{
	return (struct bench_cmd){
	    .op = s->op,
	    .rotate = s->rotate,
	    .n = n,
	    .duration_ns = (uint64_t)(chunk_ms * 1e6),
	    .tcp_port = v->tcp_port,
	    .udp_port = v->udp_port,
	    .listen_fd = v->listen_fd,
	};
}

static void call_or_die(struct bench_variant *v, const struct bench_cmd *c, struct bench_res *r)
{
	int e = bench_worker_call(&v->w, c, r, CHUNK_TIMEOUT_MS);

	if (e < 0)
		bench_die("worker %s: %s", v->name, strerror(-e));
}

void bench_variant_verify(struct bench_variant *v)
{
	struct bench_cmd c = {.op = BENCH_OP_VERIFY,
			      .tcp_port = v->tcp_port,
			      .udp_port = v->udp_port,
			      .listen_fd = v->listen_fd};
	struct bench_res r = {0};

	call_or_die(v, &c, &r);
	if (r.allowed_rc != 0)
		bench_die("%s: an allowed destination failed: %s", v->name, strerror(-r.allowed_rc));
	if (v->policed && r.denied_rc != -EPERM)
		bench_die(
		    "%s: a destination outside the policy was not refused (%s): netpol is not enforcing",
		    v->name, r.denied_rc ? strerror(-r.denied_rc) : "sent");
	if (!v->policed && r.denied_rc != 0)
		bench_die("%s: unpoliced variant refused [2001:db8::5]: %s", v->name, strerror(-r.denied_rc));
}

/* Chunk size so that one chunk takes about chunk_ms (the streaming op is
 * timed by duration instead). */
static uint64_t calibrate(const struct bench_series *s, struct bench_variant *v,
			  const struct bench_plan *plan)
{
	struct bench_cmd c = cmd_for(s, v, plan->calib_n, plan->chunk_ms);
	struct bench_res r = {0};
	double ns_per_op;

	if (s->op == BENCH_OP_TCP_STREAM)
		return 1;
	call_or_die(v, &c, &r); /* warm-up */
	call_or_die(v, &c, &r);
	ns_per_op = r.ops ? (double)r.elapsed_ns / (double)r.ops : 1000;
	if (ns_per_op <= 0)
		ns_per_op = 1;
	uint64_t n = (uint64_t)(plan->chunk_ms * 1e6 / ns_per_op);
	return n < MIN_CHUNK_N ? MIN_CHUNK_N : n;
}

static void run_chunk(struct bench_series *s, int vi, int rep, const struct bench_plan *plan)
{
	struct bench_variant *v = s->v[vi];
	struct bench_vres *vr = &s->r[vi];
	struct bench_cmd c = cmd_for(s, v, vr->chunk_n, plan->chunk_ms);
	struct prog_sample before, after;
	struct bench_res r = {0};

	if (s->stats)
		progs_read(&before);
	call_or_die(v, &c, &r);
	if (s->stats) {
		progs_read(&after);
		for (int p = 0; p < BP__MAX; p++) {
			vr->rt[rep][p] += (double)(after.rt[p] - before.rt[p]);
			vr->cnt[rep][p] += (double)(after.cnt[p] - before.cnt[p]);
		}
	}
	vr->ns[rep] += (double)r.elapsed_ns; /* a sum until the rep ends */
	vr->ops[rep] += (double)r.ops;
	if (r.fails && !vr->fails)
		vr->first_err = r.first_err;
	vr->fails += r.fails;
}

void bench_series_run(struct bench_series *s, const struct bench_plan *plan)
{
	uint64_t t0 = bench_now_ns();

	s->reps = plan->reps > BENCH_MAX_REPS ? BENCH_MAX_REPS : plan->reps;
	memset(s->r, 0, sizeof(s->r));
	for (int i = 0; i < s->nv; i++)
		s->r[i].chunk_n = calibrate(s, s->v[i], plan);
	for (int rep = 0; rep < s->reps; rep++) {
		for (int round = 0; round < plan->chunks; round++)
			for (int k = 0; k < s->nv; k++)
				run_chunk(s, (round + rep) % 2 ? s->nv - 1 - k : k, rep, plan);
		for (int i = 0; i < s->nv; i++)
			s->r[i].ns[rep] = s->r[i].ops[rep] ? s->r[i].ns[rep] / s->r[i].ops[rep] : 0;
	}
	s->seconds = (double)(bench_now_ns() - t0) / 1e9;
	for (int i = 0; i < s->nv; i++)
		if (s->r[i].fails)
			bench_log("%s / %s: %llu operations failed (first: %s)", s->id, s->v[i]->name,
				  (unsigned long long)s->r[i].fails, strerror(-s->r[i].first_err));
}

struct bench_sum bench_sum_ns(const struct bench_series *s, int vi)
{
	const double *v = s->r[vi].ns;

	return (struct bench_sum){bench_median(v, s->reps), bench_min(v, s->reps), bench_max(v, s->reps)};
}

double bench_paired_delta(const struct bench_series *s, int vi, int base)
{
	double d[BENCH_MAX_REPS];

	for (int i = 0; i < s->reps; i++)
		d[i] = s->r[vi].ns[i] - s->r[base].ns[i];
	return bench_median(d, s->reps);
}

double bench_paired_ratio(const struct bench_series *s, int vi, int base)
{
	double d[BENCH_MAX_REPS];

	for (int i = 0; i < s->reps; i++)
		d[i] = s->r[base].ns[i] > 0 ? s->r[vi].ns[i] / s->r[base].ns[i] : 0;
	return bench_median(d, s->reps);
}

static double per_run(const struct bench_vres *r, int rep, enum bench_prog p)
{
	return r->cnt[rep][p] > 0 ? r->rt[rep][p] / r->cnt[rep][p] : NAN;
}

struct bench_sum bench_kern_per_run_sum(const struct bench_series *s, int vi, enum bench_prog p)
{
	double d[BENCH_MAX_REPS];
	int n = 0;

	for (int i = 0; i < s->reps; i++)
		if (!isnan(per_run(&s->r[vi], i, p)))
			d[n++] = per_run(&s->r[vi], i, p);
	if (n == 0)
		return (struct bench_sum){NAN, NAN, NAN};
	return (struct bench_sum){bench_median(d, n), bench_min(d, n), bench_max(d, n)};
}

double bench_kern_per_run(const struct bench_series *s, int vi, enum bench_prog p)
{
	return bench_kern_per_run_sum(s, vi, p).med;
}

double bench_kern_per_op(const struct bench_series *s, int vi, const enum bench_prog *progs, int n)
{
	double d[BENCH_MAX_REPS];

	for (int i = 0; i < s->reps; i++) {
		d[i] = 0;
		for (int k = 0; k < n; k++)
			d[i] += s->r[vi].ops[i] > 0 ? s->r[vi].rt[i][progs[k]] / s->r[vi].ops[i] : 0;
	}
	return bench_median(d, s->reps);
}

double bench_kern_runs_per_op(const struct bench_series *s, int vi, enum bench_prog p)
{
	double d[BENCH_MAX_REPS];

	for (int i = 0; i < s->reps; i++)
		d[i] = s->r[vi].ops[i] > 0 ? s->r[vi].cnt[i][p] / s->r[vi].ops[i] : 0;
	return bench_median(d, s->reps);
}

double bench_kern_paired(const struct bench_series *s, int vi, enum bench_prog p, int base, enum bench_prog q)
{
	double d[BENCH_MAX_REPS];
	int n = 0;

	for (int i = 0; i < s->reps; i++) {
		double a = per_run(&s->r[vi], i, p), b = per_run(&s->r[base], i, q);

		if (!isnan(a) && !isnan(b))
			d[n++] = a - b;
	}
	return n ? bench_median(d, n) : NAN;
}

int bench_series_find(const struct bench_series *s, const char *name)
{
	for (int i = 0; i < s->nv; i++)
		if (strcmp(s->v[i]->name, name) == 0)
			return i;
	return -ENOENT;
}
