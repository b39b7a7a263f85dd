/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Workers: forked processes that each live in one cgroup and one network
 * namespace for their whole life, pinned to one CPU, and run measured loops
 * on request. A socket's cgroup (which programs run) is fixed when it is
 * created, and netpol judges the calling task's cgroup, so "where" is a
 * property of the process; the coordinator only says what to run.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

enum bench_op {
	BENCH_OP_UDP_CONNECT = 1, /* connect() a UDP socket again and again */
	BENCH_OP_UDP_SENDTO,	  /* unconnected 1-byte sendto() to the sink */
	BENCH_OP_TCP_CRR,	  /* socket, connect, accept, close both (RST) */
	BENCH_OP_TCP_STREAM,	  /* one connection, 64 KiB writes for duration_ns; ops = bytes */
	BENCH_OP_UDP_FLOOD,	  /* connected socket, 16-byte send(): the packet path only */
	BENCH_OP_VERIFY,	  /* one allowed and one denied destination */
	BENCH_OP_PROBE,		  /* connect() + send() until both pass; arms the shared slot first */
	BENCH_OP_DENY_FLOOD,	  /* paced sendto()s to denied destinations */
	BENCH_OP_VISIT,		  /* join <path>/0000.. in turn, one connect() + send() in each */
};

#define BENCH_N_DESTS	     508 /* 203.0.113.1-254 and 198.51.100.1-254 */
#define BENCH_VISIT_PATH_MAX 256

struct bench_cmd {
	int op;
	int rotate; /* 0: always 203.0.113.7; 1: the 508 test addresses in turn */
	uint64_t n;
	uint64_t duration_ns;
	uint64_t rate; /* per second, BENCH_OP_DENY_FLOOD */
	uint16_t tcp_port, udp_port;
	int listen_fd; /* inherited from the coordinator */
	int slot;      /* bench_shared slot, BENCH_OP_PROBE */
	char path[BENCH_VISIT_PATH_MAX];
};

struct bench_res {
	int64_t elapsed_ns;
	uint64_t ops, fails, bytes;
	int first_err;	  /* negative errno of the first failure */
	int allowed_rc;	  /* BENCH_OP_VERIFY: 203.0.113.7 (UDP and TCP) */
	int denied_rc;	  /* BENCH_OP_VERIFY: [2001:db8::5]:9 */
	uint64_t t_ok_ns; /* BENCH_OP_PROBE: CLOCK_MONOTONIC of the first success */
};

/* A page shared by the coordinator and every worker. */
struct bench_slot {
	volatile uint32_t armed; /* the probe has seen a denial */
	uint32_t _pad;
};
#define BENCH_SLOTS 16
struct bench_slot *bench_shared(void);

struct bench_worker {
	struct np_sb_worker sb;
	char name[48];
	const char *cgroup;
	int cpu;
	struct bench_call {
		struct bench_cmd c;
		struct bench_res r;
	} call; /* the command in flight and, once answered, its result */
};

/* Forks a worker that joins cgroup, enters namespace netns_idx and pins
 * itself to cpu. Must be called after every listener exists. */
int bench_worker_start(struct bench_worker *w, const char *name, const char *cgroup, int netns_idx, int cpu);
int bench_worker_send(struct bench_worker *w, const struct bench_cmd *c);
/* Waits at most timeout_ms (0: forever); -ETIMEDOUT or -EPIPE if it died. */
int bench_worker_recv(struct bench_worker *w, struct bench_res *r, int timeout_ms);
int bench_worker_call(struct bench_worker *w, const struct bench_cmd *c, struct bench_res *r, int timeout_ms);
void bench_worker_stop(struct bench_worker *w);

/* Listeners (TCP, non-blocking, backlog 4096) and sinks (UDP with the
 * smallest receive buffer, never read: datagrams are dropped there without
 * an ICMP) on 0.0.0.0, created by the caller in its current cgroup. */
int bench_tcp_listener(uint16_t port);
int bench_udp_sink(uint16_t port);
