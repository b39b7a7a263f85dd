/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel tests, one file per hook family: real syscalls from processes in
 * bound cgroups, in the harness's network namespace. Every case checks that
 * a denied destination gets the documented errno AND that an allowed one
 * goes through: no case passes because nothing or everything is enforced.
 */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Destinations. Allowed ones are inside the "basic" policy's allow rule. */
#define A4	 "203.0.113.9"	 /* allowed */
#define D4	 "203.0.113.200" /* denied */
#define D4B	 "198.51.100.7"	 /* denied */
#define A6	 "2001:db8:1::9"
#define D6	 "2001:db8:2::9"
#define TCP_PORT NP_TEST_TCP_PORT
#define UDP_PORT NP_TEST_UDP_PORT

static const char basic_json[] __attribute__((unused)) =
    "{\"name\":\"basic\",\"default\":\"deny\",\"rules\":["
    "{\"action\":\"allow\",\"to\":[\"203.0.113.0/25\",\"2001:db8:1::/48\"]}]}";

/* ---- helpers ---- */

static inline bool probe_expect(struct np_test_worker *w, const char *name, np_probe_fn fn,
				const struct np_dest *d, int expect, int line)
{
	char got[64], want[64];
	int r = np_test_worker_probe(w, fn, d);

	if (r == expect)
		return true;
	snprintf(got, sizeof(got), "%s", np_test_strerr(r));
	snprintf(want, sizeof(want), "%s", np_test_strerr(expect));
	np_test_fail_at(line, "%s %s (%s): got %s, expected %s", name, np_dest_str(d),
			d->family == AF_INET ? "AF_INET" : "AF_INET6", got, want);
	return false;
}

static inline bool probe_fails(struct np_test_worker *w, const char *name, np_probe_fn fn,
			       const struct np_dest *d, int line)
{
	int r = np_test_worker_probe(w, fn, d);

	if (r != 0 && r != NP_WORKER_FAILED)
		return true;
	np_test_fail_at(line, "%s %s: got %s, expected a failure", name, np_dest_str(d), np_test_strerr(r));
	return false;
}

#define PROBE(w, fn, d, expect)                                                                              \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		if (!probe_expect((w), #fn, (fn), &_d_, (expect), __LINE__))                                 \
			return;                                                                              \
	} while (0)

#define PROBE_FAILS(w, fn, d)                                                                                \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		if (!probe_fails((w), #fn, (fn), &_d_, __LINE__))                                            \
			return;                                                                              \
	} while (0)

/* Probe and check delivery to the UDP listener (a fresh token each time). */
#define PROBE_DELIVERED(env, w, fn, d)                                                                       \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		np_test_udp_drain(env);                                                                      \
		if (!probe_expect((w), #fn, (fn), &_d_, 0, __LINE__))                                        \
			return;                                                                              \
		NP_CHECK(np_test_udp_seen((env), _d_.payload, 1000), "%s %s: payload not delivered", #fn,    \
			 np_dest_str(&_d_));                                                                 \
	} while (0)

#define PROBE_DENIED_UNDELIVERED(env, w, fn, d, expect)                                                      \
	do {                                                                                                 \
		struct np_dest _d_ = (d);                                                                    \
		np_test_udp_drain(env);                                                                      \
		if (!probe_expect((w), #fn, (fn), &_d_, (expect), __LINE__))                                 \
			return;                                                                              \
		NP_CHECK(!np_test_udp_seen((env), _d_.payload, 200), "%s %s: denied payload arrived", #fn,   \
			 np_dest_str(&_d_));                                                                 \
	} while (0)
