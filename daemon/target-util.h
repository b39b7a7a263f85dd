/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Targets as text ("cgroup:/a/b"), without looking at the file system: the
 * daemon and the state parser share them. Library code: never logs.
 */
#pragma once

#include <stdbool.h>

/* "cgroup:/a//b/./c/" -> "/a/b/c" (the path below the cgroup root). On
 * failure (-EINVAL) *why says what is wrong; -ENOMEM. */
int target_parse(const char *s, char **ret_rel, const char **why);
/* "cgroup:/a//b/" -> "cgroup:/a/b". */
int target_normalize(const char *s, char **ret, const char **why);
/* True if target (as named by manager_cgroup_target) is filter or lies below it. */
bool target_matches(const char *target, const char *filter);
