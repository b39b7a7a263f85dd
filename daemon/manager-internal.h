/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the manager's files give each other, and nothing else may use. They
 * call one way: manager.c (policies, events) and manager-restore.c (the
 * restore at start) over manager-bind.c (bindings) and manager-sources.c,
 * all over manager-registry.c (the registry, the frame of a change).
 */
#pragma once

#include "manager.h"

/* manager-registry.c, manager-bind.c: the registry's entries, without a
 * kernel change or a save. */
int manager_free_policy_id(struct manager *m, uint32_t *ret);
int manager_register_policy(struct manager *m, uint32_t id, struct np_policy *p, struct np_compiled *c,
			    struct np_pol **ret);
int manager_push_binding(struct manager *m, const struct target *t, uint32_t policy_id, enum np_origin origin,
			 struct np_bind **ret);

/* manager-registry.c: the registry's entries (besides the lookups of
 * manager.h), and the frame of every change (manager.h). */
struct np_pol *manager_pol_free(struct np_pol *pol);
void manager_unregister_policy(struct manager *m, struct np_pol *pol, bool free_content);
void manager_notify_status(struct manager *m);
/* Keeps file and r for the reply (manager.h: unsaved_file), and logs. */
int manager_save_failed(struct manager *m, const char *file, int r);
int manager_change_begin(struct manager *m);
void manager_rollback_failed(struct manager *m, int r, const char *what, const char *name);
/* Writes bindings.json without exclude (a binding that is going away); logs
 * a failure and keeps it in m->unsaved_*. */
int manager_save_bindings(struct manager *m, const struct np_bind *exclude);

/* manager-bind.c */
void manager_bindings_free(struct manager *m);
/* cgroup-watch.h's callbacks. */
void manager_cgroups_gone(void *userdata);
void manager_cgroup_made(void *userdata, const char *path);

/* manager-sources.c: the target a source knows at a cgroup path, or NULL. */
char *manager_sources_target_of_cgroup(struct manager *m, const char *path);
/* A cgroup that no binding knows was made in a watched directory. */
void manager_sources_cgroup_made(struct manager *m, const char *path);
