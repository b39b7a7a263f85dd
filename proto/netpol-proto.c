/* SPDX-License-Identifier: GPL-2.0-only */
/* Envelope helpers and destination parsing shared by netpold and netpolctl. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpol-proto.h"

json_t *np_proto_request(const char *command, json_int_t id, json_t *params)
{
	json_t *req = json_pack("{s:i, s:I, s:s}", "version", NP_PROTO_VERSION, "id", id, "command", command);

	if (!req) {
		json_decref(params);
		return NULL;
	}
	if (params)
		json_object_set_new(req, "params", params);
	return req;
}

json_t *np_proto_reply_ok(json_t *id, json_t *result)
{
	json_t *rep = json_pack("{s:i, s:O, s:b}", "version", NP_PROTO_VERSION, "id", id ?: json_null(), "ok", 1);

	if (!rep) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(rep, "result", result ?: json_object());
	return rep;
}

/* Messages and fields quote what a client sent, cut anywhere by a buffer:
 * what is not valid UTF-8 is shown as '?', or jansson would refuse it. */
static json_t *string_lossy(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *np_proto_reply_error(json_t *id, const char *code, const char *field, const char *fmt, ...)
{
	json_t *reply;
	va_list ap;

	va_start(ap, fmt);
	reply = np_proto_reply_errorv(id, code, field, fmt, ap);
	va_end(ap);
	return reply;
}

json_t *np_proto_reply_errorv(json_t *id, const char *code, const char *field, const char *fmt, va_list ap)
{
	char message[512], f[256];
	json_t *err;

	vsnprintf(message, sizeof(message), fmt, ap);
	err = json_pack("{s:s, s:o}", "code", code, "message", string_lossy(message));
	if (!err)
		return NULL;
	if (field && *field) {
		snprintf(f, sizeof(f), "%s", field);
		if (json_object_set_new(err, "field", string_lossy(f)) < 0) {
			json_decref(err);
			return NULL;
		}
	}
	return json_pack("{s:i, s:O, s:b, s:o}", "version", NP_PROTO_VERSION, "id", id ?: json_null(), "ok", 0,
			 "error", err);
}

char *np_proto_dump_line(const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t n;
	char *line;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

static int copy_part(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* ADDRESS-OR-CIDR-OR-ENTITY[:PORTS][/PROTOCOL]; IPv6 in brackets when a
 * port follows. Only the shape is checked here: the policy parser judges
 * the address, ports and protocol, and names what is wrong. */
int np_dest_spec_parse(const char *s, struct np_dest_spec *ret, const char **why)
{
	struct np_dest_spec d = {.protocol = "any"};
	const char *to, *to_end, *rest, *slash;

	if (!s || !*s) {
		*why = "empty destination";
		return -EINVAL;
	}
	if (s[0] == '[') {
		to = s + 1;
		to_end = strchr(to, ']');
		if (!to_end) {
			*why = "missing ']' after an IPv6 address";
			return -EINVAL;
		}
		rest = to_end + 1;
		if (*rest && *rest != ':' && *rest != '/') {
			*why = "expected ':PORTS' or '/PROTOCOL' after ']'";
			return -EINVAL;
		}
	} else {
		size_t colons = 0;

		for (const char *p = s; *p; p++)
			colons += *p == ':';
		to = s;
		if (colons > 1) {
			/* Bare IPv6, with no port: the whole string is the address
			 * (a trailing "/tcp" would be ambiguous with a prefix). */
			to_end = s + strlen(s);
		} else {
			to_end = to + strcspn(to, ":");
			/* "/" starts a protocol only when it is not a prefix length. */
			slash = strrchr(to, '/');
			if (!colons && slash && slash < to_end && (slash[1] < '0' || slash[1] > '9'))
				to_end = slash;
		}
		rest = to_end;
	}
	if (to_end == to) {
		*why = "missing address";
		return -EINVAL;
	}
	if (copy_part(d.to, sizeof(d.to), to, (size_t)(to_end - to)) < 0) {
		*why = "address too long";
		return -EINVAL;
	}

	if (*rest == ':') {
		const char *ports = rest + 1;
		size_t n = strcspn(ports, "/");

		if (n == 0) {
			*why = "missing port after ':'";
			return -EINVAL;
		}
		if (copy_part(d.ports, sizeof(d.ports), ports, n) < 0) {
			*why = "port too long";
			return -EINVAL;
		}
		rest = ports + n;
	}
	if (*rest == '/') {
		if (!rest[1]) {
			*why = "missing protocol after '/'";
			return -EINVAL;
		}
		if (copy_part(d.protocol, sizeof(d.protocol), rest + 1, strlen(rest + 1)) < 0) {
			*why = "protocol must be tcp, udp, icmp or any";
			return -EINVAL;
		}
	} else if (*rest) {
		*why = "unexpected characters after the address";
		return -EINVAL;
	}
	*ret = d;
	return 0;
}
