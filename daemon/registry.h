/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The registry's entries: manager.c keeps them, manager-save.c writes them
 * to the state directory (a header of their own, so that the code below the
 * manager can read them without knowing the manager).
 */
#pragma once

#include <stdint.h>

#include "policy.h"
#include "state-parse.h"

struct np_pol {
	uint32_t id;
	struct np_policy *policy;
	struct np_compiled *compiled;
	unsigned n_bound;
};

struct np_bind {
	char *target;	    /* normalized: "cgroup:/a/b", "container:ID" */
	char *path;	    /* the cgroup directory; NULL: none now (named targets) */
	uint64_t cgroup_id; /* 0 with path NULL */
	uint32_t policy_id;
	enum np_origin origin; /* who asked for it */
	char *match;	       /* named targets: how their next cgroup is known (target.h) */
};
