/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What manager.c (the registry, the one place that changes the kernel and
 * the state) gives manager-restore.c (the restore at start), and nothing
 * else may use.
 */
#pragma once

#include "manager.h"

/* manager.c: the registry's entries, without a kernel change or a save. */
int manager_free_policy_id(struct manager *m, uint32_t *ret);
int manager_register_policy(struct manager *m, uint32_t id, struct np_policy *p, struct np_compiled *c,
			    struct np_pol **ret);
int manager_push_binding(struct manager *m, const struct target *t, uint32_t policy_id, enum np_origin origin,
			 struct np_bind **ret);

/* manager.c: the frame of every change (manager.h), for manager-bind.c. */
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
