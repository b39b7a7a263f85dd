/* SPDX-License-Identifier: GPL-2.0-only */
/* stats: per-destination counters, and their reset. */
#include <errno.h>
#include <stdlib.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "log.h"
#include "manager.h"
#include "violations.h"

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
	_cleanup_json_ json_t *e = NULL;
	char dest[64], seen[40];
	json_t *info;

	if (!target)
		return -ENOMEM;
	if (!ctl_matches_target(f->target, f->cgroup_id, target, k->cgroup_id))
		return 0;
	if (f->keep_keys && sfilter_keep_key(f, k) < 0)
		return -ENOMEM;
	np_addr_format(k->addr, dest, sizeof(dest));
	format_realtime(mono_to_realtime_ns(v->last_ns), seen, sizeof(seen));
	e = json_pack("{s:s, s:I, s:s, s:i, s:s, s:I, s:I, s:s}", "target", target, "cgroup_id",
		      (json_int_t)k->cgroup_id, "dest", dest, "port", (int)k->port, "protocol",
		      proto_class_name(k->proto), "allowed", (json_int_t)v->allowed, "denied",
		      (json_int_t)v->denied, "last_seen", seen);
	info = manager_target_info(f->m, target);
	if (!e || (info && json_object_set_new(e, target_info_key(target), info) < 0))
		return -ENOMEM;
	return json_array_append_new(f->out, TAKE_PTR(e)) < 0 ? -ENOMEM : 0;
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

int ctl_method_stats(struct ctl_call *call, json_t *params)
{
	struct stats_params {
		struct target_filter filter;
		bool reset;
	};
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, false, ctl_param_target_filter,
	     offsetof(struct stats_params, filter)},
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
		return ctl_set_result(call, json_pack("{s:o, s:s}", "stats", TAKE_PTR(arr), "reset",
						      target ? "target" : "all"));
	return ctl_set_result(call, json_pack("{s:o}", "stats", TAKE_PTR(arr)));
}
