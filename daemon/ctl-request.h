/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One request line to a checked envelope (docs/protocol.md, "Validation
 * order", steps 2 to 4 and the shape of 5), with no event loop, client or
 * manager: every byte a client sends goes through here first, and
 * tests/fuzz/fuzz-request.c feeds it arbitrary input. Pure: safe on any
 * thread.
 */
#pragma once

#include <stddef.h>

#include <jansson.h>

struct ctl_request {
	json_t *req;	     /* the whole request; owns what follows */
	json_t *id;	     /* an integer or a string */
	const char *command; /* free of NUL characters; not looked up yet */
	json_t *params;	     /* an object; NULL when absent */
	/* The first string in params with a NUL character, as a JSON
	 * path ("params.policy.rules[0]"), or "": refused at step 7. */
	char nul_path[256];
};

/* Parses line (len bytes, without its '\n') and checks the envelope.
 * 0: *ret is filled; release it with ctl_request_done().
 * <0: *ret holds nothing, and *ret_error is the error reply to send (NULL
 * only with -ENOMEM):
 *   -EMSGSIZE         netpol.TooLarge (the connection is to be closed)
 *   -EBADMSG          netpol.InvalidJSON
 *   -EINVAL           netpol.InvalidRequest
 *   -EPROTONOSUPPORT  netpol.UnsupportedVersion
 *   -ENOENT           netpol.UnknownCommand (a NUL in the command) */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *ret, json_t **ret_error);
void ctl_request_done(struct ctl_request *r);
