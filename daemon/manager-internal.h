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
