/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A method's params by declaration (docs/protocol.md, "Validation order",
 * step 7): a table of {name, type, required, parser, offset}. Unknown keys
 * are refused first (a misspelt "follow" must not silently mean "no"); then
 * each declared field in table order: its presence and type, then its
 * value, by its parser. The first failure is the reply.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ctl-server.h"

/* Room for "params.NAME". */
#define CTL_PARAM_FIELD_MAX 160

enum ctl_param_type {
	CTL_PARAM_STRING,
	CTL_PARAM_BOOL,
	CTL_PARAM_INTEGER,
	CTL_PARAM_TIME, /* a number of seconds since the epoch */
	CTL_PARAM_OBJECT,
};

/* Parses v, already of the declared type, into ret (the output struct at
 * the field's offset). A bad value fails with ctl_fail(call, ..., field, ...). */
typedef int (*ctl_param_fn)(struct ctl_call *call, const char *field, json_t *v, void *ret);

/* A table ends with an entry whose name is NULL. An absent optional field
 * leaves its output as it was. */
struct ctl_param {
	const char *name;
	enum ctl_param_type type;
	bool required;
	ctl_param_fn parse;
	size_t offset;
};

/* The unknown keys, then the fields. */
int ctl_params_dispatch(struct ctl_call *call, json_t *params, const struct ctl_param *table, void *ret);
/* The two halves, for a method that checks more in between. A parser may
 * return CTL_SUSPENDED (ctl-server.h), and these then return it: the
 * method returns it too, untouched. */
int ctl_params_check_known(struct ctl_call *call, json_t *params, const struct ctl_param *table);
int ctl_params_parse(struct ctl_call *call, json_t *params, const struct ctl_param *table, void *ret);

/* The value as it is: const char *, bool, json_t * (borrowed from params). */
int ctl_param_string(struct ctl_call *call, const char *field, json_t *v, void *ret);
int ctl_param_bool(struct ctl_call *call, const char *field, json_t *v, void *ret);
int ctl_param_json(struct ctl_call *call, const char *field, json_t *v, void *ret);
/* uint64_t: a CTL_PARAM_TIME as CLOCK_REALTIME nanoseconds. */
int ctl_param_time(struct ctl_call *call, const char *field, json_t *v, void *ret);
