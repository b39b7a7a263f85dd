/* SPDX-License-Identifier: GPL-2.0-only */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup-names.h"
#include "cgroup-util.h"
#include "cleanup-util.h"
#include "log.h"

#define CG_WALK_MAX    200000
#define CG_WALK_DEPTH  64
#define CG_REWALK_USEC (2ull * 1000000)

void cgroup_names_clear(struct cgroup_names *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].target);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static int cg_name_cmp(const void *a, const void *b)
{
	const struct cg_name *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct cg_walk {
	struct cg_name *v;
	size_t n, cap;
	size_t root_len; /* strlen(cgroup root) */
};

static int walk_add(struct cg_walk *w, const char *path)
{
	uint64_t id;

	if (w->n >= CG_WALK_MAX)
		return -E2BIG;
	if (np_cgroup_id(path, &id) < 0)
		return 0; /* vanished meanwhile */
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct cg_name *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	if (asprintf(&w->v[w->n].target, "cgroup:%s", path[w->root_len] ? path + w->root_len : "/") < 0)
		return -ENOMEM;
	w->v[w->n++].id = id;
	return 0;
}

static int walk_dir(struct cg_walk *w, const char *path, unsigned depth)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	r = walk_add(w, path);
	if (r < 0 || depth >= CG_WALK_DEPTH)
		return r;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
			return -ENOMEM;
		r = walk_dir(w, sub, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One walk of the attach cgroup's subtree names every cgroup the programs
 * can report; rate-limited, since events may name cgroups that are gone. */
static void refresh(struct cgroup_names *c)
{
	const char *root = c->roots->cgroup_root, *attach = c->roots->attach_cgroup;
	struct cg_walk w = {.root_len = strcmp(root, "/") == 0 ? 0 : strlen(root)};
	uint64_t now = now_usec();
	int r;

	if (c->walked_usec && now - c->walked_usec < CG_REWALK_USEC)
		return;
	c->walked_usec = now;
	r = walk_dir(&w, attach, 0);
	if (r < 0 && r != -E2BIG) {
		log_warning_errno(r, "Failed to walk the cgroups below '%s', ignoring: %m", attach);
		for (size_t i = 0; i < w.n; i++)
			free(w.v[i].target);
		free(w.v);
		return;
	}
	qsort(w.v, w.n, sizeof(*w.v), cg_name_cmp);
	cgroup_names_clear(c);
	c->v = w.v;
	c->n = w.n;
}

static const char *lookup(const struct cgroup_names *c, uint64_t id)
{
	struct cg_name key = {.id = id}, *found;

	if (!c->v)
		return NULL;
	found = bsearch(&key, c->v, c->n, sizeof(key), cg_name_cmp);
	return found ? found->target : NULL;
}

char *cgroup_names_get(struct cgroup_names *c, uint64_t cgroup_id)
{
	const char *name = lookup(c, cgroup_id);
	char *s;

	if (!name) {
		refresh(c);
		name = lookup(c, cgroup_id);
	}
	if (name)
		return strdup(name);
	if (asprintf(&s, "cgroup-id:%llu", (unsigned long long)cgroup_id) < 0)
		return NULL;
	return s;
}
