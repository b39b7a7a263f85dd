/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the connect4/connect6 hooks: TCP and UDP connect(), v4-mapped
 * addresses, TCP Fast Open, io_uring connect, ping sockets.
 */
#include "test-bpf.h"

static void case_tcp4_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tcp4", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4B, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
}

/* A UDP connect() sends nothing: it is refused at once only where its address
 * allows nothing at all. Elsewhere (a program may only be picking a source
 * address, as ping does) it succeeds, and the socket's first datagram is
 * refused with EPERM and reported with the sender's pid. */
static void case_udp4_connect(struct np_test_env *env)
{
	static const char json[] =
	    "{\"name\":\"udpc\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]},"
	    "{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"],\"protocol\":\"icmp\"}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .hook = NP_HOOK_EGRESS, .match_addr = true};
	struct np_dest icmp_only = np_dest_v4(D4B, UDP_PORT);
	struct np_event ev;

	NP_SETUP_BOUND(env, "udp4c", json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "udp4c");
	np_test_events_clear(env);
	PROBE(&w, np_probe_udp_connect, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE(&w, np_probe_udp_connect, icmp_only, 0);
	PROBE(&w, np_probe_udp_connect, np_dest_v4(A4, UDP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, icmp_only, -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v4(A4, UDP_PORT));
	np_dest_addr16(&icmp_only, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no EGRESS deny event for the datagram to %s",
		 np_dest_str(&icmp_only));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid && strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "egress event of a datagram: pid %u comm '%.16s', expected %d np-worker", ev.pid, ev.comm,
		 (int)w.sb.pid);
}

static void case_tcp6_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tcp6", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6("2001:db8::1", TCP_PORT), -EPERM);
}

/* AF_INET6 sockets to ::ffff:a.b.c.d: TCP connect is seen by connect6 only,
 * UDP sendto by sendmsg4 only, UDP connect by connect6 then sendmsg4. */
static void case_mapped(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "mapped", basic_json, &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(D4B, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, TCP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_mapped(A4, UDP_PORT));
	PROBE(&w, np_probe_udp_connect_send, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_mapped(A4, UDP_PORT));
}

static void case_tcp_fastopen(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "tfo", basic_json, &w);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(A4, TCP_PORT), 0);
	/* again: now with a cached cookie, data rides on the SYN */
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_tcp_fastopen, np_dest_mapped(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

static void case_uring_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_CHECK(np_probe_have_uring(), "io_uring is not available (liburing missing or io_uring disabled)");
	NP_SETUP_BOUND(env, "uringc", basic_json, &w);
	PROBE(&w, np_probe_uring_connect, np_dest_v4(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&w, np_probe_uring_connect, np_dest_v6(D6, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_v6(A6, TCP_PORT), 0);
	PROBE(&w, np_probe_uring_connect, np_dest_mapped(D4, TCP_PORT), -EPERM);
	PROBE(&w, np_probe_uring_connect, np_dest_mapped(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

static void case_ping_connect(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "pingc", basic_json, &w);
	PROBE(&w, np_probe_ping_connect, np_dest_v4(D4, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(D4, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4(A4, 0), 0);
	PROBE(&w, np_probe_ping_connect, np_dest_v6(D6, 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v6(A6, 0), 0);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-connect", 0);

	np_test_run(env, "tcp4 connect", case_tcp4_connect);
	np_test_run(env, "udp4 connect and connect+send", case_udp4_connect);
	np_test_run(env, "tcp6 connect", case_tcp6_connect);
	np_test_run(env, "v4-mapped on AF_INET6 (tcp, udp sendto, udp connect+send)", case_mapped);
	np_test_run(env, "tcp fast open", case_tcp_fastopen);
	np_test_run(env, "io_uring connect", case_uring_connect);
	np_test_run(env, "ping socket connect", case_ping_connect);
	return np_test_finish(env);
}
