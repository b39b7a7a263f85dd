/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Adoption: the data plane lives in its pins. np-loader loads, installs,
 * binds and exits; enforcement goes on with no process holding an fd; later
 * runs adopt (replacing the programs in the pinned links) without a single
 * probe slipping through or being wrongly refused; the harness's own open
 * adopts too; unpin + close detaches.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "harness.h"

#ifndef NP_LOADER
#define NP_LOADER "np-loader"
#endif

#define POLICY_ID 7
#define DENIED	  "203.0.113.9"	 /* port 80 denied */
#define ALLOWED	  "198.51.100.7" /* port 80 allowed */

static const char policy_json[] = "{\"name\":\"adopt\",\"default\":\"allow\",\"rules\":["
				  "{\"action\":\"deny\",\"to\":[\"203.0.113.0/24\"],\"ports\":[80]}]}\n";

static char policy_file[64];
static char bind_arg[4200], install_arg[128];

static int run_loader(struct np_test_env *env, char *out, size_t out_size)
{
	char *argv[] = {
	    (char *)NP_LOADER,
	    (char *)"--pin-dir",
	    (char *)np_test_pin_dir(env),
	    (char *)"--attach-cgroup",
	    (char *)np_test_attach_cgroup(env),
	    (char *)"--install",
	    install_arg,
	    (char *)"--bind",
	    bind_arg,
	    NULL,
	};

	return np_test_spawn(argv, out, out_size, 30000);
}

static bool first_line_is(const char *out, const char *want)
{
	size_t n = strlen(want);

	return strncmp(out, want, n) == 0 && (out[n] == '\n' || out[n] == 0);
}

/* (1) load, install, bind, exit: enforcement continues via the pins */
static void case_load_and_exit(struct np_test_env *env)
{
	struct np_dest d = np_dest_v4(DENIED, 80), a = np_dest_v4(ALLOWED, 80), a2 = np_dest_v4(DENIED, 81);
	char out[4096];
	int r;

	r = run_loader(env, out, sizeof(out));
	NP_CHECK(r == 0, "np-loader exited with %d, output: %s", r, out);
	NP_CHECK(first_line_is(out, "loaded"), "np-loader printed '%s', expected 'loaded'", out);
	NP_CHECK(access(np_test_pin_dir(env), F_OK) == 0, "pin dir %s missing", np_test_pin_dir(env));

	r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &d);
	NP_CHECK(r == -EPERM, "udp connect %s from p: %s, expected EPERM", np_dest_str(&d),
		 np_test_strerr(r));
	r = np_test_probe_in(env, "p", np_probe_tcp_connect, &d);
	NP_CHECK(r == -EPERM, "tcp connect %s from p: %s, expected EPERM", np_dest_str(&d),
		 np_test_strerr(r));
	r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &a);
	NP_CHECK(r == 0, "udp connect %s from p: %s", np_dest_str(&a), np_test_strerr(r));
	r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &a2);
	NP_CHECK(r == 0, "udp connect %s from p: %s", np_dest_str(&a2), np_test_strerr(r));
	/* and an unbound sibling is not policed */
	r = np_test_probe_in(env, "free", np_probe_udp_connect_send, &d);
	NP_CHECK(r == 0, "udp connect %s from unbound cgroup: %s", np_dest_str(&d), np_test_strerr(r));
}

/* (2) a prober runs while np-loader adopts 20 times */
struct prober {
	struct np_dest denied, allowed;
	unsigned long probes, denied_ok, allowed_fail;
	int allowed_errno, denied_errno_other;
};

static volatile int *g_stop; /* shared memory: set by the parent */

static int prober_loop(void *arg, size_t len)
{
	struct prober *p = arg;

	while (!*g_stop) {
		int r = np_probe_udp_connect_send(&p->denied);

		if (r == 0)
			p->denied_ok++;
		else if (r != -EPERM)
			p->denied_errno_other = r;
		r = np_probe_udp_connect_send(&p->allowed);
		if (r != 0) {
			p->allowed_fail++;
			p->allowed_errno = r;
		}
		p->probes++;
		usleep(1000);
	}
	return 0;
}

static void case_adopt_under_load(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct prober p = {.denied = np_dest_v4(DENIED, 80), .allowed = np_dest_v4(ALLOWED, 80)};
	uint64_t start;
	int r, result, done;

	*g_stop = 0;
	r = np_test_worker_start(env, "p", &w);
	NP_CHECK(r == 0, "prober: %s", np_test_strerr(r));
	r = np_test_worker_send(&w, prober_loop, &p, sizeof(p));
	NP_CHECK(r == 0, "prober did not start");
	start = np_test_now_ms();
	usleep(50000);
	for (int i = 0; i < 20; i++) {
		char out[4096];

		r = run_loader(env, out, sizeof(out));
		if (r != 0 || !first_line_is(out, "adopted")) {
			*g_stop = 1;
			NP_CHECK(false, "np-loader run %d: exit %d, output '%s' (expected 'adopted')", i + 1,
				 r, out);
		}
	}
	/* give the prober at least half a second in total */
	while (np_test_now_ms() - start < 500)
		usleep(10000);
	*g_stop = 1;
	done = np_test_worker_poll(&w, 5000, &result);
	NP_CHECK(done == 1, "prober did not report");
	printf("# prober: %lu probes in %llu ms\n", p.probes, (unsigned long long)(np_test_now_ms() - start));
	NP_CHECK(p.denied_ok == 0, "%lu of %lu probes reached the denied destination", p.denied_ok, p.probes);
	NP_CHECK(p.allowed_fail == 0, "%lu of %lu probes to the allowed destination failed (%s)",
		 p.allowed_fail, p.probes, np_test_strerr(p.allowed_errno));
	NP_CHECK(p.denied_errno_other == 0, "denied probe failed with %s instead of EPERM",
		 np_test_strerr(p.denied_errno_other));
	NP_CHECK(p.probes >= 300, "only %lu probes", p.probes);
}

/* (3) the harness's own open adopts as well */
/* (3) an earlier version's sockops link, pinned where it pinned it, is
 * detached by the next adoption (the programs of this version do its work) */
static int pin_old_sockops_link(const char *cgroup, const char *path)
{
	const struct bpf_insn ret1[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	_cleanup_close_ int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int prog = -EBADF, link = -EBADF;

	if (cg < 0)
		return -errno;
	prog = bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "np_sockops_prog", "GPL", ret1, ELEMENTSOF(ret1), NULL);
	if (prog < 0)
		return -errno;
	link = bpf_link_create(prog, cg, BPF_CGROUP_SOCK_OPS, NULL);
	if (link < 0)
		return -errno;
	return bpf_obj_pin(link, path) < 0 ? -errno : 0;
}

static int sockops_attached(const char *cgroup)
{
	_cleanup_close_ int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	__u32 n = 0;

	if (cg < 0)
		return -errno;
	if (bpf_prog_query(cg, BPF_CGROUP_SOCK_OPS, 0, NULL, NULL, &n) < 0)
		return -errno;
	return (int)n;
}

static void case_retired_link(struct np_test_env *env)
{
	char path[PATH_MAX], out[4096];
	int r;

	snprintf(path, sizeof(path), "%s/link_np_sockops_prog", np_test_pin_dir(env));
	r = pin_old_sockops_link(np_test_attach_cgroup(env), path);
	NP_CHECK(r == 0, "pinning a sockops link at %s: %s", path, np_test_strerr(r));
	NP_CHECK(sockops_attached(np_test_attach_cgroup(env)) == 1, "the sockops link is not attached");

	r = run_loader(env, out, sizeof(out));
	NP_CHECK(r == 0, "np-loader exited with %d, output: %s", r, out);
	NP_CHECK(first_line_is(out, "adopted"), "np-loader printed '%s', expected 'adopted'", out);
	NP_CHECK(access(path, F_OK) < 0, "%s is still pinned", path);
	r = sockops_attached(np_test_attach_cgroup(env));
	NP_CHECK(r == 0, "%s sockops programs still attached", r < 0 ? np_test_strerr(r) : "some");
}

static int binding_cb(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	uint64_t *want = userdata;

	if (cgroup_id == want[0] && policy_id == want[1])
		want[2] = 1;
	return 0;
}

static void case_harness_adopts(struct np_test_env *env)
{
	struct np_dest d = np_dest_v4(DENIED, 80), a = np_dest_v4(ALLOWED, 80);
	char name[NP_POLICY_NAME_MAX] = "";
	uint64_t want[3] = {np_test_cgroup_id(env, "p"), POLICY_ID, 0};
	bool adopted = false;
	int r;

	r = np_test_open_dataplane(env, &adopted);
	NP_CHECK(r == 0, "np_dataplane_open: %s", np_test_strerr(r));
	NP_CHECK(adopted, "np_dataplane_open loaded instead of adopting");
	r = np_dataplane_policy_name(np_test_dp(env), POLICY_ID, name);
	NP_CHECK(r == 0 && strcmp(name, "adopt") == 0, "policy %d name: %s '%s'", POLICY_ID,
		 np_test_strerr(r), name);
	r = np_dataplane_bindings_foreach(np_test_dp(env), binding_cb, want);
	NP_CHECK(r >= 0 && want[2], "binding of p to %d not listed (%s)", POLICY_ID, np_test_strerr(r));
	r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &d);
	NP_CHECK(r == -EPERM, "after adopting: %s: %s", np_dest_str(&d), np_test_strerr(r));
	r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &a);
	NP_CHECK(r == 0, "after adopting: %s: %s", np_dest_str(&a), np_test_strerr(r));
}

/* The pin directory stays locked while a data plane is open: a second
 * owner would create, pin and change maps under the first one. */
static void case_second_open_refused(struct np_test_env *env)
{
	struct np_dataplane_opts o = {.pin_dir = np_test_pin_dir(env),
				      .attach_cgroup = np_test_attach_cgroup(env)};
	struct np_dataplane *dp = NULL;
	char out[4096] = "";
	int r;

	r = np_dataplane_open(&o, &dp, NULL);
	np_dataplane_free(dp);
	NP_CHECK(r == -EBUSY, "a second np_dataplane_open: %s, expected EBUSY", np_test_strerr(r));
	r = run_loader(env, out, sizeof(out));
	NP_CHECK(r != 0, "np-loader ran beside the open data plane, output: %s", out);
}

/* A switch that fails changes nothing, the metadata included. */
static void case_failed_switch_keeps_meta(struct np_test_env *env)
{
	struct np_policy *p = NULL;
	struct np_compiled *c = NULL;
	struct np_error err = {};
	char name[NP_POLICY_NAME_MAX] = "";
	int r;

	r = np_policy_from_string("{\"name\":\"other\",\"default\":\"deny\"}", &p, &err);
	if (r >= 0)
		r = np_policy_compile(p, &c, &err);
	NP_CHECK(r == 0, "policy: %s: %s", err.field, err.message);
	r = np_dataplane_publish(np_test_dp(env), POLICY_ID, "other", c, -EBADF);
	np_compiled_free(c);
	np_policy_free(p);
	NP_CHECK(r < 0, "a switch to no trie succeeded");
	r = np_dataplane_policy_name(np_test_dp(env), POLICY_ID, name);
	NP_CHECK(r == 0 && strcmp(name, "adopt") == 0, "policy %d is named %s '%s' after a failed switch",
		 POLICY_ID, np_test_strerr(r), name);
}

/* (4) unpin + close: the programs detach, enforcement stops */
static void case_unpin_detaches(struct np_test_env *env)
{
	struct np_dest d = np_dest_v4(DENIED, 80);
	int r;

	r = np_test_close_dataplane(env, true);
	NP_CHECK(r == 0, "unpin: %s", np_test_strerr(r));
	NP_CHECK(access(np_test_pin_dir(env), F_OK) < 0, "pin dir %s still exists", np_test_pin_dir(env));
	/* link release may be deferred a little */
	for (int i = 0; i < 50; i++) {
		r = np_test_probe_in(env, "p", np_probe_udp_connect_send, &d);
		if (r == 0)
			break;
		usleep(20000);
	}
	NP_CHECK(r == 0, "after unpin and close, %s from p still gets %s", np_dest_str(&d),
		 np_test_strerr(r));
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-adopt", NP_TEST_NO_DATAPLANE);
	FILE *f;
	int fd;

	g_stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_stop == MAP_FAILED) {
		fprintf(stderr, "Bail out! mmap: %m\n");
		return 99;
	}
	np_test_cgroup(env, "p", NULL);
	np_test_cgroup(env, "free", NULL);
	snprintf(policy_file, sizeof(policy_file), "/tmp/np-adopt-%d-XXXXXX", (int)getpid());
	fd = mkstemp(policy_file);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || fputs(policy_json, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "Bail out! cannot write %s: %m\n", policy_file);
		return 99;
	}
	snprintf(install_arg, sizeof(install_arg), "%d:%s", POLICY_ID, policy_file);
	snprintf(bind_arg, sizeof(bind_arg), "%s/p:%d", np_test_attach_cgroup(env), POLICY_ID);

	np_test_run(env, "np-loader loads, exits, enforcement continues", case_load_and_exit);
	np_test_run(env, "20 adoptions under a 1 ms prober", case_adopt_under_load);
	np_test_run(env, "an earlier version's sockops link is detached", case_retired_link);
	np_test_run(env, "the test process adopts too", case_harness_adopts);
	np_test_run(env, "a second open of the pin directory is refused", case_second_open_refused);
	np_test_run(env, "a failed switch keeps the metadata", case_failed_switch_keeps_meta);
	np_test_run(env, "unpin and close detach", case_unpin_detaches);
	unlink(policy_file);
	return np_test_finish(env);
}
