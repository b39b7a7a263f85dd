/* SPDX-License-Identifier: GPL-2.0-only */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroup-watch.h"
#include "cleanup-util.h"
#include "log.h"

static const char *dir_of(const struct cgroup_watch *w, int wd)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd)
			return w->dirs[i].path;
	return NULL;
}

static int remember(struct cgroup_watch *w, int wd, const char *dir)
{
	struct cgroup_watch_dir *v;
	char *copy;

	/* Watching a directory twice returns the same watch. */
	if (dir_of(w, wd))
		return 0;
	copy = strdup(dir);
	v = copy ? realloc(w->dirs, (w->n_dirs + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	w->dirs = v;
	w->dirs[w->n_dirs++] = (struct cgroup_watch_dir){.wd = wd, .path = copy};
	return 0;
}

int cgroup_watch_dir(struct cgroup_watch *w, const char *dir)
{
	int wd;

	if (w->fd < 0)
		return -EBADF;
	wd = inotify_add_watch(w->fd, dir, IN_CREATE | IN_DELETE | IN_ONLYDIR);
	if (wd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return log_warning_errno(-errno,
					 "Cannot watch '%s' for cgroups made and removed; bindings of "
					 "removed cgroups stay until netpold restarts: %m",
					 dir);
	}
	if (remember(w, wd, dir) < 0)
		return log_oom();
	return 0;
}

void cgroup_watch_parent(struct cgroup_watch *w, const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;

	if (!slash || slash == parent)
		return;
	*slash = '\0';
	(void)cgroup_watch_dir(w, parent);
}

/* The directory itself went (IN_IGNORED): its watch is gone. */
static void forget(struct cgroup_watch *w, int wd)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd) {
			free(w->dirs[i].path);
			w->dirs[i] = w->dirs[--w->n_dirs];
			return;
		}
}

static void made(struct cgroup_watch *w, const struct inotify_event *e)
{
	const char *dir = dir_of(w, e->wd);
	_cleanup_free_ char *path = NULL;

	if (!dir || !w->on_made || asprintf(&path, "%s/%s", dir, e->name) < 0)
		return;
	w->on_made(w->userdata, path);
}

void cgroup_watch_foreach_child(struct cgroup_watch *w, void (*fn)(void *userdata, const char *path),
				void *userdata)
{
	/* fn may add directories: walk the ones there were. */
	for (size_t i = 0, n = w->n_dirs; i < n; i++) {
		_cleanup_(closedirp) DIR *d = opendir(w->dirs[i].path);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			_cleanup_free_ char *path = NULL;

			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			if (asprintf(&path, "%s/%s", w->dirs[i].path, de->d_name) < 0)
				return;
			fn(userdata, path);
		}
	}
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct cgroup_watch *w = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool dir_removed = false, overflow = false;
	ssize_t n;

	/* Drain what is queued; only directories matter. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			overflow |= e->mask & IN_Q_OVERFLOW;
			dir_removed |= (e->mask & (IN_DELETE | IN_ISDIR)) == (IN_DELETE | IN_ISDIR);
			if ((e->mask & (IN_CREATE | IN_ISDIR)) == (IN_CREATE | IN_ISDIR) && e->len > 0)
				made(w, e);
			if (e->mask & IN_IGNORED)
				forget(w, e->wd);
			p += sizeof(*e) + e->len;
		}
	if (overflow && w->on_made)
		cgroup_watch_foreach_child(w, w->on_made, w->userdata);
	if (dir_removed || overflow)
		w->on_gone(w->userdata);
	return 0;
}

int cgroup_watch_start(struct cgroup_watch *w, sd_event *e, void (*on_gone)(void *userdata),
		       void (*on_made)(void *userdata, const char *path), void *userdata)
{
	int r;

	w->on_gone = on_gone;
	w->on_made = on_made;
	w->userdata = userdata;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return log_error_errno(-errno, "Failed to create an inotify instance: %m");
	r = sd_event_add_io(e, &w->source, w->fd, EPOLLIN, on_inotify, w);
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
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	w->dirs = NULL;
	w->n_dirs = 0;
}
