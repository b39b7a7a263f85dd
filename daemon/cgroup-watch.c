/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"

/*
 * A removed cgroup's id is never reused, so its binding could only leak
 * (and fill np_bindings). rmdir of a cgroup is an IN_DELETE on its parent
 * directory: netpold watches the parent of every bound cgroup and drops the
 * bindings whose cgroup is gone, when it happens. A cgroup removed and
 * created again under the same name is a new cgroup: its binding goes too.
 */
void cgroup_watch_parent(struct manager *m, const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;

	if (m->inotify_fd < 0 || !slash || slash == parent)
		return;
	*slash = '\0';
	/* Watching a directory twice returns the same watch. */
	if (inotify_add_watch(m->inotify_fd, parent, IN_DELETE | IN_ONLYDIR) < 0)
		log_warning_errno(-errno, "Cannot watch '%s' for removed cgroups; bindings of removed "
					  "cgroups stay until netpold restarts: %m",
				  parent);
}

static bool binding_gone(const struct np_bind *b)
{
	uint64_t id;
	int r = np_cgroup_id(b->path, &id);

	return r == -ENOENT || (r == 0 && id != b->cgroup_id);
}

static int on_removal(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
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
	if (!dir_removed)
		return 0;
	/* From the end: dropping a binding moves the last one into its slot. */
	for (size_t i = m->n_binds; i-- > 0;) {
		if (!binding_gone(&m->binds[i]))
			continue;
		log_info("The cgroup of '%s' was removed; dropping its binding.", m->binds[i].target);
		(void)manager_unbind_binding(m, &m->binds[i]);
	}
	return 0;
}

int cgroup_watch_start(struct manager *m)
{
	int r;

	m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->inotify_fd < 0)
		return log_error_errno(-errno, "Failed to create an inotify instance: %m");
	r = sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_removal, m);
	if (r < 0)
		return log_error_errno(r, "Failed to watch for removed cgroups: %m");
	return 0;
}

void cgroup_watch_stop(struct manager *m)
{
	m->inotify_source = sd_event_source_disable_unref(m->inotify_source);
	if (m->inotify_fd >= 0)
		close(m->inotify_fd);
	m->inotify_fd = -EBADF;
}
