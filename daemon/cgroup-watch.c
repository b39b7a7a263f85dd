/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroup-watch.h"
#include "cleanup-util.h"
#include "log.h"

void cgroup_watch_parent(struct cgroup_watch *w, const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;

	if (w->fd < 0 || !slash || slash == parent)
		return;
	*slash = '\0';
	/* Watching a directory twice returns the same watch. */
	if (inotify_add_watch(w->fd, parent, IN_DELETE | IN_ONLYDIR) < 0)
		log_warning_errno(-errno,
				  "Cannot watch '%s' for removed cgroups; bindings of removed "
				  "cgroups stay until netpold restarts: %m",
				  parent);
}

static int on_removal(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct cgroup_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool dir_removed = false;
	ssize_t n;

	/* Drain what is queued; only directory removals matter. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			dir_removed |= (e->mask & (IN_DELETE | IN_ISDIR)) == (IN_DELETE | IN_ISDIR);
			p += sizeof(*e) + e->len;
		}
	if (dir_removed)
		w->on_gone(w->userdata);
	return 0;
}

int cgroup_watch_start(struct cgroup_watch *w, sd_event *e, void (*on_gone)(void *userdata), void *userdata)
{
	int r;

	w->on_gone = on_gone;
	w->userdata = userdata;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return log_error_errno(-errno, "Failed to create an inotify instance: %m");
	r = sd_event_add_io(e, &w->source, w->fd, EPOLLIN, on_removal, w);
	if (r < 0)
		return log_error_errno(r, "Failed to watch for removed cgroups: %m");
	return 0;
}

void cgroup_watch_stop(struct cgroup_watch *w)
{
	w->source = sd_event_source_disable_unref(w->source);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -EBADF;
}
