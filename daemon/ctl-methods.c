/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the methods share: parameter parsers, replies, and the table of
 * every command of docs/protocol.md, one file per family
 * (ctl-methods-*.c). Each method checks its params by declaration
 * (ctl-params.h), then asks the manager. Methods run on the event loop and
 * never block: what takes time goes to the worker thread
 * (ctl_call_defer()).
 */
#include <errno.h>
#include <string.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"

const struct ctl_param ctl_no_params[] = {{}};

int ctl_param_policy(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	struct np_pol **pol = ret;
	const char *name = json_string_value(v);

	*pol = manager_policy_by_name(call->userdata, name);
	if (!*pol)
		return ctl_fail(call, NP_ERR_NO_SUCH_POLICY, field, "no policy named '%s'", name);
	return 0;
}

int ctl_param_target(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	const char *s = json_string_value(v), *why = "";
	struct manager *m = call->userdata;
	int r;

	r = manager_resolve_target(m, s, ret, &why);
	if (r == -EINPROGRESS) /* its source asked; ctl_server_resume() when it knows */
		return ctl_call_suspend(call);
	if (r == -ENOENT || r == -EHOSTDOWN)
		return ctl_fail(call, NP_ERR_NO_SUCH_TARGET, field, "'%s': %s", s, why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", s, why);
	return 0;
}

int ctl_param_target_name(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	const char *s = json_string_value(v), *why = "";
	int r;

	r = manager_target_name(call->userdata, s, ret, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", s, why);
	return 0;
}

int ctl_param_target_filter(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	_cleanup_(target_done) struct target t = {};
	struct target_filter *f = ret;
	struct manager *m = call->userdata;
	const char *why = "";
	int r;

	r = ctl_param_target_name(call, field, v, &f->target);
	if (r < 0)
		return r;
	if (manager_resolve_target(m, json_string_value(v), &t, &why) >= 0)
		f->cgroup_id = t.cgroup_id;
	return 0;
}

int ctl_param_dest(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	struct dest_param *d = ret;
	const char *why = "";

	d->text = json_string_value(v);
	if (np_dest_spec_parse(d->text, &d->spec, &why) < 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'%s': %s", d->text, why);
	return 0;
}

int ctl_fail_change(struct ctl_call *call, int r)
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

json_t *ctl_counter(struct manager *m, unsigned idx)
{
	uint64_t v = 0;

	if (np_dataplane_counter(m->dp, idx, &v) < 0)
		return json_null();
	return json_integer((json_int_t)v);
}

bool ctl_matches_target(const char *filter, uint64_t filter_id, const char *target, uint64_t cgroup_id)
{
	if (!filter)
		return true;
	if (filter_id && cgroup_id == filter_id)
		return true;
	return target && target_matches(target, filter);
}

int ctl_set_result(struct ctl_call *call, json_t *result)
{
	if (!result)
		return -ENOMEM;
	call->result = result;
	return 0;
}

/* The commands of docs/protocol.md. */
const struct ctl_method ctl_methods[] = {
    {NP_CMD_STATUS, ctl_method_status, NP_PRIV_READ},
    {NP_CMD_POLICY_LIST, ctl_method_policy_list, NP_PRIV_READ},
    {NP_CMD_POLICY_SHOW, ctl_method_policy_show, NP_PRIV_READ},
    {NP_CMD_POLICY_ADD, ctl_method_policy_add, NP_PRIV_WRITE},
    {NP_CMD_POLICY_UPDATE, ctl_method_policy_update, NP_PRIV_WRITE},
    {NP_CMD_POLICY_DELETE, ctl_method_policy_delete, NP_PRIV_WRITE},
    {NP_CMD_APPLY, ctl_method_apply, NP_PRIV_WRITE},
    {NP_CMD_UNBIND, ctl_method_unbind, NP_PRIV_WRITE},
    {NP_CMD_BINDINGS, ctl_method_bindings, NP_PRIV_READ},
    {NP_CMD_RULE_ADD, ctl_method_rule_add, NP_PRIV_WRITE},
    {NP_CMD_RULE_REMOVE, ctl_method_rule_remove, NP_PRIV_WRITE},
    {NP_CMD_TEST, ctl_method_test, NP_PRIV_READ},
    {NP_CMD_VIOLATIONS, ctl_method_violations, NP_PRIV_READ},
    {NP_CMD_STATS, ctl_method_stats, NP_PRIV_READ}, /* reset: checked in the method */
    {NP_CMD_CONTAINER_HOOK, ctl_method_container_hook, NP_PRIV_WRITE},
    {NP_CMD_UNIT_HOOK, ctl_method_unit_hook, NP_PRIV_WRITE},
    {NP_CMD_TEARDOWN, ctl_method_teardown, NP_PRIV_WRITE},
    {NP_CMD_RELOAD, ctl_method_reload, NP_PRIV_WRITE},
    {},
};
