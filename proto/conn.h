/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One connection to netpold: send a request line, read reply lines. Never
 * logs; every failure is a negative errno for the caller to explain.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "netpol-proto.h"

/* A reply line longer than this is refused (-EMSGSIZE). Replies are larger
 * than requests (a policy list, the violations history), hence 8 x. */
#define NP_CONN_MAX_LINE (8 * (size_t)NP_PROTO_MAX_MSG)

struct np_conn;

/* -ENOENT, -ECONNREFUSED, -EACCES ... from socket()/connect(). */
int np_conn_open(const char *path, struct np_conn **ret);
/* The same with a deadline (np_conn_now() µs; 0: none) for the connect and
 * every later send and receive: a wait past it fails with -ETIMEDOUT. A
 * wedged netpold (stopped, its loop stuck) then cannot hang the caller. */
int np_conn_open_until(const char *path, uint64_t deadline, struct np_conn **ret);
/* Changes the deadline (0: none), e.g. for a stream after its first reply. */
void np_conn_set_deadline(struct np_conn *c, uint64_t deadline);
/* CLOCK_MONOTONIC in µs, the clock of deadlines. */
uint64_t np_conn_now(void);
struct np_conn *np_conn_free(struct np_conn *c);

/* Writes msg as one line, all of it: -EPIPE if netpold went away,
 * -ETIMEDOUT if the deadline passed first. */
int np_conn_send(struct np_conn *c, const json_t *msg);

/* The next line as JSON: 0, or -ECONNRESET (netpold closed the connection
 * between lines), -EPROTO (closed in the middle of a line), -EBADMSG (not
 * a JSON object), -EMSGSIZE (line too long), -EINTR (a signal arrived),
 * -ETIMEDOUT (the deadline passed). */
int np_conn_recv(struct np_conn *c, json_t **ret);

/* The socket, for poll() and socket options, or for a caller that reads
 * the rest of the stream itself (after no np_conn_recv()). */
int np_conn_fd(const struct np_conn *c);
