/* SPDX-License-Identifier: GPL-2.0-only */
/* rule.add, rule.remove: one rule of a policy, through a policy change. */
#include <string.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"

static int param_action(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	const char *action = json_string_value(v);

	if (strcmp(action, "allow") != 0 && strcmp(action, "deny") != 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "must be \"allow\" or \"deny\", got '%s'",
				action);
	*(const char **)ret = action;
	return 0;
}

static json_t *rule_from_dest(const char *action, const struct np_dest_spec *d)
{
	_cleanup_json_ json_t *rule =
	    json_pack("{s:s, s:[s], s:s}", "action", action, "to", d->to, "protocol", d->protocol);

	if (!rule)
		return NULL;
	/* A port stays a string: the policy parser reads "443" and "80-90". */
	if (d->ports[0] && json_object_set_new(rule, "ports", json_pack("[s]", d->ports)) < 0)
		return NULL;
	return TAKE_PTR(rule);
}

int ctl_method_rule_add(struct ctl_call *call, json_t *params)
{
	struct rule_add {
		struct np_pol *pol;
		const char *action;
		struct dest_param dest;
	};
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_STRING, true, ctl_param_policy, offsetof(struct rule_add, pol)},
	    {"action", CTL_PARAM_STRING, true, param_action, offsetof(struct rule_add, action)},
	    {"dest", CTL_PARAM_STRING, true, ctl_param_dest, offsetof(struct rule_add, dest)},
	    {},
	};
	struct rule_add p = {};
	json_t *rule;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	rule = rule_from_dest(p.action, &p.dest.spec);
	if (!rule)
		return -ENOMEM;
	return ctl_policy_change_rules(call, p.pol, rule, p.pol->policy->n_rules);
}

int ctl_method_rule_remove(struct ctl_call *call, json_t *params)
{
	struct rule_remove {
		struct np_pol *pol;
		json_t *index;
	};
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_STRING, true, ctl_param_policy, offsetof(struct rule_remove, pol)},
	    {"index", CTL_PARAM_INTEGER, true, ctl_param_json, offsetof(struct rule_remove, index)},
	    {},
	};
	struct rule_remove p = {};
	json_int_t idx;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	idx = json_integer_value(p.index);
	if (idx < 0 || (size_t)idx >= p.pol->policy->n_rules)
		return ctl_fail(call, NP_ERR_NO_SUCH_RULE, "params.index",
				"policy '%s' has %zu rules; index %" JSON_INTEGER_FORMAT " does not exist",
				p.pol->policy->name, p.pol->policy->n_rules, idx);
	return ctl_policy_change_rules(call, p.pol, NULL, (size_t)idx);
}
