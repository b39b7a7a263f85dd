/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the policy library's own files; not part of its API. */
#pragma once

#include <jansson.h>

#include "json-util.h"

#include "policy.h"

/* Fills err (if not NULL); field NULL means "not about one field". */
void np_error_set(struct np_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps err's message but points it at field: lower layers (CIDR and port
 * parsing) know what is wrong, only the caller knows where. */
void np_error_set_field(struct np_error *err, const char *field);

/* True if addr lies in the prefix (addr, plen) of pfx. */
bool np_prefix_contains(const uint8_t pfx[16], unsigned plen, const uint8_t addr[16]);
/* Clears the bits of addr beyond plen. */
void np_prefix_mask(uint8_t addr[16], unsigned plen);
