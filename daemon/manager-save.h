/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The registry in the state directory's form (state-parse.h): the snapshot
 * that policies.json is written from, and the text of bindings.json. Below
 * manager.c: what is written comes as arguments, and nothing here logs;
 * manager.c logs a failure and keeps it for the reply.
 *
 * Policies and bindings live in two files, so that binding a cgroup never
 * rewrites (and fsyncs) every policy. Each is consistent on its own: a
 * bound policy cannot be deleted, and a binding names an existing policy.
 */
#pragma once

#include <stddef.h>

#include "cleanup-util.h"
#include "registry.h"

struct manager_snapshot;
/* pols: by id ([0] unused), n_pols of them set. The snapshot borrows the
 * policies it names. */
int manager_snapshot_new(const char *state_dir, struct np_pol *const *pols, unsigned n_pols,
			 struct manager_snapshot **ret);
int manager_snapshot_write(const struct manager_snapshot *s);
struct manager_snapshot *manager_snapshot_free(struct manager_snapshot *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager_snapshot *, manager_snapshot_free);

/* bindings.json's text, without exclude (a binding that is going away);
 * pols as above; a container's cgroup is written below cgroup_root.
 * malloc()ed; NULL on OOM. */
char *manager_bindings_text(const struct np_bind *binds, size_t n_binds, struct np_pol *const *pols,
			    const char *cgroup_root, const struct np_bind *exclude);
