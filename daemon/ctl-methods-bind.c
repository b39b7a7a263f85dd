/* SPDX-License-Identifier: GPL-2.0-only */
/* apply, unbind, bindings, container-hook, unit-hook. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"

/* The cgroup as a cgroup target names it, null while there is none. */
static json_t *cgroup_json(struct manager *m, const struct np_bind *b)
{
	const char *rel = b->path ? target_path_rel(b->path, m->cgroup_root) : NULL;

	return rel ? json_string(rel) : json_null();
}

static json_t *binding_json(struct manager *m, const struct np_bind *b)
{
	struct np_pol *pol = manager_policy_by_id(m, b->policy_id);
	_cleanup_json_ json_t *j = NULL, *warnings = json_array();
	json_t *info;

	j = json_pack("{s:s, s:s, s:I, s:o, s:s}", "target", b->target, "policy",
		      pol ? pol->policy->name : "", "cgroup_id", (json_int_t)b->cgroup_id, "cgroup",
		      cgroup_json(m, b), "origin", np_origin_name(b->origin));
	if (!j || !warnings)
		return NULL;
	info = manager_target_info(m, b->target);
	if (info && json_object_set_new(j, target_info_key(b->target), info) < 0)
		return NULL;
	manager_target_warnings(m, b->target, warnings);
	if (json_array_size(warnings) > 0 && json_object_set(j, "warnings", warnings) < 0)
		return NULL;
	return TAKE_PTR(j);
}

/* apply's params */
struct target_policy {
	struct target target;
	struct np_pol *pol;
};

static void target_policy_done(struct target_policy *p)
{
	target_done(&p->target);
}

/* The reply made once the binding was: a suspended call runs again from
 * the start, and must not bind (and log) a second time. It waits while the
 * source settles, and then says the binding as it is. */
static int apply_settled(struct ctl_call *call)
{
	struct manager *m = call->userdata;
	const char *target = json_string_value(json_object_get(call->result, "target"));
	struct np_bind *b = target ? manager_binding_by_target(m, target) : NULL;
	json_t *j;

	if (target && manager_target_settling(m, target))
		return ctl_call_suspend(call);
	j = b ? binding_json(m, b) : NULL;
	if (j) {
		json_decref(call->result);
		call->result = j;
	}
	return 0;
}

int ctl_method_apply(struct ctl_call *call, json_t *params)
{
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, true, ctl_param_target, offsetof(struct target_policy, target)},
	    {"policy", CTL_PARAM_STRING, true, ctl_param_policy, offsetof(struct target_policy, pol)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_(target_policy_done) struct target_policy p = {};
	struct np_bind *b;
	int r;

	if (call->result) /* bound by this call, which waited for its source */
		return apply_settled(call);
	r = ctl_params_dispatch(call, params, table, &p);
	if (r != 0) /* or suspended: a unit's cgroup is being asked for */
		return r;
	r = manager_bind(m, &p.target, p.pol, NP_ORIGIN_EXPLICIT, &b);
	if (r == -ENOSPC && !m->unsaved_file)
		return ctl_fail(call, NP_ERR_LIMIT, NULL, "all %d bindings are in use", NP_MAX_BINDINGS);
	if (r == -EEXIST)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.target",
				"the cgroup of '%s' is bound as '%s' already; unbind that first",
				p.target.target, manager_binding_by_cgroup(m, p.target.cgroup_id)->target);
	if (r < 0)
		return ctl_fail_change(call, r);
	/* A unit's source follows it, and gates its next starts: the reply
	 * waits until systemd has loaded the gate. */
	manager_target_bound(m, p.target.target);
	r = ctl_set_result(call, binding_json(m, manager_binding_by_target(m, p.target.target)));
	if (r < 0)
		return r;
	return manager_target_settling(m, p.target.target) ? ctl_call_suspend(call) : 0;
}

int ctl_method_unbind(struct ctl_call *call, json_t *params)
{
	/* No resolve: a cgroup that is gone can still be unbound. */
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, true, ctl_param_target_name, 0},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_free_ char *target = NULL;
	int r;

	r = ctl_params_dispatch(call, params, table, &target);
	if (r < 0)
		return r;
	if (!manager_binding_by_target(m, target))
		return ctl_fail(call, NP_ERR_NO_SUCH_BINDING, "params.target", "'%s' is not bound", target);
	r = manager_unbind(m, target, NP_ORIGIN_EXPLICIT);
	if (r < 0)
		return ctl_fail_change(call, r);
	/* Without the client's binding, a container's label decides again. */
	manager_target_released(m, target);
	return ctl_set_result(call, json_object());
}

int ctl_method_bindings(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array(), *problems = NULL;
	int r;

	r = ctl_params_dispatch(call, params, ctl_no_params, NULL);
	if (r < 0)
		return r;
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_binds; i++)
		if (json_array_append_new(arr, binding_json(m, &m->binds[i])) < 0)
			return -ENOMEM;
	problems = json_array();
	if (!problems)
		return -ENOMEM;
	manager_sources_problems(m, problems);
	return ctl_set_result(call, json_pack("{s:o, s:O}", "bindings", TAKE_PTR(arr), "problems", problems));
}

/* container-hook's params */
struct hook_params {
	const char *id;
	json_int_t pid;
};

static int param_container_id(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	if (!target_is_container_id(json_string_value(v)))
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"a container id is 64 lowercase hex digits");
	*(const char **)ret = json_string_value(v);
	return 0;
}

static int param_pid(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	json_int_t pid = json_integer_value(v);

	if (pid <= 0 || pid > INT32_MAX)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "a pid is a positive number");
	*(json_int_t *)ret = pid;
	return 0;
}

/* An OCI createRuntime hook: the container's cgroup exists, its first
 * instruction has not run. The reply comes when its binding is in place. */
int ctl_method_container_hook(struct ctl_call *call, json_t *params)
{
	static const struct ctl_param table[] = {
	    {"id", CTL_PARAM_STRING, true, param_container_id, offsetof(struct hook_params, id)},
	    {"pid", CTL_PARAM_INTEGER, true, param_pid, offsetof(struct hook_params, pid)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_free_ char *target = NULL;
	struct hook_params p = {};
	const char *why = "";
	struct np_bind *b;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	if (r < 0)
		return r;
	if (asprintf(&target, "container:%s", p.id) < 0)
		return -ENOMEM;
	r = manager_prepare_target(m, target, (pid_t)p.pid, &why);
	if (r == -ENOENT)
		return ctl_fail(call, NP_ERR_NO_SUCH_TARGET, "params.id", "'%s': %s", p.id, why);
	if (r < 0)
		return ctl_fail_change(call, r);
	b = manager_binding_by_target(m, target);
	if (!b) /* no label: the container default decides */
		return ctl_set_result(call, json_pack("{s:s, s:n}", "target", target, "policy"));
	return ctl_set_result(call, binding_json(m, b));
}

static int param_unit(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	_cleanup_free_ char *s = NULL, *normal = NULL;
	const char *why = "";
	int r;

	if (asprintf(&s, "unit:%s", json_string_value(v)) < 0)
		return -ENOMEM;
	r = target_normalize(s, &normal, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", json_string_value(v), why);
	*(char **)ret = TAKE_PTR(normal);
	return 0;
}

/* A bound service's gate (ExecCondition=, docs/units.md): it runs in the
 * unit's new cgroup before the service's first instruction, and the reply
 * comes once the binding is on that cgroup. The caller's pid is the one
 * the socket says (SO_PEERCRED), never one it gives. */
int ctl_method_unit_hook(struct ctl_call *call, json_t *params)
{
	static const struct ctl_param table[] = {
	    {"unit", CTL_PARAM_STRING, true, param_unit, 0},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_free_ char *target = NULL;
	const char *why = "";
	struct np_bind *b;
	int r;

	r = ctl_params_dispatch(call, params, table, &target);
	if (r < 0)
		return r;
	if (!manager_binding_by_target(m, target)) /* nothing to put in place */
		return ctl_set_result(call, json_pack("{s:s, s:n}", "target", target, "policy"));
	if (call->pid <= 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.unit",
				"the caller's pid is not known (a connection from another pid namespace?)");
	r = manager_prepare_target(m, target, call->pid, &why);
	if (r == -ENOENT)
		return ctl_fail(call, NP_ERR_NO_SUCH_TARGET, "params.unit", "'%s': %s", target + 5, why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.unit", "'%s': %s", target + 5, why);
	b = manager_binding_by_target(m, target);
	if (!b)
		return ctl_set_result(call, json_pack("{s:s, s:n}", "target", target, "policy"));
	return ctl_set_result(call, binding_json(m, b));
}
