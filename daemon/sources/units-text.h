/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The units source's pure parts (units.c uses them; test-units tests them):
 * where systemd puts a unit's cgroup, the drop-in that gates a bound
 * service's start, and a process's cgroup as /proc/PID/cgroup says it.
 * No file system, no logging; negative errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The header line that marks a drop-in as netpold's own. */
#define UNITS_DROPIN_MARK "# Written by netpold for its binding of "
#define UNITS_DROPIN_NAME "50-netpol.conf"

/* systemd's cg_escape(): a name that could clash with a cgroup's own
 * files ("cpu.x", "tasks", "_x", ".x") gets a '_' in front. malloc()ed. */
int units_cg_escape(const char *name, char **ret);
/* A slice's cgroup path below the cgroup root: "a-b.slice" ->
 * "/a.slice/a-b.slice", "-.slice" -> "/". -EINVAL if slice is not a valid
 * slice name ("-a.slice", "a--b.slice", "a-.slice"). */
int units_slice_path(const char *slice, char **ret);
/* Where unit name's cgroup is (below the cgroup root): control_group if
 * systemd says (non-empty), else computed from its slice (a slice's from
 * its own name). -EINVAL when neither works. */
int units_cgroup_path(const char *name, const char *slice, const char *control_group, char **ret);
/* The drop-in for a bound service: pulls netpold's socket in before it and
 * runs gate NAME as its ExecCondition. */
int units_dropin_text(const char *name, const char *gate, char **ret);
/* True if text starts with the mark (a drop-in netpold wrote). */
bool units_dropin_is_ours(const char *text);
/* The cgroup2 path in /proc/PID/cgroup's text ("0::/a/b"), malloc()ed;
 * -ENOENT without one. */
int units_proc_cgroup(const char *text, char **ret);
/* True if rel (a cgroup path below the root) is the cgroup of a unit
 * named name in the cgroup want: rel == want, and its last component is
 * name as systemd escapes it. */
bool units_cgroup_is(const char *rel, const char *want, const char *name);
