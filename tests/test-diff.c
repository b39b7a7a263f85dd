/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Differential test: random overlapping policies, random destinations; the
 * verdict the KERNEL gives (observed through real syscalls from a process in
 * the bound cgroup) must equal the reference evaluator's (tests/ref-eval.c,
 * written from the semantics, independent of the compiler).
 *
 *   TCP:  connect(): EPERM = deny; 0 or ECONNREFUSED = allow
 *   UDP:  connect() or sendto() (alternating): EPERM = deny; 0 = allow
 *   ICMP: ping socket connect(): EPERM = deny; 0 = allow
 * (ENETUNREACH/EACCES for the broadcast address 127.255.255.255 also mean
 * allow: they come from the route lookup, after the hooks.)
 * IPv4 destinations use AF_INET sockets, and every third one the v4-mapped
 * form on an AF_INET6 socket (TCP and UDP).
 *
 * NP_TEST_SEED=<n> repeats a run; NP_TEST_POLICIES / NP_TEST_DESTS resize it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ref-eval.h"

#define POLICY_ID      42
#define MAX_DETAILED   25
#define MAX_MISMATCHES 300

enum method { M_TCP_CONNECT, M_UDP_CONNECT, M_UDP_SENDTO, M_PING_CONNECT };

static const char *const method_names[] = {
    [M_TCP_CONNECT] = "tcp connect",
    [M_UDP_CONNECT] = "udp connect",
    [M_UDP_SENDTO] = "udp sendto",
    [M_PING_CONNECT] = "ping connect",
};

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

/* Defense in depth: the reference generator promises these ranges only. */
static bool dest_allowed_by_rules(const uint8_t a[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t lo6[16] = {[15] = 1};

	if (memcmp(a, mapped, 12) == 0)
		return (a[12] == 203 && a[13] == 0 && a[14] == 113) ||
		       (a[12] == 198 && a[13] == 51 && a[14] == 100) || a[12] == 127;
	return (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) || memcmp(a, lo6, 16) == 0;
}

static void print_policy(const struct np_policy *p)
{
	json_t *j = np_policy_to_json(p);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	printf("#   policy: %s\n", s ? s : "(np_policy_to_json failed)");
	free(s);
	json_decref(j);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-diff", 0);
	_cleanup_worker_ struct np_test_worker w = {};
	unsigned long n_policies = env_ulong("NP_TEST_POLICIES", 100),
		      n_dests = env_ulong("NP_TEST_DESTS", 100);
	uint64_t seed = env_ulong("NP_TEST_SEED", 0), rng;
	unsigned long cases = 0, mismatches = 0, detailed = 0, per_method[4][2] = {}, deny_seen = 0;
	unsigned long past_hook = 0, compiler_vs_ref = 0, kernel_vs_compiled = 0;
	uint64_t t0 = np_test_now_ms();
	bool bound = false;
	int r;

	if (!seed)
		seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	rng = seed;
	printf("# seed %llu (NP_TEST_SEED=%llu repeats this run)\n", (unsigned long long)seed,
	       (unsigned long long)seed);

	np_test_cgroup(env, "diff", NULL);
	r = np_test_worker_start(env, "diff", &w);
	if (r < 0) {
		fprintf(stderr, "Bail out! worker: %s\n", np_test_strerr(r));
		return 99;
	}

	for (unsigned long pi = 0; pi < n_policies && mismatches < MAX_MISMATCHES; pi++) {
		struct np_policy *p = np_ref_random_policy(&rng, 0);
		unsigned long policy_mismatches = 0;
		bool printed_policy = false;

		if (!p) {
			fprintf(stderr, "Bail out! np_ref_random_policy failed\n");
			return 99;
		}
		r = np_test_try_install_policy(env, POLICY_ID, p);
		if (r < 0) {
			char reason[128];

			snprintf(reason, sizeof(reason), "policy %lu does not install: %s", pi,
				 np_test_strerr(r));
			print_policy(p);
			np_test_result(reason, false, "install failed");
			np_policy_free(p);
			continue;
		}
		if (!bound) {
			np_test_bind(env, "diff", POLICY_ID);
			bound = true;
		}

		for (unsigned long di = 0; di < n_dests; di++) {
			uint8_t addr[16], proto;
			uint16_t port, ref_cell;
			enum method m;
			struct np_dest d;
			bool v4 = false, mapped = false, kernel_deny, ref_deny, ok;
			int res;

			np_ref_random_dest(&rng, p, addr, &proto, &port);
			if (!dest_allowed_by_rules(addr)) {
				char a[64];

				np_addr_format(addr, a, sizeof(a));
				fprintf(stderr, "Bail out! generator produced %s, outside the test ranges\n",
					a);
				return 99;
			}
			v4 = np_addr_is_v4mapped(addr);
			switch (proto) {
			case NP_PROTO_TCP:
				m = M_TCP_CONNECT;
				break;
			case NP_PROTO_UDP:
				m = di % 2 ? M_UDP_SENDTO : M_UDP_CONNECT;
				break;
			default:
				m = M_PING_CONNECT;
				break;
			}
			mapped = v4 && m != M_PING_CONNECT && np_ref_rand(&rng) % 3 == 0;
			d = np_dest_from_addr(addr, port, mapped);

			switch (m) {
			case M_TCP_CONNECT:
				res = np_test_worker_probe(&w, np_probe_tcp_connect, &d);
				break;
			case M_UDP_CONNECT:
				res = np_test_worker_probe(&w, np_probe_udp_connect_send, &d);
				break;
			case M_UDP_SENDTO:
				res = np_test_worker_probe(&w, np_probe_udp_sendto, &d);
				break;
			default:
				res = np_test_worker_probe(&w, np_probe_ping_connect, &d);
				break;
			}
			if (res == NP_WORKER_FAILED) {
				/* restart the worker so one hang does not end the run */
				np_test_worker_stop(&w);
				if (np_test_worker_start(env, "diff", &w) < 0) {
					fprintf(stderr, "Bail out! cannot restart the worker\n");
					return 99;
				}
			}

			kernel_deny = res == -EPERM;
			ref_cell = np_ref_decide(p, addr, proto, port);
			ref_deny = ref_cell & NP_CELL_DENY;
			/* Errors raised after the hook (routing refuses the broadcast
			 * address 127.255.255.255 with ENETUNREACH or EACCES) mean the
			 * hook allowed the call: every hook runs before the route lookup. */
			if (res == -ENETUNREACH || res == -EACCES)
				past_hook++;
			ok = res == -EPERM || res == 0 || (m == M_TCP_CONNECT && res == -ECONNREFUSED) ||
			     res == -ENETUNREACH || res == -EACCES;
			ok = ok && kernel_deny == ref_deny;
			cases++;
			per_method[m][ok]++;
			deny_seen += kernel_deny;
			/* A detailed mismatch is its own TAP line; the rest are only counted. */
			if (ok || detailed >= MAX_DETAILED)
				np_test_tally(env, ok);
			if (!ok) {
				uint16_t compiled_cell = 0xffff;
				struct np_compiled *c = NULL;
				struct np_error err = {};

				mismatches++;
				policy_mismatches++;
				if (np_policy_compile(p, &c, &err) == 0) {
					compiled_cell = np_compiled_decide(c, addr, proto, port);
					np_compiled_free(c);
				}
				/* Who is wrong? If the kernel did what the compiled form
				 * says, the compiler and the reference disagree; else the
				 * data plane does not enforce what was installed. */
				if (compiled_cell != 0xffff &&
				    !!(compiled_cell & NP_CELL_DENY) == kernel_deny &&
				    (res == -EPERM || res == 0 || res == -ECONNREFUSED))
					compiler_vs_ref++;
				else
					kernel_vs_compiled++;
				if (detailed < MAX_DETAILED) {
					char name[64], why[256];

					detailed++;
					if (!printed_policy) {
						print_policy(p);
						printed_policy = true;
					}
					snprintf(name, sizeof(name), "policy %lu dest %lu", pi, di);
					snprintf(why, sizeof(why),
						 "%s %s (%s) proto %u port %u: kernel %s (%s), reference %s "
						 "(cell 0x%04x), compiled cell 0x%04x",
						 method_names[m], np_dest_str(&d),
						 d.family == AF_INET ? "AF_INET" : "AF_INET6", proto, port,
						 res == -EPERM ? "deny" : "allow", np_test_strerr(res),
						 ref_deny ? "deny" : "allow", ref_cell, compiled_cell);
					np_test_result(name, false, why);
				}
			}
			if ((cases & 127) == 0) {
				np_test_tcp_drain(env);
				np_test_udp_drain(env);
			}
		}
		if (policy_mismatches)
			printf("# policy %lu: %lu of %lu destinations mismatched\n", pi, policy_mismatches,
			       n_dests);
		np_policy_free(p);
	}
	np_test_tcp_drain(env);
	np_test_udp_drain(env);

	printf("# %lu cases in %llu ms; denied by the kernel: %lu; allowed but refused by routing: %lu\n",
	       cases, (unsigned long long)(np_test_now_ms() - t0), deny_seen, past_hook);
	for (int m = 0; m < 4; m++)
		printf("#   %-13s %lu ok, %lu mismatched\n", method_names[m], per_method[m][1],
		       per_method[m][0]);
	if (mismatches)
		printf("# mismatches: %lu where the kernel enforced the compiled policy but the compiler "
		       "disagrees "
		       "with the reference; %lu where the kernel did not enforce the compiled policy\n",
		       compiler_vs_ref, kernel_vs_compiled);
	if (mismatches >= MAX_MISMATCHES)
		printf("# stopped early after %lu mismatches\n", mismatches);
	/* not vacuous: both verdicts must have been exercised, at volume */
	np_test_result("enough cases ran",
		       cases >= n_policies * n_dests * 9 / 10 || mismatches >= MAX_MISMATCHES,
		       "too few cases");
	np_test_result("both verdicts exercised", deny_seen > cases / 20 && deny_seen < cases - cases / 20,
		       "the kernel denied (almost) nothing or (almost) everything");
	return np_test_finish(env);
}
