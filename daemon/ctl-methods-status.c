/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * status: what netpold runs, the data plane's pins and programs, its
 * counters and clients.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "manager.h"
#include "violations.h"

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

int ctl_method_status(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	char started[40];
	int r;

	r = ctl_params_dispatch(call, params, ctl_no_params, NULL);
	if (r < 0)
		return r;
	format_realtime(m->started_usec * 1000, started, sizeof(started));
	r = ctl_set_result(
	    call,
	    json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:b, s:i, s:i, s:o, s:{s:o, s:o, s:o}, s:o, s:i, s:i, s:I, s:s}",
		"version", NETPOL_VERSION, "protocol", NP_PROTO_VERSION, "pin_dir",
		np_dataplane_pin_dir(m->dp), "attach_cgroup", m->attach_cgroup, "cgroup_root", m->cgroup_root,
		"adopted", m->adopted, "policies", (int)m->n_pols, "bindings", (int)m->n_binds, "events_lost",
		ctl_counter(m, NP_CNT_EVENTS_LOST), "counters", "no_policy_map",
		ctl_counter(m, NP_CNT_NO_POLICY_MAP), "no_lpm_entry", ctl_counter(m, NP_CNT_NO_LPM_ENTRY),
		"stats_full", ctl_counter(m, NP_CNT_STATS_FULL), "programs", programs_json(m), "clients",
		(int)ctl_server_n_clients(call->server), "followers",
		(int)ctl_server_n_followers(call->server), "violations",
		(json_int_t)violations_total(m->violations), "started", started));
	if (r < 0)
		return r;
	r = add_pins(m, call->result);
	if (r < 0)
		return r;
	if (m->data_plane[0] &&
	    json_object_set_new(call->result, "data_plane", json_string(m->data_plane)) < 0)
		return -ENOMEM;
	/* Each source under its name: {"containers": {...}}. */
	return json_object_update_new(call->result, manager_sources_status(m)) < 0 ? -ENOMEM : 0;
}
