/* SPDX-License-Identifier: GPL-2.0-only */
/* target_resolve(): the part of targets (target.h) that reads the cgroup tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "cgroup-util.h"
#include "cleanup-util.h"
#include "target.h"

static int check_cgroup_dir(const char *path, const char **why)
{
	struct statfs sfs;
	struct stat st;

	if (stat(path, &st) < 0) {
		*why = errno == ENOENT ? "no such cgroup" : "cannot access the cgroup";
		return errno == ENOENT ? -ENOENT : -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = "not a cgroup directory";
		return -EXDEV;
	}
	if (statfs(path, &sfs) < 0)
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		*why = "not a directory on the cgroup2 file system";
		return -EXDEV;
	}
	return 0;
}

/* rel: the normalized path after "cgroup:". */
static int resolve_cgroup(const struct target_root *root, const char *rel, struct target *t, const char **why)
{
	_cleanup_free_ char *path = NULL;
	uint64_t id;
	int r;

	r = target_join_root(root->cgroup_root, rel, &path);
	if (r < 0)
		return r;
	r = check_cgroup_dir(path, why);
	if (r < 0)
		return r;
	if (!target_path_below(path, root->attach_cgroup)) {
		*why = "the cgroup is outside the attach cgroup, where netpol's programs do not run";
		return -EXDEV;
	}
	r = np_cgroup_id(path, &id);
	if (r < 0) {
		*why = "cannot read the cgroup's id";
		return r;
	}
	t->path = TAKE_PTR(path);
	t->cgroup_id = id;
	return 0;
}

int target_resolve(const struct target_root *root, const char *s, struct target *ret, const char **why)
{
	_cleanup_(target_done) struct target t = {};
	enum target_kind kind;
	int r;

	r = target_parse(s, &kind, &t.target, why);
	if (r < 0)
		return r;
	switch (kind) {
	case TARGET_CGROUP:
		r = resolve_cgroup(root, strchr(t.target, ':') + 1, &t, why);
		break;
	case TARGET_CONTAINER:
		/* Only netpold's container sources know containers. */
		*why = "no such container (netpold follows no container engine that knows it)";
		r = -ENOENT;
		break;
	case TARGET_UNIT:
		*why = "systemd units are known by netpold's units source only";
		r = -ENOENT;
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0)
		return r;
	*ret = t;
	t = (struct target){};
	return 0;
}
