/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * violations: the recent ones, and with follow, a stream of those to come;
 * the follower's target filter is here, not in the transport.
 */
#include <errno.h>
#include <stdlib.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"
#include "violations.h"

struct vfilter {
	struct manager *m;
	uint64_t since_ns; /* CLOCK_REALTIME */
	const char *target;
	uint64_t cgroup_id;
	json_t *out;
};

static int collect_violation(const struct violation *v, void *userdata)
{
	struct vfilter *f = userdata;
	_cleanup_free_ char *target = NULL;

	if (v->count == 0 || mono_to_realtime_ns(v->first_ns) < f->since_ns)
		return 0;
	target = f->target ? manager_violation_target(f->m, v) : NULL;
	if (!ctl_matches_target(f->target, f->cgroup_id, target, v->cgroup_id))
		return 0;
	return json_array_append_new(f->out, manager_violation_json(f->m, v)) < 0 ? -ENOMEM : 0;
}

/* A follower's filter is a struct target_filter: its cgroup, or the targets below it. */
static void follow_filter_free(void *data)
{
	struct target_filter *ff = data;

	if (ff)
		free(ff->target);
	free(ff);
}

static bool follow_wants(const void *data, const void *event)
{
	const struct target_filter *ff = data;
	const struct violation *v = event;

	return v->cgroup_id == ff->cgroup_id || (v->target && target_matches(v->target, ff->target));
}

void ctl_watch_publish(void *userdata, const struct violation *v, json_t *json)
{
	ctl_server_broadcast(userdata, v, json);
}

int ctl_method_violations(struct ctl_call *call, json_t *params)
{
	struct violations_params {
		uint64_t since_ns;
		struct target_filter filter;
		bool follow;
	};
	static const struct ctl_param table[] = {
	    {"since", CTL_PARAM_TIME, false, ctl_param_time, offsetof(struct violations_params, since_ns)},
	    {"target", CTL_PARAM_STRING, false, ctl_param_target_filter,
	     offsetof(struct violations_params, filter)},
	    {"follow", CTL_PARAM_BOOL, false, ctl_param_bool, offsetof(struct violations_params, follow)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_json_ json_t *arr = json_array();
	struct violations_params p = {};
	_cleanup_free_ char *target = NULL;
	struct vfilter f;
	int r;

	r = ctl_params_dispatch(call, params, table, &p);
	target = p.filter.target;
	if (r < 0)
		return r;
	if (!arr)
		return -ENOMEM;
	f = (struct vfilter){
	    .m = m,
	    .since_ns = p.since_ns, .target = target, .cgroup_id = p.filter.cgroup_id, .out = arr};
	/* Following without "since" starts from now. */
	if (!p.follow || json_object_get(params, "since")) {
		r = violations_foreach(m->violations, collect_violation, &f);
		if (r < 0)
			return r;
	}
	if (p.follow) {
		struct target_filter *ff = NULL;

		if (target) {
			ff = malloc(sizeof(*ff));
			if (!ff)
				return -ENOMEM;
			*ff = (struct target_filter){.target = TAKE_PTR(target), .cgroup_id = f.cgroup_id};
		}
		ctl_call_follow(call, ff ? follow_wants : NULL, ff, follow_filter_free, TAKE_PTR(arr));
		return ctl_set_result(call, json_pack("{s:b}", "following", 1));
	}
	return ctl_set_result(call, json_pack("{s:o, s:o}", "violations", TAKE_PTR(arr), "lost",
					      ctl_counter(m, NP_CNT_EVENTS_LOST)));
}
