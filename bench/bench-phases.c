/* SPDX-License-Identifier: GPL-2.0-only */
/* The data-path, in-kernel, bindings and library control-plane phases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench-env.h"
#include "bench-main.h"
#include "bench-util.h"
#include "dataplane.h"
#include "policy.h"

#define PROBE_TIMEOUT_NS 3000000000ull
#define ARM_TIMEOUT_NS	 3000000000ull

static struct bench_series *series_new(const char *id, const char *title, int op, int rotate, bool stats)
{
	struct bench_series *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->title, sizeof(s->title), "%s", title);
	s->op = op;
	s->rotate = rotate;
	s->stats = stats;
	return s;
}

static void add(struct bench_series *s, struct bench_variant *v)
{
	if (s->nv < BENCH_MAX_VARIANTS)
		s->v[s->nv++] = v;
}

/* none, empty and every netpol size; firewalls too when asked. */
static void add_standard(struct bench_series *s, bool with_none, bool firewalls)
{
	struct bench_topo *t = &bench_topo;

	if (with_none)
		add(s, &t->none);
	add(s, &t->empty);
	for (int i = 0; i < t->n_np; i++)
		add(s, &t->np[i]);
	for (int i = 0; firewalls && i < t->n_nft; i++)
		add(s, &t->nft[i]);
	for (int i = 0; firewalls && i < t->n_ipt; i++)
		add(s, &t->ipt[i]);
}

/* The netpol (or nft, iptables) variant closest to 10,000 rules. */
static int index_10k(const size_t *sizes, int n)
{
	int best = n - 1;

	for (int i = 0; i < n; i++)
		if (sizes[i] == 10000)
			best = i;
	return best;
}

static const char *series_only; /* --series */

void bench_series_select(const char *list)
{
	series_only = list;
}

static bool selected(const char *id)
{
	size_t n = strlen(id);

	if (!series_only)
		return true;
	for (const char *p = series_only;; p++) {
		if (strncmp(p, id, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (!p)
			return false;
	}
}

/* The series measured, or NULL (and freed) when --series leaves it out:
 * the report leaves out what was not measured. */
static struct bench_series *run(struct bench_series *s, const struct bench_plan *plan)
{
	if (!selected(s->id)) {
		free(s);
		return NULL;
	}
	bench_log("%s: %s (%d variants)", s->id, s->title, s->nv);
	bench_series_run(s, plan);
	for (int i = 0; i < s->nv; i++) {
		struct bench_sum m = bench_sum_ns(s, i);

		bench_log("  %-14s %10.1f ns/op  (%.1f..%.1f)", s->v[i]->name, m.med, m.min, m.max);
	}
	return s;
}

static void packet_variants(struct bench_series *s, struct bench_results *res)
{
	struct bench_topo *t = &bench_topo;
	int k = index_10k(res->sizes, t->n_np);

	add(s, &t->none);
	add(s, &t->empty);
	add(s, &t->np[k]);
	if (t->n_nft)
		add(s, &t->nft[index_10k(res->sizes, t->n_nft)]);
	if (t->n_ipt)
		add(s, &t->ipt[index_10k(res->ipt_sizes, t->n_ipt)]);
}

void bench_phase_datapath(const struct bench_opts *o, struct bench_results *res)
{
	struct bench_plan p = res->plan, stream = p;
	struct bench_series *s;

	/* connect() of UDP sees no packet: nftables and iptables cannot
	 * act on it, so only the BPF variants are compared there. */
	s = series_new("udp-connect-same", "UDP connect(), one repeated destination", BENCH_OP_UDP_CONNECT, 0,
		       false);
	add_standard(s, true, false);
	res->conn_same = run(s, &p);
	s = series_new("udp-connect-rot", "UDP connect(), 508 rotating destinations", BENCH_OP_UDP_CONNECT, 1,
		       false);
	add_standard(s, true, false);
	res->conn_rot = run(s, &p);

	s = series_new("sendto-rot", "unconnected UDP sendto(), 1 byte, 508 rotating destinations",
		       BENCH_OP_UDP_SENDTO, 1, false);
	add_standard(s, true, true);
	res->send_rot = run(s, &p);
	s = series_new("sendto-same", "unconnected UDP sendto(), 1 byte, one destination",
		       BENCH_OP_UDP_SENDTO, 0, false);
	add_standard(s, true, true);
	res->send_same = run(s, &p);

	s = series_new("tcp-rot", "TCP connect + accept + close (RST), 508 rotating destinations",
		       BENCH_OP_TCP_CRR, 1, false);
	add_standard(s, true, true);
	res->tcp_rot = run(s, &p);
	s = series_new("tcp-same", "TCP connect + accept + close (RST), one destination", BENCH_OP_TCP_CRR, 0,
		       false);
	add_standard(s, true, true);
	res->tcp_same = run(s, &p);

	/* The stream runs by time: fewer, longer chunks. */
	stream.chunks = o->quick ? 1 : 8;
	stream.chunk_ms = o->quick ? 20 : 250;
	s = series_new("stream", "established TCP stream, 64 KiB writes (ns per byte)", BENCH_OP_TCP_STREAM,
		       0, false);
	packet_variants(s, res);
	res->stream = run(s, &stream);
	s = series_new("flood", "connected UDP flood, 16-byte datagrams (ns per datagram)",
		       BENCH_OP_UDP_FLOOD, 0, false);
	packet_variants(s, res);
	res->flood = run(s, &p);
}

/* ---- in-kernel cost (bpf_stats) ---- */

static int stats_fd = -1;

static void stats_off(void *arg)
{
	if (stats_fd >= 0)
		close(stats_fd);
	stats_fd = -1;
}

/* BPF_ENABLE_STATS holds the statistics on while the fd is open, without
 * touching the sysctl others may rely on. */
static void stats_on(void)
{
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		bench_die("BPF_ENABLE_STATS: %s", strerror(errno));
	bench_on_cleanup(stats_off, NULL);
}

void bench_phase_kernel(const struct bench_opts *o, struct bench_results *res)
{
	struct bench_topo *t = &bench_topo;
	struct bench_plan p = res->plan;
	struct bench_series *s;

	stats_on();
	s = series_new("k-udp-connect-same", "in-kernel, UDP connect(), one destination",
		       BENCH_OP_UDP_CONNECT, 0, true);
	add_standard(s, false, false);
	res->k_conn_same = run(s, &p);
	s = series_new("k-udp-connect-rot", "in-kernel, UDP connect(), rotating destinations",
		       BENCH_OP_UDP_CONNECT, 1, true);
	add_standard(s, false, false);
	res->k_conn_rot = run(s, &p);
	s = series_new("k-sendto-rot", "in-kernel, unconnected UDP sendto(), rotating destinations",
		       BENCH_OP_UDP_SENDTO, 1, true);
	add_standard(s, false, false);
	res->k_send_rot = run(s, &p);
	s = series_new("k-tcp-rot", "in-kernel, TCP connect + accept + close, rotating destinations",
		       BENCH_OP_TCP_CRR, 1, true);
	add_standard(s, false, false);
	res->k_tcp_rot = run(s, &p);
	s = series_new("k-flood", "in-kernel, connected UDP flood", BENCH_OP_UDP_FLOOD, 0, true);
	add(s, &t->empty);
	add(s, &t->np[index_10k(res->sizes, t->n_np)]);
	res->k_flood = run(s, &p);
	/* What the egress program costs per byte of a stream: the bound the
	 * stream row uses where wall-clock throughput is too noisy. */
	p.chunks = o->quick ? 1 : 4;
	p.chunk_ms = o->quick ? 20 : 250;
	s = series_new("k-stream", "in-kernel, established TCP stream, 64 KiB writes", BENCH_OP_TCP_STREAM, 0,
		       true);
	add(s, &t->empty);
	add(s, &t->np[index_10k(res->sizes, t->n_np)]);
	res->k_stream = run(s, &p);
	/* Left on for the bindings sweep; closed there. */
}

/* ---- bindings sweep ---- */

static void bind_or_die(uint64_t cgid, uint32_t policy)
{
	int r = np_dataplane_bind(bench_topo.dp, cgid, policy);

	if (r < 0)
		bench_die("np_dataplane_bind: %s", strerror(-r));
}

/* One connect() from each of the first n extra cgroups, so that the
 * cgroup cache holds them all, as it would on a busy host. */
static void visit(int n)
{
	struct bench_worker w;
	struct bench_cmd c = {.op = BENCH_OP_VISIT, .n = (uint64_t)n, .udp_port = PORT_UDP_NP};
	struct bench_res r = {0};

	if (n <= 0)
		return;
	snprintf(c.path, sizeof(c.path), "%s/np/many", bench_env->sb.root);
	if (bench_worker_start(&w, "nb-visit", bench_cgroup("np/srv"), 0, 0) < 0 ||
	    bench_worker_call(&w, &c, &r, 600000) < 0)
		bench_die("cannot visit the bound cgroups");
	bench_worker_stop(&w);
	if (r.fails)
		bench_die("visiting %d bound cgroups: %llu failed (%s)", n, (unsigned long long)r.fails,
			  strerror(-r.first_err));
}

void bench_phase_bindings(const struct bench_opts *o, struct bench_results *res)
{
	static const int full[] = {1, 100, 1000}, quick[] = {1, 10};
	struct bench_topo *t = &bench_topo;
	const int *points = o->quick ? quick : full;
	int k = index_10k(res->sizes, t->n_np), bound_extra = 0;
	uint64_t *ids;

	if (stats_fd < 0)
		stats_on();
	res->n_cg = o->quick ? 2 : 3;
	res->cg_cidrs = res->sizes[k];
	ids = calloc((size_t)points[res->n_cg - 1], sizeof(*ids));
	if (!ids)
		abort();
	/* Only the measured cgroup stays bound: the sweep starts at 1. */
	for (int i = 0; i < t->n_np; i++)
		if (i != k && np_dataplane_unbind(t->dp, t->np_cgroup_id[i]) < 0)
			bench_die("cannot unbind");
	for (int pt = 0; pt < res->n_cg; pt++) {
		struct bench_series *s;
		char title[96];

		for (; bound_extra < points[pt] - 1; bound_extra++) {
			_cleanup_free_ char *rel = bench_asprintf("np/many/%04d", bound_extra);

			if (np_cgroup_id(bench_cgroup(rel), &ids[bound_extra]) < 0)
				bench_die("cannot read the id of %s", rel);
			bind_or_die(ids[bound_extra], t->np_policy_id[k]);
		}
		visit(bound_extra);
		res->cg_counts[pt] = points[pt];
		snprintf(title, sizeof(title), "in-kernel, UDP connect(), rotating, %d bound cgroups",
			 points[pt]);
		s = series_new("k-bindings", title, BENCH_OP_UDP_CONNECT, 1, true);
		add(s, &t->empty);
		add(s, &t->np[k]);
		res->k_cg[pt] = run(s, &res->plan);
	}
	stats_off(NULL);
	for (int i = 0; i < bound_extra; i++)
		(void)np_dataplane_unbind(t->dp, ids[i]);
	for (int i = 0; i < t->n_np; i++)
		if (i != k)
			bind_or_die(t->np_cgroup_id[i], t->np_policy_id[i]);
	free(ids);
}

/* ---- control plane (library) ---- */

static void compile_times(const struct bench_opts *o, struct bench_results *res)
{
	static const size_t full[] = {1000, 10000, 100000}, quick[] = {1000};
	const size_t *sizes = o->quick ? quick : full;
	int n = o->quick ? 1 : 3, reps = o->quick ? 2 : 5;

	res->n_compile = n;
	for (int i = 0; i < n; i++) {
		struct bench_compile *c = &res->compile[i];
		_cleanup_free_ struct bench_cidr *cidrs = NULL;
		_cleanup_free_ char *json = NULL;

		if (bench_cidrs_gen(sizes[i], 0xc0ffee, &cidrs) < 0)
			bench_die("cannot generate CIDRs");
		json = bench_policy_json("compile-test", cidrs, sizes[i]);
		c->cidrs = sizes[i];
		c->n = reps;
		for (int r = 0; r < reps; r++) {
			double t[3];

			if (bench_policy_install(json, 900, &c->entries, t) < 0)
				bench_die("cannot install the %zu-CIDR policy", sizes[i]);
			c->parse_ms[r] = t[0];
			c->compile_ms[r] = t[1];
			c->install_ms[r] = t[2];
		}
		(void)np_dataplane_remove(bench_topo.dp, 900);
		bench_log("compile %zu CIDRs (%zu entries): parse %.1f ms, compile %.1f ms, install %.1f ms "
			  "(median)",
			  c->cidrs, c->entries, bench_median(c->parse_ms, reps),
			  bench_median(c->compile_ms, reps), bench_median(c->install_ms, reps));
	}
}

/* Wait until the probe has seen a denial: the change must come after. */
static int wait_armed(int slot)
{
	uint64_t deadline = bench_now_ns() + ARM_TIMEOUT_NS;

	while (!__atomic_load_n(&bench_shared()[slot].armed, __ATOMIC_SEQ_CST))
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	return 0;
}

int bench_latency_trial(struct bench_worker *probe, uint16_t port, int (*change)(void *arg), void *arg,
			struct bench_latency *lat);

/* One trial: the probe loops connect() to 203.0.113.200 (denied); once it
 * has seen the denial, change() allows it; the probe stamps its first
 * success. */
int bench_latency_trial(struct bench_worker *probe, uint16_t port, int (*change)(void *arg), void *arg,
			struct bench_latency *lat)
{
	struct bench_cmd c = {
	    .op = BENCH_OP_PROBE, .udp_port = port, .duration_ns = PROBE_TIMEOUT_NS, .slot = 0};
	struct bench_res r = {0};
	uint64_t t0, t1;
	int e;

	bench_shared()[0].armed = 0;
	e = bench_worker_send(probe, &c);
	if (e < 0)
		return e;
	e = wait_armed(0);
	t0 = bench_now_ns();
	if (e == 0)
		e = change(arg);
	t1 = bench_now_ns();
	if (bench_worker_recv(probe, &r, 10000) < 0)
		return -EPIPE;
	if (e < 0 || r.fails || !r.t_ok_ns) {
		lat->fails++;
		return e < 0 ? e : -ETIMEDOUT;
	}
	if (lat->n < BENCH_MAX_TRIALS) {
		lat->from_return_us[lat->n] = ((double)r.t_ok_ns - (double)t1) / 1e3;
		lat->from_start_us[lat->n] = ((double)r.t_ok_ns - (double)t0) / 1e3;
		lat->change_us[lat->n] = (double)(t1 - t0) / 1e3;
		lat->n++;
	}
	return 0;
}

struct lib_change {
	struct np_compiled *allow, *deny;
	uint32_t id;
};

static int lib_allow(void *arg)
{
	struct lib_change *lc = arg;

	return np_dataplane_install(bench_topo.dp, lc->id, "latency", lc->allow);
}

static struct np_compiled *compile_text(const char *json)
{
	struct np_policy *p = NULL;
	struct np_compiled *c = NULL;
	struct np_error err = {0};

	if (np_policy_from_string(json, &p, &err) < 0 || np_policy_compile(p, &c, &err) < 0)
		bench_die("latency policy: %s %s", err.field, err.message);
	np_policy_free(p);
	return c;
}

static void latency_lib(const struct bench_opts *o, struct bench_results *res)
{
	static const size_t sizes[] = {10, 10000};
	const char *cg = bench_cgroup("np/lat");
	int trials = o->quick ? 3 : 30;
	struct bench_worker probe;
	uint64_t cgid;

	if (bench_worker_start(&probe, "nb-probe", cg, 0, 0) < 0 || np_cgroup_id(cg, &cgid) < 0)
		bench_die("cannot start the probe");
	res->n_lat_lib = o->quick ? 1 : 2;
	for (int i = 0; i < res->n_lat_lib; i++) {
		_cleanup_free_ struct bench_cidr *cidrs = NULL;
		_cleanup_free_ char *deny = NULL, *allow = NULL;
		struct lib_change lc = {.id = 901};
		struct bench_latency *lat = &res->lat_lib[i];

		if (bench_cidrs_gen(sizes[i], 0xbeef, &cidrs) < 0)
			bench_die("cannot generate CIDRs");
		deny = bench_policy_json_latency("latency", cidrs, sizes[i], "203.0.113.200", 0);
		allow = bench_policy_json_latency("latency", cidrs, sizes[i], "203.0.113.200", PORT_UDP_NP);
		lc.deny = compile_text(deny);
		lc.allow = compile_text(allow);
		lat->cidrs = sizes[i];
		if (np_dataplane_install(bench_topo.dp, lc.id, "latency", lc.deny) < 0)
			bench_die("cannot install the latency policy");
		bind_or_die(cgid, lc.id);
		for (int t = 0; t < trials; t++) {
			int e;

			if (np_dataplane_install(bench_topo.dp, lc.id, "latency", lc.deny) < 0)
				bench_die("cannot install the latency policy");
			e = bench_latency_trial(&probe, PORT_UDP_NP, lib_allow, &lc, lat);
			if (e == -EPIPE)
				bench_die("the probe died");
		}
		(void)np_dataplane_unbind(bench_topo.dp, cgid);
		np_compiled_free(lc.allow);
		np_compiled_free(lc.deny);
		bench_log("library install -> first allowed connect, %zu CIDRs: median %.1f us after return "
			  "(%d trials, %d failed)",
			  sizes[i], bench_median(lat->from_return_us, lat->n), lat->n, lat->fails);
	}
	(void)np_dataplane_remove(bench_topo.dp, 901);
	bench_worker_stop(&probe);
}

void bench_phase_control(const struct bench_opts *o, struct bench_results *res)
{
	compile_times(o, res);
	latency_lib(o, res);
}
