/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer harness for the first thing netpold does with a client's bytes:
 * ctl_request_parse() (daemon/ctl-request.c), one request line to a checked
 * envelope or to the error reply the client gets. Invariants:
 *  - success: an object whose keys are all envelope keys, version 1, an
 *    integer or string id, a command without NULs, params absent or an
 *    object;
 *  - failure: an error reply that is a JSON object of the protocol (version
 *    1, ok false, id null/integer/string, a known code matching the
 *    returned errno, a non-empty message), that serializes to exactly one
 *    line and reads back equal;
 *  - never -ENOMEM (nothing runs out of memory here: it would be a reply
 *    that could not be built);
 *  - the same input gives the same answer; everything is freed (ASan).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-request.h"
#include "netpol-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);         \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

static const char *code_of(int r)
{
	switch (r) {
	case -EMSGSIZE:
		return NP_ERR_TOO_LARGE;
	case -EBADMSG:
		return NP_ERR_INVALID_JSON;
	case -EINVAL:
		return NP_ERR_INVALID_REQUEST;
	case -EPROTONOSUPPORT:
		return NP_ERR_BAD_VERSION;
	case -ENOENT:
		return NP_ERR_UNKNOWN_COMMAND;
	default:
		return NULL;
	}
}

static void check_request(const struct ctl_request *req)
{
	const char *key;
	json_t *v;

	CHECK(json_is_object(req->req));
	json_object_foreach(req->req, key, v)
	    CHECK(strcmp(key, "version") == 0 || strcmp(key, "id") == 0 || strcmp(key, "command") == 0 ||
		  strcmp(key, "params") == 0);
	CHECK(json_integer_value(json_object_get(req->req, "version")) == NP_PROTO_VERSION);
	CHECK(json_is_integer(req->id) || json_is_string(req->id));
	CHECK(req->id == json_object_get(req->req, "id"));
	CHECK(req->command &&
	      strlen(req->command) == json_string_length(json_object_get(req->req, "command")));
	CHECK(!req->params || json_is_object(req->params));
	CHECK(req->nul_path[0] == '\0' || strncmp(req->nul_path, "params", 6) == 0);
	CHECK(!req->nul_path[0] || req->params);
}

static void check_error(int r, json_t *error)
{
	json_t *id, *e, *back;
	char *line;

	CHECK(code_of(r));
	CHECK(json_is_object(error));
	CHECK(json_integer_value(json_object_get(error, "version")) == NP_PROTO_VERSION);
	CHECK(json_is_false(json_object_get(error, "ok")));
	id = json_object_get(error, "id");
	CHECK(json_is_null(id) || json_is_integer(id) || json_is_string(id));
	e = json_object_get(error, "error");
	CHECK(json_is_object(e));
	CHECK(json_is_string(json_object_get(e, "code")));
	CHECK(strcmp(json_string_value(json_object_get(e, "code")), code_of(r)) == 0);
	CHECK(json_is_string(json_object_get(e, "message")));
	CHECK(json_string_length(json_object_get(e, "message")) > 0);
	CHECK(!json_object_get(e, "field") || json_is_string(json_object_get(e, "field")));

	line = np_proto_dump_line(error);
	CHECK(line);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	/* With NULs: an id is echoed as the client sent it. */
	back = json_loads(line, JSON_ALLOW_NUL, NULL);
	CHECK(back && json_equal(back, error));
	json_decref(back);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req = {}, again = {};
	json_t *error = NULL, *error2 = NULL;
	int r, r2;

	r = ctl_request_parse((const char *)data, size, &req, &error);
	/* Memory does not run out here: -ENOMEM would mean a reply that could
	 * not be built (jansson refuses invalid UTF-8, for one). */
	CHECK(r != -ENOMEM);
	if (r == 0) {
		CHECK(!error);
		check_request(&req);
	} else {
		CHECK(r < 0);
		CHECK(!req.req);
		check_error(r, error);
	}

	r2 = ctl_request_parse((const char *)data, size, &again, &error2);
	CHECK(r2 == r);
	CHECK(r != 0 || strcmp(again.command, req.command) == 0);
	CHECK(r == 0 || json_equal(error, error2));
	ctl_request_done(&again);
	json_decref(error2);
	ctl_request_done(&req);
	json_decref(error);
	return 0;
}
