/* SPDX-License-Identifier: GPL-2.0-only */
/* What netpol-oci-hook and netpol-unit-gate share: their options, one
 * deadline for the whole run, and the call to netpold (connect, send one
 * request, ask again while netpold does not know the target yet). Each
 * hook keeps its own words and its own way to fail (open or closed). */
#pragma once

#include <jansson.h>

struct hook_options {
	const char *name;	      /* the program's: messages, --version */
	long timeout_max_ms;	      /* --timeout's upper bound */
	const char *timeout_examples; /* e.g. "30, 0.5 or 500ms" */
	void (*print_help)(void);
};

/* $NETPOL_SOCKET, --socket, --timeout, --help, --version, into *socket and
 * *timeout_ms (which hold the defaults). 1 to go on with argv[optind..],
 * 0 to exit (help, version), or -EINVAL (said on stderr). */
int hook_parse_options(const struct hook_options *o, const char **socket, long *timeout_ms, int argc,
		       char **argv);

/* "NAME: " fmt (with what) " (see NAME --help)" on stderr; -EINVAL. */
int hook_usage_error(const char *name, const char *fmt, const char *what);

/* Calls on_deadline (SIGALRM) once ms have passed, wherever the program
 * blocks then: a signal that ends the program, not a timeout per step. */
int hook_arm_deadline(long ms, void (*on_deadline)(int sig));

enum hook_step {
	HOOK_CONNECTING, /* detail: the socket */
	HOOK_WAITING,	 /* detail: NULL */
	HOOK_NOT_YET,	 /* netpold does not know the target yet; detail: its message, or "" */
};

struct hook_call {
	const char *socket;
	const char *command;
	json_t *params; /* the caller's: each request takes a copy */
	long retry_max_ms;
	/* Before each step that may block: what the deadline is to say. */
	void (*step)(enum hook_step step, const char *detail);
	/* A failure, with its reason: says it, returns the exit code. */
	int (*fail)(const char *reason);
};

/* Asks netpold until it answers: EXIT_SUCCESS when it says ok, else what
 * h->fail returns. */
int hook_call(const struct hook_call *h);
