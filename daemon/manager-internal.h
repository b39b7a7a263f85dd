/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the manager's own files share, and nothing else may use: manager.c
 * (the registry, the one place that changes the kernel and the state),
 * manager-state.c (persistence, restore), cgroup-watch.c (removed
 * cgroups) and cgroup-names.c (naming cgroup ids).
 */
#pragma once

#include <time.h>

#include "manager.h"

static inline uint64_t manager_now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* manager.c: the registry's entries, without a kernel change or a save. */
int manager_free_policy_id(struct manager *m, uint32_t *ret);
int manager_register_policy(struct manager *m, uint32_t id, struct np_policy *p, struct np_compiled *c,
			    struct np_pol **ret);
int manager_push_binding(struct manager *m, const struct target *t, uint32_t policy_id, enum np_origin origin,
			 struct np_bind **ret);
/* manager_unbind() whatever the binding's origin (its cgroup is gone). */
int manager_unbind_binding(struct manager *m, struct np_bind *b);

/* manager-state.c: writes bindings.json without exclude (a binding that
 * is going away); logs a failure and keeps it in m->unsaved_*. */
int manager_save_bindings(struct manager *m, const struct np_bind *exclude);
void manager_notify_status(struct manager *m);

/* cgroup-watch.c: drops the bindings of removed cgroups when they go. */
int cgroup_watch_start(struct manager *m);
void cgroup_watch_stop(struct manager *m);
/* Watches the parent of a newly bound cgroup (logs a failure). */
void cgroup_watch_parent(struct manager *m, const char *path);

/* cgroup-names.c */
void cgroup_names_clear(struct manager *m);
