/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One handler per command of docs/protocol.md. Each checks its params
 * (presence and type, then value; the error names the field), then asks the
 * manager. Handlers run on the event loop and never block: what takes time
 * goes to the worker thread (ctl_call_defer()).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "json-util.h"
#include "log.h"
#include "manager.h"
#include "violations.h"

#define FIELD_MAX CTL_PARAM_FIELD_MAX

/* ---- parameter parsers (ctl-params.h) ---- */

static const struct ctl_param no_params[] = {{}};

/* struct np_pol *: an installed policy, by name. */
static int param_policy(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	struct np_pol **pol = ret;
	const char *name = json_string_value(v);

	*pol = manager_policy_by_name(call->userdata, name);
	if (!*pol)
		return ctl_fail(call, NP_ERR_NO_SUCH_POLICY, field, "no policy named '%s'", name);
	return 0;
}

/* struct np_target: an existing cgroup below the attach cgroup. */
static int param_target(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	const char *s = json_string_value(v), *why = "";
	int r;

	r = manager_target_resolve(call->userdata, s, ret, &why);
	if (r == -ENOENT)
		return ctl_fail(call, NP_ERR_NO_SUCH_TARGET, field, "'%s': %s", s, why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", s, why);
	return 0;
}

/* char *: a target, normalized, whether its cgroup exists or not. */
static int param_target_name(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	const char *s = json_string_value(v), *why = "";
	int r;

	r = target_normalize(s, ret, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", s, why);
	return 0;
}

/* A target filter: normalized, and its cgroup id if it still exists. */
struct target_filter {
	char *target; /* NULL: every target */
	uint64_t cgroup_id;
};

static int param_target_filter(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	_cleanup_(np_target_done) struct np_target t = {};
	struct target_filter *f = ret;
	const char *why = "";
	int r;

	r = param_target_name(call, field, v, &f->target);
	if (r < 0)
		return r;
	if (manager_target_resolve(call->userdata, json_string_value(v), &t, &why) >= 0)
		f->cgroup_id = t.cgroup_id;
	return 0;
}

/* A policy library error, pointed at where it is in the request. */
static int fail_policy(struct ctl_call *call, const char *code, const char *prefix,
		       const struct np_error *err)
{
	char field[FIELD_MAX + 128];

	if (err->field[0])
		snprintf(field, sizeof(field), "%s.%s", prefix, err->field);
	else
		snprintf(field, sizeof(field), "%s", prefix);
	return ctl_fail(call, code, field, "%s", err->message);
}

/* A change that failed through no fault of the request, told as what
 * happened; other failures go out as netpol.Internal. */
static int fail_change(struct ctl_call *call, int r)
{
	struct manager *m = call->userdata;

	if (r == -ENOLINK && m->pins_error < 0)
		return ctl_fail(
		    call, NP_ERR_PINS_MISSING, NULL,
		    "netpold's pins in '%s' are gone and cannot be restored (%s); changes are refused "
		    "until they are back, since its programs detach without them when it stops; "
		    "nothing was changed",
		    np_dataplane_pin_dir(m->dp), manager_pins_error(m));
	if (!m->unsaved_file)
		return r;
	return ctl_fail(call, NP_ERR_STATE_NOT_SAVED, NULL, "the state could not be saved to '%s/%s': %s; %s",
			m->state_dir, m->unsaved_file, strerror(-m->unsaved_error),
			m->rollback_failed ? "nor could the kernel change be undone (see netpold's log); "
					     "restarting netpold restores the saved state"
					   : "nothing was changed");
}

static int set_result(struct ctl_call *call, json_t *result)
{
	if (!result)
		return -ENOMEM;
	call->result = result;
	return 0;
}

/* ---- status ---- */

static json_t *programs_json(struct manager *m)
{
	_cleanup_(closedirp) DIR *d = opendir(np_dataplane_pin_dir(m->dp));
	_cleanup_json_ json_t *arr = json_array();
	struct dirent *de;

	if (!arr)
		return NULL;
	if (!d)
		return TAKE_PTR(arr);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "link_", 5) == 0 &&
		    json_array_append_new(arr, json_string(de->d_name + 5)) < 0)
			return NULL;
	return TAKE_PTR(arr);
}

/* A kernel counter, or null if it cannot be read (never a made-up 0). */
static json_t *counter(struct manager *m, unsigned idx)
{
	uint64_t v = 0;

	if (np_dataplane_counter(m->dp, idx, &v) < 0)
		return json_null();
	return json_integer((json_int_t)v);
}

static void add_missing_pin(const char *name, void *userdata)
{
	(void)json_array_append_new(userdata, json_string(name));
}

/* "pins": "ok" or "missing" (then "pins_missing" names them), and how many
 * netpold pinned again since it started. Status only looks: the watch
 * and every change restore them. */
static int add_pins(struct manager *m, json_t *res)
{
	_cleanup_json_ json_t *missing = json_array();
	int n;

	if (!missing)
		return -ENOMEM;
	n = np_dataplane_pins_missing(m->dp, add_missing_pin, missing);
	if (n < 0)
		return n;
	if (json_object_set_new(res, "pins", json_string(n > 0 ? "missing" : "ok")) < 0 ||
	    (n > 0 && json_object_set(res, "pins_missing", missing) < 0) ||
	    json_object_set_new(res, "pins_restored", json_integer(m->pins_restored)) < 0)
		return -ENOMEM;
	return 0;
}

static int method_status(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	char started[40];
	int r;

	r = ctl_params_dispatch(call, params, no_params, NULL);
	if (r < 0)
		return r;
	format_realtime(m->started_usec * 1000, started, sizeof(started));
	r = set_result(
	    call,
	    json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:b, s:i, s:i, s:o, s:{s:o, s:o, s:o}, s:o, s:i, s:i, s:I, s:s}",
		"version", NETPOL_VERSION, "protocol", NP_PROTO_VERSION, "pin_dir",
		np_dataplane_pin_dir(m->dp), "attach_cgroup", m->attach_cgroup, "cgroup_root", m->cgroup_root,
		"adopted", m->adopted, "policies", (int)m->n_pols, "bindings", (int)m->n_binds, "events_lost",
		counter(m, NP_CNT_EVENTS_LOST), "counters", "no_policy_map", counter(m, NP_CNT_NO_POLICY_MAP),
		"no_lpm_entry", counter(m, NP_CNT_NO_LPM_ENTRY), "stats_full", counter(m, NP_CNT_STATS_FULL),
		"programs", programs_json(m), "clients", (int)ctl_server_n_clients(call->server), "followers",
		(int)ctl_server_n_followers(call->server), "violations",
		(json_int_t)violations_total(m->violations), "started", started));
	if (r < 0)
		return r;
	return add_pins(m, call->result);
}

/* ---- policies ---- */

static int method_policy_list(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	int r;

	r = ctl_params_dispatch(call, params, no_params, NULL);
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
	return set_result(call, json_pack("{s:o}", "policies", TAKE_PTR(arr)));
}

static const struct ctl_param name_params[] = {
    {"name", CTL_PARAM_STRING, true, param_policy, 0},
    {},
};

static int method_policy_show(struct ctl_call *call, json_t *params)
{
	struct np_pol *pol;
	int r;

	r = ctl_params_dispatch(call, params, name_params, &pol);
	if (r < 0)
		return r;
	return set_result(call, json_pack("{s:o}", "policy", np_policy_to_json(pol->policy)));
}

/* ---- policy changes ----
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
		return fail_change(call, ch->saved);
	switch (ch->op) {
	case OP_ADD:
	case OP_UPDATE:
		return set_result(call, policy_result(pol));
	case OP_RULE_ADD:
		return set_result(call, json_pack("{s:s, s:I}", "policy", pol->policy->name, "index",
						  (json_int_t)ch->index));
	case OP_RULE_REMOVE:
		return set_result(call, json_pack("{s:s}", "policy", pol->policy->name));
	default:
		return set_result(call, json_object());
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
		return fail_change(call, r);
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
	struct manager *m = call->userdata;
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_OBJECT, true, ctl_param_json, 0},
	    {},
	};
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

static int method_policy_add(struct ctl_call *call, json_t *params)
{
	return policy_param_change(call, params, OP_ADD);
}

static int method_policy_update(struct ctl_call *call, json_t *params)
{
	return policy_param_change(call, params, OP_UPDATE);
}

static int method_policy_delete(struct ctl_call *call, json_t *params)
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
		return fail_change(call, r);
	r = save_staged(call, ch);
	if (r >= 0)
		TAKE_PTR(ch);
	return r;
}

/* ---- bindings ---- */

static json_t *binding_json(struct manager *m, const struct np_bind *b)
{
	struct np_pol *pol = manager_policy_by_id(m, b->policy_id);

	return json_pack("{s:s, s:s, s:I}", "target", b->target, "policy", pol ? pol->policy->name : "",
			 "cgroup_id", (json_int_t)b->cgroup_id);
}

/* apply and test */
struct target_policy {
	struct np_target target;
	struct np_pol *pol;
};

static void target_policy_done(struct target_policy *p)
{
	np_target_done(&p->target);
}

static int method_apply(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, true, param_target, offsetof(struct target_policy, target)},
	    {"policy", CTL_PARAM_STRING, true, param_policy, offsetof(struct target_policy, pol)},
	    {},
	};
	_cleanup_(target_policy_done) struct target_policy p = {};
	struct np_bind *b;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	r = manager_bind(m, &p.target, p.pol, &b);
	if (r == -ENOSPC && !m->unsaved_file)
		return ctl_fail(call, NP_ERR_LIMIT, NULL, "all %d bindings are in use", NP_MAX_BINDINGS);
	if (r < 0)
		return fail_change(call, r);
	return set_result(call, binding_json(m, b));
}

static int method_unbind(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	/* No resolve: a cgroup that is gone can still be unbound. */
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, true, param_target_name, 0},
	    {},
	};
	_cleanup_free_ char *target = NULL;
	struct np_bind *b;
	int r;

	r = ctl_params_dispatch(call, params, table, &target);
	if (r < 0)
		return r;
	b = manager_binding_by_target(m, target);
	if (!b)
		return ctl_fail(call, NP_ERR_NO_SUCH_BINDING, "params.target", "'%s' is not bound", target);
	r = manager_unbind(m, b);
	if (r < 0)
		return fail_change(call, r);
	return set_result(call, json_object());
}

static int method_bindings(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	int r;

	r = ctl_params_dispatch(call, params, no_params, NULL);
	if (r < 0)
		return r;
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_binds; i++)
		if (json_array_append_new(arr, binding_json(m, &m->binds[i])) < 0)
			return -ENOMEM;
	return set_result(call, json_pack("{s:o}", "bindings", TAKE_PTR(arr)));
}

/* ---- rules ---- */

/* A destination as netpolctl writes it: "ADDR[:PORTS][/PROTO]". */
struct dest_param {
	struct np_dest_spec spec;
	const char *text;
};

static int param_dest(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	struct dest_param *d = ret;
	const char *why = "";

	d->text = json_string_value(v);
	if (np_dest_spec_parse(d->text, &d->spec, &why) < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", d->text, why);
	return 0;
}

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

/* Takes ch, a change of pol's rules: prepares it on the worker. */
static int prepare_rules(struct ctl_call *call, struct change *ch, struct np_pol *pol)
{
	ch->pol = pol;
	ch->base = pol->policy;
	ch->trie_id = pol->id;
	return prepare(call, ch);
}

static int method_rule_add(struct ctl_call *call, json_t *params)
{
	struct rule_add {
		struct np_pol *pol;
		const char *action;
		struct dest_param dest;
	};
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_STRING, true, param_policy, offsetof(struct rule_add, pol)},
	    {"action", CTL_PARAM_STRING, true, param_action, offsetof(struct rule_add, action)},
	    {"dest", CTL_PARAM_STRING, true, param_dest, offsetof(struct rule_add, dest)},
	    {},
	};
	struct manager *m = call->userdata;
	struct rule_add p = {};
	struct change *ch;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	ch = change_new(m, OP_RULE_ADD);
	if (!ch)
		return -ENOMEM;
	ch->rule = rule_from_dest(p.action, &p.dest.spec);
	if (!ch->rule) {
		change_free(ch);
		return -ENOMEM;
	}
	ch->index = p.pol->policy->n_rules;
	return prepare_rules(call, ch, p.pol);
}

static int method_rule_remove(struct ctl_call *call, json_t *params)
{
	struct rule_remove {
		struct np_pol *pol;
		json_t *index;
	};
	static const struct ctl_param table[] = {
	    {"policy", CTL_PARAM_STRING, true, param_policy, offsetof(struct rule_remove, pol)},
	    {"index", CTL_PARAM_INTEGER, true, ctl_param_json, offsetof(struct rule_remove, index)},
	    {},
	};
	struct manager *m = call->userdata;
	struct rule_remove p = {};
	struct np_pol *pol;
	struct change *ch;
	json_t *idx;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	pol = p.pol;
	idx = p.index;
	if (json_integer_value(idx) < 0 || (size_t)json_integer_value(idx) >= pol->policy->n_rules)
		return ctl_fail(call, NP_ERR_NO_SUCH_RULE, "params.index",
				"policy '%s' has %zu rules; index %" JSON_INTEGER_FORMAT " does not exist",
				pol->policy->name, pol->policy->n_rules, json_integer_value(idx));
	ch = change_new(m, OP_RULE_REMOVE);
	if (!ch)
		return -ENOMEM;
	ch->index = (size_t)json_integer_value(idx);
	return prepare_rules(call, ch, pol);
}

/* ---- test ---- */

struct probe {
	uint8_t addr[16];
	uint8_t proto; /* NP_PROTO_* */
	uint16_t port;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* struct probe: a destination of one address, protocol and port. */
static int param_probe(struct ctl_call *call, const char *field, json_t *v, void *data)
{
	struct dest_param dp;
	struct np_dest_spec d;
	struct probe *ret = data;
	unsigned long port;
	char *end;
	int r;

	r = param_dest(call, field, v, &dp);
	if (r < 0)
		return r;
	d = dp.spec;
	/* The parser says "any" when no protocol was given; here that means tcp. */
	if (strcmp(d.protocol, "any") == 0 && ends_with(dp.text, "/any"))
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"a test needs one protocol: tcp, udp or icmp");
	if (strcmp(d.protocol, "tcp") == 0 || strcmp(d.protocol, "any") == 0)
		ret->proto = NP_PROTO_TCP;
	else if (strcmp(d.protocol, "udp") == 0)
		ret->proto = NP_PROTO_UDP;
	else if (strcmp(d.protocol, "icmp") == 0)
		ret->proto = NP_PROTO_ICMP;
	else
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"protocol must be tcp, udp or icmp, got '%s'", d.protocol);
	if (np_addr_parse(d.to, ret->addr) < 0)
		return ctl_fail(
		    call, NP_ERR_INVALID_PARAM, field,
		    "'%s' is not one IP address (a test takes an address, not a prefix or an entity)", d.to);
	ret->port = 0;
	if (ret->proto == NP_PROTO_ICMP) {
		if (d.ports[0])
			return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "ICMP has no ports");
		return 0;
	}
	if (!d.ports[0])
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"a %s test needs one port, as in '%s%s%s:443/%s'", d.protocol,
				strchr(d.to, ':') ? "[" : "", d.to, strchr(d.to, ':') ? "]" : "", d.protocol);
	errno = 0;
	port = strtoul(d.ports, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "needs one port 1..65535, got '%s'",
				d.ports);
	ret->port = (uint16_t)port;
	return 0;
}

static json_t *rule_json(const struct np_pol *pol, unsigned index)
{
	_cleanup_json_ json_t *pj = np_policy_to_json(pol->policy);

	return pj ? json_incref(json_array_get(json_object_get(pj, "rules"), index)) : NULL;
}

static json_t *decide_json(const struct np_pol *pol, const struct probe *pr)
{
	uint16_t cell = np_compiled_decide(pol->compiled, pr->addr, pr->proto, pr->port);
	unsigned rule = cell & NP_CELL_RULE_MASK;
	bool by_default = rule == NP_CELL_RULE_DEFAULT;

	return json_pack("{s:s, s:s, s:o, s:o, s:b}", "verdict", cell & NP_CELL_DENY ? "deny" : "allow",
			 "policy", pol->policy->name, "rule", by_default ? json_null() : rule_json(pol, rule),
			 "rule_index", by_default ? json_null() : json_integer(rule), "audit",
			 pol->policy->audit);
}

struct test_params {
	struct np_target target;
	struct np_pol *pol;
	struct probe probe;
};

static void test_params_done(struct test_params *p)
{
	np_target_done(&p->target);
}

static int method_test(struct ctl_call *call, json_t *params)
{
	/* Exactly one of target and policy, checked before the fields. */
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, false, param_target, offsetof(struct test_params, target)},
	    {"policy", CTL_PARAM_STRING, false, param_policy, offsetof(struct test_params, pol)},
	    {"dest", CTL_PARAM_STRING, true, param_probe, offsetof(struct test_params, probe)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_(test_params_done) struct test_params p = {};
	_cleanup_json_ json_t *res = NULL;
	struct np_pol *pol;
	struct np_bind *b = NULL;
	int r;

	r = ctl_params_check_known(call, params, table);
	if (r < 0)
		return r;
	if (!!json_object_get(params, "target") == !!json_object_get(params, "policy"))
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.target",
				"give either a target or a policy (exactly one)");
	r = ctl_params_parse(call, params, table, &p);
	if (r < 0)
		return r;
	pol = p.pol;
	if (p.target.path) {
		b = manager_binding_for_path(m, p.target.path);
		if (!b)
			return set_result(call,
					  json_pack("{s:s, s:n, s:n, s:n, s:b, s:s, s:s}", "verdict", "allow",
						    "policy", "rule", "rule_index", "audit", 0, "target",
						    p.target.target, "reason", "no policy bound: allowed"));
		pol = manager_policy_by_id(m, b->policy_id);
		if (!pol)
			return -ENOENT;
	}
	res = decide_json(pol, &p.probe);
	if (!res)
		return -ENOMEM;
	if (b && (json_object_set_new(res, "target", json_string(p.target.target)) < 0 ||
		  json_object_set_new(res, "bound_at", json_string(b->target)) < 0))
		return -ENOMEM;
	return set_result(call, TAKE_PTR(res));
}

/* ---- violations and stats ---- */

struct vfilter {
	uint64_t since_ns; /* CLOCK_REALTIME */
	const char *target;
	uint64_t cgroup_id;
	json_t *out;
};

static bool matches_target(const char *filter, uint64_t filter_id, const char *target, uint64_t cgroup_id)
{
	if (!filter)
		return true;
	if (filter_id && cgroup_id == filter_id)
		return true;
	return target && target_matches(target, filter);
}

static int collect_violation(const struct violation *v, void *userdata)
{
	struct vfilter *f = userdata;

	if (v->count == 0 || mono_to_realtime_ns(v->first_ns) < f->since_ns)
		return 0;
	if (!matches_target(f->target, f->cgroup_id, v->target, v->cgroup_id))
		return 0;
	return json_array_append_new(f->out, violation_to_json(v)) < 0 ? -ENOMEM : 0;
}

/* A follower's target filter: its cgroup, or the targets below it. */
struct follow_filter {
	char *target;
	uint64_t cgroup_id;
};

static void follow_filter_free(void *data)
{
	struct follow_filter *ff = data;

	if (ff)
		free(ff->target);
	free(ff);
}

static bool follow_wants(const void *data, const void *event)
{
	const struct follow_filter *ff = data;
	const struct violation *v = event;

	return v->cgroup_id == ff->cgroup_id || (v->target && target_matches(v->target, ff->target));
}

void ctl_watch_publish(void *userdata, const struct violation *v, json_t *json)
{
	ctl_server_broadcast(userdata, v, json);
}

static int method_violations(struct ctl_call *call, json_t *params)
{
	struct violations_params {
		uint64_t since_ns;
		struct target_filter filter;
		bool follow;
	};
	static const struct ctl_param table[] = {
	    {"since", CTL_PARAM_TIME, false, ctl_param_time, offsetof(struct violations_params, since_ns)},
	    {"target", CTL_PARAM_STRING, false, param_target_filter,
	     offsetof(struct violations_params, filter)},
	    {"follow", CTL_PARAM_BOOL, false, ctl_param_bool, offsetof(struct violations_params, follow)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	struct violations_params p = {};
	_cleanup_free_ char *target = NULL;
	struct vfilter f = {};
	bool follow;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	target = p.filter.target;
	if (r < 0)
		return r;
	if (!arr)
		return -ENOMEM;
	follow = p.follow;
	f.since_ns = p.since_ns;
	f.cgroup_id = p.filter.cgroup_id;
	f.target = target;
	f.out = arr;
	/* Following without "since" starts from now. */
	if (!follow || json_object_get(params, "since")) {
		r = violations_foreach(m->violations, collect_violation, &f);
		if (r < 0)
			return r;
	}
	if (follow) {
		struct follow_filter *ff = NULL;

		if (target) {
			ff = malloc(sizeof(*ff));
			if (!ff)
				return -ENOMEM;
			*ff = (struct follow_filter){.target = TAKE_PTR(target), .cgroup_id = f.cgroup_id};
		}
		ctl_call_follow(call, ff ? follow_wants : NULL, ff, follow_filter_free, TAKE_PTR(arr));
		return set_result(call, json_pack("{s:b}", "following", 1));
	}
	return set_result(call, json_pack("{s:o, s:o}", "violations", TAKE_PTR(arr), "lost",
					  counter(m, NP_CNT_EVENTS_LOST)));
}

struct sfilter {
	struct manager *m;
	const char *target;
	uint64_t cgroup_id;
	json_t *out;
	/* For a reset with a target: the keys shown, deleted after the walk
	 * (deleting during it would restart the map's iteration). */
	bool keep_keys;
	struct np_stats_key *keys;
	size_t n_keys;
};

static int sfilter_keep_key(struct sfilter *f, const struct np_stats_key *k)
{
	struct np_stats_key *keys = reallocarray(f->keys, f->n_keys + 1, sizeof(*keys));

	if (!keys)
		return -ENOMEM;
	keys[f->n_keys++] = *k;
	f->keys = keys;
	return 0;
}

static const char *proto_class_name(unsigned proto)
{
	switch (proto) {
	case NP_PROTO_TCP:
		return "tcp";
	case NP_PROTO_UDP:
		return "udp";
	case NP_PROTO_ICMP:
		return "icmp";
	default:
		return "other";
	}
}

static int collect_stat(const struct np_stats_key *k, const struct np_stats_val *v, void *userdata)
{
	struct sfilter *f = userdata;
	_cleanup_free_ char *target = manager_cgroup_target(f->m, k->cgroup_id);
	char dest[64], seen[40];

	if (!target)
		return -ENOMEM;
	if (!matches_target(f->target, f->cgroup_id, target, k->cgroup_id))
		return 0;
	if (f->keep_keys && sfilter_keep_key(f, k) < 0)
		return -ENOMEM;
	np_addr_format(k->addr, dest, sizeof(dest));
	format_realtime(mono_to_realtime_ns(v->last_ns), seen, sizeof(seen));
	return json_array_append_new(f->out,
				     json_pack("{s:s, s:I, s:s, s:i, s:s, s:I, s:I, s:s}", "target", target,
					       "cgroup_id", (json_int_t)k->cgroup_id, "dest", dest, "port",
					       (int)k->port, "protocol", proto_class_name(k->proto),
					       "allowed", (json_int_t)v->allowed, "denied",
					       (json_int_t)v->denied, "last_seen", seen)) < 0
		   ? -ENOMEM
		   : 0;
}

/* Read, then clear: the reply holds what the reset discarded. A key that
 * vanished meanwhile (LRU eviction) needs no clearing. */
static int reset_stats(struct ctl_call *call, const struct sfilter *f)
{
	struct manager *m = call->userdata;
	int r;

	if (!f->target) {
		r = np_dataplane_stats_reset(m->dp);
		if (r < 0)
			return r;
		log_info("Counters reset by uid %u.", call->uid);
		return 0;
	}
	for (size_t i = 0; i < f->n_keys; i++) {
		r = np_dataplane_stats_delete(m->dp, &f->keys[i]);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	log_info("Counters of '%s' reset by uid %u.", f->target, call->uid);
	return 0;
}

static int method_stats(struct ctl_call *call, json_t *params)
{
	struct stats_params {
		struct target_filter filter;
		bool reset;
	};
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, false, param_target_filter, offsetof(struct stats_params, filter)},
	    {"reset", CTL_PARAM_BOOL, false, ctl_param_bool, offsetof(struct stats_params, reset)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	struct sfilter f = {.m = call->userdata};
	struct stats_params p = {};
	_cleanup_free_ char *target = NULL;
	bool reset;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	target = p.filter.target;
	if (r < 0)
		return r;
	reset = p.reset;
	f.cgroup_id = p.filter.cgroup_id;
	if (reset && !call->can_write)
		return ctl_fail(call, NP_ERR_PERMISSION, "params.reset",
				"permission denied: resetting counters needs root or the admin group");
	if (!arr)
		return -ENOMEM;
	f.target = target;
	f.out = arr;
	f.keep_keys = reset && target;
	r = np_dataplane_stats_foreach(m->dp, collect_stat, &f);
	if (r >= 0 && reset)
		r = reset_stats(call, &f);
	free(f.keys);
	if (r < 0)
		return r;
	if (reset)
		return set_result(call, json_pack("{s:o, s:s}", "stats", TAKE_PTR(arr), "reset",
						  target ? "target" : "all"));
	return set_result(call, json_pack("{s:o}", "stats", TAKE_PTR(arr)));
}

/* ---- the table ---- */

const struct ctl_method ctl_methods[] = {
    {NP_CMD_STATUS, method_status, NP_PRIV_READ},
    {NP_CMD_POLICY_LIST, method_policy_list, NP_PRIV_READ},
    {NP_CMD_POLICY_SHOW, method_policy_show, NP_PRIV_READ},
    {NP_CMD_POLICY_ADD, method_policy_add, NP_PRIV_WRITE},
    {NP_CMD_POLICY_UPDATE, method_policy_update, NP_PRIV_WRITE},
    {NP_CMD_POLICY_DELETE, method_policy_delete, NP_PRIV_WRITE},
    {NP_CMD_APPLY, method_apply, NP_PRIV_WRITE},
    {NP_CMD_UNBIND, method_unbind, NP_PRIV_WRITE},
    {NP_CMD_BINDINGS, method_bindings, NP_PRIV_READ},
    {NP_CMD_RULE_ADD, method_rule_add, NP_PRIV_WRITE},
    {NP_CMD_RULE_REMOVE, method_rule_remove, NP_PRIV_WRITE},
    {NP_CMD_TEST, method_test, NP_PRIV_READ},
    {NP_CMD_VIOLATIONS, method_violations, NP_PRIV_READ},
    {NP_CMD_STATS, method_stats, NP_PRIV_READ}, /* reset: checked in the method */
    {},
};
