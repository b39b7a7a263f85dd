/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the sock_create hook: raw sockets denied and allowed (and the
 * egress backstop behind an allowed one).
 */
#include <sys/prctl.h>
#include <sys/wait.h>

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
 * that made the socket (np_sk_creator) and its program, though the packet
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

/* A raw socket made by the worker, one echo request sent on it by a child
 * the worker forks (named "raw-child"): the socket's maker and its sender
 * are different processes. */
struct raw_child_req {
	struct np_dest d;
	int child_pid;
};

static int raw_send_from_child(void *arg, size_t len)
{
	struct raw_child_req *q = arg;
	uint8_t echo[8] = {8 /* ICMP_ECHO */, 0, 0xf7, 0xfd, 0, 1, 0, 1}; /* checksummed */
	int fd, status;
	pid_t child;

	if (len != sizeof(*q))
		return -EINVAL;
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		close(fd);
		return -errno;
	}
	if (child == 0) {
		prctl(PR_SET_NAME, "raw-child");
		_exit(sendto(fd, echo, sizeof(echo), 0, &q->d.sa, q->d.len) < 0 ? errno : 0);
	}
	close(fd);
	q->child_pid = child;
	if (waitpid(child, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
}

/* The packet names the process that made the socket, not whichever sent it:
 * the egress cannot tell a sender from a task it interrupted. */
static void case_raw_names_maker(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct raw_child_req q = {.d = np_dest_v4(D4B, 0)};
	struct np_event ev;
	int r;

	m.policy_id = NP_SETUP_BOUND(
	    env, "rawmaker", "{\"name\":\"rawmaker\",\"default\":\"deny\",\"raw_sockets\":\"allow\"}", &w);
	m.cgroup_id = np_test_cgroup_id(env, "rawmaker");
	np_test_events_clear(env);
	r = np_test_worker_call(&w, raw_send_from_child, &q, sizeof(q), 10000);
	NP_CHECK(r == -EPERM, "raw sendto by the child: %s, expected EPERM", np_test_strerr(r));
	np_dest_addr16(&q.d, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for the child's raw sendto");
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "event names pid %u '%.16s', expected the socket's maker %d np-worker (the sender was %d)",
		 ev.pid, ev.comm, (int)w.sb.pid, q.child_pid);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-sock", 0);

	np_test_run(env, "raw socket denied by default-deny policy", case_raw_denied);
	np_test_run(env, "raw socket allowed, egress backstop", case_raw_allowed);
	np_test_run(env, "a raw socket's packet names its maker", case_raw_names_maker);
	return np_test_finish(env);
}
