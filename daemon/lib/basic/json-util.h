/* SPDX-License-Identifier: GPL-2.0-only */
/* JSON values: their cleanup, and what error messages say of them. */
#pragma once

#include <jansson.h>

#include "cleanup-util.h"

/* jansson provides json_decrefp() */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* "an object", "a string", ...: what a value is, for "must be X, got Y". */
const char *np_json_type_name(const json_t *j);
