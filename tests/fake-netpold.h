/* SPDX-License-Identifier: GPL-2.0-only */
/* The client tests' fake netpold: a Unix socket of the test's own that
 * answers each request line from a script, and a child run against it
 * with a deadline, its output and the requests it sent kept. */
#pragma once

#include <stddef.h>

#include <jansson.h>

/* A scripted answer that closes the connection instead. */
#define CLOSE "close"

struct child {
	int status; /* exit code; -1 if killed or signalled */
	char out[16384], err[16384];
	/* the hook's: */
	json_t *requests; /* each request line received, parsed (null if not JSON) */
	unsigned connections;
};

/* Prints what failed and exits 99: the test itself broke, not a check. */
__attribute__((noreturn)) void die(const char *what);

/* The whole of a memfd into buf, NUL-terminated; closes fd. */
void read_back(int fd, char *buf, size_t size);

/* A listening Unix stream socket bound at path (close-on-exec). */
int listen_unix(const char *path);

/* Runs argv with stdin (NULL: a pipe never closed), env NETPOL_SOCKET set
 * to env_socket (NULL: unset), in cwd (NULL: ours); serves the hook's
 * connections on listen_fd until it exits. The daemon's answers are
 * replies, one per request in order; past the end, or NULL: none (it
 * hangs); CLOSE: it closes the connection. */
void fake_spawn(struct child *c, int listen_fd, const char *const *argv, const char *in, size_t in_len,
		const char *env_socket, const char *cwd, const char *const *replies, size_t n_replies);

void child_done(struct child *c);

#define ARGV(...)     ((const char *const[]){__VA_ARGS__, NULL})
#define REPLIES(...)  ((const char *const[]){__VA_ARGS__}), ELEMENTSOF(((const char *const[]){__VA_ARGS__}))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
