/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bindings: target -> policy, in the kernel cgroup id -> policy id.
 *
 * A cgroup target's binding lives as long as its cgroup. A named target's
 * (a container's: it has a match, target.h) outlives its cgroups: it is
 * kept while the target has no cgroup, and realized, bound in the kernel,
 * on each new cgroup the moment the directory appears (cgroup-watch.h) or a
 * source names it (manager_realize()). Realizing is not a change anyone
 * waits for: the kernel first, bindings.json soon after (a restart that
 * misses it finds the cgroup again through the source).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"

static void bind_done(struct np_bind *b)
{
	free(b->target);
	free(b->path);
	free(b->match);
}

void manager_bindings_free(struct manager *m)
{
	for (size_t i = 0; i < m->n_binds; i++)
		bind_done(&m->binds[i]);
	free(m->binds);
	m->binds = NULL;
	m->n_binds = m->cap_binds = 0;
	m->save_soon = sd_event_source_disable_unref(m->save_soon);
}

struct np_bind *manager_binding_by_target(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_binds; i++)
		if (strcmp(m->binds[i].target, target) == 0)
			return &m->binds[i];
	return NULL;
}

struct np_bind *manager_binding_by_cgroup(struct manager *m, uint64_t cgroup_id)
{
	if (cgroup_id == 0) /* a named target without a cgroup now */
		return NULL;
	for (size_t i = 0; i < m->n_binds; i++)
		if (m->binds[i].cgroup_id == cgroup_id)
			return &m->binds[i];
	return NULL;
}

struct np_bind *manager_binding_for_path(struct manager *m, const char *path)
{
	struct np_bind *best = NULL;

	for (size_t i = 0; i < m->n_binds; i++)
		if (m->binds[i].path && target_path_below(path, m->binds[i].path) &&
		    (!best || strlen(m->binds[i].path) > strlen(best->path)))
			best = &m->binds[i];
	return best;
}

static int strdup_or_null(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return !s || *ret ? 0 : -ENOMEM;
}

int manager_push_binding(struct manager *m, const struct target *t, uint32_t policy_id, enum np_origin origin,
			 struct np_bind **ret)
{
	struct np_bind b = {
	    .cgroup_id = t->path ? t->cgroup_id : 0, .policy_id = policy_id, .origin = origin};

	if (m->n_binds == m->cap_binds) {
		size_t cap = m->cap_binds ? m->cap_binds * 2 : 16;
		struct np_bind *v = realloc(m->binds, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->binds = v;
		m->cap_binds = cap;
	}
	b.target = strdup(t->target);
	if (!b.target || strdup_or_null(t->path, &b.path) < 0 || strdup_or_null(t->match, &b.match) < 0) {
		bind_done(&b);
		return -ENOMEM;
	}
	m->binds[m->n_binds] = b;
	if (ret)
		*ret = &m->binds[m->n_binds];
	m->n_binds++;
	m->pols[policy_id]->n_bound++;
	if (t->path)
		cgroup_watch_parent(&m->cgroup_watch, t->path);
	return 0;
}

static void drop_binding(struct manager *m, struct np_bind *b)
{
	struct np_pol *pol = manager_policy_by_id(m, b->policy_id);

	if (pol && pol->n_bound > 0)
		pol->n_bound--;
	bind_done(b);
	*b = m->binds[--m->n_binds];
}

static void set_binding_policy(struct manager *m, struct np_bind *b, uint32_t policy_id,
			       enum np_origin origin)
{
	struct np_pol *old = manager_policy_by_id(m, b->policy_id);

	if (old && old->n_bound > 0)
		old->n_bound--;
	b->policy_id = policy_id;
	b->origin = origin;
	m->pols[policy_id]->n_bound++;
}

/* Targets without a cgroup now have nothing in the kernel. */
static int kernel_bind(struct manager *m, uint64_t cgroup_id, uint32_t policy_id)
{
	return cgroup_id ? np_dataplane_bind(m->dp, cgroup_id, policy_id) : 0;
}

static int kernel_unbind(struct manager *m, uint64_t cgroup_id)
{
	int r = cgroup_id ? np_dataplane_unbind(m->dp, cgroup_id) : 0;

	return r == -ENOENT ? 0 : r;
}

/* ---- saving soon ---- */

static int on_save_soon(sd_event_source *s, void *userdata)
{
	struct manager *m = userdata;

	m->save_soon = sd_event_source_disable_unref(m->save_soon);
	(void)manager_save_bindings(m, NULL); /* logged */
	return 0;
}

/* Once per turn of the loop, however many cgroups came and went in it. */
static void save_soon(struct manager *m)
{
	if (m->save_soon)
		return;
	if (sd_event_add_defer(m->event, &m->save_soon, on_save_soon, m) < 0)
		(void)manager_save_bindings(m, NULL);
}

/* ---- realizing a named target ---- */

static int watch_towards(struct manager *m, const char *match);

/* b's binding moves to the cgroup id at path: the new one first, so that
 * nothing of the target runs unbound. */
static int move_to_cgroup(struct manager *m, struct np_bind *b, const char *path, uint64_t id)
{
	_cleanup_free_ char *copy = strdup(path);
	int r;

	if (!copy)
		return -ENOMEM;
	r = np_dataplane_bind(m->dp, id, b->policy_id);
	if (r < 0)
		return r;
	if (b->cgroup_id && b->cgroup_id != id)
		(void)kernel_unbind(m, b->cgroup_id);
	free(b->path);
	b->path = TAKE_PTR(copy);
	b->cgroup_id = id;
	cgroup_watch_parent(&m->cgroup_watch, path);
	return 0;
}

static int realize_logged(struct manager *m, struct np_bind *b, const char *path, bool log)
{
	struct np_pol *pol = manager_policy_by_id(m, b->policy_id);
	struct np_bind *other;
	uint64_t id;
	int r;

	if (!target_path_below(path, m->attach_cgroup))
		return log_warning_errno(-EXDEV,
					 "The cgroup '%s' of '%s' is outside the attach cgroup '%s', where "
					 "netpol's programs do not run; it is not policed.",
					 path, b->target, m->attach_cgroup);
	r = np_cgroup_id(path, &id);
	if (r == -ENOENT) /* gone already: a short run */
		return r;
	if (r < 0)
		return log_warning_errno(r, "Cannot read the id of cgroup '%s' of '%s': %m", path, b->target);
	if (id == b->cgroup_id)
		return 0;
	other = manager_binding_by_cgroup(m, id);
	if (other)
		return log_warning_errno(-EEXIST,
					 "The cgroup '%s' of '%s' is bound as '%s' already; that binding "
					 "decides for it.",
					 path, b->target, other->target);
	r = move_to_cgroup(m, b, path, id);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s' (cgroup '%s') to policy '%s': %m", b->target,
				       path, pol ? pol->policy->name : "?");
	if (log)
		log_info("Bound '%s' (cgroup id %llu, %s) to policy '%s'.", b->target, (unsigned long long)id,
			 path, pol ? pol->policy->name : "?");
	save_soon(m);
	return 0;
}

static int realize(struct manager *m, struct np_bind *b, const char *path)
{
	return realize_logged(m, b, path, true);
}

static bool is_its_cgroup(const struct np_bind *b, const char *path)
{
	const char *name = strrchr(path, '/');

	if (!b->match)
		return false;
	if (b->match[0] == '/')
		return strcmp(b->match, path) == 0;
	return name && target_cgroup_name_is(name + 1, b->match);
}

/* A cgroup directory was made (cgroup-watch.h). */
void manager_cgroup_made(void *userdata, const char *path)
{
	struct manager *m = userdata;
	bool known = false;

	for (size_t i = 0; i < m->n_binds; i++) {
		struct np_bind *b = &m->binds[i];

		if (is_its_cgroup(b, path)) {
			(void)realize(m, b, path);
			known = true;
		} else if (b->match && b->match[0] == '/' && !b->path && target_path_below(b->match, path))
			/* On the way to an exact match: watch one level deeper. */
			(void)watch_towards(m, b->match);
	}
	/* A source may learn of it only now (podman's events come late). */
	if (!known)
		manager_sources_cgroup_made(m, path);
}

int manager_realize(struct manager *m, const char *target, const char *path)
{
	struct np_bind *b = manager_binding_by_target(m, target);

	if (!b || !b->match)
		return -ENOENT;
	return realize(m, b, path);
}

/* Watches the deepest existing directory on the way to an exact match
 * (the match itself included), and realizes it if it exists. */
static int watch_towards(struct manager *m, const char *match)
{
	_cleanup_free_ char *dir = strdup(match);
	char *slash;

	if (!dir)
		return -ENOMEM;
	while (cgroup_watch_dir(&m->cgroup_watch, dir) == -ENOENT) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir || !target_path_below(dir, m->cgroup_root))
			return -ENOENT;
		*slash = '\0';
	}
	return 0;
}

struct find_ctx {
	struct manager *m;
	struct np_bind *b;
	bool log;
};

static void find_existing_one(void *userdata, const char *path)
{
	struct find_ctx *c = userdata;

	if (!c->b->path && is_its_cgroup(c->b, path))
		(void)realize_logged(c->m, c->b, path, c->log);
}

/* A named target bound while its cgroup exists already (made before the
 * source learnt of it, or before netpold started). */
static void find_existing_logged(struct manager *m, struct np_bind *b, bool log)
{
	struct find_ctx c = {m, b, log};

	if (b->path || !b->match)
		return;
	if (b->match[0] == '/') {
		(void)watch_towards(m, b->match);
		if (access(b->match, F_OK) == 0)
			(void)realize_logged(m, b, b->match, log);
		return;
	}
	cgroup_watch_foreach_child(&m->cgroup_watch, find_existing_one, &c);
}

static void find_existing(struct manager *m, struct np_bind *b)
{
	find_existing_logged(m, b, true);
}

void manager_watch_cgroup_dir(struct manager *m, const char *dir)
{
	if (cgroup_watch_dir(&m->cgroup_watch, dir) == -ENOENT)
		(void)watch_towards(m, dir);
	/* Containers made before the directory was watched. */
	for (size_t i = 0; i < m->n_binds; i++)
		find_existing(m, &m->binds[i]);
}

/* ---- changes ---- */

/* A source changes only the bindings it made; an explicit request (a
 * person's) changes any, and the binding becomes explicit. */
static bool may_change(const struct np_bind *b, enum np_origin origin)
{
	return origin == NP_ORIGIN_EXPLICIT || b->origin == origin;
}

/* Re-applying to a bound target replaces its policy in one map update. */
static int rebind(struct manager *m, struct np_bind *b, struct np_pol *pol, enum np_origin origin)
{
	enum np_origin old_origin = b->origin;
	uint32_t old = b->policy_id;
	int r, k;

	r = kernel_bind(m, b->cgroup_id, pol->id);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s' to policy '%s': %m", b->target,
				       pol->policy->name);
	set_binding_policy(m, b, pol->id, origin);
	r = manager_save_bindings(m, NULL);
	if (r < 0) {
		k = kernel_bind(m, b->cgroup_id, old);
		if (k < 0)
			manager_rollback_failed(m, k, "the binding of", b->target);
		set_binding_policy(m, b, old, old_origin);
		return r;
	}
	return 0;
}

static struct np_bind *stale_binding(struct manager *m, const struct target *t)
{
	for (size_t i = 0; i < m->n_binds; i++)
		if (m->binds[i].cgroup_id != t->cgroup_id && strcmp(m->binds[i].target, t->target) == 0)
			return &m->binds[i];
	return NULL;
}

static int bind_new(struct manager *m, const struct target *t, struct np_pol *pol, enum np_origin origin)
{
	struct np_bind *b, *stale = NULL;
	int r, k;

	if (m->n_binds >= NP_MAX_BINDINGS)
		return -ENOSPC;
	r = kernel_bind(m, t->path ? t->cgroup_id : 0, pol->id);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s' to policy '%s': %m", t->target,
				       pol->policy->name);
	r = manager_push_binding(m, t, pol->id, origin, &b);
	if (r < 0) {
		(void)kernel_unbind(m, t->path ? t->cgroup_id : 0);
		return log_oom();
	}
	/* The same name may still be bound to a cgroup that was removed and
	 * created again: that stale id goes with this change. */
	if (!t->match)
		stale = stale_binding(m, t);
	r = manager_save_bindings(m, stale);
	if (r < 0) {
		k = kernel_unbind(m, b->cgroup_id);
		if (k < 0)
			manager_rollback_failed(m, k, "the binding of", t->target);
		drop_binding(m, b);
		return r;
	}
	if (stale) {
		(void)kernel_unbind(m, stale->cgroup_id);
		drop_binding(m, stale);
	}
	return 0;
}

/* The binding t names: a named target's by its name (it may have no
 * cgroup), any other's by its cgroup. */
static struct np_bind *existing(struct manager *m, const struct target *t)
{
	return t->match ? manager_binding_by_target(m, t->target)
			: manager_binding_by_cgroup(m, t->cgroup_id);
}

int manager_bind(struct manager *m, const struct target *t, struct np_pol *pol, enum np_origin origin,
		 struct np_bind **ret)
{
	struct np_bind *b = existing(m, t), *other;
	int r;

	r = manager_change_begin(m);
	if (r < 0)
		return r;
	if (b && !may_change(b, origin))
		return -EBUSY;
	other = t->match && t->path ? manager_binding_by_cgroup(m, t->cgroup_id) : NULL;
	if (other && other != b)
		return -EEXIST;
	if (b && t->match && (!b->match || strcmp(b->match, t->match) != 0)) {
		/* Restored as a plain cgroup binding, claimed by its source; or
		 * its next cgroup is elsewhere now (a unit's new Slice=). */
		char *match = strdup(t->match);

		if (!match)
			return log_oom();
		free(b->match);
		b->match = match;
	}
	if (b)
		r = rebind(m, b, pol, origin);
	else
		r = bind_new(m, t, pol, origin);
	if (r < 0)
		return r;
	b = manager_binding_by_target(m, t->target);
	if (t->match && t->path)
		(void)realize_logged(m, b, t->path, false);
	else
		find_existing_logged(m, b, false);
	if (b->cgroup_id)
		log_info("Bound '%s' (cgroup id %llu) to policy '%s'.", t->target,
			 (unsigned long long)b->cgroup_id, pol->policy->name);
	else
		log_info("Bound '%s' to policy '%s'; it has no cgroup now.", t->target, pol->policy->name);
	if (ret)
		*ret = b;
	return 0;
}

static int unbind(struct manager *m, struct np_bind *b)
{
	_cleanup_free_ char *target = strdup(b->target), *path = NULL, *match = NULL;
	struct target t = {.target = target, .cgroup_id = b->cgroup_id};
	enum np_origin origin = b->origin;
	uint32_t policy_id = b->policy_id;
	int r, k;

	if (!target || strdup_or_null(b->path, &path) < 0 || strdup_or_null(b->match, &match) < 0)
		return log_oom();
	t.path = path;
	t.match = match;
	r = kernel_unbind(m, t.cgroup_id);
	if (r < 0)
		return log_error_errno(r, "Failed to unbind '%s': %m", target);
	drop_binding(m, b);
	r = manager_save_bindings(m, NULL);
	if (r < 0) {
		k = kernel_bind(m, t.cgroup_id, policy_id);
		if (k >= 0)
			k = manager_push_binding(m, &t, policy_id, origin, NULL);
		if (k < 0)
			manager_rollback_failed(m, k, "the unbinding of", target);
		return r;
	}
	log_info("Unbound '%s'.", target);
	return 0;
}

int manager_unbind(struct manager *m, const char *target, enum np_origin origin)
{
	struct np_bind *b = manager_binding_by_target(m, target);
	int r;

	r = manager_change_begin(m);
	if (r < 0)
		return r;
	if (!b)
		return -ENOENT;
	if (!may_change(b, origin))
		return -EBUSY;
	return unbind(m, b);
}

int manager_forget(struct manager *m, const char *target)
{
	/* An explicit request changes a binding of any origin. */
	return manager_unbind(m, target, NP_ORIGIN_EXPLICIT);
}

/* ---- cgroups that went ---- */

static bool binding_gone(const struct np_bind *b)
{
	uint64_t id;
	int r;

	if (!b->path)
		return false;
	r = np_cgroup_id(b->path, &id);
	return r == -ENOENT || (r == 0 && id != b->cgroup_id);
}

/* A named target's cgroup went: the binding waits for the next one. */
static void unrealize(struct manager *m, struct np_bind *b)
{
	log_info("The cgroup of '%s' was removed; its binding waits for the next one.", b->target);
	(void)kernel_unbind(m, b->cgroup_id);
	free(b->path);
	b->path = NULL;
	b->cgroup_id = 0;
	save_soon(m);
}

/* A directory went below the parent of a bound cgroup (cgroup-watch.h). */
void manager_cgroups_gone(void *userdata)
{
	struct manager *m = userdata;

	/* From the end: dropping a binding moves the last one into its slot. */
	for (size_t i = m->n_binds; i-- > 0;) {
		struct np_bind *b = &m->binds[i];

		if (!binding_gone(b))
			continue;
		if (b->match) {
			unrealize(m, b);
			find_existing(m, b); /* its next cgroup may be there already */
			continue;
		}
		log_info("The cgroup of '%s' was removed; dropping its binding.", b->target);
		if (manager_change_begin(m) >= 0)
			(void)unbind(m, b);
	}
}
