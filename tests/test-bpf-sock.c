/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the sock_create hook: raw sockets denied and allowed (and the
 * egress backstop behind an allowed one).
 */
#include "test-bpf.h"

static void case_raw_denied(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {}, free_w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_SOCK_CREATE};
	struct np_event ev;

	/* default deny => raw_sockets deny unless said otherwise */
	NP_SETUP_BOUND(env, "rawdeny", basic_json, &w);
	np_test_cgroup(env, "rawfree", NULL);
	NP_START_WORKER(env, "rawfree", &free_w);
	m.cgroup_id = np_test_cgroup_id(env, "rawdeny");
	np_test_events_clear(env);
	PROBE(&w, np_probe_raw_socket, np_dest_v4(A4, 0), -EPERM);
	PROBE(&w, np_probe_raw_socket, np_dest_v6(A6, 0), -EPERM);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no SOCK_CREATE deny event for a raw socket");
	/* ping sockets are not raw sockets: still allowed */
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(A4, 0), 0);
	/* an unbound cgroup may create raw sockets and gets replies */
	PROBE(&free_w, np_probe_raw_icmp_sendto, np_dest_v4(A4, 0), 0);
	PROBE(&free_w, np_probe_raw_icmp_sendto, np_dest_v6(A6, 0), 0);
}

/* The egress judges a raw socket's packets; their events name the process
 * that made the socket (np_sk_owner) and its program, though the packet
 * path may run in softirq for any task: here a thread of the worker, named
 * otherwise, sends. */
static void case_raw_allowed(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct np_dest d4 = np_dest_v4(D4, 0), d6 = np_dest_v6(D6, 0);
	struct np_event ev;

	m.policy_id =
	    NP_SETUP_BOUND(env, "rawallow",
			   "{\"name\":\"rawallow\",\"default\":\"deny\",\"raw_sockets\":\"allow\",\"rules\":["
			   "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}]}",
			   &w);
	m.cgroup_id = np_test_cgroup_id(env, "rawallow");
	np_test_events_clear(env);
	PROBE(&w, np_probe_raw_socket, np_dest_v4(A4, 0), 0);
	NP_CHECK(np_test_worker_probe_thread(&w, "raw-sender", np_probe_raw_icmp_sendto, &d4) == -EPERM,
		 "raw sendto from a thread to %s was not refused", np_dest_str(&d4));
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v4(A4, 0), 0);
	PROBE_FAILS(&w, np_probe_raw_icmp_sendto, d6);
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v6(A6, 0), 0);

	np_dest_addr16(&d4, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for raw sendto %s",
		 np_dest_str(&d4));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "raw v4 egress event: pid %u comm '%.16s', expected %d np-worker", ev.pid, ev.comm,
		 (int)w.sb.pid);
	NP_CHECK(ev.uid == getuid(), "raw v4 egress event: uid %u", ev.uid);
	np_dest_addr16(&d6, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for raw sendto %s",
		 np_dest_str(&d6));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "raw v6 egress event: pid %u comm '%.16s', expected %d np-worker", ev.pid, ev.comm,
		 (int)w.sb.pid);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-sock", 0);

	np_test_run(env, "raw socket denied by default-deny policy", case_raw_denied);
	np_test_run(env, "raw socket allowed, egress backstop", case_raw_allowed);
	return np_test_finish(env);
}
