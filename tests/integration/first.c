/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The entrypoint of the integration tests' containers: statically linked,
 * so that it runs in a busybox image, and its first action is the attempt a
 * policy must judge, so that a test sees whether the container was policed
 * from its first instruction.
 *
 *   first [-o FILE] [-s SECONDS] connect ADDR PORT [ADDR PORT...]
 *       a TCP connect() to each in turn (the first one before anything
 *       else; a second or later one shows what a policy allows after a
 *       denial)
 *   first [-o FILE] [-s SECONDS] raw ADDR
 *       an ICMP echo request from a raw socket (needs CAP_NET_RAW)
 *   first [-o FILE] [-s SECONDS] packet ADDR
 *       an IPv4 packet to ADDR through an AF_PACKET socket on lo, which no
 *       cgroup hook sees (needs CAP_NET_RAW)
 *   first listen PORT
 *       a TCP listener on [::]:PORT (v4 and v6) that accepts and closes,
 *       until SIGTERM: what the allowed connects of the tests reach
 *
 * One line per attempt: "RESULT ADDR PORT T0", RESULT being OK or the
 * errno's name (socket() failing reads "socket:ENAME"), PORT "-" for raw and
 * packet, T0 the CLOCK_REALTIME at entry (seconds.nanoseconds). With -o the
 * lines go to FILE.tmp, renamed to FILE once all are written, so that a
 * reader waiting for FILE never sees half of them; else to stdout.
 * -s: then sleep that long (-1: until SIGTERM, which ends it at once even as
 * a container's pid 1). Exit 0 when the lines were written.
 *
 * Addresses are the caller's: the tests only name addresses local to the
 * container's own network namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 2000

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static int parse_addr(const char *s, const char *port, union addr *a, socklen_t *len)
{
	unsigned long p = 0;
	char *end;

	if (port) {
		p = strtoul(port, &end, 10);
		if (*port == '\0' || *end || p > 65535)
			return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons((uint16_t)p);
		*len = sizeof(a->in);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)p);
		*len = sizeof(a->in6);
		return 0;
	}
	return -EINVAL;
}

/* 0, or a negative errno; -(1000 + errno) when socket() failed. */
static int try_connect(const union addr *a, socklen_t len)
{
	struct pollfd pfd = {.events = POLLOUT};
	int fd, r, err = 0;
	socklen_t elen = sizeof(err);

	fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -(1000 + errno);
	r = connect(fd, &a->sa, len);
	if (r < 0 && errno == EINPROGRESS) {
		pfd.fd = fd;
		r = poll(&pfd, 1, CONNECT_TIMEOUT_MS);
		if (r == 0)
			err = ETIMEDOUT;
		else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
	} else if (r < 0)
		err = errno;
	close(fd);
	return -err;
}

static int try_raw(const union addr *a, socklen_t len)
{
	int v6 = a->sa.sa_family == AF_INET6, fd, r = 0;
	struct icmphdr echo = {.type = ICMP_ECHO, .un.echo.id = htons(0x6e70)};
	struct icmp6_hdr echo6 = {.icmp6_type = ICMP6_ECHO_REQUEST};

	fd = socket(a->sa.sa_family, SOCK_RAW | SOCK_CLOEXEC, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return -(1000 + errno);
	/* The kernel fills in the ICMPv6 checksum; an ICMPv4 one of zeroes
	 * is only wrong, which does not matter to the hooks. */
	if (sendto(fd, v6 ? (void *)&echo6 : (void *)&echo, v6 ? sizeof(echo6) : sizeof(echo), 0, &a->sa,
		   len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int try_packet(const union addr *a)
{
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_halen = ETH_ALEN,
	};
	struct iphdr ip = {
	    .version = 4,
	    .ihl = 5,
	    .ttl = 1,
	    .protocol = IPPROTO_UDP,
	    .tot_len = htons(sizeof(ip)),
	    .saddr = htonl(INADDR_LOOPBACK),
	};
	int fd, r = 0;

	if (a->sa.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	ip.daddr = a->in.sin_addr.s_addr;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (fd < 0)
		return -(1000 + errno);
	ll.sll_ifindex = (int)if_nametoindex("lo");
	if (ll.sll_ifindex == 0 || sendto(fd, &ip, sizeof(ip), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void result_name(int r, char *buf, size_t size)
{
	const char *prefix = "";
	const char *name;

	if (r == 0) {
		snprintf(buf, size, "OK");
		return;
	}
	if (r <= -1000) {
		prefix = "socket:";
		r += 1000;
	}
	name = strerrorname_np(-r);
	if (name)
		snprintf(buf, size, "%s%s", prefix, name);
	else
		snprintf(buf, size, "%sE%d", prefix, -r);
}

static void on_term(int sig)
{
	_exit(0);
}

static int usage(void)
{
	fprintf(stderr, "usage: first [-o FILE] [-s SECONDS] connect ADDR PORT [ADDR PORT...]\n"
			"       first [-o FILE] [-s SECONDS] raw|packet ADDR\n"
			"       first listen PORT\n");
	return 2;
}

static int listen_forever(const char *port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	unsigned long p;
	char *end;
	int fd, off = 0, on = 1;

	p = strtoul(port, &end, 10);
	if (*port == '\0' || *end || p == 0 || p > 65535)
		return usage();
	a.sin6_port = htons((uint16_t)p);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		fprintf(stderr, "first: listen on port %s: %m\n", port);
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("listening %s\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
}

int main(int argc, char **argv)
{
	struct timespec t0;
	const char *out = NULL, *mode;
	char tmp[4096], name[64];
	long sleep_s = 0;
	FILE *f = stdout;
	int i;

	clock_gettime(CLOCK_REALTIME, &t0);

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-o"))
			out = argv[i + 1];
		else if (!strcmp(argv[i], "-s"))
			sleep_s = strtol(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	mode = argv[i++];
	if (!strcmp(mode, "listen") && i + 1 == argc)
		return listen_forever(argv[i]);
	if (strcmp(mode, "connect") && strcmp(mode, "raw") && strcmp(mode, "packet"))
		return usage();
	if (i >= argc || (!strcmp(mode, "connect") && (argc - i) % 2) ||
	    (strcmp(mode, "connect") && argc - i != 1))
		return usage();

	/* Every attempt before any output: opening FILE is not the first
	 * thing the container does. */
	int n = strcmp(mode, "connect") ? 1 : (argc - i) / 2;
	int results[64];

	if (n > 64)
		return usage();
	for (int k = 0; k < n; k++) {
		union addr a;
		socklen_t len;
		const char *port = strcmp(mode, "connect") ? NULL : argv[i + 2 * k + 1];

		if (parse_addr(argv[i + 2 * k], port, &a, &len) < 0) {
			fprintf(stderr, "first: bad address or port: %s %s\n", argv[i + 2 * k],
				port ? port : "");
			return 2;
		}
		results[k] = !strcmp(mode, "connect") ? try_connect(&a, len)
			     : !strcmp(mode, "raw")   ? try_raw(&a, len)
						      : try_packet(&a);
	}

	if (out) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", out);
		f = fopen(tmp, "we");
		if (!f) {
			fprintf(stderr, "first: %s: %m\n", tmp);
			return 1;
		}
	}
	for (int k = 0; k < n; k++) {
		const char *port = strcmp(mode, "connect") ? "-" : argv[i + 2 * k + 1];

		result_name(results[k], name, sizeof(name));
		fprintf(f, "%s %s %s %lld.%09ld\n", name, argv[i + 2 * k], port, (long long)t0.tv_sec,
			t0.tv_nsec);
	}
	if (fflush(f) != 0 || (out && (fclose(f) != 0 || rename(tmp, out) < 0))) {
		fprintf(stderr, "first: writing %s: %m\n", out ? out : "stdout");
		return 1;
	}

	signal(SIGTERM, on_term);
	if (sleep_s < 0)
		for (;;)
			pause();
	if (sleep_s > 0)
		sleep((unsigned)sleep_s);
	return 0;
}
