/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How a cgroup id is shown: the bound target, or the cgroup's path, from a
 * cache of the attach cgroup's subtree (id -> path) walked again at most
 * every CG_REWALK_USEC when an id is not in it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"

#define CG_WALK_MAX    200000
#define CG_WALK_DEPTH  64
#define CG_REWALK_USEC (2ull * 1000000)

void cgroup_names_clear(struct manager *m)
{
	for (size_t i = 0; i < m->n_cg_names; i++)
		free(m->cg_names[i].target);
	free(m->cg_names);
	m->cg_names = NULL;
	m->n_cg_names = 0;
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
static void cg_names_refresh(struct manager *m)
{
	struct cg_walk w = {.root_len = strcmp(m->cgroup_root, "/") == 0 ? 0 : strlen(m->cgroup_root)};
	uint64_t now = manager_now_usec(CLOCK_MONOTONIC);
	int r;

	if (m->cg_walked_usec && now - m->cg_walked_usec < CG_REWALK_USEC)
		return;
	m->cg_walked_usec = now;
	r = walk_dir(&w, m->attach_cgroup, 0);
	if (r < 0 && r != -E2BIG) {
		log_warning_errno(r, "Failed to walk the cgroups below '%s', ignoring: %m", m->attach_cgroup);
		for (size_t i = 0; i < w.n; i++)
			free(w.v[i].target);
		free(w.v);
		return;
	}
	qsort(w.v, w.n, sizeof(*w.v), cg_name_cmp);
	cgroup_names_clear(m);
	m->cg_names = w.v;
	m->n_cg_names = w.n;
}

static const char *cg_name_lookup(struct manager *m, uint64_t id)
{
	struct cg_name key = {.id = id}, *found;

	if (!m->cg_names)
		return NULL;
	found = bsearch(&key, m->cg_names, m->n_cg_names, sizeof(key), cg_name_cmp);
	return found ? found->target : NULL;
}

char *manager_cgroup_target(struct manager *m, uint64_t cgroup_id)
{
	struct np_bind *b = manager_binding_by_cgroup(m, cgroup_id);
	const char *name;
	char *s;

	if (b)
		return strdup(b->target);
	name = cg_name_lookup(m, cgroup_id);
	if (!name) {
		cg_names_refresh(m);
		name = cg_name_lookup(m, cgroup_id);
	}
	if (name)
		return strdup(name);
	if (asprintf(&s, "cgroup-id:%llu", (unsigned long long)cgroup_id) < 0)
		return NULL;
	return s;
}
