/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Destinations and the probes that try to reach them: each probe makes one
 * attempt from a fresh socket in the calling process (so its cgroup and
 * network namespace decide) and returns 0 or negative errno. Used by the
 * kernel tests' workers and by the integration tests' probe program.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct np_dest {
	int family; /* the socket's family: AF_INET or AF_INET6 */
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	};
	char payload[48]; /* NUL-terminated data a probe sends */
};

/* Destinations carry a fresh unique token as payload (np_dest_token) so
 * delivery can be checked. family: AF_INET, AF_INET6 or AF_UNSPEC (either);
 * -EINVAL for an address that is not one. */
int np_dest_parse(int family, const char *ip, uint16_t port, struct np_dest *d);
/* From a 16-byte (v4-mapped for v4) address: v4 on AF_INET unless
 * v4_on_v6, then AF_INET6 with the mapped form. */
struct np_dest np_dest_from_addr(const uint8_t addr[16], uint16_t port, bool v4_on_v6);
void np_dest_token(struct np_dest *d);
/* The 16-byte (v4-mapped) address and host-order port of a destination. */
void np_dest_addr16(const struct np_dest *d, uint8_t addr[16]);
uint16_t np_dest_port(const struct np_dest *d);
const char *np_dest_str(const struct np_dest *d); /* static buffer */

/* Probes: run inside a worker; 0 on success or negative errno. A lost SYN
 * shows as -EINPROGRESS/-ETIMEDOUT (1 s), a missing ICMP reply as
 * -ETIMEDOUT (300 ms). */
typedef int (*np_probe_fn)(const struct np_dest *d);
int np_probe_tcp_connect(const struct np_dest *d); /* 0 also needs a listener */
int np_probe_udp_connect(const struct np_dest *d);
int np_probe_udp_connect_send(const struct np_dest *d);
int np_probe_udp_sendto(const struct np_dest *d);
int np_probe_udp_sendmmsg(const struct np_dest *d);	 /* two messages */
int np_probe_ping_connect(const struct np_dest *d);	 /* connect only */
int np_probe_ping_connect_echo(const struct np_dest *d); /* connect, send, reply */
int np_probe_ping_sendto(const struct np_dest *d);	 /* sendto, reply */
int np_probe_raw_socket(const struct np_dest *d);	 /* socket(SOCK_RAW, ICMP) only */
int np_probe_raw_icmp_sendto(const struct np_dest *d);	 /* SOCK_RAW echo, reply */
int np_probe_tcp_fastopen(const struct np_dest *d);	 /* sendto(MSG_FASTOPEN) */
int np_probe_uring_connect(const struct np_dest *d);	 /* -ENOSYS without liburing */
int np_probe_uring_sendmsg(const struct np_dest *d);	 /* UDP, msg_name */
bool np_probe_have_uring(void);
