/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policy model (docs/policy.md): parse and validate JSON, compile to the
 * per-prefix verdict entries the kernel looks up. Library code: never logs;
 * every failure returns negative errno and fills struct np_error.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr-util.h"
#include "cleanup-util.h"
#include "netpol-api.h"

/* What went wrong, for a human and for a machine: field is a JSON path such
 * as "rules[2].ports[0]" (empty when the error is not about one field). */
struct np_error {
	char field[128];
	char message[256];
};

enum np_action {
	NP_ACTION_DENY = 0,
	NP_ACTION_ALLOW = 1,
};

enum np_rule_proto {
	NP_RULE_PROTO_ANY = 0,
	NP_RULE_PROTO_TCP,
	NP_RULE_PROTO_UDP,
	NP_RULE_PROTO_ICMP,
};

enum np_log_level {
	NP_LOG_DENY = 0, /* report denials and audit hits (always reported) */
	NP_LOG_ALL = 1,  /* also report allowed decisions */
};

struct np_rule {
	enum np_action action;
	enum np_rule_proto proto;
	struct np_cidr *to;
	size_t n_to;
	struct np_cidr *except;
	size_t n_except;
	struct np_port_range *ports; /* n_ports == 0: every port */
	size_t n_ports;
};

struct np_policy {
	char name[NP_POLICY_NAME_MAX];
	enum np_action default_action;
	bool audit;
	enum np_log_level log;
	bool raw_sockets; /* SOCK_RAW allowed; default: !(default_action == deny) */
	struct np_rule *rules;
	size_t n_rules;
};

struct np_lpm_entry {
	struct np_lpm_key key;
	struct np_lpm_val val;
};

/* The compiled form: one entry per distinct address class, sorted by
 * (prefixlen, addr); always contains ::/0. */
struct np_compiled {
	struct np_lpm_entry *entries;
	size_t n_entries;
	uint16_t flags; /* NP_POL_* */
};

/* ---- policies (policy-parse.c) ---- */

int np_policy_from_json(json_t *obj, struct np_policy **ret, struct np_error *err);
int np_policy_from_string(const char *text, struct np_policy **ret, struct np_error *err);
/* The canonical JSON form (round-trips through np_policy_from_json). */
json_t *np_policy_to_json(const struct np_policy *p);
struct np_policy *np_policy_free(struct np_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_policy *, np_policy_free);
/* Policy names: 1..63 chars of [A-Za-z0-9_.-], starting alphanumeric. */
bool np_policy_name_valid(const char *name);

/* Built-in presets (presets.c): frontend, database, worker, deny-all, allow-all. */
const char *const *np_preset_names(void);
/* The preset's JSON text, or NULL. */
const char *np_preset_json(const char *name);

/* ---- compiler (policy-compile.c) ---- */

int np_policy_compile(const struct np_policy *p, struct np_compiled **ret, struct np_error *err);
struct np_compiled *np_compiled_free(struct np_compiled *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_compiled *, np_compiled_free);
/* What the kernel decides for this destination: the verdict cell
 * (NP_CELL_DENY | rule index). addr is v4-mapped for IPv4; proto an
 * NP_PROTO_* class. Audit mode is not applied here. */
uint16_t np_compiled_decide(const struct np_compiled *c, const uint8_t addr[16], uint8_t proto,
			    uint16_t port);
/* np_proto_class(): in netpol-api.h, shared with the kernel side. */
