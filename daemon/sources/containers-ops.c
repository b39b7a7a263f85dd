/* SPDX-License-Identifier: GPL-2.0-only */
/* The containers source as the manager and the control methods see it:
 * its ops table, and the answers about the containers it knows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-util.h"
#include "cleanup-util.h"
#include "containers-internal.h"
#include "log.h"

static void containers_problems(void *userdata, json_t *problems);

/* By full id, name, or a unique prefix of the id, as docker takes them. */
static int containers_resolve(void *userdata, const char *target, struct target *ret, const char **why)
{
	struct containers *cs = userdata;
	const char *s = target_id(target);
	struct ctr *found = NULL;
	uint64_t id;

	if (!s)
		return -EOPNOTSUPP;
	/* An id before a name: a container may be named like another's id. */
	found = ctr_by_id(cs, s);
	for (size_t i = 0; i < cs->n_ctrs && !found; i++) {
		if (!cs->ctrs[i]->name || strcmp(cs->ctrs[i]->name, s) != 0)
			continue;
		/* Each engine has its own names: docker's and podman's "web". */
		for (size_t k = i + 1; k < cs->n_ctrs; k++)
			if (cs->ctrs[k]->name && strcmp(cs->ctrs[k]->name, s) == 0) {
				*why = "the name names more than one container (in two engines): give its id";
				return -EINVAL;
			}
		found = cs->ctrs[i];
	}
	for (size_t i = 0; i < cs->n_ctrs && !found; i++) {
		if (strncmp(cs->ctrs[i]->id, s, strlen(s)) != 0)
			continue;
		for (size_t k = i + 1; k < cs->n_ctrs; k++)
			if (strncmp(cs->ctrs[k]->id, s, strlen(s)) == 0) {
				*why = "the id prefix names more than one container";
				return -EINVAL;
			}
		found = cs->ctrs[i];
	}
	if (!found) {
		*why = "no such container";
		return -ENOENT;
	}
	if (ctr_target(found, ret) < 0)
		return -ENOMEM;
	if (found->running && found->cgroup && np_cgroup_id(found->cgroup, &id) >= 0) {
		ret->path = strdup(found->cgroup);
		ret->cgroup_id = id;
		if (!ret->path)
			return -ENOMEM;
	}
	return 0;
}

/* The id a runtime's cgroup name carries ("[PREFIX-]ID[.scope]"). */
static bool id_of_cgroup(const char *path, char id[TARGET_CONTAINER_ID_LEN + 1])
{
	const char *name = strrchr(path, '/');

	return name && target_cgroup_name_id(name + 1, id);
}

static void early_done(struct containers *cs, struct early *x)
{
	for (size_t i = 0; i < cs->n_early; i++)
		if (cs->early[i] == x) {
			cs->early[i] = cs->early[--cs->n_early];
			break;
		}
	free(x);
}

static void on_early_inspect(void *userdata, int error, const char *message, const struct docker_container *d)
{
	struct early *x = userdata;
	struct containers *cs = x->cs;
	struct ctr *c;

	if (error < 0)
		log_debug("Inspecting a container seen first as a cgroup failed: %s",
			  message ?: strerror(-error));
	if (error >= 0 && d && !ctr_by_id(cs, d->id)) {
		log_debug("Inspected container %.12s (%s) when its cgroup appeared.", d->id, d->name ?: "?");
		c = ctr_upsert(cs, x->engine, d);
		if (c)
			apply_label(cs, c);
	}
	early_done(cs, x);
}

/* Asks every engine about a container not known yet, once at a time. */
static void inspect_early(struct containers *cs, const char *id)
{
	for (size_t i = 0; i < cs->n_early; i++)
		if (strcmp(cs->early[i]->id, id) == 0)
			return;
	for (size_t i = 0; i < cs->n_engines && cs->n_early < CONTAINERS_EARLY_MAX; i++) {
		struct engine *en = &cs->engines[i];
		struct early *x;

		if (!engine_link_connected(en->client))
			continue;
		x = calloc(1, sizeof(*x));
		if (!x)
			return;
		*x = (struct early){.cs = cs, .engine = en};
		memcpy(x->id, id, sizeof(x->id));
		if (engine_link_inspect(en->client, id, on_early_inspect, x) < 0) {
			free(x);
			continue;
		}
		cs->early[cs->n_early++] = x;
	}
}

/* A container's cgroup came before its create event (podman's events come
 * through a file, a second or more late): ask the engines at once, so that
 * its label binds before its first instruction, as for Docker. */
static void containers_cgroup_made(void *userdata, const char *path)
{
	struct containers *cs = userdata;
	char id[TARGET_CONTAINER_ID_LEN + 1];

	if (!id_of_cgroup(path, id) || ctr_by_id(cs, id))
		return;
	log_debug("Cgroup '%s' of a container not known yet: inspecting it.", path);
	inspect_early(cs, id);
}

static int containers_prepare(void *userdata, const char *target, pid_t pid, const char **why)
{
	struct containers *cs = userdata;
	const char *id = target_id(target);
	struct ctr *c = id ? ctr_by_id(cs, id) : NULL;
	bool failed;

	if (!id)
		return -EOPNOTSUPP;
	if (!c) {
		/* The hook asks again; the engines' answer is on its way. */
		inspect_early(cs, id);
		*why = "no such container (not known yet: ask again)";
		return -ENOENT;
	}
	failed = c->image_state == IMAGE_FAILED;
	apply_label(cs, c);
	if (c->image_state == IMAGE_ASKING && !failed) {
		/* Its label binds once its image's answer is in: moments away. */
		*why = "its image's labels are being read (ask again)";
		return -ENOENT;
	}
	ctr_running(cs, c, pid);
	return 0;
}

static json_t *ctr_json(const struct ctr *c)
{
	json_t *j = json_pack("{s:s, s:s?, s:s?, s:s?}", "id", c->id, "name", c->name, "image", c->image,
			      "engine", c->engine ? engine_link_engine(c->engine->client) : NULL);

	if (j && c->project)
		(void)json_object_set_new(j, "project", json_string(c->project));
	if (j && c->service)
		(void)json_object_set_new(j, "service", json_string(c->service));
	return j;
}

static json_t *containers_describe(void *userdata, const char *target)
{
	struct containers *cs = userdata;
	const char *id = target_id(target);
	struct ctr *c = id ? ctr_by_id(cs, id) : NULL;

	if (!c && id) /* bound, but no engine knows it now */
		return json_pack("{s:s}", "id", id);
	return c ? ctr_json(c) : NULL;
}

/* The first directory on the path named by a known container's id: below
 * it, a container that may write its cgroup names its own directories,
 * another container's id as well. */
static char *containers_target_of_cgroup(void *userdata, const char *path)
{
	struct containers *cs = userdata;
	_cleanup_free_ char *copy = strdup(path);
	char t[CTR_TARGET_SIZE];

	for (char *name = copy, *end; name; name = end + 1) {
		bool last;

		end = name + strcspn(name, "/");
		last = *end == '\0';
		*end = '\0';
		for (size_t i = 0; i < cs->n_ctrs; i++)
			if (target_cgroup_name_is(name, cs->ctrs[i]->id))
				return strdup(ctr_target_name(cs->ctrs[i], t));
		if (last)
			break;
	}
	return NULL;
}

static void containers_released(void *userdata, const char *target)
{
	struct containers *cs = userdata;
	const char *id = target_id(target);
	struct ctr *c = id ? ctr_by_id(cs, id) : NULL;

	if (!c)
		return;
	apply_label(cs, c);
	realize_known(cs, c);
}

static void containers_policy_added(void *userdata, const char *name)
{
	struct containers *cs = userdata;

	if (cs->m->config.container_default_policy &&
	    strcmp(cs->m->config.container_default_policy, name) == 0)
		apply_default(cs);
	for (size_t i = 0; i < cs->n_ctrs; i++)
		if (cs->ctrs[i]->policy && strcmp(cs->ctrs[i]->policy, name) == 0) {
			apply_label(cs, cs->ctrs[i]);
			realize_known(cs, cs->ctrs[i]);
		}
}

static json_t *containers_status(void *userdata)
{
	struct containers *cs = userdata;
	_cleanup_json_ json_t *engines = json_array(), *problems = json_array();

	if (!engines || !problems)
		return NULL;
	for (size_t i = 0; i < cs->n_engines; i++) {
		struct engine *en = &cs->engines[i];
		size_t n = 0;

		for (size_t k = 0; k < cs->n_ctrs; k++)
			n += cs->ctrs[k]->engine == en;
		if (json_array_append_new(
			engines, json_pack("{s:s, s:s?, s:s?, s:b, s:i, s:s?}", "socket", en->socket,
					   "engine", engine_link_engine(en->client), "api_version",
					   engine_link_api_version(en->client), "connected", en->connected,
					   "containers", (int)n, "error", en->message)) < 0)
			return NULL;
	}
	containers_problems(cs, problems);
	return json_pack("{s:O, s:s?, s:O}", "engines", engines, "default_policy",
			 cs->default_pol ? cs->default_pol->policy->name : NULL, "problems", problems);
}

static void containers_problems(void *userdata, json_t *problems)
{
	struct containers *cs = userdata;

	if (cs->default_problem)
		(void)json_array_append_new(problems, json_pack("{s:s}", "message", cs->default_problem));
	for (size_t i = 0; i < cs->n_ctrs; i++) {
		struct ctr *c = cs->ctrs[i];
		char target[CTR_TARGET_SIZE];

		if (!c->problem)
			continue;
		ctr_target_name(c, target);
		(void)json_array_append_new(problems,
					    json_pack("{s:s, s:o, s:s}", "target", target, "container",
						      ctr_json(c), "message", c->problem));
	}
}

static void containers_warnings(void *userdata, const char *target, json_t *warnings)
{
	struct containers *cs = userdata;
	const char *id = target_id(target);
	struct ctr *c = id ? ctr_by_id(cs, id) : NULL;

	if (c && c->net_raw)
		(void)json_array_append_new(
		    warnings,
		    json_string("its processes may hold CAP_NET_RAW: packets sent through AF_PACKET "
				"pass no cgroup hook; start it with --cap-drop NET_RAW"));
}

const struct np_source_ops containers_source_ops = {
    .name = "containers",
    .origin = NP_ORIGIN_LABEL,
    .start = containers_start,
    .stop = containers_stop,
    .resolve = containers_resolve,
    .describe = containers_describe,
    .target_of_cgroup = containers_target_of_cgroup,
    .cgroup_made = containers_cgroup_made,
    .released = containers_released,
    .prepare = containers_prepare,
    .policy_added = containers_policy_added,
    .status = containers_status,
    .problems = containers_problems,
    .warnings = containers_warnings,
};
