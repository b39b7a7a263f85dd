/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl-request.h"
#include "netpol-proto.h"

static const char *const envelope_keys[] = {"version", "id", "command", "params"};

void ctl_request_done(struct ctl_request *r)
{
	json_decref(r->req);
	*r = (struct ctl_request){};
}

/* The path of the first string in j with an embedded NUL: C code past
 * this point would see a silently shortened string. */
static bool find_nul(json_t *j, char *path, size_t size)
{
	size_t len = strlen(path), i;
	const char *key;
	json_t *v;

	if (json_is_string(j))
		return json_string_length(j) != strlen(json_string_value(j));
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
		{
			snprintf(path + len, size - len, "[%zu]", i);
			if (find_nul(v, path, size))
				return true;
		}
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v)
		{
			snprintf(path + len, size - len, ".%s", key);
			if (find_nul(v, path, size))
				return true;
		}
	}
	path[len] = '\0';
	return false;
}

static json_t *unsupported_version(json_t *id, json_int_t version)
{
	json_t *reply = np_proto_reply_error(id, NP_ERR_BAD_VERSION, "version",
					     "protocol version %" JSON_INTEGER_FORMAT
					     " is not supported; this daemon speaks %d",
					     version, NP_PROTO_VERSION);

	if (reply && json_object_set_new(json_object_get(reply, "error"), "supported",
					 json_integer(NP_PROTO_VERSION)) < 0) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* The first key of req that is not part of the envelope, or NULL (jansson
 * refuses NULs in keys, so a key is what strcmp() sees). */
static const char *unknown_key(json_t *req)
{
	const char *key;
	json_t *v;

	json_object_foreach(req, key, v)
	{
		bool known = false;

		for (size_t i = 0; i < sizeof(envelope_keys) / sizeof(envelope_keys[0]) && !known; i++)
			known = strcmp(key, envelope_keys[i]) == 0;
		if (!known)
			return key;
	}
	return NULL;
}

/* Steps 3 and 4, then what step 5 can tell without the method table. The
 * order of the checks is the documented one: each failure names the first
 * thing wrong. */
static int check_envelope(json_t *req, struct ctl_request *ret, json_t **ret_error)
{
	json_t *id, *version, *command, *params;
	const char *key;

	if (!json_is_object(req)) {
		*ret_error = np_proto_reply_error(NULL, NP_ERR_INVALID_REQUEST, NULL,
						  "a request must be a JSON object");
		return -EINVAL;
	}
	id = json_object_get(req, "id");
	if (!id || !(json_is_integer(id) || json_is_string(id))) {
		*ret_error = np_proto_reply_error(NULL, NP_ERR_INVALID_REQUEST, "id",
						  "\"id\" is required: an integer or a string");
		return -EINVAL;
	}
	version = json_object_get(req, "version");
	if (!json_is_integer(version)) {
		*ret_error = np_proto_reply_error(
		    id, NP_ERR_INVALID_REQUEST, "version",
		    "\"version\" is required: an integer (this daemon speaks %d)", NP_PROTO_VERSION);
		return -EINVAL;
	}
	command = json_object_get(req, "command");
	if (!json_is_string(command)) {
		*ret_error = np_proto_reply_error(id, NP_ERR_INVALID_REQUEST, "command",
						  "\"command\" is required: a string");
		return -EINVAL;
	}
	params = json_object_get(req, "params");
	if (params && !json_is_object(params)) {
		*ret_error = np_proto_reply_error(id, NP_ERR_INVALID_REQUEST, "params",
						  "\"params\" must be an object");
		return -EINVAL;
	}
	if (json_integer_value(version) != NP_PROTO_VERSION) {
		*ret_error = unsupported_version(id, json_integer_value(version));
		return -EPROTONOSUPPORT;
	}
	/* After the version: a later version may add envelope fields, and its
	 * clients should learn the version to speak first. */
	key = unknown_key(req);
	if (key) {
		*ret_error = np_proto_reply_error(
		    id, NP_ERR_INVALID_REQUEST, key,
		    "\"%s\": unknown request field (a request has version, id, command and params)", key);
		return -EINVAL;
	}
	if (json_string_length(command) != strlen(json_string_value(command))) {
		*ret_error = np_proto_reply_error(id, NP_ERR_UNKNOWN_COMMAND, "command",
						  "unknown command (it contains a NUL character)");
		return -ENOENT;
	}
	ret->id = id;
	ret->command = json_string_value(command);
	ret->params = params;
	strcpy(ret->nul_path, "params");
	if (!params || !find_nul(params, ret->nul_path, sizeof(ret->nul_path)))
		ret->nul_path[0] = '\0';
	return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *ret, json_t **ret_error)
{
	struct ctl_request r = {};
	json_error_t jerr;
	int k;

	*ret_error = NULL;
	if (len > NP_PROTO_MAX_MSG) {
		*ret_error = np_proto_reply_error(NULL, NP_ERR_TOO_LARGE, NULL,
						  "a request line may be at most %u bytes", NP_PROTO_MAX_MSG);
		return *ret_error ? -EMSGSIZE : -ENOMEM;
	}
	/* NULs are allowed here so that "status\u0000" is an unknown command
	 * rather than a parse error; nul_path keeps them out of params. */
	r.req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!r.req) {
		*ret_error = np_proto_reply_error(NULL, NP_ERR_INVALID_JSON, NULL,
						  "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return *ret_error ? -EBADMSG : -ENOMEM;
	}
	k = check_envelope(r.req, &r, ret_error);
	if (k < 0) {
		ctl_request_done(&r);
		return *ret_error ? k : -ENOMEM;
	}
	*ret = r;
	return 0;
}
