/* SPDX-License-Identifier: GPL-2.0-only */
/* netpold's part of the control-plane measurements, and the perf profiles. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-env.h"
#include "bench-main.h"
#include "bench-util.h"

#define FLOOD_RATE 100000
#define DENY_PORT  7

int bench_latency_trial(struct bench_worker *probe, uint16_t port, int (*change)(void *arg), void *arg,
			struct bench_latency *lat);

static struct bench_daemon daemon_ctx;

static void daemon_cleanup(void *arg)
{
	bench_daemon_stop(&daemon_ctx);
}

static void note(struct bench_results *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct bench_results *res, const char *fmt, ...)
{
	size_t len = strlen(res->daemon_note);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->daemon_note + len, sizeof(res->daemon_note) - len, fmt, ap);
	va_end(ap);
	bench_log("daemon: %s", res->daemon_note + len);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* "cgroup:/netpol-bench-PID/npd/..." for an absolute cgroup path. */
static char *target_of(const char *abs)
{
	return bench_asprintf("cgroup:%s", abs + strlen(bench_env->sb.cg2));
}

static int call(const char *command, json_t *params, json_t **result, struct bench_results *res)
{
	char err[512] = "";
	int r = bench_daemon_call(&daemon_ctx, command, params, result, err, sizeof(err));

	if (r < 0)
		note(res, "`%s` failed: %s. ", command, err[0] ? err : strerror(-r));
	return r;
}

static int add_policy(const char *json_text, json_t **result, struct bench_results *res)
{
	json_error_t jerr;
	json_t *obj = json_loads(json_text, 0, &jerr);

	if (!obj)
		return -EINVAL;
	return call("policy.add", json_pack("{s:o}", "policy", obj), result, res);
}

static int apply(const char *target, const char *policy, struct bench_results *res)
{
	return call("apply", json_pack("{s:s, s:s}", "target", target, "policy", policy), NULL, res);
}

static uint64_t json_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

/* ---- change to enforcement through netpolctl ---- */

struct ctl_change {
	const char *policy;
	char dest[64];
	int index;
	struct bench_results *res;
};

static int ctl_allow(void *arg)
{
	struct ctl_change *cc = arg;
	const char *args[] = {"--json", "allow", cc->policy, cc->dest, NULL};
	char out[1024];
	json_t *j;
	int r = bench_netpolctl(&daemon_ctx, out, sizeof(out), args);

	if (r != 0) {
		note(cc->res, "`netpolctl allow` exited %d: %.200s. ", r, out);
		return -EIO;
	}
	j = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
	cc->index = j ? (int)json_u64(j, "index") : -1;
	json_decref(j);
	return 0;
}

static int ctl_remove(struct ctl_change *cc)
{
	char idx[16];
	const char *args[] = {"remove-rule", cc->policy, idx, NULL};
	char out[1024];
	int r;

	snprintf(idx, sizeof(idx), "%d", cc->index);
	r = bench_netpolctl(&daemon_ctx, out, sizeof(out), args);
	if (r != 0)
		note(cc->res, "`netpolctl remove-rule` exited %d: %.200s. ", r, out);
	return r == 0 ? 0 : -EIO;
}

static void latency_ctl(const struct bench_opts *o, struct bench_results *res, const char *probe_cg)
{
	static const size_t sizes[] = {10, 10000};
	_cleanup_free_ char *target = target_of(probe_cg);
	int trials = o->quick ? 3 : 20;
	struct bench_worker probe;

	if (bench_worker_start(&probe, "nb-ctlprobe", probe_cg, 0, 0) < 0)
		bench_die("cannot start the probe");
	res->n_lat_ctl = o->quick ? 1 : 2;
	for (int i = 0; i < res->n_lat_ctl; i++) {
		_cleanup_free_ struct bench_cidr *cidrs = NULL;
		_cleanup_free_ char *json = NULL, *name = bench_asprintf("lat-%zu", sizes[i]);
		struct ctl_change cc = {.policy = name, .res = res};
		struct bench_latency *lat = &res->lat_ctl[i];

		lat->cidrs = sizes[i];
		snprintf(cc.dest, sizeof(cc.dest), "203.0.113.200:%d/udp", PORT_UDP_NP);
		if (bench_cidrs_gen(sizes[i], 0xbeef, &cidrs) < 0)
			bench_die("cannot generate CIDRs");
		json = bench_policy_json_latency(name, cidrs, sizes[i], "203.0.113.200", 0);
		if (add_policy(json, NULL, res) < 0 || apply(target, name, res) < 0)
			break;
		for (int t = 0; t < trials; t++) {
			int e = bench_latency_trial(&probe, PORT_UDP_NP, ctl_allow, &cc, lat);

			if (e == -EPIPE)
				bench_die("the probe died");
			if (e < 0 || ctl_remove(&cc) < 0)
				break;
		}
		(void)call("unbind", json_pack("{s:s}", "target", target), NULL, res);
		bench_log(
		    "netpolctl allow -> first allowed connect, %zu CIDRs: median %.1f us after it returned "
		    "(%d trials, %d failed)",
		    sizes[i], bench_median(lat->from_return_us, lat->n), lat->n, lat->fails);
	}
	bench_worker_stop(&probe);
}

/* ---- a flood of denials ---- */

static int sum_violations(const char *target, uint64_t *sum, uint64_t *n, struct bench_results *res)
{
	json_t *result = NULL, *arr, *v;
	size_t i;
	int r = call("violations", json_pack("{s:s}", "target", target), &result, res);

	if (r < 0)
		return r;
	*sum = *n = 0;
	arr = json_object_get(result, "violations");
	json_array_foreach(arr, i, v)
	{
		*sum += json_u64(v, "count");
		(*n)++;
	}
	json_decref(result);
	return 0;
}

static int sum_stats_denied(const char *target, uint64_t *sum, struct bench_results *res)
{
	json_t *result = NULL, *arr, *v;
	size_t i;
	int r = call("stats", json_pack("{s:s}", "target", target), &result, res);

	if (r < 0)
		return r;
	*sum = 0;
	arr = json_object_get(result, "stats");
	json_array_foreach(arr, i, v) *sum += json_u64(v, "denied");
	json_decref(result);
	return 0;
}

static int daemon_status(uint64_t *lost, uint64_t *created, struct bench_results *res)
{
	json_t *st = NULL;
	int r = call("status", NULL, &st, res);

	if (r == 0) {
		*lost = json_u64(st, "events_lost");
		*created = json_u64(st, "violations");
	}
	json_decref(st);
	return r;
}

static void flood_record(struct bench_results *res, const struct bench_res *r, uint64_t dt, uint64_t dcpu)
{
	res->flood_ran = true;
	res->flood_seconds = (double)dt / 1e9;
	res->flood_rate_target = FLOOD_RATE;
	res->flood_denials = r->bytes;
	res->flood_other_fail = r->fails;
	res->flood_rate = (double)r->bytes / res->flood_seconds;
	res->flood_cores = (double)dcpu / (double)dt;
}

/* A prober in a cgroup bound to a deny-everything policy sends unconnected
 * datagrams at 100,000/s; netpold's CPU time is read around it. Every
 * denial must show up: in the counts of the violations a follower receives,
 * or in the ring buffer's "lost" counter, or in what the follower was told
 * it missed. */
static void flood(const struct bench_opts *o, struct bench_results *res)
{
	const char *cg = bench_cgroup("npd/flood");
	_cleanup_free_ char *target = target_of(cg);
	struct bench_cmd c = {.op = BENCH_OP_DENY_FLOOD,
			      .rate = FLOOD_RATE,
			      .udp_port = DENY_PORT,
			      .duration_ns = o->quick ? 500000000ull : 5000000000ull};
	struct bench_res r = {0};
	struct bench_follow fl;
	struct bench_worker w;
	uint64_t cpu0 = 0, cpu1 = 0, lost0 = 0, lost1 = 0, made0 = 0, made1 = 0, t0, t1;
	int e;

	if (add_policy("{\"name\": \"flood\", \"default\": \"deny\"}", NULL, res) < 0 ||
	    apply(target, "flood", res) < 0 || daemon_status(&lost0, &made0, res) < 0)
		return;
	e = bench_follow_start(&daemon_ctx, target, &fl);
	if (e < 0)
		note(res, "cannot follow violations: %s. ", strerror(-e));
	if (bench_worker_start(&w, "nb-flood", cg, 0, 1) < 0)
		bench_die("cannot start the flood worker");
	(void)bench_proc_cpu_ns(daemon_ctx.pid, &cpu0);
	t0 = bench_now_ns();
	if (bench_worker_call(&w, &c, &r, 120000) < 0)
		bench_die("the flood worker failed");
	t1 = bench_now_ns();
	(void)bench_proc_cpu_ns(daemon_ctx.pid, &cpu1);
	bench_worker_stop(&w);
	/* Let the one-second folding windows close and the daemon drain. */
	sleep_ms(2500);
	bench_follow_stop(&fl);
	flood_record(res, &r, t1 - t0, cpu1 - cpu0);
	res->flood_followed = e == 0 && fl.err == 0;
	res->flood_events = fl.events;
	res->flood_counted = fl.counted;
	res->flood_missed = fl.missed;
	if (e == 0 && fl.err < 0)
		note(res, "the violations follower failed: %s. ", strerror(-fl.err));
	if (daemon_status(&lost1, &made1, res) < 0 ||
	    sum_violations(target, &res->flood_listed_count, &res->flood_listed, res) < 0 ||
	    sum_stats_denied(target, &res->flood_stats_denied, res) < 0)
		return;
	res->flood_lost = lost1 - lost0;
	res->flood_created = made1 - made0;
	bench_log("flood: %llu denials in %.1f s (%.0f/s); netpold used %.2f cores; %llu violations created; "
		  "follower: %llu events counting %llu, %llu missed; ring buffer lost %llu",
		  (unsigned long long)r.bytes, res->flood_seconds, res->flood_rate, res->flood_cores,
		  (unsigned long long)res->flood_created, (unsigned long long)fl.events,
		  (unsigned long long)fl.counted, (unsigned long long)fl.missed,
		  (unsigned long long)res->flood_lost);
}

/* ---- memory with many bindings and a big policy ---- */

static void load(const struct bench_opts *o, struct bench_results *res)
{
	size_t cidrs = o->quick ? 1000 : 100000, nb = o->quick ? 10 : 1000;
	_cleanup_free_ struct bench_cidr *c = NULL;
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ json_t **params = calloc(nb, sizeof(*params));
	json_t *result = NULL;
	uint64_t t0;
	int r;

	if (!params || bench_cidrs_gen(cidrs, 0xfeed, &c) < 0)
		abort();
	json = bench_policy_json("big", c, cidrs);
	t0 = bench_now_ns();
	if (add_policy(json, &result, res) < 0)
		return;
	res->big_add_ms = (double)(bench_now_ns() - t0) / 1e6;
	res->loaded_cidrs = cidrs;
	res->loaded_entries = json_u64(result, "entries");
	json_decref(result);
	for (size_t i = 0; i < nb; i++) {
		_cleanup_free_ char *rel = bench_asprintf("npd/m/%04zu", i);
		_cleanup_free_ char *target = target_of(bench_cgroup(rel));

		params[i] = json_pack("{s:s, s:s}", "target", target, "policy", "big");
	}
	t0 = bench_now_ns();
	r = bench_daemon_call_many(&daemon_ctx, "apply", params, nb, &res->bind_failed);
	res->apply_ms = (double)(bench_now_ns() - t0) / 1e6;
	if (r < 0) {
		note(res, "applying %zu bindings failed: %s. ", nb, strerror(-r));
		return;
	}
	res->loaded_bindings = nb - res->bind_failed;
	sleep_ms(500);
	(void)bench_proc_mem_kb(daemon_ctx.pid, &res->rss_loaded_kb, &res->hwm_loaded_kb);
	bench_log("netpold with %zu bindings and %zu CIDRs: RSS %ld KiB (peak %ld KiB)", res->loaded_bindings,
		  cidrs, res->rss_loaded_kb, res->hwm_loaded_kb);
}

void bench_phase_daemon(const struct bench_opts *o, struct bench_results *res)
{
	const char *attach;
	int r;

	if (!o->netpold || !o->netpolctl || access(o->netpold, X_OK) < 0 || access(o->netpolctl, X_OK) < 0) {
		note(res, "netpold or netpolctl not built (%s, %s): the daemon measurements were skipped. ",
		     o->netpold ?: "-", o->netpolctl ?: "-");
		return;
	}
	attach = bench_cgroup("npd");
	bench_cgroup("npd/probe");
	bench_on_cleanup(daemon_cleanup, NULL);
	r = bench_daemon_start(&daemon_ctx, o->netpold, o->netpolctl, attach);
	if (r < 0) {
		note(res, "netpold did not start (%s); its log ends with: %.400s. ", strerror(-r),
		     bench_daemon_log_tail(&daemon_ctx));
		return;
	}
	res->daemon_ran = true;
	sleep_ms(o->quick ? 300 : 1500);
	(void)bench_proc_mem_kb(daemon_ctx.pid, &res->rss_idle_kb, &res->hwm_idle_kb);
	bench_log("netpold idle: RSS %ld KiB", res->rss_idle_kb);
	latency_ctl(o, res, bench_cgroup("npd/probe"));
	flood(o, res);
	load(o, res);
	bench_daemon_stop(&daemon_ctx);
}

/* ---- perf profiles of the connect and sendto loops at 10k CIDRs ---- */

static char *perf_top(const char *data)
{
	const char *argv[] = {"perf",	"report", "-i", data,	"--stdio",	   "--no-children",
			      "--sort", "symbol", "-g", "none", "--percent-limit", "1",
			      NULL};
	size_t size = 1 << 20, len = 0;
	_cleanup_free_ char *out = malloc(size);
	char *text = calloc(1, 4096), *line, *save = NULL;
	struct np_sb_spawn s = {
	    .argv = (char *const *)argv, .netns_fd = -1, .out = out, .out_size = size, .timeout_ms = 120000};
	int lines = 0;

	if (!out || !text || bench_spawn_wait(&s) != 0) {
		free(text);
		return NULL;
	}
	for (line = strtok_r(out, "\n", &save); line && lines < 25; line = strtok_r(NULL, "\n", &save)) {
		const char *p = line + strspn(line, " ");

		size_t n;

		if (*p < '0' || *p > '9' || !strchr(p, '%'))
			continue;
		/* Drop the empty columns perf prints after the symbol. */
		n = strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '-'))
			n--;
		len += (size_t)snprintf(text + len, 4096 - len, "%.*s\n", (int)n, p);
		if (len >= 4000)
			break;
		lines++;
	}
	return text;
}

static void profile_one(struct bench_results *res, int idx, const struct bench_series *s, const char *title)
{
	struct bench_topo *t = &bench_topo;
	int k = s ? bench_series_find(s, "netpol 10k") : -1;
	struct bench_variant *v;
	struct bench_cmd c;
	struct bench_res r;
	_cleanup_free_ char *data = bench_asprintf("%s/perf-%d.data", bench_env->tmp_dir, idx);
	const char *argv[] = {"perf", "record", "-q", "-e", "cpu-clock", "-F",	  "2999", "-g",
			      "-p",   NULL,	"-o", data, "--",	 "sleep", "3",	  NULL};
	char pid[16];
	struct np_sb_spawn sp = {.argv = (char *const *)argv, .netns_fd = -1, .timeout_ms = 60000};

	if (!s || k < 0)
		return;
	v = s->v[k];
	c = (struct bench_cmd){.op = s->op,
			       .rotate = s->rotate,
			       .udp_port = v->udp_port,
			       .tcp_port = v->tcp_port,
			       .listen_fd = v->listen_fd};
	c.n = (uint64_t)(4.0e9 / bench_sum_ns(s, k).med);
	snprintf(pid, sizeof(pid), "%d", (int)v->w.sb.pid);
	argv[9] = pid;
	if (bench_worker_send(&v->w, &c) < 0)
		bench_die("worker %s died", v->name);
	sleep_ms(200);
	(void)bench_spawn_wait(&sp);
	if (bench_worker_recv(&v->w, &r, 60000) < 0)
		bench_die("worker %s died", v->name);
	res->profile[idx] = perf_top(data);
	snprintf(res->profile_title[idx], sizeof(res->profile_title[idx]), "%s", title);
	(void)t;
}

void bench_phase_profile(const struct bench_opts *o, struct bench_results *res)
{
	if (o->quick || strncmp(res->perf_note, "perf not", 8) == 0)
		return;
	bench_log("perf profiles of the connect(), sendto() and TCP loops at 10k CIDRs");
	profile_one(res, 0, res->conn_rot, "UDP connect(), rotating destinations, netpol 10k");
	profile_one(res, 1, res->send_rot, "unconnected UDP sendto(), rotating destinations, netpol 10k");
	profile_one(res, 2, res->tcp_rot, "TCP connect + accept + close, rotating destinations, netpol 10k");
}
