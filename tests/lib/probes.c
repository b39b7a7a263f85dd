/* SPDX-License-Identifier: GPL-2.0-only */
/* Destinations and probes: see probes.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef NP_HAVE_LIBURING
#include <liburing.h>
#endif

#include "cleanup-util.h"
#include "probes.h"
#include "sandbox.h"

void np_dest_token(struct np_dest *d)
{
	static unsigned counter;

	snprintf(d->payload, sizeof(d->payload), "np-%d-%u-%u", (int)getpid(), counter++,
		 (unsigned)(np_sb_now_ms() & 0xffff));
}

int np_dest_parse(int family, const char *ip, uint16_t port, struct np_dest *d)
{
	*d = (struct np_dest){};
	if (family != AF_INET6 && inet_pton(AF_INET, ip, &d->in.sin_addr) == 1) {
		d->family = d->in.sin_family = AF_INET;
		d->len = sizeof(struct sockaddr_in);
		d->in.sin_port = htons(port);
	} else if (family != AF_INET && inet_pton(AF_INET6, ip, &d->in6.sin6_addr) == 1) {
		d->family = d->in6.sin6_family = AF_INET6;
		d->len = sizeof(struct sockaddr_in6);
		d->in6.sin6_port = htons(port);
	} else {
		return -EINVAL;
	}
	np_dest_token(d);
	return 0;
}

static bool addr_is_v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(a, pfx, 12) == 0;
}

struct np_dest np_dest_from_addr(const uint8_t addr[16], uint16_t port, bool v4_on_v6)
{
	struct np_dest d = {};

	if (addr_is_v4mapped(addr) && !v4_on_v6) {
		d.family = AF_INET;
		d.len = sizeof(struct sockaddr_in);
		d.in.sin_family = AF_INET;
		d.in.sin_port = htons(port);
		memcpy(&d.in.sin_addr, addr + 12, 4);
	} else {
		d.family = AF_INET6;
		d.len = sizeof(struct sockaddr_in6);
		d.in6.sin6_family = AF_INET6;
		d.in6.sin6_port = htons(port);
		memcpy(&d.in6.sin6_addr, addr, 16);
	}
	np_dest_token(&d);
	return d;
}

void np_dest_addr16(const struct np_dest *d, uint8_t addr[16])
{
	if (d->family == AF_INET) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &d->in.sin_addr, 4);
	} else {
		memcpy(addr, &d->in6.sin6_addr, 16);
	}
}

uint16_t np_dest_port(const struct np_dest *d)
{
	return ntohs(d->family == AF_INET ? d->in.sin_port : d->in6.sin6_port);
}

const char *np_dest_str(const struct np_dest *d)
{
	static char buf[96];
	char a[INET6_ADDRSTRLEN];

	if (d->family == AF_INET) {
		inet_ntop(AF_INET, &d->in.sin_addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "%s:%u", a, np_dest_port(d));
	} else {
		inet_ntop(AF_INET6, &d->in6.sin6_addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "[%s]:%u", a, np_dest_port(d));
	}
	return buf;
}

/* ---- probes ---- */

static void set_timeouts(int fd, int snd_ms, int rcv_ms)
{
	struct timeval tv;

	if (snd_ms) {
		tv = (struct timeval){.tv_sec = snd_ms / 1000, .tv_usec = (snd_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (rcv_ms) {
		tv = (struct timeval){.tv_sec = rcv_ms / 1000, .tv_usec = (rcv_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
}

int np_probe_tcp_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_timeouts(fd, 1000, 0);
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

/* A connected UDP socket. SO_BROADCAST: without it connect() itself refuses
 * a broadcast destination, before the policy is asked (it judges the first
 * datagram). */
static int udp_connected(const struct np_dest *d, bool broadcast)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	if (broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int np_probe_udp_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = udp_connected(d, false);

	return fd < 0 ? fd : 0;
}

int np_probe_udp_connect_send(const struct np_dest *d)
{
	_cleanup_close_ int fd = udp_connected(d, true);

	if (fd < 0)
		return fd;
	if (send(fd, d->payload, strlen(d->payload), 0) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_sendto(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (sendto(fd, d->payload, strlen(d->payload), 0, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

int np_probe_udp_sendmmsg(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct np_dest copy = *d;
	struct iovec iov[2];
	struct mmsghdr m[2] = {};
	int r;

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		iov[i] = (struct iovec){.iov_base = copy.payload, .iov_len = strlen(copy.payload)};
		m[i].msg_hdr.msg_name = &copy.sa;
		m[i].msg_hdr.msg_namelen = copy.len;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, m, 2, 0);
	if (r < 0)
		return -errno;
	return r == 2 ? 0 : -EIO;
}

static uint16_t inet_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An echo request: type, code, csum, id, seq, payload. */
static size_t build_echo(uint8_t *buf, bool v6, uint16_t id, uint16_t seq, bool csum)
{
	size_t len = 8 + 16;

	memset(buf, 0, len);
	buf[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	buf[4] = id >> 8;
	buf[5] = id & 0xff;
	buf[6] = seq >> 8;
	buf[7] = seq & 0xff;
	memcpy(buf + 8, "netpol-echo-test", 16);
	if (csum && !v6) {
		uint16_t c = inet_csum(buf, len);

		memcpy(buf + 2, &c, 2);
	}
	return len;
}

/* Wait for an echo reply; raw sockets see every ICMP packet (including our own
 * request on lo), ping sockets only replies to their id. */
static int wait_echo_reply(int fd, bool v6, bool raw_v4_hdr, int id, uint16_t seq, int timeout_ms)
{
	uint64_t deadline = np_sb_now_ms() + timeout_ms;

	for (;;) {
		uint8_t buf[1500];
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = (int64_t)deadline - (int64_t)np_sb_now_ms();
		const uint8_t *icmp = buf;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			continue;
		if (raw_v4_hdr) {
			size_t ihl = (buf[0] & 0xf) * 4;

			if ((size_t)n < ihl + 8)
				continue;
			icmp = buf + ihl;
			n -= ihl;
		}
		if (n < 8)
			continue;
		if (icmp[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
			continue;
		if (id >= 0 && (icmp[4] << 8 | icmp[5]) != id)
			continue;
		if ((icmp[6] << 8 | icmp[7]) != seq)
			continue;
		return 0;
	}
}

static int ping_socket(const struct np_dest *d)
{
	return socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC,
		      d->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
}

int np_probe_ping_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = ping_socket(d);

	if (fd < 0)
		return -errno;
	if (connect(fd, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

/* An echo through a ping socket: connect() and send(), or sendto(). */
static int ping_echo(const struct np_dest *d, bool connected)
{
	_cleanup_close_ int fd = ping_socket(d);
	bool v6 = d->family == AF_INET6;
	uint16_t seq = connected ? 1 : 2;
	uint8_t pkt[64];
	size_t len;

	if (fd < 0)
		return -errno;
	if (connected && connect(fd, &d->sa, d->len) < 0)
		return -errno;
	len = build_echo(pkt, v6, 0, seq, false);
	if ((connected ? send(fd, pkt, len, 0) : sendto(fd, pkt, len, 0, &d->sa, d->len)) < 0)
		return -errno;
	return wait_echo_reply(fd, v6, false, -1, seq, 300);
}

int np_probe_ping_connect_echo(const struct np_dest *d)
{
	return ping_echo(d, true);
}

int np_probe_ping_sendto(const struct np_dest *d)
{
	return ping_echo(d, false);
}

static int raw_socket(const struct np_dest *d)
{
	return socket(d->family, SOCK_RAW | SOCK_CLOEXEC,
		      d->family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
}

int np_probe_raw_socket(const struct np_dest *d)
{
	_cleanup_close_ int fd = raw_socket(d);

	return fd < 0 ? -errno : 0;
}

int np_probe_raw_icmp_sendto(const struct np_dest *d)
{
	_cleanup_close_ int fd = raw_socket(d);
	bool v6 = d->family == AF_INET6;
	uint16_t id = (uint16_t)(getpid() ^ np_sb_now_ms());
	uint8_t pkt[64];
	size_t len;

	if (fd < 0)
		return -errno;
	len = build_echo(pkt, v6, id, 3, true);
	if (sendto(fd, pkt, len, 0, &d->sa, d->len) < 0)
		return -errno;
	return wait_echo_reply(fd, v6, !v6, id, 3, 300);
}

int np_probe_tcp_fastopen(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_timeouts(fd, 1000, 0);
	if (sendto(fd, d->payload, strlen(d->payload), MSG_FASTOPEN, &d->sa, d->len) < 0)
		return -errno;
	return 0;
}

#ifdef NP_HAVE_LIBURING
bool np_probe_have_uring(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

static int uring_one(int fd, bool connect_op, const struct np_dest *d)
{
	struct np_dest copy = *d;
	struct iovec iov = {.iov_base = copy.payload, .iov_len = strlen(copy.payload)};
	struct msghdr msg = {.msg_name = &copy.sa, .msg_namelen = copy.len, .msg_iov = &iov, .msg_iovlen = 1};
	struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 500000000};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int r;

	r = io_uring_queue_init(4, &ring, 0);
	if (r < 0)
		return r;
	sqe = io_uring_get_sqe(&ring);
	if (connect_op)
		io_uring_prep_connect(sqe, fd, &copy.sa, copy.len);
	else
		io_uring_prep_sendmsg(sqe, fd, &msg, 0);
	r = io_uring_submit(&ring);
	if (r < 0)
		goto out;
	r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (r == -ETIME) {
		r = -ETIMEDOUT;
		goto out;
	}
	if (r < 0)
		goto out;
	r = cqe->res < 0 ? cqe->res : 0;
	io_uring_cqe_seen(&ring, cqe);
out:
	io_uring_queue_exit(&ring);
	return r;
}

int np_probe_uring_connect(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return uring_one(fd, true, d);
}

int np_probe_uring_sendmsg(const struct np_dest *d)
{
	_cleanup_close_ int fd = socket(d->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return uring_one(fd, false, d);
}
#else
bool np_probe_have_uring(void)
{
	return false;
}

int np_probe_uring_connect(const struct np_dest *d)
{
	return -ENOSYS;
}

int np_probe_uring_sendmsg(const struct np_dest *d)
{
	return -ENOSYS;
}
#endif
