/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of the sendmsg4/sendmsg6 hooks: sendto(), sendmmsg(), io_uring
 * sendmsg, and UDP sockets created before their cgroup was bound.
 */
#include "test-bpf.h"

static void case_udp4_sendto(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp4s", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4B, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(A4, UDP_PORT));
}

static void case_udp4_sendmmsg(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp4m", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v4(A4, UDP_PORT));
}

static void case_udp6(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "udp6", basic_json, &w);
	PROBE(&w, np_probe_udp_connect, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), 0);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v6(A6, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendmmsg, np_dest_v6(A6, UDP_PORT));
	PROBE_DELIVERED(env, &w, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT));
}

static void case_uring_sendmsg(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_CHECK(np_probe_have_uring(), "io_uring is not available (liburing missing or io_uring disabled)");
	NP_SETUP_BOUND(env, "urings", basic_json, &w);
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v4(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v4(A4, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v6(D6, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_v6(A6, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_mapped(D4, UDP_PORT), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_uring_sendmsg, np_dest_mapped(A4, UDP_PORT));
}

/* ---- sockets older than the binding ---- */

static int g_pre_unconnected = -1, g_pre_connected = -1;

static int pre_setup(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	g_pre_unconnected = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_pre_connected = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (g_pre_unconnected < 0 || g_pre_connected < 0)
		return -errno;
	if (connect(g_pre_connected, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

static int pre_send_connected(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	return send(g_pre_connected, d->payload, strlen(d->payload), 0) < 0 ? -errno : 0;
}

static int pre_sendto_unconnected(void *arg, size_t len)
{
	const struct np_dest *d = arg;

	return sendto(g_pre_unconnected, d->payload, strlen(d->payload), 0, &d->sa, d->len) < 0 ? -errno : 0;
}

static void case_pre_existing_udp(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest denied = np_dest_v4(D4, UDP_PORT), allowed = np_dest_v4(A4, UDP_PORT);
	uint32_t id = np_test_policy_id(env);
	int r;

	np_test_cgroup(env, "pre", NULL);
	NP_START_WORKER(env, "pre", &w);
	r = np_test_worker_call(&w, pre_setup, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0, "setup before binding: %s", np_test_strerr(r));

	/* before the binding both work (the test is not vacuous) */
	np_test_udp_drain(env);
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_send_connected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0 && np_test_udp_seen(env, denied.payload, 1000), "connected send before binding: %s",
		 np_test_strerr(r));
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == 0 && np_test_udp_seen(env, denied.payload, 1000), "sendto before binding: %s",
		 np_test_strerr(r));

	np_test_install(env, id, basic_json);
	np_test_bind(env, "pre", id);

	np_test_udp_drain(env);
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_send_connected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == -EPERM, "connected send after binding: got %s, expected EPERM", np_test_strerr(r));
	NP_CHECK(!np_test_udp_seen(env, denied.payload, 200), "connected send after binding was delivered");
	np_dest_token(&denied);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &denied, sizeof(denied), 5000);
	NP_CHECK(r == -EPERM, "sendto after binding: got %s, expected EPERM", np_test_strerr(r));
	NP_CHECK(!np_test_udp_seen(env, denied.payload, 200), "sendto after binding was delivered");
	/* the old unconnected socket can still reach an allowed destination */
	np_dest_token(&allowed);
	r = np_test_worker_call(&w, pre_sendto_unconnected, &allowed, sizeof(allowed), 5000);
	NP_CHECK(r == 0, "sendto allowed after binding: %s", np_test_strerr(r));
	NP_CHECK(np_test_udp_seen(env, allowed.payload, 1000), "allowed sendto after binding not delivered");
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-sendmsg", 0);

	np_test_run(env, "udp4 sendto", case_udp4_sendto);
	np_test_run(env, "udp4 sendmmsg", case_udp4_sendmmsg);
	np_test_run(env, "udp6 connect/sendto/sendmmsg", case_udp6);
	np_test_run(env, "io_uring sendmsg", case_uring_sendmsg);
	np_test_run(env, "udp sockets created before binding", case_pre_existing_udp);
	return np_test_finish(env);
}
