/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"
#include "state-parse.h"
#include "state.h"

#define STATE_MAX (256u * 1024 * 1024)

/*
 * Bad state never lifts a policy: the whole state is read and checked (the
 * files by np_state_parse(), then the targets against the cgroup tree)
 * before anything in the kernel changes, and whatever is wrong stops the
 * start with one message naming the file and the entry. The pinned
 * programs go on enforcing what they had until the state is fixed.
 */
static int refuse(struct manager *m, const char *file, const char *entry, const char *reason)
{
	return log_error_errno(
	    -EINVAL,
	    "Refusing to start: %s/%s: %s%s%s. The kernel keeps enforcing what it had; fix "
	    "the state and start netpold again.",
	    m->state_dir, file, entry, entry[0] ? ": " : "", reason);
}

/* dir/file into *t; t->text stays NULL when the file does not exist. */
static int read_state_file(struct manager *m, const char *file, struct np_state_text *t)
{
	char *text = NULL;
	int r;

	r = state_read(m->state_dir, file, STATE_MAX, &text, &t->len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Refusing to start: cannot read '%s/%s': %m", m->state_dir, file);
	t->text = text;
	return 0;
}

static int load_state(struct manager *m, struct np_saved_state *ret)
{
	struct np_state_files f = {};
	struct np_state_error err;
	int r;

	r = read_state_file(m, NP_STATE_POLICIES_FILE, &f.policies);
	if (r >= 0)
		r = read_state_file(m, NP_STATE_BINDINGS_FILE, &f.bindings);
	if (r >= 0 && !f.policies.text && !f.bindings.text)
		r = read_state_file(m, NP_STATE_LEGACY_FILE, &f.legacy);
	if (r >= 0) {
		r = np_state_parse(&f, ret, &err);
		if (r == -ENOMEM)
			r = log_oom();
		else if (r < 0)
			r = refuse(m, err.file, err.entry, err.reason);
	}
	free((char *)f.policies.text);
	free((char *)f.bindings.text);
	free((char *)f.legacy.text);
	return r;
}

static int count_binding(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	(*(size_t *)userdata)++;
	return 0;
}

/* Without bindings in the state, the kernel's bindings would all be lifted:
 * only right when the kernel has none (a first start, or one cut short
 * before bindings.json was first written). */
static int check_state_covers_kernel(struct manager *m, const struct np_saved_state *s)
{
	size_t n = 0;
	int r;

	if (s->source != NP_STATE_NONE && s->source != NP_STATE_POLICIES_ONLY)
		return 0;
	r = np_dataplane_bindings_foreach(m->dp, count_binding, &n);
	if (r < 0)
		return log_error_errno(r, "Failed to read the kernel's bindings: %m");
	if (n == 0)
		return 0;
	if (s->source == NP_STATE_POLICIES_ONLY)
		return log_error_errno(
		    -ENOENT,
		    "Refusing to start: %s/" NP_STATE_BINDINGS_FILE " is missing, but the "
		    "pins in '%s' hold %zu binding(s) of cgroups to policies; starting without it "
		    "would lift them. Restore the file (or remove the pins to start afresh).",
		    m->state_dir, np_dataplane_pin_dir(m->dp), n);
	return log_error_errno(
	    -ENOENT,
	    "Refusing to start: the state directory '%s' holds no state (" NP_STATE_POLICIES_FILE
	    " and " NP_STATE_BINDINGS_FILE " are missing), but the pins in '%s' hold %zu "
	    "binding(s) of cgroups to policies; starting empty would lift them. Restore the "
	    "state files (or remove the pins to start afresh).",
	    m->state_dir, np_dataplane_pin_dir(m->dp), n);
}

static int target_id_cmp(const void *a, const void *b)
{
	const struct target *const *x = a, *const *y = b;

	return (*x)->cgroup_id < (*y)->cgroup_id ? -1 : (*x)->cgroup_id > (*y)->cgroup_id;
}

/* Two targets of one cgroup: the kernel holds one binding per cgroup. */
static int check_distinct_cgroups(struct manager *m, const struct np_saved_state *s, struct target *t)
{
	_cleanup_free_ struct target **v = calloc(s->n_bindings ?: 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return log_oom();
	for (size_t i = 0; i < s->n_bindings; i++)
		if (t[i].target && t[i].path)
			v[n++] = &t[i];
	qsort(v, n, sizeof(*v), target_id_cmp);
	for (size_t i = 1; i < n; i++)
		if (v[i - 1]->cgroup_id == v[i]->cgroup_id) {
			char entry[160];

			snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')", (size_t)(v[i] - t),
				 v[i]->target);
			return refuse(m, np_state_bindings_file(s), entry,
				      "names the same cgroup as another binding");
		}
	return 0;
}

/* A container (or a unit) keeps its binding without a cgroup: it gets one when it
 * runs. The cgroup it had when the state was saved is its cgroup still if
 * that directory has the id the kernel's binding names. */
static int resolve_saved_container(struct manager *m, const struct np_state_binding *sb, struct target *t)
{
	_cleanup_(target_done) struct target c = {};
	_cleanup_free_ char *cg = NULL;
	const char *why;

	t->target = strdup(sb->target);
	if (!t->target)
		return -ENOMEM;
	/* A unit is known by its cgroup's path: it binds at early boot, the
	 * moment systemd makes the cgroup, before netpold hears from systemd. */
	if (strncmp(sb->target, "unit:", 5) == 0) {
		if (sb->cgroup && target_join_root(m->cgroup_root, sb->cgroup, &t->match) < 0)
			return -ENOMEM;
	} else if (!(t->match = strdup(strchr(sb->target, ':') + 1)))
		return -ENOMEM;
	if (!sb->cgroup)
		return 0;
	if (asprintf(&cg, "cgroup:%s", sb->cgroup) < 0)
		return -ENOMEM;
	if (target_resolve(&m->targets, cg, &c, &why) < 0)
		return 0; /* gone, or no longer below the attach cgroup */
	t->path = TAKE_PTR(c.path);
	t->cgroup_id = c.cgroup_id;
	return 0;
}

/* The state's targets as cgroups (ret[i] for bindings[i]). A cgroup that is
 * gone polices nothing and its id is never reused: that binding is dropped
 * (ret[i].target NULL). Any other target that does not resolve is bad state. */
static int resolve_bindings(struct manager *m, const struct np_saved_state *s, struct target **ret)
{
	const char *file = np_state_bindings_file(s);
	struct target *t = calloc(s->n_bindings ?: 1, sizeof(*t));
	int r = 0;

	if (!t)
		return log_oom();
	for (size_t i = 0; i < s->n_bindings && r >= 0; i++) {
		const char *why = "";
		char entry[160];

		if (strncmp(s->bindings[i].target, "container:", 10) == 0 ||
		    strncmp(s->bindings[i].target, "unit:", 5) == 0) {
			r = resolve_saved_container(m, &s->bindings[i], &t[i]);
			if (r < 0)
				r = log_oom();
			continue;
		}
		r = target_resolve(&m->targets, s->bindings[i].target, &t[i], &why);
		if (r == -ENOMEM) {
			r = log_oom();
		} else if (r == -ENOENT) {
			log_warning("%s/%s: bindings[%zu]: the cgroup of '%s' is gone; dropping its binding.",
				    m->state_dir, file, i, s->bindings[i].target);
			r = 0;
		} else if (r < 0) {
			snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')", i,
				 s->bindings[i].target);
			r = refuse(m, file, entry, why);
		}
	}
	if (r >= 0)
		r = check_distinct_cgroups(m, s, t);
	if (r < 0) {
		for (size_t i = 0; i < s->n_bindings; i++)
			target_done(&t[i]);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

/* The same content under the same ids: an atomic replace of identical
 * tries, so a restart opens no window. */
static int install_state(struct manager *m, struct np_saved_state *s, const struct target *t)
{
	int r;

	for (size_t i = 0; i < s->n_policies; i++) {
		struct np_state_policy *p = &s->policies[i];

		r = np_dataplane_install(m->dp, p->id, p->policy->name, p->compiled);
		if (r < 0)
			return log_error_errno(r, "Failed to re-install policy '%s' (id %u): %m",
					       p->policy->name, p->id);
		r = manager_register_policy(m, p->id, p->policy, p->compiled, NULL);
		if (r < 0)
			return log_oom();
		p->policy = NULL;
		p->compiled = NULL;
	}
	for (size_t i = 0; i < s->n_bindings; i++) {
		if (!t[i].target)
			continue;
		r = t[i].path ? np_dataplane_bind(m->dp, t[i].cgroup_id, s->bindings[i].policy_id) : 0;
		if (r < 0)
			return log_error_errno(r, "Failed to re-bind '%s': %m", t[i].target);
		r = manager_push_binding(m, &t[i], s->bindings[i].policy_id, s->bindings[i].origin, NULL);
		if (r < 0)
			return log_oom();
	}
	return 0;
}

/* The source of the state, or <0 (logged). */
static int restore_state(struct manager *m)
{
	_cleanup_(np_state_done) struct np_saved_state s = {};
	struct target *t = NULL;
	int r;

	r = load_state(m, &s);
	if (r < 0)
		return r;
	r = resolve_bindings(m, &s, &t);
	if (r < 0)
		return r;
	r = check_state_covers_kernel(m, &s);
	if (r >= 0)
		r = install_state(m, &s, t);
	for (size_t i = 0; i < s.n_bindings; i++)
		target_done(&t[i]);
	free(t);
	return r < 0 ? r : (int)s.source;
}

/* The cgroup ids of the kernel's bindings that the state does not list. */
struct stale_ids {
	struct manager *m;
	uint64_t *v;
	size_t n, cap;
};

static int collect_stale_binding(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	struct stale_ids *l = userdata;
	struct np_bind *b = manager_binding_by_cgroup(l->m, cgroup_id);

	if (b && b->policy_id == policy_id)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = cgroup_id;
	return 0;
}

static void log_stale_binding(struct manager *m, uint64_t cgroup_id)
{
	_cleanup_free_ char *name = manager_cgroup_target(m, cgroup_id);

	log_warning("Removed the binding of '%s' (cgroup id %llu): the state does not list it, so it "
		    "was never acknowledged.",
		    name ?: "?", (unsigned long long)cgroup_id);
}

/* The kernel follows the state (after ours were re-established): what the
 * state does not list is a change netpold made but never acknowledged,
 * because it stopped between the kernel change and the save; that change is
 * rolled back. A state without bindings never gets here while the kernel
 * has some (check_state_covers_kernel()). */
static int reconcile(struct manager *m)
{
	struct stale_ids stale = {.m = m};
	char name[NP_POLICY_NAME_MAX];
	int r;

	r = np_dataplane_bindings_foreach(m->dp, collect_stale_binding, &stale);
	if (r < 0) {
		free(stale.v);
		return log_error_errno(r, "Failed to read the kernel's bindings: %m");
	}
	for (size_t i = 0; i < stale.n; i++) {
		r = np_dataplane_unbind(m->dp, stale.v[i]);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(
			    r, "Failed to remove the stale binding of cgroup id %llu, ignoring: %m",
			    (unsigned long long)stale.v[i]);
		else
			log_stale_binding(m, stale.v[i]);
	}
	free(stale.v);

	for (uint32_t id = 1; id < NP_MAX_POLICIES; id++) {
		if (m->pols[id] || np_dataplane_policy_name(m->dp, id, name) < 0)
			continue;
		r = np_dataplane_remove(m->dp, id);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "Failed to remove stale policy '%s' (id %u), ignoring: %m", name,
					  id);
		else
			log_notice("Removed policy '%s' (id %u), which the state does not list.", name, id);
	}
	return 0;
}

static int install_presets(struct manager *m)
{
	for (const char *const *n = np_preset_names(); *n; n++) {
		_cleanup_(np_policy_freep) struct np_policy *p = NULL;
		_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
		struct np_error err = {};
		uint32_t id;
		int r;

		r = np_policy_from_string(np_preset_json(*n), &p, &err);
		if (r >= 0)
			r = np_policy_compile(p, &c, &err);
		if (r < 0)
			return log_error_errno(r, "Built-in policy '%s' does not compile: %s: %s", *n,
					       err.field, err.message);
		r = manager_free_policy_id(m, &id);
		if (r < 0)
			return log_error_errno(r, "No policy id left for built-in policy '%s'.", *n);
		r = np_dataplane_install(m->dp, id, p->name, c);
		if (r < 0)
			return log_error_errno(r, "Failed to install built-in policy '%s': %m", *n);
		r = manager_register_policy(m, id, p, c, NULL);
		if (r < 0)
			return log_oom();
		TAKE_PTR(p);
		TAKE_PTR(c);
	}
	return 0;
}

int manager_restore(struct manager *m)
{
	bool first;
	int r;

	r = state_dir_ensure(m->state_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to create the state directory '%s': %m", m->state_dir);
	r = restore_state(m);
	if (r < 0)
		return r;
	first = r == NP_STATE_NONE;
	r = reconcile(m);
	if (r < 0)
		return r;
	if (first) {
		r = install_presets(m);
		if (r < 0)
			return r;
		log_info("First start: created the built-in policies; nothing is bound.");
	}
	r = manager_save(m);
	if (r < 0)
		return r;
	/* Saved in the two-file layout: a version-1 state.json has served. */
	r = state_remove(m->state_dir, NP_STATE_LEGACY_FILE);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the old '%s/" NP_STATE_LEGACY_FILE "', ignoring: %m",
				  m->state_dir);
	log_info("Restored %u policies and %zu bindings.", m->n_pols, m->n_binds);
	return 0;
}
