/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The commands of docs/protocol.md, for ctl_server_new() with the manager
 * as userdata: one file per family (ctl-methods-*.c), and what they share
 * (ctl-methods.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl-params.h"
#include "ctl-server.h"
#include "netpol-proto.h"

struct manager;
struct np_pol;
struct violation;

extern const struct ctl_method ctl_methods[];

/* For manager.publish, with the server as userdata: a closed violation to
 * the followers whose target filter wants it. */
void ctl_watch_publish(void *userdata, const struct violation *v, json_t *json);

/* ---- parameter parsers (ctl-params.h), of a string each ---- */

extern const struct ctl_param ctl_no_params[];

/* struct np_pol *: an installed policy, by name. */
int ctl_param_policy(struct ctl_call *call, const char *field, json_t *v, void *ret);
/* struct target: an existing cgroup below the attach cgroup, or a named
 * target its source knows; CTL_SUSPENDED while the source asks (a unit). */
int ctl_param_target(struct ctl_call *call, const char *field, json_t *v, void *ret);
/* char *: a target, normalized, whether its cgroup exists or not. */
int ctl_param_target_name(struct ctl_call *call, const char *field, json_t *v, void *ret);

/* A target filter: normalized, and its cgroup id if it still exists. */
struct target_filter {
	char *target; /* NULL: every target */
	uint64_t cgroup_id;
};
int ctl_param_target_filter(struct ctl_call *call, const char *field, json_t *v, void *ret);
/* Whether a target (or its cgroup id) passes a filter (NULL: all do). */
bool ctl_matches_target(const char *filter, uint64_t filter_id, const char *target, uint64_t cgroup_id);

/* A destination as netpolctl writes it: "ADDR[:PORTS][/PROTO]". */
struct dest_param {
	struct np_dest_spec spec;
	const char *text;
};
int ctl_param_dest(struct ctl_call *call, const char *field, json_t *v, void *ret);

/* ---- replies ---- */

/* call->result = result; -ENOMEM if it is NULL. */
int ctl_set_result(struct ctl_call *call, json_t *result);
/* A change that failed through no fault of the request, told as what
 * happened; other failures go out as netpol.Internal. */
int ctl_fail_change(struct ctl_call *call, int r);
/* A kernel counter, or null if it cannot be read (never a made-up 0). */
json_t *ctl_counter(struct manager *m, unsigned idx);

/* ---- methods ---- */

/* Appends rule (taken) at index, or with rule NULL removes the rule at
 * index, of pol: a policy change (ctl-methods-policy.c). */
int ctl_policy_change_rules(struct ctl_call *call, struct np_pol *pol, json_t *rule, size_t index);

int ctl_method_status(struct ctl_call *call, json_t *params);
int ctl_method_reload(struct ctl_call *call, json_t *params);
int ctl_method_policy_list(struct ctl_call *call, json_t *params);
int ctl_method_policy_show(struct ctl_call *call, json_t *params);
int ctl_method_policy_add(struct ctl_call *call, json_t *params);
int ctl_method_policy_update(struct ctl_call *call, json_t *params);
int ctl_method_policy_delete(struct ctl_call *call, json_t *params);
int ctl_method_apply(struct ctl_call *call, json_t *params);
int ctl_method_unbind(struct ctl_call *call, json_t *params);
int ctl_method_bindings(struct ctl_call *call, json_t *params);
int ctl_method_rule_add(struct ctl_call *call, json_t *params);
int ctl_method_rule_remove(struct ctl_call *call, json_t *params);
int ctl_method_test(struct ctl_call *call, json_t *params);
int ctl_method_violations(struct ctl_call *call, json_t *params);
int ctl_method_stats(struct ctl_call *call, json_t *params);
int ctl_method_container_hook(struct ctl_call *call, json_t *params);
int ctl_method_unit_hook(struct ctl_call *call, json_t *params);
int ctl_method_teardown(struct ctl_call *call, json_t *params);

/* netpold --teardown: what the teardown method does, without a running
 * netpold (ctl-methods-teardown.c). Logs. */
int netpold_teardown(const char *pin_dir, const char *state_dir, bool forget);
