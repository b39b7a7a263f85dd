/* SPDX-License-Identifier: GPL-2.0-only */
/* Machine facts and the run's topology: see bench-main.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench-env.h"
#include "bench-main.h"
#include "bench-util.h"
#include "dataplane.h"
#include "empty.skel.h"
#include "policy.h"

struct bench_topo bench_topo;

static const size_t sizes_full[] = {10, 1000, 10000, 100000};
static const size_t sizes_quick[] = {10, 1000};
static const size_t ipt_full[] = {1000, 10000};
static const size_t ipt_quick[] = {1000};

#define SEED 0x6e6574706f6cull /* "netpol" */

/* ---- machine ---- */

static void first_line_of(const char *path, const char *key, char *out, size_t size)
{
	_cleanup_free_ char *text = NULL;
	char *p, *end;

	if (bench_read_file(path, &text) < 0)
		return;
	p = key ? strstr(text, key) : text;
	if (!p)
		return;
	if (key) {
		p = strchr(p, ':');
		if (!p)
			return;
		p += 2;
	}
	end = strchr(p, '\n');
	if (end)
		*end = '\0';
	snprintf(out, size, "%s", p);
}

static int read_int(const char *path)
{
	char buf[32] = "";

	first_line_of(path, NULL, buf, sizeof(buf));
	return buf[0] ? atoi(buf) : -1;
}

static double loadavg(void)
{
	char buf[64] = "";

	first_line_of("/proc/loadavg", NULL, buf, sizeof(buf));
	return atof(buf);
}

/* The first line a command prints, or "" if it does not run. */
static void command_line_of(const char *arg0, const char *arg1, char *out, size_t size)
{
	const char *argv[] = {arg0, arg1, NULL};
	char buf[512];
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = -1,
				.out = buf,
				.out_size = sizeof(buf),
				.merge_stderr = true,
				.timeout_ms = 10000};
	char *nl;

	out[0] = '\0';
	if (bench_spawn_wait(&s) != 0)
		return;
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	snprintf(out, size, "%.*s", (int)(size - 1), buf);
}

/* Does `perf` sample at all (software clock; hardware counters are often
 * missing in VMs)? */
static void perf_probe(struct bench_results *res)
{
	const char *argv[] = {"perf", "stat", "-e", "instructions", "true", NULL};
	char buf[2048];
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = -1,
				.out = buf,
				.out_size = sizeof(buf),
				.merge_stderr = true,
				.timeout_ms = 10000};
	int r = bench_spawn_wait(&s);

	if (r != 0)
		snprintf(res->perf_note, sizeof(res->perf_note), "perf not available");
	else if (strstr(buf, "not supported") || strstr(buf, "not counted"))
		snprintf(res->perf_note, sizeof(res->perf_note),
			 "perf works, hardware counters not supported (cpu-clock sampling only)");
	else
		snprintf(res->perf_note, sizeof(res->perf_note), "perf works, hardware counters available");
}

/* cgroup programs in effect for the bench cgroup that are not ours (they
 * run in every variant, baseline included). */
static int foreign_programs(void)
{
	static const enum bpf_attach_type types[] = {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
						     BPF_CGROUP_INET_EGRESS, BPF_CGROUP_SOCK_OPS,
						     BPF_CGROUP_INET_SOCK_CREATE};
	_cleanup_close_ int fd = open(bench_env->sb.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int total = 0;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		__u32 ids[64], n = 64, flags = 0;

		if (bpf_prog_query(fd, types[i], BPF_F_QUERY_EFFECTIVE, &flags, ids, &n) == 0)
			total += (int)n;
	}
	return total;
}

void bench_machine_info(struct bench_results *res)
{
	struct utsname u;
	time_t now = time(NULL);
	char mem[64] = "";

	uname(&u);
	snprintf(res->kernel, sizeof(res->kernel), "%.40s %.80s (%.20s)", u.sysname, u.release, u.machine);
	first_line_of("/proc/cpuinfo", "model name", res->cpu, sizeof(res->cpu));
	res->ncpu = bench_ncpus();
	first_line_of("/proc/meminfo", "MemTotal", mem, sizeof(mem));
	res->mem_mb = atol(mem) / 1024;
	strftime(res->date, sizeof(res->date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	first_line_of("/sys/devices/system/clocksource/clocksource0/current_clocksource", NULL,
		      res->clocksource, sizeof(res->clocksource));
	res->jit = bench_env->jit;
	res->stats_sysctl_start = read_int("/proc/sys/kernel/bpf_stats_enabled");
	res->load_start = loadavg();
	command_line_of(getenv("NETPOL_BENCH_IPTABLES") ?: "iptables", "-V", res->ipt_version,
			sizeof(res->ipt_version));
	command_line_of("nft", "-v", res->nft_version, sizeof(res->nft_version));
	perf_probe(res);
	res->foreign_progs = foreign_programs();
	if (res->jit != 1)
		bench_die("the BPF JIT is off (net.core.bpf_jit_enable=%d): numbers would mean nothing",
			  res->jit);
}

void bench_machine_info_end(struct bench_results *res)
{
	res->load_end = loadavg();
	res->stats_sysctl_end = read_int("/proc/sys/kernel/bpf_stats_enabled");
}

/* ---- programs and policies ---- */

static struct empty_bpf *empty_skel;
static struct bpf_link *empty_links[4];

static void empty_cleanup(void *arg)
{
	for (size_t i = 0; i < ELEMENTSOF(empty_links); i++)
		bpf_link__destroy(empty_links[i]);
	empty_bpf__destroy(empty_skel);
}

/* At every hook netpol uses for IPv4, so that "empty" is what merely having
 * programs there costs. */
static void empty_attach(const char *cgroup)
{
	_cleanup_close_ int fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct bpf_program *progs[ELEMENTSOF(empty_links)];
	static const enum bench_prog ids[ELEMENTSOF(empty_links)] = {BP_EMPTY_CONNECT4, BP_EMPTY_SENDMSG4,
								     BP_EMPTY_EGRESS, BP_EMPTY_SOCK_CREATE};

	empty_skel = empty_bpf__open_and_load();
	if (!empty_skel || fd < 0)
		bench_die("cannot load the empty programs: %m");
	bench_on_cleanup(empty_cleanup, NULL);
	progs[0] = empty_skel->progs.empty_connect4;
	progs[1] = empty_skel->progs.empty_sendmsg4;
	progs[2] = empty_skel->progs.empty_egress;
	progs[3] = empty_skel->progs.empty_sock_create;
	for (size_t i = 0; i < ELEMENTSOF(empty_links); i++) {
		empty_links[i] = bpf_program__attach_cgroup(progs[i], fd);
		if (!empty_links[i])
			bench_die("cannot attach %s: %m", bpf_program__name(progs[i]));
		bench_prog_fds[ids[i]] = bpf_program__fd(progs[i]);
	}
}

static void dp_cleanup(void *arg)
{
	struct np_dataplane *dp = bench_topo.dp;

	if (!dp)
		return;
	(void)np_dataplane_unpin(dp);
	bench_topo.dp = np_dataplane_free(dp);
}

/* The program behind a pinned link of ours (not by name: other netpol
 * instances on the host have programs of the same names). */
static int prog_fd_of_link(const char *pin_dir, const char *prog)
{
	_cleanup_free_ char *path = bench_asprintf("%s/link_%s", pin_dir, prog);
	_cleanup_close_ int lfd = bpf_obj_get(path);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (lfd < 0 || bpf_obj_get_info_by_fd(lfd, &info, &len) < 0)
		return -errno;
	return bpf_prog_get_fd_by_id(info.prog_id);
}

static void dp_open(void)
{
	static const char *const names[] = {"np_connect4", "np_connect6",   "np_sendmsg4",
					    "np_sendmsg6", "np_egress_skb", "np_sock_create_prog"};
	_cleanup_free_ char *pin = bench_asprintf("%s/lib", bench_env->sb.pin_dir);
	struct np_dataplane_opts opts = {.pin_dir = pin, .attach_cgroup = bench_topo.np_attach};
	int r;

	r = np_dataplane_open(&opts, &bench_topo.dp, NULL);
	if (r < 0)
		bench_die("np_dataplane_open: %s", strerror(-r));
	bench_on_cleanup(dp_cleanup, NULL);
	for (int i = 0; i < BP_EMPTY_CONNECT4; i++) {
		bench_prog_fds[i] = prog_fd_of_link(pin, names[i]);
		if (bench_prog_fds[i] < 0)
			bench_die("cannot find our program %s: %s", names[i], strerror(-bench_prog_fds[i]));
	}
}

static double ms_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e6;
}

int bench_policy_install(const char *json, uint32_t policy_id, size_t *entries, double times_ms[3])
{
	struct np_policy *p = NULL;
	struct np_compiled *c = NULL;
	struct np_error err = {0};
	uint64_t t0 = bench_now_ns();
	double t[3];
	int r;

	r = np_policy_from_string(json, &p, &err);
	t[0] = ms_since(t0);
	if (r < 0) {
		bench_log("policy %u: %s: %s", policy_id, err.field, err.message);
		return r;
	}
	t0 = bench_now_ns();
	r = np_policy_compile(p, &c, &err);
	t[1] = ms_since(t0);
	if (r < 0) {
		bench_log("policy %u: compile: %s", policy_id, err.message);
		np_policy_free(p);
		return r;
	}
	t0 = bench_now_ns();
	r = np_dataplane_install(bench_topo.dp, policy_id, p->name, c);
	t[2] = ms_since(t0);
	if (entries)
		*entries = c->n_entries;
	if (times_ms)
		memcpy(times_ms, t, sizeof(t));
	np_compiled_free(c);
	np_policy_free(p);
	return r;
}

/* ---- namespaces with firewall rules ---- */

static char *write_tmp(const char *name, const char *text)
{
	char *path = bench_asprintf("%s/%s", bench_env->tmp_dir, name);

	if (bench_write_file(path, text) < 0)
		bench_die("cannot write %s: %m", path);
	return path;
}

/* Intervals in the set after auto-merge: elements are separated by ", ". */
static int nft_count_intervals(int ns)
{
	const char *argv[] = {"nft", "list", "set", "ip", "netpol_bench", "cidrs", NULL};
	size_t size = 32 << 20;
	_cleanup_free_ char *out = malloc(size);
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = bench_env->netns[ns],
				.out = out,
				.out_size = size,
				.timeout_ms = 60000};
	int n = 1;

	if (!out || bench_spawn_wait(&s) != 0)
		return -EIO;
	for (char *p = strstr(out, "elements"); p && (p = strchr(p, ',')); p++)
		n++;
	return n;
}

static bool load_nft(int ns, const struct bench_cidr *c, size_t n, double *ms, int *intervals)
{
	_cleanup_free_ char *text = bench_nft_ruleset(c, n);
	_cleanup_free_ char *path = write_tmp("nft.rules", text);
	const char *argv[] = {"nft", "-f", path, NULL};
	char err[1024];
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = bench_env->netns[ns],
				.out = err,
				.out_size = sizeof(err),
				.merge_stderr = true,
				.timeout_ms = 120000};
	uint64_t t0 = bench_now_ns();
	int r = bench_spawn_wait(&s);

	*ms = ms_since(t0);
	if (r != 0) {
		bench_log("nft -f failed (%d): %.300s", r, err);
		return false;
	}
	*intervals = nft_count_intervals(ns);
	return true;
}

static bool load_ipt(int ns, const struct bench_cidr *c, size_t n, double *ms)
{
	_cleanup_free_ char *text = bench_ipt_ruleset(c, n);
	_cleanup_free_ char *path = write_tmp("ipt.rules", text);
	_cleanup_free_ char *restore =
	    bench_asprintf("%s-restore", getenv("NETPOL_BENCH_IPTABLES") ?: "iptables");
	const char *argv[] = {restore, NULL};
	char err[1024];
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = bench_env->netns[ns],
				.stdin_path = path,
				.out = err,
				.out_size = sizeof(err),
				.merge_stderr = true,
				.timeout_ms = 300000};
	uint64_t t0 = bench_now_ns();
	int r = bench_spawn_wait(&s);

	*ms = ms_since(t0);
	if (r != 0)
		bench_log("%s failed (%d): %.300s", restore, r, err);
	return r == 0;
}

/* ---- listeners and variants ---- */

static void listeners_in(int ns, const char *cgroup, uint16_t tcp, uint16_t udp, int *lfd, int *sink)
{
	const char *home = bench_cgroup("free/ctl");

	if (np_sb_cgroup_join(cgroup) < 0 || bench_netns_enter(ns) < 0)
		bench_die("cannot enter %s / namespace %d", cgroup, ns);
	*lfd = bench_tcp_listener(tcp);
	*sink = bench_udp_sink(udp);
	if (*lfd < 0 || *sink < 0)
		bench_die("cannot create the listeners in %s: %s", cgroup,
			  strerror(-(*lfd < 0 ? *lfd : *sink)));
	if (bench_netns_enter(0) < 0 || np_sb_cgroup_join(home) < 0)
		bench_die("cannot return to %s", home);
}

static void variant_init(struct bench_variant *v, const char *name, enum bench_kind kind, size_t cidrs,
			 const char *cgroup, int ns, uint16_t tcp, uint16_t udp, int lfd)
{
	*v = (struct bench_variant){.kind = kind,
				    .cidrs = cidrs,
				    .cgroup = cgroup,
				    .netns = ns,
				    .tcp_port = tcp,
				    .udp_port = udp,
				    .listen_fd = lfd,
				    .policed = kind == BK_NETPOL};
	snprintf(v->name, sizeof(v->name), "%s", name);
}

static void variant_start(struct bench_variant *v)
{
	char comm[16];
	int r;

	snprintf(comm, sizeof(comm), "nb-%.12s", v->name);
	for (char *p = comm; *p; p++)
		if (*p == ' ')
			*p = '-';
	r = bench_worker_start(&v->w, comm, v->cgroup, v->netns, 1);
	if (r < 0)
		bench_die("cannot start worker %s: %s", v->name, strerror(-r));
}

static const char *size_name(size_t n)
{
	static char bufs[8][24];
	static int next;
	char *b = bufs[next++ % 8];

	if (n >= 1000 && n % 1000 == 0)
		snprintf(b, 24, "%zuk", n / 1000);
	else
		snprintf(b, 24, "%zu", n);
	return b;
}

static void setup_netpol(struct bench_results *res)
{
	struct bench_topo *t = &bench_topo;

	for (size_t i = 0; i < res->n_sizes; i++) {
		_cleanup_free_ char *name = bench_asprintf("bench-%zu", res->sizes[i]);
		_cleanup_free_ char *json = NULL;
		_cleanup_free_ char *rel = bench_asprintf("np/c%s", size_name(res->sizes[i]));
		const char *cg = bench_cgroup(rel);
		char vname[32];
		int r;

		r = bench_cidrs_gen(res->sizes[i], SEED, &t->cidrs[i]);
		if (r < 0)
			bench_die("cannot generate %zu CIDRs", res->sizes[i]);
		json = bench_policy_json(name, t->cidrs[i], res->sizes[i]);
		t->np_policy_id[i] = (uint32_t)i + 1;
		r = bench_policy_install(json, t->np_policy_id[i], &res->entries[i], NULL);
		if (r < 0)
			bench_die("cannot install the %zu-CIDR policy: %s", res->sizes[i], strerror(-r));
		if (np_cgroup_id(cg, &t->np_cgroup_id[i]) < 0 ||
		    np_dataplane_bind(t->dp, t->np_cgroup_id[i], t->np_policy_id[i]) < 0)
			bench_die("cannot bind %s", cg);
		snprintf(vname, sizeof(vname), "netpol %s", size_name(res->sizes[i]));
		variant_init(&t->np[i], vname, BK_NETPOL, res->sizes[i], cg, 0, PORT_TCP_NP, PORT_UDP_NP,
			     t->lfd_np);
		t->np[i].entries = res->entries[i];
		bench_log("netpol policy %zu CIDRs -> %zu LPM entries", res->sizes[i], res->entries[i]);
	}
	t->n_np = (int)res->n_sizes;
}

static void setup_firewalls(struct bench_results *res)
{
	struct bench_topo *t = &bench_topo;
	const char *cli = bench_cgroup("free/cli"), *srv = bench_cgroup("free/srv");

	res->have_nft = res->nft_version[0] != '\0';
	for (size_t i = 0; res->have_nft && i < res->n_sizes; i++) {
		_cleanup_free_ char *nsname = bench_asprintf("nft-%zu", res->sizes[i]);
		int ns = bench_netns_new(nsname), lfd, sink;
		char vname[32];

		if (!load_nft(ns, t->cidrs[i], res->sizes[i], &res->nft_load_ms[i], &res->nft_intervals[i])) {
			res->have_nft = false;
			break;
		}
		bench_netns_verify(ns);
		listeners_in(ns, srv, PORT_TCP_FREE, PORT_UDP_FREE, &lfd, &sink);
		snprintf(vname, sizeof(vname), "nft %s", size_name(res->sizes[i]));
		variant_init(&t->nft[i], vname, BK_NFT, res->sizes[i], cli, ns, PORT_TCP_FREE, PORT_UDP_FREE,
			     lfd);
		t->n_nft++;
		bench_log("nftables set of %zu CIDRs (%d intervals) loaded in %.0f ms", res->sizes[i],
			  res->nft_intervals[i], res->nft_load_ms[i]);
	}
	res->have_ipt = res->ipt_version[0] != '\0';
	for (size_t i = 0; res->have_ipt && i < res->n_ipt; i++) {
		_cleanup_free_ char *nsname = bench_asprintf("ipt-%zu", res->ipt_sizes[i]);
		int ns = bench_netns_new(nsname), lfd, sink, k;
		char vname[32];

		/* The same CIDRs as netpol's set of that size. */
		for (k = 0; k < (int)res->n_sizes && res->sizes[k] != res->ipt_sizes[i]; k++)
			;
		if (k == (int)res->n_sizes ||
		    !load_ipt(ns, t->cidrs[k], res->ipt_sizes[i], &res->ipt_load_ms[i])) {
			res->have_ipt = false;
			break;
		}
		bench_netns_verify(ns);
		listeners_in(ns, srv, PORT_TCP_FREE, PORT_UDP_FREE, &lfd, &sink);
		snprintf(vname, sizeof(vname), "iptables %s", size_name(res->ipt_sizes[i]));
		variant_init(&t->ipt[i], vname, BK_IPT, res->ipt_sizes[i], cli, ns, PORT_TCP_FREE,
			     PORT_UDP_FREE, lfd);
		t->n_ipt++;
		bench_log("iptables: %zu linear rules loaded in %.0f ms", res->ipt_sizes[i],
			  res->ipt_load_ms[i]);
	}
	if (!res->have_ipt)
		t->n_ipt = 0;
	if (!res->have_nft)
		t->n_nft = 0;
}

static void sizes_init(const struct bench_opts *o, struct bench_results *res)
{
	const size_t *s = o->quick ? sizes_quick : sizes_full, *ip = o->quick ? ipt_quick : ipt_full;

	res->n_sizes = o->quick ? ELEMENTSOF(sizes_quick) : ELEMENTSOF(sizes_full);
	memcpy(res->sizes, s, res->n_sizes * sizeof(*s));
	res->n_ipt = o->quick ? ELEMENTSOF(ipt_quick) : ELEMENTSOF(ipt_full);
	memcpy(res->ipt_sizes, ip, res->n_ipt * sizeof(*ip));
	res->plan = o->quick ? (struct bench_plan){.reps = 2, .chunks = 2, .chunk_ms = 2, .calib_n = 100}
			     : (struct bench_plan){.reps = 7, .chunks = 10, .chunk_ms = 20, .calib_n = 2000};
}

static void start_and_verify(void)
{
	struct bench_topo *t = &bench_topo;
	struct bench_variant *all[2 + 3 * BENCH_MAX_SIZES];
	int n = 0;

	all[n++] = &t->none;
	all[n++] = &t->empty;
	for (int i = 0; i < t->n_np; i++)
		all[n++] = &t->np[i];
	for (int i = 0; i < t->n_nft; i++)
		all[n++] = &t->nft[i];
	for (int i = 0; i < t->n_ipt; i++)
		all[n++] = &t->ipt[i];
	for (int i = 0; i < n; i++)
		variant_start(all[i]);
	for (int i = 0; i < n; i++)
		bench_variant_verify(all[i]);
	bench_log("%d variants verified: allowed destinations pass, netpol refuses the rest", n);
}

void bench_topology_setup(const struct bench_opts *o, struct bench_results *res)
{
	struct bench_topo *t = &bench_topo;
	const char *ctl, *free_srv;
	int lfd_free, sink_free;

	sizes_init(o, res);
	ctl = bench_cgroup("free/ctl");
	free_srv = bench_cgroup("free/srv");
	if (np_sb_cgroup_join(ctl) < 0)
		bench_die("cannot join %s", ctl);
	(void)bench_pin_cpu(1);

	empty_attach(bench_cgroup("empty"));
	t->np_attach = bench_cgroup("np");
	dp_open();

	listeners_in(0, free_srv, PORT_TCP_FREE, PORT_UDP_FREE, &lfd_free, &sink_free);
	listeners_in(0, bench_cgroup("np/srv"), PORT_TCP_NP, PORT_UDP_NP, &t->lfd_np, &t->sink_np);
	variant_init(&t->none, "none", BK_NONE, 0, bench_cgroup("free/cli"), 0, PORT_TCP_FREE, PORT_UDP_FREE,
		     lfd_free);
	variant_init(&t->empty, "empty", BK_EMPTY, 0, bench_cgroup("empty/cli"), 0, PORT_TCP_FREE,
		     PORT_UDP_FREE, lfd_free);
	setup_netpol(res);
	setup_firewalls(res);
	bench_netns_verify(0);
	start_and_verify();
}
