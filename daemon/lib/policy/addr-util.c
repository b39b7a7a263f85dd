/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Addresses, prefixes and ports between text and the forms the kernel keys
 * on. IPv4 lives as v4-mapped IPv6 everywhere so that one LPM trie serves
 * both families and "1.2.3.4" and "::ffff:1.2.3.4" are the same destination.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addr-util.h"
#include "policy-internal.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void np_error_set(struct np_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void np_error_set_field(struct np_error *err, const char *field)
{
	if (err)
		snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
}

bool np_prefix_contains(const uint8_t pfx[16], unsigned plen, const uint8_t addr[16])
{
	unsigned full = plen / 8, rest = plen % 8;
	uint8_t mask;

	if (memcmp(pfx, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((pfx[full] ^ addr[full]) & mask) == 0;
}

void np_prefix_mask(uint8_t addr[16], unsigned plen)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		if (plen <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 * (i + 1) - plen));
	}
}

bool np_addr_is_v4mapped(const uint8_t addr[16])
{
	return memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

int np_addr_parse(const char *s, uint8_t addr[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(addr, v4mapped_prefix, sizeof(v4mapped_prefix));
		memcpy(addr + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(addr, &a6, 16);
		return 0;
	}
	return -EINVAL;
}

void np_addr_format(const uint8_t addr[16], char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];

	if (np_addr_is_v4mapped(addr))
		inet_ntop(AF_INET, addr + 12, tmp, sizeof(tmp));
	else
		inet_ntop(AF_INET6, addr, tmp, sizeof(tmp));
	snprintf(buf, size, "%s", tmp);
}

/* Decimal digits only: no sign, no spaces, nothing after. */
static int parse_decimal(const char *s, size_t len, unsigned max, unsigned *ret)
{
	unsigned v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*ret = v;
	return 0;
}

static int cidr_prefix_len(const char *s, const char *plen_text, bool v4, unsigned *ret, struct np_error *err)
{
	unsigned max = v4 ? 32 : 128;
	int r;

	r = parse_decimal(plen_text, strlen(plen_text), max, ret);
	if (r == -ERANGE) {
		np_error_set(err, NULL, "\"%.64s\": prefix length /%.8s is too long for %s (at most /%u)", s,
			     plen_text, v4 ? "IPv4" : "IPv6", max);
		return -EINVAL;
	}
	if (r < 0) {
		np_error_set(err, NULL, "\"%.64s\": prefix length must be a number 0..%u after the \"/\"", s,
			     max);
		return -EINVAL;
	}
	return 0;
}

/* "10.0.0.1/8" is most likely a typo for a host or for 10.0.0.0/8; accepting
 * it silently would widen or narrow the rule behind the user's back. */
static int cidr_check_host_bits(const char *s, const struct np_cidr *c, struct np_error *err)
{
	struct np_cidr masked = *c;
	char fixed[INET6_ADDRSTRLEN + 8];

	np_prefix_mask(masked.addr, masked.plen);
	if (memcmp(masked.addr, c->addr, 16) == 0)
		return 0;
	np_cidr_format(&masked, fixed, sizeof(fixed));
	np_error_set(err, NULL, "\"%.64s\" has host bits set beyond the prefix length; did you mean \"%s\"?",
		     s, fixed);
	return -EINVAL;
}

int np_cidr_parse(const char *s, struct np_cidr *ret, struct np_error *err)
{
	char text[INET6_ADDRSTRLEN + 1];
	const char *slash;
	struct np_cidr c = {};
	unsigned plen;
	size_t len;
	bool v4;
	int r;

	if (!s || !*s) {
		np_error_set(err, NULL,
			     "empty string; expected an address or CIDR such as 10.0.0.0/8 or 2001:db8::/32");
		return -EINVAL;
	}
	slash = strchr(s, '/');
	len = slash ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(text))
		goto bad_address;
	memcpy(text, s, len);
	text[len] = '\0';
	v4 = !strchr(text, ':');
	if (np_addr_parse(text, c.addr) < 0)
		goto bad_address;

	if (slash) {
		r = cidr_prefix_len(s, slash + 1, v4, &plen, err);
		if (r < 0)
			return r;
	} else
		plen = v4 ? 32 : 128;
	c.plen = (uint8_t)(v4 ? 96 + plen : plen);

	r = cidr_check_host_bits(s, &c, err);
	if (r < 0)
		return r;
	*ret = c;
	return 0;

bad_address:
	np_error_set(err, NULL,
		     "\"%.64s\" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)", s);
	return -EINVAL;
}

void np_cidr_format(const struct np_cidr *c, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	np_addr_format(c->addr, addr, sizeof(addr));
	if (np_addr_is_v4mapped(c->addr) && c->plen >= 96)
		snprintf(buf, size, "%s/%u", addr, c->plen - 96u);
	else if (np_addr_is_v4mapped(c->addr))
		/* only ::ffff:0:0/n with n < 96 can get here, and it is not an IPv4 prefix */
		snprintf(buf, size, "::ffff:%s/%u", addr, c->plen);
	else
		snprintf(buf, size, "%s/%u", addr, c->plen);
}

static int port_number(const char *s, const char *part, size_t len, unsigned *ret, struct np_error *err)
{
	int r;

	r = parse_decimal(part, len, 65535, ret);
	if (r == 0 && *ret >= 1)
		return 0;
	if (r == -EINVAL)
		np_error_set(err, NULL,
			     "\"%.32s\" is not a port; expected \"N\" or \"N-M\" with 1 <= N <= M <= 65535",
			     s);
	else if (part == s && len == strlen(s))
		np_error_set(err, NULL, "port %.16s is out of range; ports are 1..65535", s);
	else
		np_error_set(err, NULL, "port %.*s in \"%.32s\" is out of range; ports are 1..65535",
			     (int)(len > 16 ? 16 : len), part, s);
	return -EINVAL;
}

int np_port_range_parse(const char *s, struct np_port_range *ret, struct np_error *err)
{
	unsigned first, last;
	const char *dash;
	int r;

	if (!s || !*s) {
		np_error_set(err, NULL, "empty string; expected a port \"N\" or a range \"N-M\" (1..65535)");
		return -EINVAL;
	}
	dash = strchr(s, '-');
	r = port_number(s, s, dash ? (size_t)(dash - s) : strlen(s), &first, err);
	if (r < 0)
		return r;
	last = first;
	if (dash) {
		r = port_number(s, dash + 1, strlen(dash + 1), &last, err);
		if (r < 0)
			return r;
	}
	if (first > last) {
		np_error_set(err, NULL, "\"%.32s\": the first port is greater than the last; write \"%u-%u\"",
			     s, last, first);
		return -EINVAL;
	}
	ret->first = (uint16_t)first;
	ret->last = (uint16_t)last;
	return 0;
}

/* Entities name address sets users think in; IPv4 parts are v4-mapped, so
 * "any" needs only ::/0. */
static const struct {
	const char *name;
	const char *cidrs[4];
} entities[] = {
    {"any", {"::/0"}},
    {"private", {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}},
    {"loopback", {"127.0.0.0/8", "::1/128"}},
    {"link-local", {"169.254.0.0/16", "fe80::/10"}},
    {"multicast", {"224.0.0.0/4", "ff00::/8"}},
};

int np_entity_expand(const char *name, struct np_cidr *out, size_t max)
{
	size_t i, n;

	for (i = 0; i < ELEMENTSOF(entities); i++) {
		if (!name || strcmp(name, entities[i].name) != 0)
			continue;
		for (n = 0; n < ELEMENTSOF(entities[i].cidrs) && entities[i].cidrs[n]; n++) {
			if (n >= max)
				return -ENOBUFS;
			if (np_cidr_parse(entities[i].cidrs[n], &out[n], NULL) < 0)
				return -EINVAL; /* the table above is wrong */
		}
		return (int)n;
	}
	return -ENOENT;
}
