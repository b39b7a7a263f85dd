/* SPDX-License-Identifier: GPL-2.0-only */
/* cgroup2 and bpffs, as the data plane needs them. Library code: never logs,
 * returns negative errno. */
#pragma once

#include <stdint.h>

/* The cgroup2 mount point from /proc/self/mountinfo (-ENOMEDIUM if none). */
int np_cgroup2_mount(char **ret);
/* -EPROTO when a cgroup-v1 hierarchy with net_cls or net_prio is mounted,
 * which switches cgroup2 socket matching off. */
int np_cgroup_socket_matching_ok(void);
/* cgroup id of a cgroup2 directory (the id bpf_get_current_cgroup_id() returns). */
int np_cgroup_id(const char *path, uint64_t *ret);
/* Mount bpffs on dir's bpffs parent if dir is not on a bpffs. */
int np_bpffs_ensure(const char *dir);
