/* SPDX-License-Identifier: GPL-2.0-only */
/* Host checks: where cgroup2 is, whether socket matching works, cgroup ids,
 * and a bpffs to pin into. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "cgroup-util.h"
#include "cleanup-util.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Calls cb(mount_point, fstype, super_options) for each line of
 * /proc/self/mountinfo; cb returns >0 to stop with that value. */
static int mountinfo_foreach(int (*cb)(const char *mnt, const char *fstype, const char *opts, void *u),
			     void *userdata)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0;

	if (!f)
		return -errno;
	while (getline(&line, &n, f) > 0) {
		char *fields[10] = {0}, *save = NULL, *tok, *sep;
		int i = 0, r;

		/* The optional fields end at " - "; the fs type follows. */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && i < 5; tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		save = NULL;
		fields[5] = strtok_r(sep + 3, " \n", &save);   /* fstype */
		fields[6] = strtok_r(NULL, " \n", &save);      /* source */
		fields[7] = strtok_r(NULL, " \n", &save);      /* super options */
		if (!fields[5])
			continue;
		unescape_octal(fields[4]);
		r = cb(fields[4], fields[5], fields[7] ?: "", userdata);
		if (r != 0)
			return r;
	}
	return 0;
}

static int find_cgroup2(const char *mnt, const char *fstype, const char *opts, void *userdata)
{
	char **ret = userdata;

	if (strcmp(fstype, "cgroup2") != 0)
		return 0;
	*ret = strdup(mnt);
	return *ret ? 1 : -ENOMEM;
}

int np_cgroup2_mount(char **ret)
{
	char *found = NULL;
	int r;

	r = mountinfo_foreach(find_cgroup2, &found);
	if (r < 0)
		return r;
	if (!found)
		return -ENOMEDIUM;
	*ret = found;
	return 0;
}

static int has_opt(const char *opts, const char *want)
{
	size_t len = strlen(want);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, want, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return 1;
	return 0;
}

static int find_netcls_v1(const char *mnt, const char *fstype, const char *opts, void *userdata)
{
	return strcmp(fstype, "cgroup") == 0 && (has_opt(opts, "net_cls") || has_opt(opts, "net_prio"));
}

/* /proc/cgroups lists a v1 hierarchy id for net_cls/net_prio once either is
 * mounted anywhere, in any mount namespace. */
static int netcls_in_proc_cgroups(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cgroups", "re");
	char name[64];
	unsigned hier, num, enabled;

	if (!f)
		return 0;
	fscanf(f, "%*[^\n]\n");
	while (fscanf(f, "%63s %u %u %u\n", name, &hier, &num, &enabled) == 4)
		if ((strcmp(name, "net_cls") == 0 || strcmp(name, "net_prio") == 0) && hier != 0)
			return 1;
	return 0;
}

int np_cgroup_socket_matching_ok(void)
{
	int r = mountinfo_foreach(find_netcls_v1, NULL);

	if (r < 0)
		return r;
	if (r > 0 || netcls_in_proc_cgroups())
		return -EPROTO;
	return 0;
}

int np_cgroup_id(const char *path, uint64_t *ret)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh.handle_bytes = sizeof(uint64_t)};
	int mount_id;

	/* cgroup2's file handle is the 64-bit kernfs id: the same value
	 * bpf_get_current_cgroup_id() returns. */
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EOPNOTSUPP;
	*ret = h.id;
	return 0;
}

static int is_bpffs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs) < 0)
		return -errno;
	return sfs.f_type == BPF_FS_MAGIC;
}

int np_bpffs_ensure(const char *dir)
{
	_cleanup_free_ char *parent = strdup(dir);
	char *slash;
	int r;

	if (!parent)
		return -ENOMEM;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';

	r = is_bpffs(parent);
	if (r < 0)
		return r;
	if (r == 0) {
		/* Mount it the way systemd does: root only. */
		if (mount("bpf", parent, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
			return -errno;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	r = is_bpffs(dir);
	if (r < 0)
		return r;
	return r ? 0 : -ENOTDIR;
}
