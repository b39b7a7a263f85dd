/* SPDX-License-Identifier: GPL-2.0-only */
/* The syntax of addresses, prefixes, ports and entities. Library code: never
 * logs; failures fill struct np_error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defined in policy.h, which includes this header. */
struct np_error;

/* An IPv4 or IPv6 prefix, IPv4 as v4-mapped IPv6 (plen 96..128). */
struct np_cidr {
	uint8_t addr[16]; /* network byte order, host bits zero */
	uint8_t plen;     /* 0..128 */
};

struct np_port_range {
	uint16_t first, last; /* inclusive, 1..65535 */
};

/* "10.0.0.0/8", "2001:db8::/32", "1.2.3.4" (= /32), "::1" (= /128).
 * Host bits set beyond the prefix are an error (-EINVAL, "host bits set"). */
int np_cidr_parse(const char *s, struct np_cidr *ret, struct np_error *err);
/* Formats back to text ("10.0.0.0/8", "::ffff:..." never: v4 prints as v4). */
void np_cidr_format(const struct np_cidr *c, char *buf, size_t size);
/* "443" or "8000-8100"; 1..65535, first <= last. */
int np_port_range_parse(const char *s, struct np_port_range *ret, struct np_error *err);
/* An address (no prefix) to 16 bytes, IPv4 as v4-mapped. */
int np_addr_parse(const char *s, uint8_t addr[16]);
void np_addr_format(const uint8_t addr[16], char *buf, size_t size);
bool np_addr_is_v4mapped(const uint8_t addr[16]);

/* Expand an entity keyword ("any", "private", "loopback", "link-local",
 * "multicast") into CIDRs. Returns the count, or -ENOENT if not an entity. */
int np_entity_expand(const char *name, struct np_cidr *out, size_t max);
