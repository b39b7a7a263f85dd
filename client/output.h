/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Everything netpolctl writes: results (a table, lines, or JSON), and the
 * one line that explains a failure. With --json, stdout holds JSON only.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

struct output_mode {
	bool json;   /* --json: every byte on stdout is JSON */
	bool pretty; /* --pretty: indented JSON */
};
extern struct output_mode arg_output;

/* Reports a failure once: "netpolctl: MESSAGE" on stderr and, with --json,
 * {"error": {"code": CODE, "message": MESSAGE}} on stdout. Returns r (a
 * negative errno) so that callers can `return fail(r, ...)`. */
int fail(int r, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for an error object that netpold sent. */
int fail_remote(const json_t *error);

/* One JSON value as one line on stdout (indented with --pretty). */
int print_json(const json_t *v);
/* Flushes stdout; a write error (a closed pipe) is a failure. */
int flush_stdout(void);

/* A value as table text: strings as is, null as "-", numbers, true/false as
 * yes/no, anything else as compact JSON. Never NULL. */
char *value_text(const json_t *v);

/* Aligned columns separated by two spaces; the header in capitals. */
struct table;
struct table *table_new(const char *const *header, size_t n_cols);
/* Adds one cell (rows fill left to right); takes ownership of text. */
int table_add(struct table *t, char *text);
int table_addf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line printed under the row being filled (the last one with a cell),
 * indented, outside the columns; takes ownership of text. */
int table_note(struct table *t, char *text);
void table_print(const struct table *t, FILE *f);
struct table *table_free(struct table *t);

/* "203.0.113.1:443/tcp", "[2001:db8::1]:53/udp", "10.0.0.1/icmp". */
char *format_dest(const json_t *dest, const json_t *port, const json_t *protocol);
/* s for a terminal: at most max bytes (max >= 4; cut at a character,
 * "..." added), control characters as '?'. NULL: out of memory. */
char *safe_text(const char *s, size_t max);
/* A container object (docs/protocol.md) as "web (3f2a4b5c6d7e, nginx)",
 * with ", service PROJECT/SERVICE" for a compose service; its strings
 * shortened and without control characters. NULL: out of memory. */
char *format_container(const json_t *c);
/* What v (a binding, a violation, a problem) is about: its container, or
 * its target. NULL: out of memory. */
char *format_target(const json_t *v);
/* One violation V (docs/protocol.md) as one human line. */
/* A violation's program, and its thread where that has another name:
 * "dig (thread isc-net-0000)"; "-" when no process could be named. */
char *format_program(const json_t *v);
char *format_violation(const json_t *v);
