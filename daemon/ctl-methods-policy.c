/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy.list, policy.show, policy.add, policy.update, policy.delete, and
 * the change of a policy's rules that rule.add and rule.remove ask for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "log.h"
#include "manager.h"

int ctl_method_policy_list(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	int r;

	r = ctl_params_dispatch(call, params, ctl_no_params, NULL);
	if (r < 0)
		return r;
	if (!arr)
		return -ENOMEM;
	for (uint32_t id = 1; id < NP_MAX_POLICIES; id++) {
		struct np_pol *pol = manager_policy_by_id(m, id);

		if (!pol)
			continue;
		if (json_array_append_new(
			arr, json_pack("{s:s, s:i, s:s, s:I, s:I, s:i}", "name", pol->policy->name, "id",
				       (int)id, "default",
				       pol->policy->default_action == NP_ACTION_ALLOW ? "allow" : "deny",
				       "rules", (json_int_t)pol->policy->n_rules, "entries",
				       (json_int_t)pol->compiled->n_entries, "bound", (int)pol->n_bound)) < 0)
			return -ENOMEM;
	}
	return ctl_set_result(call, json_pack("{s:o}", "policies", TAKE_PTR(arr)));
}

static const struct ctl_param name_params[] = {
    {"name", CTL_PARAM_STRING, true, ctl_param_policy, 0},
    {},
};

int ctl_method_policy_show(struct ctl_call *call, json_t *params)
{
	struct np_pol *pol;
	int r;

	r = ctl_params_dispatch(call, params, name_params, &pol);
	if (r < 0)
		return r;
	return ctl_set_result(call, json_pack("{s:o}", "policy", np_policy_to_json(pol->policy)));
}

/* A policy library error, pointed at where it is in the request. */
static int fail_policy(struct ctl_call *call, const char *code, const char *prefix,
		       const struct np_error *err)
{
	char field[CTL_PARAM_FIELD_MAX + 128];

	if (err->field[0])
		snprintf(field, sizeof(field), "%s.%s", prefix, err->field);
	else
		snprintf(field, sizeof(field), "%s", prefix);
	return ctl_fail(call, code, field, "%s", err->message);
}

/* ---- changes ----
 *
 * A change of a policy takes four steps: prepare (parse, compile, fill the
 * new trie) on the worker; stage (kernel and registry) on the event loop;
 * save (policies.json) on the worker; settle (keep, or undo if the save
 * failed) on the event loop. The reply comes after the save. Writes run one
 * at a time (ctl_call_defer()), so what prepare reads cannot change under
 * it; stage checks what the request's meaning depends on (the name is
 * free, the policy is still there) as it is then.
 */
enum change_op {
	OP_ADD,
	OP_UPDATE,
	OP_DELETE,
	OP_RULE_ADD,
	OP_RULE_REMOVE,
};

struct change {
	struct manager *m;
	enum change_op op;
	/* what prepare builds on: a policy object of the request, or a
	 * policy's rules with one rule appended or removed */
	json_t *policy_json; /* borrowed from params */
	struct np_pol *pol;
	const struct np_policy *base;
	json_t *rule;
	size_t index;
	uint32_t trie_id; /* 0: no trie prepared */
	/* prepared */
	int r;
	bool invalid; /* r is about the policy itself (err says what) */
	struct np_error err;
	struct np_policy *p;
	struct np_compiled *c;
	int trie_fd;
	/* staged and saved */
	struct manager_change staged;
	bool is_staged;
	struct manager_snapshot *snap;
	int saved;
};

static void change_free(void *data)
{
	struct change *ch = data;

	if (!ch)
		return;
	if (ch->is_staged) /* not reached: a staged change is always settled */
		manager_policy_settle(ch->m, &ch->staged, -ECANCELED);
	np_policy_free(ch->p);
	np_compiled_free(ch->c);
	if (ch->trie_fd >= 0)
		close(ch->trie_fd);
	json_decref(ch->rule);
	manager_snapshot_free(ch->snap);
	free(ch);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct change *, change_free);

static struct change *change_new(struct manager *m, enum change_op op)
{
	struct change *ch = calloc(1, sizeof(*ch));

	if (ch)
		*ch = (struct change){.m = m, .op = op, .trie_fd = -EBADF};
	return ch;
}

/* base's JSON with ch's rule appended or removed. */
static json_t *changed_rules(const struct change *ch)
{
	_cleanup_json_ json_t *j = np_policy_to_json(ch->base);
	json_t *rules = json_object_get(j, "rules");

	if (!rules)
		return NULL;
	if (ch->op == OP_RULE_ADD ? json_array_append(rules, ch->rule) < 0
				  : json_array_remove(rules, ch->index) < 0)
		return NULL;
	return TAKE_PTR(j);
}

/* On the worker. */
static void prepare_work(void *data)
{
	struct change *ch = data;
	_cleanup_json_ json_t *built = NULL;
	json_t *j = ch->policy_json;

	if (ch->base) {
		j = built = changed_rules(ch);
		if (!j) {
			ch->r = -ENOMEM;
			return;
		}
	}
	ch->r = np_policy_from_json(j, &ch->p, &ch->err);
	if (ch->r >= 0)
		ch->r = np_policy_compile(ch->p, &ch->c, &ch->err);
	ch->invalid = ch->r < 0 && ch->r != -ENOMEM;
	if (ch->r >= 0 && ch->trie_id)
		ch->r = np_dataplane_trie_new(ch->trie_id, ch->c, &ch->trie_fd);
}

static void save_work(void *data)
{
	struct change *ch = data;

	ch->saved = manager_snapshot_write(ch->snap);
}

static json_t *policy_result(const struct np_pol *pol)
{
	return json_pack("{s:s, s:i, s:I}", "name", pol->policy->name, "id", (int)pol->id, "entries",
			 (json_int_t)pol->compiled->n_entries);
}

static int saved_done(struct ctl_call *call, void *data)
{
	struct manager *m = call->userdata;
	struct change *ch = data;
	struct np_pol *pol = ch->staged.pol;

	manager_policy_settle(m, &ch->staged, ch->saved);
	ch->is_staged = false;
	if (ch->saved < 0)
		return ctl_fail_change(call, ch->saved);
	switch (ch->op) {
	case OP_ADD:
	case OP_UPDATE:
		return ctl_set_result(call, policy_result(pol));
	case OP_RULE_ADD:
		return ctl_set_result(call, json_pack("{s:s, s:I}", "policy", pol->policy->name, "index",
						      (json_int_t)ch->index));
	case OP_RULE_REMOVE:
		return ctl_set_result(call, json_pack("{s:s}", "policy", pol->policy->name));
	default:
		return ctl_set_result(call, json_object());
	}
}

/* ch is staged: the call takes it, saves it on the worker, then settles
 * it. On a failure here ch is undone, and still the caller's. */
static int save_staged(struct ctl_call *call, struct change *ch)
{
	struct manager *m = call->userdata;
	int r;

	ch->is_staged = true;
	r = manager_policies_snapshot(m, &ch->snap);
	if (r < 0) {
		manager_policy_settle(m, &ch->staged, r);
		ch->is_staged = false;
		return r;
	}
	return ctl_call_defer(call, save_work, saved_done, ch, change_free);
}

/* A policy error from prepare, pointed at where it is in the request:
 * within the rule that rule.add appends, it is that rule's fault. */
static int fail_prepared(struct ctl_call *call, const struct change *ch)
{
	char prefix[32];

	if (ch->op == OP_ADD || ch->op == OP_UPDATE)
		return fail_policy(call, NP_ERR_INVALID_POLICY, "params.policy", &ch->err);
	snprintf(prefix, sizeof(prefix), "rules[%zu]", ch->index);
	if (ch->op == OP_RULE_ADD && strncmp(ch->err.field, prefix, strlen(prefix)) == 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.dest", "%s", ch->err.message);
	return fail_policy(call, NP_ERR_INVALID_POLICY, "policy", &ch->err);
}

/* Which policy a prepared change stages on, or an error reply. */
static int prepared_target(struct ctl_call *call, struct change *ch, struct np_pol **ret)
{
	struct manager *m = call->userdata;
	switch (ch->op) {
	case OP_ADD:
		*ret = NULL;
		return 0;
	case OP_UPDATE:
		*ret = manager_policy_by_name(m, ch->p->name);
		if (!*ret)
			return ctl_fail(call, NP_ERR_NO_SUCH_POLICY, "params.policy.name",
					"no policy named '%s'; use policy.add to create it", ch->p->name);
		return 0;
	default:
		/* Writes run one at a time: this holds unless something else
		 * than a request changed the policy. */
		if (manager_policy_by_id(m, ch->pol->id) != ch->pol || ch->pol->policy != ch->base)
			return ctl_fail(
			    call, NP_ERR_INTERNAL, "params.policy",
			    "policy '%s' changed while the request was prepared; nothing was changed",
			    ch->p->name);
		*ret = ch->pol;
		return 0;
	}
}

static int prepared_done(struct ctl_call *call, void *data)
{
	struct manager *m = call->userdata;
	struct change *ch = data;
	struct np_pol *pol;
	int r = ch->r;

	if (r < 0 && ch->invalid)
		return fail_prepared(call, ch);
	if (r < 0 && r != -ENOMEM)
		log_error_errno(r, "Failed to fill the trie of policy '%s': %m", ch->p->name);
	if (r < 0)
		return r;
	r = prepared_target(call, ch, &pol);
	if (r < 0)
		return r;
	r = manager_policy_stage(m, ch->op == OP_ADD ? MANAGER_POLICY_ADD : MANAGER_POLICY_REPLACE, pol,
				 ch->p, ch->c, ch->trie_fd, &ch->staged);
	if (r == -EEXIST)
		return ctl_fail(call, NP_ERR_POLICY_EXISTS, "params.policy.name",
				"a policy named '%s' exists; use policy.update to change it", ch->p->name);
	if (r == -ENOSPC)
		return ctl_fail(call, NP_ERR_LIMIT, NULL, "all %d policy ids are in use",
				NP_MAX_POLICIES - 1);
	if (r < 0)
		return ctl_fail_change(call, r);
	TAKE_PTR(ch->p);
	TAKE_PTR(ch->c);
	return save_staged(call, ch);
}

/* Takes ch: prepares it on the worker. */
static int prepare(struct ctl_call *call, struct change *ch)
{
	return ctl_call_defer(call, prepare_work, prepared_done, ch, change_free);
}

/* The id a policy named in j will have, for the name of its trie; 0 if
 * it cannot have one. */
static uint32_t trie_id_for(struct manager *m, enum change_op op, json_t *j)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	struct np_pol *pol = name ? manager_policy_by_name(m, name) : NULL;

	if (op == OP_UPDATE)
		return pol ? pol->id : 0;
	if (pol)
		return 0;
	for (uint32_t id = 1; id < NP_MAX_POLICIES; id++)
		if (!manager_policy_by_id(m, id))
			return id;
	return 0;
}

/* policy.add and policy.update: params hold only policy. */
static int policy_param_change(struct ctl_call *call, json_t *params, enum change_op op)
{
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_OBJECT, true, ctl_param_json, 0},
	    {},
	};
	struct manager *m = call->userdata;
	json_t *j = NULL;
	struct change *ch;
	int r;

	r = ctl_params_dispatch(call, params, table, &j);
	if (r < 0)
		return r;
	ch = change_new(m, op);
	if (!ch)
		return -ENOMEM;
	ch->policy_json = j;
	ch->trie_id = trie_id_for(m, op, j);
	return prepare(call, ch);
}

int ctl_method_policy_add(struct ctl_call *call, json_t *params)
{
	return policy_param_change(call, params, OP_ADD);
}

int ctl_method_policy_update(struct ctl_call *call, json_t *params)
{
	return policy_param_change(call, params, OP_UPDATE);
}

int ctl_method_policy_delete(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	_cleanup_(change_freep) struct change *ch = NULL;
	struct np_pol *pol;
	int r;

	r = ctl_params_dispatch(call, params, name_params, &pol);
	if (r < 0)
		return r;
	if (pol->n_bound > 0)
		return ctl_fail(call, NP_ERR_POLICY_IN_USE, "params.name",
				"policy '%s' is bound to %u target(s); unbind them first", pol->policy->name,
				pol->n_bound);
	ch = change_new(m, OP_DELETE);
	if (!ch)
		return -ENOMEM;
	r = manager_policy_stage(m, MANAGER_POLICY_DELETE, pol, NULL, NULL, -EBADF, &ch->staged);
	if (r < 0)
		return ctl_fail_change(call, r);
	r = save_staged(call, ch);
	if (r >= 0)
		TAKE_PTR(ch);
	return r;
}

/* rule.add and rule.remove (ctl-methods-rule.c). */
int ctl_policy_change_rules(struct ctl_call *call, struct np_pol *pol, json_t *rule, size_t index)
{
	struct change *ch = change_new(call->userdata, rule ? OP_RULE_ADD : OP_RULE_REMOVE);

	if (!ch) {
		json_decref(rule);
		return -ENOMEM;
	}
	ch->rule = rule;
	ch->index = index;
	ch->pol = pol;
	ch->base = pol->policy;
	ch->trie_id = pol->id;
	return prepare(call, ch);
}
