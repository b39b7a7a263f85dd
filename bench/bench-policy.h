/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rule sets the benchmark compares: N distinct IPv4 CIDRs from a fixed
 * seed, written as a netpol policy (JSON), an nftables interval set and
 * linear iptables rules. The two test ranges (203.0.113.0/24,
 * 198.51.100.0/24) are always in the set and always allowed for the ports
 * the benchmark uses, so every measured operation succeeds; prefixes inside
 * them, some nested random prefixes and port-limited rules make the set
 * overlap the way real policies do.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum bench_cidr_group {
	BENCH_GRP_TEST = 0, /* the two test /24s: allow everything */
	BENCH_GRP_SUB,	    /* /25../32 inside them: deny tcp 22,23,25; allow tcp 8080-8081 */
	BENCH_GRP_A,	    /* allow any protocol */
	BENCH_GRP_B,	    /* allow tcp 443, 8000-8100 */
	BENCH_GRP_C,	    /* allow udp 53, 123 */
	BENCH_GRP_D,	    /* deny tcp 22, 23, 25 */
	BENCH_GRP__MAX,
};

struct bench_cidr {
	uint32_t addr; /* host byte order, host bits zero */
	uint8_t plen;
	uint8_t group;
};

/* n distinct CIDRs (n >= 4), deterministic for a seed. */
int bench_cidrs_gen(size_t n, uint64_t seed, struct bench_cidr **ret);

/* A default-deny policy over the CIDRs (rules per group, see above). */
char *bench_policy_json(const char *name, const struct bench_cidr *c, size_t n);
/* A policy with only group A-D prefixes (no test range: 203.0.113.0/24 is
 * denied) and, if allow_port, one more rule allowing udp allow_port to
 * target (a dotted quad). For the change-to-enforcement latency. */
char *bench_policy_json_latency(const char *name, const struct bench_cidr *c, size_t n, const char *target,
				unsigned allow_port);
/* `nft -f` input: table ip netpol_bench, an interval set of all CIDRs, and
 * an output chain with `ip daddr @cidrs accept`. */
char *bench_nft_ruleset(const struct bench_cidr *c, size_t n);
/* iptables-restore input: one OUTPUT rule per CIDR, test ranges last, so a
 * packet to them walks every rule (linear: what a rule list costs). */
char *bench_ipt_ruleset(const struct bench_cidr *c, size_t n);
