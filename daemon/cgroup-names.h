/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Cgroup id -> "cgroup:/path", from a cache of the attach cgroup's subtree
 * walked again (at most every 2 s) when an id is not in it. The owner
 * names bound cgroups by their binding itself, before asking here.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "target.h"

struct cg_name {
	uint64_t id;
	char *target;
};

struct cgroup_names {
	const struct target_root *roots; /* borrowed */
	struct cg_name *v;		 /* sorted by id */
	size_t n;
	uint64_t walked_usec; /* CLOCK_MONOTONIC */
};

void cgroup_names_clear(struct cgroup_names *c);
/* The cgroup's path below the cgroup root, or "cgroup-id:N" if it is not
 * below the attach cgroup (or gone). malloc()ed; NULL on OOM. */
char *cgroup_names_get(struct cgroup_names *c, uint64_t cgroup_id);
