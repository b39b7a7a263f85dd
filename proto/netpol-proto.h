/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control protocol between netpold and netpolctl (docs/protocol.md):
 * JSON objects, one per line, over a stream Unix socket. Shared by both.
 *
 * Evolve it by adding: new commands and new optional fields keep
 * NP_PROTO_VERSION; a changed meaning of an existing message bumps it.
 * Never reuse or rename a command or an error code.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define NP_PROTO_VERSION 1

#define NP_SOCKET_PATH_DEFAULT "/run/netpol/netpold.sock"
#define NP_STATE_DIR_DEFAULT "/var/lib/netpol"
#define NP_CONFIG_PATH_DEFAULT "/etc/netpol/netpold.conf"
#define NP_SOCKET_GROUP_DEFAULT "netpol"

/* Limits (the daemon enforces them; see docs/protocol.md). */
#define NP_PROTO_MAX_MSG (8u * 1024 * 1024) /* one request line, bytes */
/* Connections (netpold.conf may change these three): */
#define NP_PROTO_MAX_CLIENTS 256
#define NP_PROTO_MAX_CLIENTS_PER_UID 64 /* but root */
#define NP_PROTO_WRITER_CLIENTS	     16 /* of the above, only root and the admin group may take */
#define NP_PROTO_CLIENT_OUT_MAX	     (1u * 1024 * 1024) /* unread replies before a client is closed */
#define NP_PROTO_FOLLOWER_OUT_MAX    (256u * 1024)	/* queued events before a follower misses some */
#define NP_PROTO_IDLE_TIMEOUT_SEC    10 /* a silent connection (but a follower's) is closed after this */

/* Commands. */
#define NP_CMD_STATUS "status"
#define NP_CMD_POLICY_LIST "policy.list"
#define NP_CMD_POLICY_SHOW "policy.show"
#define NP_CMD_POLICY_ADD "policy.add"
#define NP_CMD_POLICY_UPDATE "policy.update"
#define NP_CMD_POLICY_DELETE "policy.delete"
#define NP_CMD_APPLY "apply"
#define NP_CMD_UNBIND "unbind"
#define NP_CMD_BINDINGS "bindings"
#define NP_CMD_RULE_ADD "rule.add"
#define NP_CMD_RULE_REMOVE "rule.remove"
#define NP_CMD_TEST "test"
#define NP_CMD_VIOLATIONS "violations"
#define NP_CMD_STATS "stats"
#define NP_CMD_CONTAINER_HOOK "container-hook"
#define NP_CMD_UNIT_HOOK      "unit-hook"
#define NP_CMD_TEARDOWN	      "teardown"
#define NP_CMD_RELOAD "reload"

/* Error codes: stable, machine-readable. */
#define NP_ERR_INVALID_JSON "netpol.InvalidJSON"
#define NP_ERR_TOO_LARGE "netpol.TooLarge"
#define NP_ERR_BAD_VERSION "netpol.UnsupportedVersion"
#define NP_ERR_INVALID_REQUEST "netpol.InvalidRequest"
#define NP_ERR_UNKNOWN_COMMAND "netpol.UnknownCommand"
#define NP_ERR_PERMISSION "netpol.PermissionDenied"
#define NP_ERR_INVALID_PARAM "netpol.InvalidParameter"
#define NP_ERR_INVALID_POLICY "netpol.InvalidPolicy"
#define NP_ERR_NO_SUCH_POLICY "netpol.NoSuchPolicy"
#define NP_ERR_POLICY_EXISTS "netpol.PolicyExists"
#define NP_ERR_POLICY_IN_USE "netpol.PolicyInUse"
#define NP_ERR_NO_SUCH_TARGET "netpol.NoSuchTarget"
#define NP_ERR_NO_SUCH_BINDING "netpol.NoSuchBinding"
#define NP_ERR_NO_SUCH_RULE "netpol.NoSuchRule"
#define NP_ERR_LIMIT "netpol.LimitReached"
#define NP_ERR_TOO_MANY_CLIENTS "netpol.TooManyClients"
#define NP_ERR_STATE_NOT_SAVED "netpol.StateNotSaved"
#define NP_ERR_PINS_MISSING "netpol.PinsMissing"
#define NP_ERR_INVALID_CONFIG "netpol.InvalidConfig"
#define NP_ERR_INTERNAL "netpol.Internal"

/* Privilege classes. */
enum np_privilege {
	NP_PRIV_READ = 0,  /* root, admin group, socket group */
	NP_PRIV_WRITE = 1, /* root and the admin group */
};

/* Parsing of destinations shared by client and daemon: "1.2.3.4",
 * "10.0.0.0/8", "10.0.0.0/8:5432", "10.0.0.0/8:5432/tcp",
 * "[2001:db8::1]:443", "[2001:db8::/32]:8000-8100/udp", "any:53/udp". */
struct np_dest_spec {
	char to[64];      /* CIDR, address or entity, as given */
	char ports[16];   /* "" (every port), "443" or "8000-8100" */
	char protocol[8]; /* "any", "tcp", "udp", "icmp" */
};
/* 0, or -EINVAL with *why set to a static reason. */
int np_dest_spec_parse(const char *s, struct np_dest_spec *ret, const char **why);

/* Envelope helpers. */
json_t *np_proto_request(const char *command, json_int_t id, json_t *params /* stolen, may be NULL */);
json_t *np_proto_reply_ok(json_t *id, json_t *result /* stolen, may be NULL */);
json_t *np_proto_reply_error(json_t *id, const char *code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
json_t *np_proto_reply_errorv(json_t *id, const char *code, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* One line of compact JSON with a trailing '\n'; free() it. */
char *np_proto_dump_line(const json_t *msg);
