/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A reference evaluator written straight from the policy semantics in
 * docs/policy.md, independent of the compiler, and a generator of random
 * overlapping policies and destinations to compare the two (and the kernel).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* The verdict cell the policy gives (addr v4-mapped for IPv4, proto an
 * NP_PROTO_* class; port ignored for ICMP and other). */
uint16_t np_ref_decide(const struct np_policy *p, const uint8_t addr[16], uint8_t proto_class, uint16_t port);

/* xorshift64*; *state must start non-zero (0 is replaced by a constant). */
uint64_t np_ref_rand(uint64_t *state);

/*
 * A random policy whose prefixes all lie in 203.0.113.0/24, 198.51.100.0/24,
 * 127.0.0.0/8 and 2001:db8::/32 (plus the entities "any" and "loopback"),
 * with lengths clustered so that prefixes overlap, 1..max_rules rules
 * (0 means 8), and port ranges drawn from a pool of at most 8 distinct
 * ranges so that the policy always compiles (at most 17 port segments,
 * however many rules). audit false, log "deny", raw_sockets by default. Free with
 * np_policy_free(); NULL on allocation failure.
 */
struct np_policy *np_ref_random_policy(uint64_t *rng, unsigned max_rules);

/*
 * A destination to test p with: an address in one of the ranges above or
 * ::1 (never anything else, so a kernel test can send to it inside a private
 * network namespace), biased to the edges of p's prefixes; proto one of
 * NP_PROTO_TCP, NP_PROTO_UDP, NP_PROTO_ICMP; port 1..65535 biased to the
 * edges of p's port ranges for TCP and UDP, 0 for ICMP.
 */
void np_ref_random_dest(uint64_t *rng, const struct np_policy *p, uint8_t addr[16], uint8_t *proto,
			uint16_t *port);

/* True if addr is one that np_ref_random_dest() may return. */
bool np_ref_dest_in_test_ranges(const uint8_t addr[16]);

/* Field by field equality (for round-trip tests). */
bool np_ref_policy_equal(const struct np_policy *a, const struct np_policy *b);
