/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * teardown: the one way to switch enforcement off. `systemctl stop` keeps
 * the pinned programs enforcing by design; this removes them: the pins go
 * first (the step that can fail, and is undone if it does), then the
 * programs are detached and netpold exits with status 0, which
 * Restart=on-failure does not restart. The saved policies and bindings
 * stay for the next start, unless "forget" removes bindings.json, and with
 * it what the sources wrote for them outside netpold: the gates of bound
 * services (drop-ins that, with netpold gone, would fail their starts).
 * Without it the gates stay with the bindings: a gated start then starts
 * netpold again through its socket.
 *
 * netpold_teardown() is the same without a running netpold (netpold
 * --teardown): the pins are found by their names, nothing is loaded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "log.h"
#include "manager.h"
#include "state-parse.h"
#include "state.h"
#include "units.h"

struct teardown_params {
	bool forget;
};

static const struct ctl_param teardown_params[] = {
    {"forget", CTL_PARAM_BOOL, false, ctl_param_bool, offsetof(struct teardown_params, forget)},
    {},
};

/* bindings.json, after the pins: removed before them, a failed unpin would
 * leave bindings in the kernel that the next start refuses to lift. */
static int forget_bindings(const char *state_dir)
{
	int r = state_remove(state_dir, NP_STATE_BINDINGS_FILE);

	if (r < 0)
		return log_error_errno(r, "Failed to remove '%s/" NP_STATE_BINDINGS_FILE "': %m", state_dir);
	log_info("Removed '%s/" NP_STATE_BINDINGS_FILE "': the next start binds nothing.", state_dir);
	return 0;
}

int ctl_method_teardown(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	struct teardown_params p = {};
	_cleanup_free_ char *pin_dir = NULL;
	_cleanup_json_ json_t *result = NULL;
	bool forgot = false;
	int r;

	r = ctl_params_dispatch(call, params, teardown_params, &p);
	if (r < 0)
		return r;
	pin_dir = strdup(np_dataplane_pin_dir(m->dp));
	if (!pin_dir)
		return -ENOMEM;

	/* The watch would pin them all again at once. */
	(void)sd_event_source_set_enabled(m->pins_source, SD_EVENT_OFF);
	r = np_dataplane_unpin(m->dp);
	if (r < 0) {
		log_error_errno(r, "Teardown refused: cannot remove the pins in '%s': %m. Keeping them.",
				pin_dir);
		(void)sd_event_source_set_enabled(m->pins_source, SD_EVENT_ON);
		(void)manager_pins_check(m);
		return ctl_fail(call, NP_ERR_INTERNAL, NULL,
				"cannot remove the pins in '%s': %s; nothing was changed, netpold keeps "
				"enforcing",
				pin_dir, strerror(-r));
	}

	/* The commit: no pin holds the programs now, and netpold exits. */
	result = json_pack("{s:s, s:s, s:s}", "pin_dir", pin_dir, "attach_cgroup", m->attach_cgroup,
			   "state_dir", m->state_dir);
	if (p.forget) {
		m->save_soon = sd_event_source_disable_unref(m->save_soon);
		forgot = forget_bindings(m->state_dir) >= 0;
		/* The gates go with the bindings they stand for; a binding kept
		 * keeps its gate. */
		if (forgot && result)
			manager_forget_sources(m, result);
	}
	manager_stop_sources(m);
	r = np_dataplane_detach(m->dp);
	if (r < 0)
		log_warning_errno(r,
				  "Failed to detach the programs at once: %m; they detach as netpold exits.");
	m->events_source = sd_event_source_disable_unref(m->events_source);
	m->dp = np_dataplane_free(m->dp);
	log_notice("Torn down on the request of uid %u: programs detached from '%s', pins in '%s' "
		   "removed. No policy is enforced until netpold starts again; exiting.",
		   (unsigned)call->uid, m->attach_cgroup, pin_dir);
	(void)sd_notify(0, "STOPPING=1\nSTATUS=Torn down: no policy is enforced.");
	r = sd_event_exit(m->event, 0);
	if (r < 0)
		log_warning_errno(r, "Failed to leave the event loop: %m");

	if (result)
		(void)json_object_set_new(result, "bindings_forgotten", json_boolean(forgot));
	return ctl_set_result(call, TAKE_PTR(result));
}

int netpold_teardown(const char *pin_dir, const char *state_dir, bool forget)
{
	struct units_forgotten gates;
	unsigned links = 0, maps = 0;
	int r;

	r = np_dataplane_remove_pins(pin_dir, &links, &maps);
	if (r == -ENOENT)
		log_info("'%s' does not exist: no netpol programs are pinned there.", pin_dir);
	else if (r == -EBUSY)
		return log_error_errno(r,
				       "A running netpold holds '%s' (its lock): ask it with 'netpolctl "
				       "teardown', or stop it first.",
				       pin_dir);
	else if (r == -ENOTDIR)
		return log_error_errno(
		    r, "'%s' is not on a bpf file system: nothing of netpol's is pinned there.", pin_dir);
	else if (r == -ENOTEMPTY)
		log_warning(
		    "Removed netpol's pins in '%s', but other files remain there: left the directory.",
		    pin_dir);
	else if (r < 0)
		return log_error_errno(r, "Failed to remove the pins in '%s' (%u links, %u maps removed): %m",
				       pin_dir, links, maps);
	if (r != -ENOENT)
		log_info("Detached %u program(s) and removed %u map pin(s) in '%s'. No policy is enforced "
			 "until netpold starts again.",
			 links, maps, pin_dir);
	if (!forget)
		return 0;
	r = forget_bindings(state_dir);
	if (r < 0)
		return r;
	/* No units source runs here: the drop-ins are found in their
	 * directory, and PID 1 is asked on a connection of this call's own. */
	r = units_forget_gates(NULL, &gates);
	if (r < 0)
		return log_error_errno(r, "Not every gate of the services that were bound could be removed "
					  "(see above): those fail to start while netpold is not there.");
	return 0;
}
