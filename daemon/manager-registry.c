/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every part of the manager builds on (manager-internal.h): the
 * policy registry's entries, and the frame of a change: its start, the
 * save of bindings.json, and a rollback that failed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"
#include "state.h"

struct np_pol *manager_pol_free(struct np_pol *pol)
{
	if (!pol)
		return NULL;
	np_policy_free(pol->policy);
	np_compiled_free(pol->compiled);
	free(pol);
	return NULL;
}

/* ---- registry ---- */

struct np_pol *manager_policy_by_name(struct manager *m, const char *name)
{
	for (unsigned i = 1; i < NP_MAX_POLICIES; i++)
		if (m->pols[i] && strcmp(m->pols[i]->policy->name, name) == 0)
			return m->pols[i];
	return NULL;
}

struct np_pol *manager_policy_by_id(struct manager *m, uint32_t id)
{
	return id > 0 && id < NP_MAX_POLICIES ? m->pols[id] : NULL;
}

int manager_free_policy_id(struct manager *m, uint32_t *ret)
{
	for (uint32_t i = 1; i < NP_MAX_POLICIES; i++)
		if (!m->pols[i]) {
			*ret = i;
			return 0;
		}
	return -ENOSPC;
}

int manager_register_policy(struct manager *m, uint32_t id, struct np_policy *p, struct np_compiled *c,
			    struct np_pol **ret)
{
	struct np_pol *pol = calloc(1, sizeof(*pol));

	if (!pol)
		return -ENOMEM;
	*pol = (struct np_pol){.id = id, .policy = p, .compiled = c};
	m->pols[id] = pol;
	m->n_pols++;
	if (ret)
		*ret = pol;
	return 0;
}

void manager_unregister_policy(struct manager *m, struct np_pol *pol, bool free_content)
{
	m->pols[pol->id] = NULL;
	m->n_pols--;
	if (!free_content) {
		pol->policy = NULL;
		pol->compiled = NULL;
	}
	manager_pol_free(pol);
}

/* ---- the frame of a change ---- */

void manager_notify_status(struct manager *m)
{
	(void)sd_notifyf(0, "STATUS=Enforcing %u policies on %zu cgroups.", m->n_pols, m->n_binds);
}

int manager_save_failed(struct manager *m, const char *file, int r)
{
	m->unsaved_file = file;
	m->unsaved_error = r;
	return log_error_errno(r, "Failed to save the state to '%s/%s': %m", m->state_dir, file);
}

int manager_save_bindings(struct manager *m, const struct np_bind *exclude)
{
	_cleanup_free_ char *text =
	    manager_bindings_text(m->binds, m->n_binds, m->pols, m->cgroup_root, exclude);
	int r;

	if (!text)
		return log_oom();
	r = state_write_atomic(m->state_dir, NP_STATE_BINDINGS_FILE, text, strlen(text), 0600);
	if (r < 0)
		return manager_save_failed(m, NP_STATE_BINDINGS_FILE, r);
	manager_notify_status(m);
	return 0;
}

/*
 * Every change goes kernel first, then the state file, and undoes the
 * kernel change if the save fails. What failed is kept for the reply
 * (manager.h: unsaved_file), since the errno alone cannot tell a full disk
 * from a full table. Without pins no change is made: it would be lost
 * when netpold stops and its programs detach.
 */
int manager_change_begin(struct manager *m)
{
	m->unsaved_file = NULL;
	m->unsaved_error = 0;
	m->rollback_failed = false;
	return manager_pins_check(m);
}

/* The kernel change of a failed save could not be undone: the kernel now
 * differs from the saved state until netpold restarts. */
void manager_rollback_failed(struct manager *m, int r, const char *what, const char *name)
{
	m->rollback_failed = true;
	log_error_errno(
	    r,
	    "Failed to roll back %s '%s' after the state could not be saved: %m. The kernel differs "
	    "from the saved state until netpold restarts.",
	    what, name);
}
