/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "manager-save.h"
#include "state.h"
#include "target.h"

struct manager_snapshot {
	char *state_dir;
	size_t n;
	struct {
		uint32_t id;
		const struct np_policy *policy;
	} pols[];
};

struct manager_snapshot *manager_snapshot_free(struct manager_snapshot *s)
{
	if (s)
		free(s->state_dir);
	free(s);
	return NULL;
}

int manager_snapshot_new(const char *state_dir, struct np_pol *const *pols, unsigned n_pols,
			 struct manager_snapshot **ret)
{
	_cleanup_(manager_snapshot_freep) struct manager_snapshot *s = NULL;

	s = calloc(1, sizeof(*s) + n_pols * sizeof(s->pols[0]));
	if (!s)
		return -ENOMEM;
	s->state_dir = strdup(state_dir);
	if (!s->state_dir)
		return -ENOMEM;
	for (unsigned i = 1; i < NP_MAX_POLICIES && s->n < n_pols; i++)
		if (pols[i]) {
			s->pols[s->n].id = i;
			s->pols[s->n++].policy = pols[i]->policy;
		}
	*ret = TAKE_PTR(s);
	return 0;
}

static json_t *policies_to_json(const struct manager_snapshot *s)
{
	_cleanup_json_ json_t *pols = json_array();

	if (!pols)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		json_t *p = np_policy_to_json(s->pols[i].policy);

		if (!p || json_array_append_new(
			      pols, json_pack("{s:i, s:o}", "id", (int)s->pols[i].id, "policy", p)) < 0)
			return NULL;
	}
	return json_pack("{s:i, s:o}", "version", NP_STATE_VERSION, "policies", TAKE_PTR(pols));
}

int manager_snapshot_write(const struct manager_snapshot *s)
{
	_cleanup_json_ json_t *j = policies_to_json(s);
	_cleanup_free_ char *text = NULL;

	if (!j)
		return -ENOMEM;
	text = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (!text)
		return -ENOMEM;
	return state_write_atomic(s->state_dir, NP_STATE_POLICIES_FILE, text, strlen(text), 0600);
}

/* A named target's cgroup now, below the cgroup root (where a restart
 * finds it again), or null; a unit's is where systemd makes it, whether
 * it is there now or not. */
static json_t *saved_cgroup(const struct np_bind *b, const char *cgroup_root)
{
	const char *rel = b->path ? target_path_rel(b->path, cgroup_root) : NULL;

	if (strncmp(b->target, "unit:", 5) == 0 && b->match)
		rel = target_path_rel(b->match, cgroup_root);
	else if (strncmp(b->target, "container:", 10) != 0)
		return NULL;
	return rel ? json_string(rel) : NULL;
}

static json_t *binding_to_json(const struct np_bind *b, const struct np_pol *pol, const char *cgroup_root)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "target", b->target, "policy", pol ? pol->policy->name : "",
			      "origin", np_origin_name(b->origin));
	json_t *cgroup = saved_cgroup(b, cgroup_root);

	if (j && cgroup && json_object_set_new(j, "cgroup", cgroup) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *bindings_to_json(const struct np_bind *binds, size_t n_binds, struct np_pol *const *pols,
				const char *cgroup_root, const struct np_bind *exclude)
{
	_cleanup_json_ json_t *array = json_array();

	if (!array)
		return NULL;
	for (size_t i = 0; i < n_binds; i++) {
		uint32_t id = binds[i].policy_id;
		const struct np_pol *pol = id > 0 && id < NP_MAX_POLICIES ? pols[id] : NULL;

		if (&binds[i] == exclude)
			continue;
		if (json_array_append_new(array, binding_to_json(&binds[i], pol, cgroup_root)) < 0)
			return NULL;
	}
	return json_pack("{s:i, s:o}", "version", NP_STATE_VERSION, "bindings", TAKE_PTR(array));
}

char *manager_bindings_text(const struct np_bind *binds, size_t n_binds, struct np_pol *const *pols,
			    const char *cgroup_root, const struct np_bind *exclude)
{
	_cleanup_json_ json_t *j = bindings_to_json(binds, n_binds, pols, cgroup_root, exclude);

	return j ? json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
}
