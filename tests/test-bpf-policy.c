/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel tests of what a policy decides and reports, across hooks: ports,
 * overlapping prefixes, nested deny, inheritance, audit, events and
 * counters, log all, atomic replacement, unbound cgroups.
 */
#include "test-bpf.h"

/* ---- ports ---- */

static void case_port_rules(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(
	    env, "ports",
	    "{\"name\":\"ports\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.9\"],\"protocol\":\"tcp\",\"ports\":[443]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.9\",\"2001:db8:1::9\"],\"protocol\":\"udp\","
	    "\"ports\":[\"8000-8100\", 9999]}]}",
	    &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 443), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 80), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, 8050), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, 443), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_mapped(A4, 80), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8000), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8050), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8100), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 7999), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 8101), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4(A4, 443), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.10", 8050), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 8050), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 8101), -EPERM);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(A4, UDP_PORT));
	PROBE_DENIED_UNDELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4("203.0.113.10", UDP_PORT), -EPERM);
	np_test_tcp_drain(env);
}

/* Overlapping prefixes with different ports: each (address, port) is allowed
 * iff some rule covers both. */
static void case_overlapping_rules(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	static const struct {
		const char *addr;
		uint16_t port;
		bool allowed;
	} combos[] = {
	    {"203.0.113.5", 80, true},	  {"203.0.113.5", 443, true},	{"203.0.113.15", 80, true},
	    {"203.0.113.16", 80, false},  {"203.0.113.100", 443, true}, {"203.0.113.100", 80, false},
	    {"203.0.113.5", 8080, false}, {"198.51.100.5", 443, false}, {"198.51.100.5", 80, false},
	    {"203.0.113.255", 443, true},
	};

	NP_SETUP_BOUND(env, "overlap",
		       "{\"name\":\"overlap\",\"default\":\"deny\",\"rules\":["
		       "{\"action\":\"allow\",\"to\":[\"203.0.113.0/24\"],\"ports\":[443]},"
		       "{\"action\":\"allow\",\"to\":[\"203.0.113.0/28\"],\"ports\":[80]}]}",
		       &w);
	for (size_t i = 0; i < ELEMENTSOF(combos); i++) {
		int expect = combos[i].allowed ? 0 : -EPERM;

		PROBE(&w, np_probe_tcp_connect, np_dest_v4(combos[i].addr, combos[i].port), expect);
		PROBE(&w, np_probe_udp_connect_send, np_dest_v4(combos[i].addr, combos[i].port), expect);
		PROBE(&w, np_probe_tcp_connect, np_dest_mapped(combos[i].addr, combos[i].port), expect);
	}
	np_test_tcp_drain(env);
}

/* Same idea with a deny rule inside an allow rule (and the reverse). */
static void case_nested_deny(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	NP_SETUP_BOUND(env, "nested",
		       "{\"name\":\"nested\",\"default\":\"allow\",\"rules\":["
		       "{\"action\":\"deny\",\"to\":[\"203.0.113.0/24\"],\"except\":[\"203.0.113.0/28\"]},"
		       "{\"action\":\"deny\",\"to\":[\"2001:db8::/32\"],\"protocol\":\"udp\"}]}",
		       &w);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.5", 80), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("203.0.113.16", 80), -EPERM);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v4("198.51.100.5", 80), 0);
	PROBE(&w, np_probe_udp_connect_send, np_dest_v6(A6, 80), -EPERM);
	PROBE(&w, np_probe_tcp_connect, np_dest_v6(A6, 80), 0);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v6(A6, 0), 0);
	PROBE(&w, np_probe_ping_connect, np_dest_v4("203.0.113.200", 0), -EPERM);
	PROBE(&w, np_probe_ping_connect_echo, np_dest_v4("203.0.113.2", 0), 0);
	np_test_tcp_drain(env);
}

/* ---- inheritance ---- */

static void case_inheritance(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker wc = {}, wp = {}, wq = {};
	uint32_t deny_id = np_test_policy_id(env), allow_id = np_test_policy_id(env);

	np_test_install(env, deny_id, "{\"name\":\"inh-deny\",\"default\":\"deny\",\"rules\":[]}");
	np_test_install(env, allow_id, "{\"name\":\"inh-allow\",\"default\":\"allow\",\"rules\":[]}");
	np_test_cgroup(env, "inh/p", NULL);
	np_test_cgroup(env, "inh/q", NULL);
	np_test_bind(env, "inh/p", deny_id);
	/* created after the binding: inherits it from its very first connect */
	np_test_cgroup(env, "inh/p/c", NULL);
	NP_START_WORKER(env, "inh/p/c", &wc);
	NP_START_WORKER(env, "inh/p", &wp);
	NP_START_WORKER(env, "inh/q", &wq);

	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), -EPERM);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wq, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);

	/* the child's own binding overrides */
	np_test_bind(env, "inh/p/c", allow_id);
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), 0);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);

	/* unbinding returns to the parent's policy */
	np_test_unbind(env, "inh/p/c");
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), -EPERM);
	PROBE(&wc, np_probe_udp_connect_send, np_dest_v6(A6, UDP_PORT), -EPERM);
	PROBE(&wq, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wq, np_probe_udp_connect_send, np_dest_v6(D6, UDP_PORT), 0);

	/* and unbinding the parent frees both */
	np_test_unbind(env, "inh/p");
	PROBE(&wc, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	PROBE(&wp, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);
	np_test_tcp_drain(env);
}

/* ---- audit, events, counters ---- */

static void case_audit(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest d = np_dest_v4(D4, TCP_PORT);
	struct np_event_match m = {.verdict = NP_VERDICT_AUDIT, .port = TCP_PORT, .match_addr = true};
	struct np_event ev;
	uint64_t cgid;
	uint32_t id;

	id = NP_SETUP_BOUND(env, "audit",
			    "{\"name\":\"audit\",\"default\":\"deny\",\"audit\":true,\"rules\":["
			    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]}]}",
			    &w);
	cgid = np_test_cgroup_id(env, "audit");
	np_test_events_clear(env);
	PROBE(&w, np_probe_tcp_connect, d, 0);
	PROBE_DELIVERED(env, &w, np_probe_udp_sendto, np_dest_v4(D4B, UDP_PORT));
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(D4B, 0), 0);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(A4, TCP_PORT), 0);

	m.cgroup_id = cgid;
	m.policy_id = id;
	np_dest_addr16(&d, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no audit event for %s", np_dest_str(&d));
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid, "audit event pid %u, expected %d", ev.pid, (int)w.sb.pid);
	/* no DENY event may exist for this cgroup */
	m = (struct np_event_match){.cgroup_id = cgid, .verdict = NP_VERDICT_DENY};
	NP_CHECK(!np_test_event_wait(env, &m, 100, &ev),
		 "audit policy produced a DENY event (hook %u port %u)", ev.hook, ev.port);
	np_test_tcp_drain(env);
}

static void case_events_and_stats(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest d4 = np_dest_v4(D4, TCP_PORT), a4 = np_dest_v4(A4, TCP_PORT);
	struct np_dest d6 = np_dest_v6(D6, 5353);
	struct np_event_match m = {.verdict = -1, .match_addr = true};
	struct np_stats_val sv;
	struct np_event ev;
	uint8_t addr[16];
	uint64_t cgid;
	uint32_t id;

	id = NP_SETUP_BOUND(
	    env, "events",
	    "{\"name\":\"events\",\"default\":\"allow\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"198.51.100.0/24\"]},"
	    "{\"action\":\"deny\",\"to\":[\"203.0.113.128/25\"],\"protocol\":\"tcp\",\"ports\":[80]},"
	    "{\"action\":\"deny\",\"to\":[\"2001:db8:2::/48\"],\"protocol\":\"udp\"}]}",
	    &w);
	cgid = np_test_cgroup_id(env, "events");
	np_test_events_clear(env);
	for (int i = 0; i < 3; i++)
		PROBE(&w, np_probe_tcp_connect, d4, -EPERM);
	for (int i = 0; i < 2; i++)
		PROBE(&w, np_probe_tcp_connect, a4, 0);
	PROBE(&w, np_probe_udp_sendto, d6, -EPERM);

	/* TCP v4 denial: every field */
	m.cgroup_id = cgid;
	np_dest_addr16(&d4, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the denied connect to %s",
		 np_dest_str(&d4));
	NP_CHECK(ev.verdict == NP_VERDICT_DENY, "verdict %u, expected DENY", ev.verdict);
	NP_CHECK(ev.cgroup_id == cgid, "cgroup id %llu, expected %llu", (unsigned long long)ev.cgroup_id,
		 (unsigned long long)cgid);
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid, "pid %u, expected %d", ev.pid, (int)w.sb.pid);
	NP_CHECK(strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0, "comm '%.16s', expected np-worker",
		 ev.comm);
	NP_CHECK(ev.hook == NP_HOOK_CONNECT4, "hook %u, expected CONNECT4", ev.hook);
	NP_CHECK(ev.proto == 6, "proto %u, expected 6", ev.proto);
	NP_CHECK(ev.port == TCP_PORT, "port %u", ev.port);
	NP_CHECK(ev.policy_id == id, "policy id %u, expected %u", ev.policy_id, id);
	NP_CHECK(ev.rule == 1, "rule %u, expected 1", ev.rule);
	NP_CHECK(ev.family == AF_INET, "family %u, expected AF_INET", ev.family);
	NP_CHECK(ev.uid == getuid(), "uid %u", ev.uid);
	NP_CHECK(ev.ts_ns != 0, "ts_ns is 0");

	/* UDP v6 denial through sendmsg6 */
	np_dest_addr16(&d6, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the denied sendto to %s",
		 np_dest_str(&d6));
	NP_CHECK(ev.verdict == NP_VERDICT_DENY && ev.hook == NP_HOOK_SENDMSG6 && ev.proto == 17 &&
		     ev.port == 5353 && ev.rule == 2 && ev.family == AF_INET6 && ev.policy_id == id,
		 "v6 event: verdict %u hook %u proto %u port %u rule %u family %u policy %u", ev.verdict,
		 ev.hook, ev.proto, ev.port, ev.rule, ev.family, ev.policy_id);

	/* no event for allowed traffic without log "all" */
	np_dest_addr16(&a4, m.addr);
	NP_CHECK(!np_test_event_wait(env, &m, 100, &ev), "event for an allowed connect (verdict %u)",
		 ev.verdict);

	/* counters */
	np_dest_addr16(&d4, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, TCP_PORT, NP_PROTO_TCP, &sv), "no counters for %s",
		 np_dest_str(&d4));
	NP_CHECK(sv.denied == 3 && sv.allowed == 0, "counters for %s: allowed %llu denied %llu, expected 0/3",
		 np_dest_str(&d4), (unsigned long long)sv.allowed, (unsigned long long)sv.denied);
	NP_CHECK(sv.last_ns != 0, "last_ns is 0");
	np_dest_addr16(&a4, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, TCP_PORT, NP_PROTO_TCP, &sv), "no counters for %s",
		 np_dest_str(&a4));
	/* Exactly one per connect: the handshake's and FIN's packets are served
	 * from the socket cache and not counted again. */
	NP_CHECK(sv.allowed == 2 && sv.denied == 0, "counters for %s: allowed %llu denied %llu, expected 2/0",
		 np_dest_str(&a4), (unsigned long long)sv.allowed, (unsigned long long)sv.denied);
	np_dest_addr16(&d6, addr);
	NP_CHECK(np_test_stats_get(env, cgid, addr, 5353, NP_PROTO_UDP, &sv), "no counters for %s",
		 np_dest_str(&d6));
	NP_CHECK(sv.denied == 1, "counters for %s: denied %llu, expected 1", np_dest_str(&d6),
		 (unsigned long long)sv.denied);
	np_test_tcp_drain(env);
}

static void case_log_all(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest a = np_dest_v4(A4, TCP_PORT);
	struct np_event_match m = {.verdict = NP_VERDICT_ALLOW, .port = TCP_PORT, .match_addr = true};
	struct np_event ev;

	m.policy_id = NP_SETUP_BOUND(env, "logall",
				     "{\"name\":\"logall\",\"default\":\"deny\",\"log\":\"all\",\"rules\":["
				     "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"]}]}",
				     &w);
	m.cgroup_id = np_test_cgroup_id(env, "logall");
	np_test_events_clear(env);
	PROBE(&w, np_probe_tcp_connect, a, 0);
	np_dest_addr16(&a, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no ALLOW event under log \"all\"");
	NP_CHECK(ev.rule == 0 && ev.hook == NP_HOOK_CONNECT4, "allow event: rule %u hook %u", ev.rule,
		 ev.hook);
	np_test_tcp_drain(env);
}

/* A multi-threaded program's worker thread, named otherwise (as resolvers
 * and servers name theirs: "isc-net-0000"), is reported under the program's
 * name, with the thread's own name beside it. */
static void case_event_names_program(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};
	struct np_dest d4 = np_dest_v4(D4, TCP_PORT), d6 = np_dest_v6(D6, 5353);
	struct np_event_match m = {.verdict = NP_VERDICT_DENY, .match_addr = true};
	struct np_event ev;

	m.policy_id = NP_SETUP_BOUND(env, "threads", basic_json, &w);
	m.cgroup_id = np_test_cgroup_id(env, "threads");
	np_test_events_clear(env);
	NP_CHECK(np_test_worker_probe_thread(&w, "isc-net-0000", np_probe_tcp_connect, &d4) == -EPERM,
		 "connect from a thread to %s was not refused", np_dest_str(&d4));
	np_dest_addr16(&d4, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the thread's connect to %s",
		 np_dest_str(&d4));
	NP_CHECK(ev.hook == NP_HOOK_CONNECT4, "hook %u, expected CONNECT4", ev.hook);
	NP_CHECK(ev.pid == (uint32_t)w.sb.pid, "pid %u, expected the process %d", ev.pid, (int)w.sb.pid);
	NP_CHECK(strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0,
		 "comm '%.16s', expected the program np-worker", ev.comm);
	NP_CHECK(strncmp(ev.thread, "isc-net-0000", sizeof(ev.thread)) == 0,
		 "thread '%.16s', expected isc-net-0000", ev.thread);

	/* the same through sendmsg6, and from the main thread: thread = comm */
	NP_CHECK(np_test_worker_probe_thread(&w, "udp-worker", np_probe_udp_sendto, &d6) == -EPERM,
		 "sendto from a thread to %s was not refused", np_dest_str(&d6));
	np_dest_addr16(&d6, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the thread's sendto to %s",
		 np_dest_str(&d6));
	NP_CHECK(ev.hook == NP_HOOK_SENDMSG6 && ev.pid == (uint32_t)w.sb.pid &&
		     strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0 &&
		     strncmp(ev.thread, "udp-worker", sizeof(ev.thread)) == 0,
		 "sendmsg6 event: hook %u pid %u comm '%.16s' thread '%.16s'", ev.hook, ev.pid, ev.comm,
		 ev.thread);
	np_test_events_clear(env);
	PROBE(&w, np_probe_tcp_connect, d4, -EPERM);
	np_dest_addr16(&d4, m.addr);
	NP_CHECK(np_test_event_wait(env, &m, 2000, &ev), "no event for the main thread's connect");
	NP_CHECK(strncmp(ev.comm, "np-worker", sizeof(ev.comm)) == 0 &&
		     strncmp(ev.thread, "np-worker", sizeof(ev.thread)) == 0,
		 "main thread: comm '%.16s' thread '%.16s', expected np-worker twice", ev.comm, ev.thread);
}

/* ---- atomic replacement ---- */

struct atomic_counts {
	int duration_ms;
	struct np_dest allowed, denied, flip;
	unsigned long total, allowed_eperm, allowed_other, denied_ok, flip_ok, flip_eperm;
	int other_errno;
};

static int atomic_loop(void *arg, size_t len)
{
	struct atomic_counts *c = arg;
	uint64_t end = np_test_now_ms() + c->duration_ms;

	while (np_test_now_ms() < end) {
		for (int i = 0; i < 64; i++) {
			int r = np_probe_udp_connect_send(&c->allowed);

			c->total++;
			if (r == -EPERM)
				c->allowed_eperm++;
			else if (r != 0) {
				c->allowed_other++;
				c->other_errno = r;
			}
		}
		if (np_probe_udp_connect_send(&c->denied) == 0)
			c->denied_ok++;
		if (np_probe_udp_connect_send(&c->flip) == 0)
			c->flip_ok++;
		else
			c->flip_eperm++;
	}
	return 0;
}

static void case_atomic_update(struct np_test_env *env)
{
	/* Both allow 203.0.113.9:80/udp, through differently shaped tries. Both
	 * deny 198.51.100.7. They differ on 203.0.113.20 (A allows, B denies),
	 * which shows the swaps really happen during the loop. */
	static const char a_json[] =
	    "{\"name\":\"atomic\",\"default\":\"deny\",\"rules\":["
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"],\"protocol\":\"tcp\"},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\"],\"protocol\":\"udp\",\"ports\":[\"1-100\"]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.128/25\"]},"
	    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/"
	    "25\"],\"protocol\":\"udp\",\"ports\":[\"101-65535\"]}]}";
	static const char b_json[] =
	    "{\"name\":\"atomic\",\"default\":\"allow\",\"rules\":["
	    "{\"action\":\"deny\",\"to\":[\"198.51.100.0/24\"]},"
	    "{\"action\":\"deny\",\"to\":[\"203.0.113.16/28\"]},"
	    "{\"action\":\"deny\",\"to\":[\"2001:db8::/32\"],\"protocol\":\"tcp\"}]}";
	_cleanup_worker_ struct np_test_worker w = {};
	struct atomic_counts c = {.duration_ms = 2000};
	struct np_policy *pa = NULL, *pb = NULL;
	struct np_error err = {};
	unsigned long installs = 0;
	int r, result = 0, done = 0;
	uint32_t id;

	c.allowed = np_dest_v4(A4, 80);
	c.denied = np_dest_v4(D4B, 80);
	c.flip = np_dest_v4("203.0.113.20", 80);
	NP_CHECK(np_policy_from_string(a_json, &pa, &err) == 0, "policy A: %s", err.message);
	NP_CHECK(np_policy_from_string(b_json, &pb, &err) == 0, "policy B: %s", err.message);

	id = NP_SETUP_BOUND(env, "atomic", a_json, &w);
	r = np_test_worker_send(&w, atomic_loop, &c, sizeof(c));
	NP_CHECK(r == 0, "worker send failed");
	while (!done) {
		r = np_test_try_install_policy(env, id, installs % 2 ? pa : pb);
		if (r < 0)
			break;
		installs++;
		done = np_test_worker_poll(&w, 0, &result);
		if (done < 0)
			break;
	}
	if (!done)
		done = np_test_worker_poll(&w, 10000, &result);
	np_policy_free(pa);
	np_policy_free(pb);
	NP_CHECK(r >= 0, "install #%lu failed: %s", installs, np_test_strerr(r));
	NP_CHECK(done == 1, "worker did not report");
	printf("# atomic: %lu installs, %lu connects, flip allowed %lu denied %lu\n", installs, c.total,
	       c.flip_ok, c.flip_eperm);
	NP_CHECK(c.allowed_eperm == 0, "%lu of %lu connects to an always-allowed destination got EPERM",
		 c.allowed_eperm, c.total);
	NP_CHECK(c.allowed_other == 0, "%lu connects failed otherwise (%s)", c.allowed_other,
		 np_test_strerr(c.other_errno));
	NP_CHECK(c.denied_ok == 0, "%lu connects to an always-denied destination succeeded", c.denied_ok);
	NP_CHECK(c.total >= 2000, "only %lu connects", c.total);
	NP_CHECK(installs >= 20, "only %lu installs during the loop", installs);
	NP_CHECK(c.flip_ok > 0 && c.flip_eperm > 0, "the policies did not alternate (flip %lu/%lu)",
		 c.flip_ok, c.flip_eperm);
}

/* ---- unbound cgroups and the srv cgroup are never policed ---- */

static void case_unbound(struct np_test_env *env)
{
	_cleanup_worker_ struct np_test_worker w = {};

	np_test_cgroup(env, "unbound/deep/er", NULL);
	NP_START_WORKER(env, "unbound/deep/er", &w);
	PROBE(&w, np_probe_tcp_connect, np_dest_v4(D4, TCP_PORT), 0);
	PROBE(&w, np_probe_udp_sendto, np_dest_v6(D6, UDP_PORT), 0);
	PROBE(&w, np_probe_ping_sendto, np_dest_v4(D4B, 0), 0);
	PROBE(&w, np_probe_raw_icmp_sendto, np_dest_v4(D4B, 0), 0);
	np_test_tcp_drain(env);
}

int main(int argc, char **argv)
{
	struct np_test_env *env = np_test_setup("test-bpf-policy", 0);
	_cleanup_close_ int l443 = np_test_listen_tcp(env, 443);

	if (l443 < 0) {
		fprintf(stderr, "Bail out! listener on 443: %s\n", np_test_strerr(l443));
		return 99;
	}

	np_test_run(env, "port rules", case_port_rules);
	np_test_run(env, "overlapping prefixes with different ports", case_overlapping_rules);
	np_test_run(env, "deny with except, protocol-specific deny", case_nested_deny);
	np_test_run(env, "inheritance, override, unbind", case_inheritance);
	np_test_run(env, "audit mode", case_audit);
	np_test_run(env, "events and counters", case_events_and_stats);
	np_test_run(env, "log all", case_log_all);
	np_test_run(env, "an event names the program, not the thread", case_event_names_program);
	np_test_run(env, "atomic policy replacement", case_atomic_update);
	np_test_run(env, "unbound cgroup below the attach cgroup", case_unbound);
	return np_test_finish(env);
}
