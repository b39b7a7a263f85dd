/* SPDX-License-Identifier: GPL-2.0-only */
/* np_dest_spec_parse(): how a destination splits into address, ports and
 * protocol, and every refusal with its reason. Only the shape is judged
 * there (the policy parser judges the parts), so odd parts pass through. */
#include <errno.h>
#include <string.h>

#include "netpol-proto.h"

#include "unit-check.h"

/* s must split into to, ports and protocol. */
static void good(const char *file, int line, const char *s, const char *to, const char *ports,
		 const char *protocol)
{
	struct np_dest_spec d;
	const char *why = NULL;
	int r;

	memset(&d, 'x', sizeof(d));
	r = np_dest_spec_parse(s, &d, &why);
	if (!check(r == 0, file, line, "'%s': returned %d (%s), want 0", s, r, why ?: ""))
		return;
	check(strcmp(d.to, to) == 0, file, line, "'%s': to '%s', want '%s'", s, d.to, to);
	check(strcmp(d.ports, ports) == 0, file, line, "'%s': ports '%s', want '%s'", s, d.ports, ports);
	check(strcmp(d.protocol, protocol) == 0, file, line, "'%s': protocol '%s', want '%s'", s, d.protocol,
	      protocol);
}
#define GOOD(s, to, ports, protocol) good(__FILE__, __LINE__, s, to, ports, protocol)

/* s must be refused with reason why, leaving *ret as it was. */
static void bad(const char *file, int line, const char *s, const char *want_why)
{
	struct np_dest_spec d, before;
	const char *why = NULL;
	int r;

	memset(&d, 'x', sizeof(d));
	before = d;
	r = np_dest_spec_parse(s, &d, &why);
	check(r == -EINVAL, file, line, "'%s': returned %d, want -EINVAL", s ?: "(null)", r);
	check(why && strcmp(why, want_why) == 0, file, line, "'%s': reason '%s', want '%s'", s ?: "(null)",
	      why ?: "(none)", want_why);
	check(memcmp(&d, &before, sizeof(d)) == 0, file, line, "'%s': *ret changed on failure",
	      s ?: "(null)");
}
#define BAD(s, why) bad(__FILE__, __LINE__, s, why)

static void test_ipv4_and_entities(void)
{
	GOOD("203.0.113.7", "203.0.113.7", "", "any");
	GOOD("10.0.0.0/8", "10.0.0.0/8", "", "any");
	GOOD("10.0.0.0/8:5432", "10.0.0.0/8", "5432", "any");
	GOOD("10.0.0.0/8:5432/tcp", "10.0.0.0/8", "5432", "tcp");
	GOOD("198.51.100.0/24:8000-8100/udp", "198.51.100.0/24", "8000-8100", "udp");
	/* '/' followed by a digit is a prefix length, by anything else a protocol */
	GOOD("203.0.113.7/icmp", "203.0.113.7", "", "icmp");
	GOOD("10.0.0.0/8/tcp", "10.0.0.0/8", "", "tcp");
	GOOD("any:53/udp", "any", "53", "udp");
	GOOD("any/udp", "any", "", "udp");
	GOOD("private", "private", "", "any");
	GOOD("203.0.113.7:443", "203.0.113.7", "443", "any");
}

static void test_ipv6(void)
{
	/* bare, several colons: the whole string is the address */
	GOOD("2001:db8::1", "2001:db8::1", "", "any");
	GOOD("2001:db8::/32", "2001:db8::/32", "", "any");
	GOOD("::1", "::1", "", "any");
	/* bracketed: ports and protocol may follow */
	GOOD("[2001:db8::1]", "2001:db8::1", "", "any");
	GOOD("[2001:db8::1]:443", "2001:db8::1", "443", "any");
	GOOD("[2001:db8::/32]:8000-8100/udp", "2001:db8::/32", "8000-8100", "udp");
	GOOD("[2001:db8::1]/tcp", "2001:db8::1", "", "tcp");
}

static void test_shape_only(void)
{
	/* the parts are judged later, by the policy parser */
	GOOD("nonsense:http/sctp", "nonsense", "http", "sctp");
	GOOD("203.0.113.7:1-2-3", "203.0.113.7", "1-2-3", "any");
}

static void test_limits(void)
{
	char to[80], s[100];

	/* 63 characters fit d.to (64 with the NUL), 64 do not */
	memset(to, 'a', 63);
	to[63] = '\0';
	GOOD(to, to, "", "any");
	snprintf(s, sizeof(s), "%s:443/tcp", to);
	GOOD(s, to, "443", "tcp");
	memset(to, 'a', 64);
	to[64] = '\0';
	BAD(to, "address too long");
	snprintf(s, sizeof(s), "[%s]:443", to);
	BAD(s, "address too long");

	GOOD("any:123456789012345", "any", "123456789012345", "any"); /* 15 of 16 */
	BAD("any:1234567890123456", "port too long");
	GOOD("any/abcdefg", "any", "", "abcdefg"); /* 7 of 8 */
	BAD("any/abcdefgh", "protocol must be tcp, udp, icmp or any");
	BAD("any:53/abcdefgh", "protocol must be tcp, udp, icmp or any");
}

static void test_refusals(void)
{
	BAD(NULL, "empty destination");
	BAD("", "empty destination");
	BAD("[2001:db8::1", "missing ']' after an IPv6 address");
	BAD("[2001:db8::1]443", "expected ':PORTS' or '/PROTOCOL' after ']'");
	BAD("[]", "missing address");
	BAD("[]:443", "missing address");
	BAD(":443", "missing address");
	BAD("/tcp", "missing address");
	BAD("any:", "missing port after ':'");
	BAD("any:/tcp", "missing port after ':'");
	BAD("[2001:db8::1]:", "missing port after ':'");
	BAD("any/", "missing protocol after '/'");
	BAD("any:53/", "missing protocol after '/'");
	BAD("[2001:db8::1]/", "missing protocol after '/'");
}

int main(void)
{
	test_ipv4_and_entities();
	test_ipv6();
	test_shape_only();
	test_limits();
	test_refusals();
	printf("test-dest-spec: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
