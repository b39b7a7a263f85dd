/* SPDX-License-Identifier: GPL-2.0-only */
/* What error messages say of a JSON value. */
#pragma once

#include <jansson.h>

/* "an object", "a string", ...: what a value is, for "must be X, got Y". */
const char *np_json_type_name(const json_t *j);
