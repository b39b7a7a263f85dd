/* SPDX-License-Identifier: GPL-2.0-only */
/* Addresses, prefixes, ports and entities: parsing and formatting. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup-util.h"
#include "policy.h"

#include "unit-check.h"

/* Parses, checks the length, and checks the canonical text. */
static void good_cidr(const char *file, int line, const char *in, unsigned plen, const char *canonical)
{
	struct np_cidr c;
	struct np_error err = {};
	char buf[64];
	int r;

	r = np_cidr_parse(in, &c, &err);
	if (!check(r == 0, file, line, "\"%s\": %d %s", in, r, err.message))
		return;
	check(c.plen == plen, file, line, "\"%s\": plen %u, want %u", in, c.plen, plen);
	np_cidr_format(&c, buf, sizeof(buf));
	check(strcmp(buf, canonical) == 0, file, line, "\"%s\" formats as \"%s\", want \"%s\"", in, buf,
	      canonical);
}
#define GOOD_CIDR(in, plen, canonical) good_cidr(__FILE__, __LINE__, in, plen, canonical)

static void bad_cidr(const char *file, int line, const char *in, const char *msg)
{
	struct np_cidr c = {.plen = 77};
	struct np_error err = {};
	int r;

	r = np_cidr_parse(in, &c, &err);
	check(r == -EINVAL, file, line, "\"%s\": returned %d, want -EINVAL", in ? in : "(null)", r);
	check(c.plen == 77, file, line, "\"%s\": output written on failure", in ? in : "(null)");
	check(strstr(err.message, msg) != NULL, file, line, "\"%s\": message \"%s\" lacks \"%s\"",
	      in ? in : "(null)", err.message, msg);
	check(err.field[0] == '\0', file, line, "\"%s\": field \"%s\" set", in ? in : "(null)", err.field);
}
#define BAD_CIDR(in, msg) bad_cidr(__FILE__, __LINE__, in, msg)

static void test_cidrs(void)
{
	GOOD_CIDR("10.0.0.0/8", 104, "10.0.0.0/8");
	GOOD_CIDR("1.2.3.4", 128, "1.2.3.4/32");
	GOOD_CIDR("1.2.3.4/32", 128, "1.2.3.4/32");
	GOOD_CIDR("0.0.0.0/0", 96, "0.0.0.0/0");
	GOOD_CIDR("::/0", 0, "::/0");
	GOOD_CIDR("::1", 128, "::1/128");
	GOOD_CIDR("2001:db8::/32", 32, "2001:db8::/32");
	GOOD_CIDR("2001:DB8::/32", 32, "2001:db8::/32");
	GOOD_CIDR("2001:0db8:0000::/48", 48, "2001:db8::/48");
	GOOD_CIDR("fe80::/10", 10, "fe80::/10");
	GOOD_CIDR("::ffff:1.2.3.0/120", 120, "1.2.3.0/24");
	GOOD_CIDR("::ffff:0:0/96", 96, "0.0.0.0/0");
	GOOD_CIDR("172.16.0.0/12", 108, "172.16.0.0/12");
	GOOD_CIDR("255.255.255.255/32", 128, "255.255.255.255/32");
	GOOD_CIDR("2001:db8::8000/113", 113, "2001:db8::8000/113");
	GOOD_CIDR("10.0.0.0/08", 104, "10.0.0.0/8");

	BAD_CIDR("10.0.0.1/8", "host bits");
	BAD_CIDR("10.0.0.1/8", "did you mean \"10.0.0.0/8\"");
	BAD_CIDR("2001:db8::1/32", "did you mean \"2001:db8::/32\"");
	BAD_CIDR("::ffff:1.2.3.4/120", "did you mean \"1.2.3.0/24\"");
	BAD_CIDR("10.0.0.0/33", "at most /32");
	BAD_CIDR("1:2:3::/129", "at most /128");
	BAD_CIDR("10.0.0.0/", "prefix length");
	BAD_CIDR("10.0.0.0/-1", "prefix length");
	BAD_CIDR("10.0.0.0/8/8", "prefix length");
	BAD_CIDR("10.0.0.0/ 8", "prefix length");
	BAD_CIDR("10.0.0.0/99999999999999999999", "at most /32");
	BAD_CIDR("", "empty");
	BAD_CIDR(NULL, "empty");
	BAD_CIDR("1.2.3", "not an IPv4 or IPv6 address");
	BAD_CIDR("300.1.1.1", "not an IPv4 or IPv6 address");
	BAD_CIDR("1.2.3.4.5", "not an IPv4 or IPv6 address");
	BAD_CIDR(" 10.0.0.0/8", "not an IPv4 or IPv6 address");
	BAD_CIDR("10.0.0.0 /8", "not an IPv4 or IPv6 address");
	BAD_CIDR("/8", "not an IPv4 or IPv6 address");
	BAD_CIDR("garbage", "not an IPv4 or IPv6 address");
	BAD_CIDR("1:2:3:4:5:6:7:8:9", "not an IPv4 or IPv6 address");
	BAD_CIDR("2001:db8:::/32", "not an IPv4 or IPv6 address");
	BAD_CIDR("0x0a.0.0.0/8", "not an IPv4 or IPv6 address");
	BAD_CIDR("fe80::1%eth0", "not an IPv4 or IPv6 address");
}

static void test_addresses(void)
{
	uint8_t a[16], b[16];
	char buf[64];

	CHECK(np_addr_parse("1.2.3.4", a) == 0);
	CHECK(np_addr_is_v4mapped(a));
	CHECK(a[10] == 0xff && a[11] == 0xff && a[12] == 1 && a[15] == 4);
	CHECK(np_addr_parse("::ffff:1.2.3.4", b) == 0);
	CHECK(memcmp(a, b, 16) == 0);
	CHECK(np_addr_parse("::ffff:102:304", b) == 0);
	CHECK(memcmp(a, b, 16) == 0);
	np_addr_format(b, buf, sizeof(buf));
	CHECK(strcmp(buf, "1.2.3.4") == 0);
	CHECK(np_addr_parse("::1.2.3.4", b) == 0);
	CHECK(!np_addr_is_v4mapped(b));
	CHECK(np_addr_parse("2001:db8::1", a) == 0);
	CHECK(!np_addr_is_v4mapped(a));
	np_addr_format(a, buf, sizeof(buf));
	CHECK(strcmp(buf, "2001:db8::1") == 0);
	CHECK(np_addr_parse("::", a) == 0);
	np_addr_format(a, buf, sizeof(buf));
	CHECK(strcmp(buf, "::") == 0);
	CHECK(np_addr_parse("1.2.3.4/32", a) == -EINVAL);
	CHECK(np_addr_parse("", a) == -EINVAL);
	CHECK(np_addr_parse(NULL, a) == -EINVAL);
	CHECK(np_addr_parse("01.2.3.4", a) == -EINVAL);
	CHECK(np_addr_parse("1.2.3.4 ", a) == -EINVAL);
	/* a short buffer truncates, never overflows */
	np_addr_parse("255.255.255.255", a);
	memset(buf, 'x', sizeof(buf));
	np_addr_format(a, buf, 4);
	CHECK(strcmp(buf, "255") == 0 && buf[4] == 'x');
}

static void good_ports(const char *file, int line, const char *in, unsigned first, unsigned last)
{
	struct np_port_range p;
	struct np_error err = {};
	int r;

	r = np_port_range_parse(in, &p, &err);
	if (check(r == 0, file, line, "\"%s\": %d %s", in, r, err.message))
		check(p.first == first && p.last == last, file, line, "\"%s\": %u-%u, want %u-%u", in,
		      p.first, p.last, first, last);
}
#define GOOD_PORTS(in, first, last) good_ports(__FILE__, __LINE__, in, first, last)

static void bad_ports(const char *file, int line, const char *in, const char *msg)
{
	struct np_port_range p = {7, 7};
	struct np_error err = {};
	int r;

	r = np_port_range_parse(in, &p, &err);
	check(r == -EINVAL, file, line, "\"%s\": returned %d, want -EINVAL", in ? in : "(null)", r);
	check(p.first == 7 && p.last == 7, file, line, "\"%s\": output written on failure",
	      in ? in : "(null)");
	check(strstr(err.message, msg) != NULL, file, line, "\"%s\": message \"%s\" lacks \"%s\"",
	      in ? in : "(null)", err.message, msg);
}
#define BAD_PORTS(in, msg) bad_ports(__FILE__, __LINE__, in, msg)

static void test_ports(void)
{
	GOOD_PORTS("80", 80, 80);
	GOOD_PORTS("1", 1, 1);
	GOOD_PORTS("65535", 65535, 65535);
	GOOD_PORTS("8000-8100", 8000, 8100);
	GOOD_PORTS("1-65535", 1, 65535);
	GOOD_PORTS("443-443", 443, 443);

	BAD_PORTS("0", "out of range");
	BAD_PORTS("65536", "out of range");
	BAD_PORTS("99999999999", "out of range");
	BAD_PORTS("0-10", "out of range");
	BAD_PORTS("10-70000", "out of range");
	BAD_PORTS("100-50", "first port is greater than the last");
	BAD_PORTS("100-50", "\"50-100\"");
	BAD_PORTS("80-", "is not a port");
	BAD_PORTS("-80", "is not a port");
	BAD_PORTS("80--90", "is not a port");
	BAD_PORTS("1-2-3", "is not a port");
	BAD_PORTS("abc", "is not a port");
	BAD_PORTS(" 80", "is not a port");
	BAD_PORTS("80 ", "is not a port");
	BAD_PORTS("+80", "is not a port");
	BAD_PORTS("80.5", "is not a port");
	BAD_PORTS("", "empty");
	BAD_PORTS(NULL, "empty");
}

static bool has_cidr(const struct np_cidr *v, int n, const char *text)
{
	struct np_cidr want;
	int i;

	if (np_cidr_parse(text, &want, NULL) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (v[i].plen == want.plen && memcmp(v[i].addr, want.addr, 16) == 0)
			return true;
	return false;
}

static void test_entities(void)
{
	struct np_cidr v[8];
	int n;

	n = np_entity_expand("any", v, ELEMENTSOF(v));
	CHECK(n == 1 && v[0].plen == 0);
	n = np_entity_expand("private", v, ELEMENTSOF(v));
	CHECK(n == 4);
	CHECK(has_cidr(v, n, "10.0.0.0/8") && has_cidr(v, n, "172.16.0.0/12") &&
	      has_cidr(v, n, "192.168.0.0/16") && has_cidr(v, n, "fc00::/7"));
	n = np_entity_expand("loopback", v, ELEMENTSOF(v));
	CHECK(n == 2 && has_cidr(v, n, "127.0.0.0/8") && has_cidr(v, n, "::1"));
	n = np_entity_expand("link-local", v, ELEMENTSOF(v));
	CHECK(n == 2 && has_cidr(v, n, "169.254.0.0/16") && has_cidr(v, n, "fe80::/10"));
	n = np_entity_expand("multicast", v, ELEMENTSOF(v));
	CHECK(n == 2 && has_cidr(v, n, "224.0.0.0/4") && has_cidr(v, n, "ff00::/8"));
	CHECK(np_entity_expand("privat", v, ELEMENTSOF(v)) == -ENOENT);
	CHECK(np_entity_expand("Any", v, ELEMENTSOF(v)) == -ENOENT);
	CHECK(np_entity_expand("", v, ELEMENTSOF(v)) == -ENOENT);
	CHECK(np_entity_expand(NULL, v, ELEMENTSOF(v)) == -ENOENT);
	CHECK(np_entity_expand("10.0.0.0/8", v, ELEMENTSOF(v)) == -ENOENT);
	CHECK(np_entity_expand("private", v, 2) == -ENOBUFS);
}

int main(void)
{
	test_cidrs();
	test_addresses();
	test_ports();
	test_entities();
	printf("test-addr: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
