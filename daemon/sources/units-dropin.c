/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The drop-ins that gate a bound service's start (docs/units.md):
 * DROPIN_ROOT/NAME.d/50-netpol.conf, written whole (a temporary file
 * renamed over it), recognised as netpold's by their first line, and never
 * written over a file of the same name that is not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "io-util.h"
#include "log.h"
#include "manager.h"
#include "units-internal.h"
#include "units-text.h"

#define DROPIN_MAX 4096

bool units_is_netpold(const char *name)
{
	return strcmp(name, "netpold.service") == 0 || strcmp(name, "netpold.socket") == 0;
}

static bool is_service(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, ".service") == 0;
}

/* The file's text, at most DROPIN_MAX bytes; -ENOENT if there is none. */
static int read_small(const char *path, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return -errno;
	buf = malloc(DROPIN_MAX + 1);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, DROPIN_MAX);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int dropin_paths(const char *root, const char *name, char **ret_dir, char **ret_file)
{
	if (asprintf(ret_dir, "%s/%s.d", root, name) < 0)
		return -ENOMEM;
	if (asprintf(ret_file, "%s/" UNITS_DROPIN_NAME, *ret_dir) < 0) {
		free(*ret_dir);
		return -ENOMEM;
	}
	return 0;
}

static int write_atomic(const char *dir, const char *file, const char *text)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&tmp, "%s/.#" UNITS_DROPIN_NAME "XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = np_write_full(fd, text, strlen(text));
	if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = -errno;
	if (r >= 0 && rename(tmp, file) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

int units_dropin_write(struct units *us, const char *name)
{
	_cleanup_free_ char *dir = NULL, *file = NULL, *text = NULL, *old = NULL;
	int r;

	if (!is_service(name))
		return 0; /* a scope is bound when its cgroup appears; a slice is there first */
	r = units_dropin_text(name, us->gate, &text);
	if (r < 0)
		return r;
	r = dropin_paths(us->dropin_root, name, &dir, &file);
	if (r < 0)
		return r;
	r = read_small(file, &old);
	if (r >= 0 && strcmp(old, text) == 0)
		return 0;
	if (r >= 0 && !units_dropin_is_ours(old))
		return -EEXIST;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = write_atomic(dir, file, text);
	return r < 0 ? r : 1;
}

static int dropin_remove(const char *root, const char *name)
{
	_cleanup_free_ char *dir = NULL, *file = NULL, *old = NULL;
	int r;

	r = dropin_paths(root, name, &dir, &file);
	if (r < 0)
		return r;
	r = read_small(file, &old);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!units_dropin_is_ours(old))
		return 0;
	if (unlink(file) < 0)
		return -errno;
	(void)rmdir(dir); /* if nothing else is in it */
	return 1;
}

int units_dropin_remove(struct units *us, const char *name)
{
	return dropin_remove(us->dropin_root, name);
}

/* The service whose drop-in directory de_name is ("x.service.d"),
 * malloc()ed; 0 if it is none. */
static int dropin_dir_service(const char *de_name, char **ret)
{
	size_t n = strlen(de_name);

	if (n < 11 || strcmp(de_name + n - 10, ".service.d") != 0)
		return 0;
	*ret = strndup(de_name, n - 2);
	return *ret ? 1 : -ENOMEM;
}

int units_dropins_remove_all(const char *root, unsigned *ret_removed, unsigned *ret_left)
{
	_cleanup_(closedirp) DIR *d = opendir(root);
	unsigned removed = 0, left = 0;
	struct dirent *de;
	int r, ret = 0;

	if (!d && errno != ENOENT)
		ret = log_error_errno(-errno, "Cannot read '%s' for netpold's drop-ins: %m", root);
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *name = NULL;

		r = dropin_dir_service(de->d_name, &name);
		if (r < 0)
			return log_oom();
		if (r == 0)
			continue;
		r = dropin_remove(root, name);
		if (r < 0) {
			log_error_errno(r, "Cannot remove '%s/%s/" UNITS_DROPIN_NAME "', netpold's gate: %m",
					root, de->d_name);
			left++;
			ret = ret ?: r;
		} else if (r > 0) {
			log_info("Removed the gate's drop-in of %s.", name);
			removed++;
		}
	}
	*ret_removed = removed;
	*ret_left = left;
	return ret;
}

int units_dropins_sync(struct units *us)
{
	_cleanup_(closedirp) DIR *d = opendir(us->dropin_root);
	bool changed = false;
	struct dirent *de;
	int r;

	/* Those no binding needs: left by a netpold that stopped before the
	 * unbind was saved, or bindings.json restored from elsewhere. */
	while (d && (de = readdir(d))) {
		_cleanup_free_ char *name = NULL;

		r = dropin_dir_service(de->d_name, &name);
		if (r < 0)
			return log_oom();
		if (r == 0 || units_binding(us, name))
			continue;
		r = units_dropin_remove(us, name);
		if (r < 0)
			log_warning_errno(
			    r, "Cannot remove netpold's drop-in of %s, which no binding needs: %m", name);
		else if (r > 0) {
			log_info("Removed netpold's drop-in of %s: it is not bound.", name);
			changed = true;
		}
	}
	for (size_t i = 0; i < us->m->n_binds; i++) {
		const char *t = us->m->binds[i].target;

		if (strncmp(t, "unit:", 5) != 0)
			continue;
		r = units_dropin_write(us, t + 5);
		if (r < 0)
			log_error_errno(r,
					"Cannot write the gate's drop-in of %s: %m; its starts are policed "
					"once its cgroup is seen, which may be after its first instruction.",
					t + 5);
		changed |= r > 0;
	}
	return changed;
}
