/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Cgroups that come and go, seen as directories made and removed in the
 * directories watched here (inotify). A removed cgroup's id is never
 * reused, so a binding of it could only leak (and fill np_bindings): the
 * owner has the parent of every bound cgroup watched, and on_gone tells it
 * that a directory went, for it to find which of its cgroups are gone. A
 * cgroup removed and made again under the same name is a new cgroup.
 * on_made names each new directory, so that a binding that outlives its
 * cgroups (a container's) is put on the next one the moment it exists,
 * before the runtime starts anything in it; when the kernel's queue
 * overflowed, every directory below the watched ones is named again.
 */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

struct cgroup_watch_dir {
	int wd;
	char *path;
};

struct cgroup_watch {
	int fd; /* -EBADF before cgroup_watch_start() */
	sd_event_source *source;
	struct cgroup_watch_dir *dirs;
	size_t n_dirs;
	void (*on_gone)(void *userdata);
	void (*on_made)(void *userdata, const char *path);
	void *userdata;
};

/* Logs a failure. */
int cgroup_watch_start(struct cgroup_watch *w, sd_event *e, void (*on_gone)(void *userdata),
		       void (*on_made)(void *userdata, const char *path), void *userdata);
void cgroup_watch_stop(struct cgroup_watch *w);
/* Watches the directory dir for cgroups made and removed in it; logs a
 * failure (-ENOENT quietly: the caller watches an ancestor instead). */
int cgroup_watch_dir(struct cgroup_watch *w, const char *dir);
/* Watches the parent of a newly bound cgroup (logs a failure). */
void cgroup_watch_parent(struct cgroup_watch *w, const char *path);
/* Calls fn for every directory directly below a watched one. */
void cgroup_watch_foreach_child(struct cgroup_watch *w, void (*fn)(void *userdata, const char *path),
				void *userdata);
