/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Cgroups that go away. A removed cgroup's id is never reused, so a binding
 * of it could only leak (and fill np_bindings). rmdir of a cgroup is an
 * IN_DELETE on its parent directory: the owner has the parent of every
 * bound cgroup watched, and on_gone tells it that a directory went, for it
 * to find which of its cgroups are gone. A cgroup removed and created again
 * under the same name is a new cgroup.
 */
#pragma once

#include <systemd/sd-event.h>

struct cgroup_watch {
	int fd; /* -EBADF before cgroup_watch_start() */
	sd_event_source *source;
	void (*on_gone)(void *userdata);
	void *userdata;
};

/* Logs a failure. */
int cgroup_watch_start(struct cgroup_watch *w, sd_event *e, void (*on_gone)(void *userdata), void *userdata);
void cgroup_watch_stop(struct cgroup_watch *w);
/* Watches the parent of a newly bound cgroup (logs a failure). */
void cgroup_watch_parent(struct cgroup_watch *w, const char *path);
