/* SPDX-License-Identifier: GPL-2.0-only */
/* The binding sources, as the manager and the control methods see them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"
#include "source.h"

void manager_start_sources(struct manager *m, const struct np_source_ops *const *sources)
{
	m->source_table = sources;
	for (size_t i = 0; sources && sources[i] && m->n_sources < MANAGER_MAX_SOURCES; i++) {
		const struct np_source_ops *ops = sources[i];
		void *userdata = NULL;

		if (ops->start(m, m->event, &userdata) < 0) {
			log_warning("The %s source did not start; what is bound stays enforced.", ops->name);
			continue;
		}
		m->sources[m->n_sources++] = (struct manager_source){ops, userdata};
	}
}

void manager_forget_sources(struct manager *m, json_t *result)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->forget)
			m->sources[i].ops->forget(m->sources[i].userdata, result);
}

void manager_stop_sources(struct manager *m)
{
	while (m->n_sources > 0) {
		struct manager_source *s = &m->sources[--m->n_sources];

		s->ops->stop(s->userdata);
	}
}

int manager_resolve_target(struct manager *m, const char *s, struct target *ret, const char **why)
{
	_cleanup_free_ char *normal = NULL;
	enum target_kind kind;
	int r;

	r = target_parse(s, &kind, &normal, why);
	if (r < 0 || kind == TARGET_CGROUP)
		return r < 0 ? r : target_resolve(&m->targets, s, ret, why);
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct np_source_ops *ops = m->sources[i].ops;

		if (!ops->resolve)
			continue;
		r = ops->resolve(m->sources[i].userdata, normal, ret, why);
		if (r != -EOPNOTSUPP)
			return r;
	}
	if (kind == TARGET_UNIT) {
		*why = "systemd is not reachable: netpold's units source is not running";
		return -EHOSTDOWN;
	}
	*why = m->config.container_sockets && m->config.container_sockets[0]
		   ? "no such container"
		   : "no such container (netpold follows no container engine: container_sockets is empty)";
	return -ENOENT;
}

int manager_target_name(struct manager *m, const char *s, char **ret, const char **why)
{
	_cleanup_(target_done) struct target t = {};
	_cleanup_free_ char *normal = NULL;
	enum target_kind kind;
	int r;

	r = target_parse(s, &kind, &normal, why);
	if (r < 0)
		return r;
	/* A container the engines no longer know may still be bound by id. */
	if (kind == TARGET_CONTAINER && manager_resolve_target(m, normal, &t, why) >= 0) {
		*ret = TAKE_PTR(t.target);
		return 0;
	}
	*ret = TAKE_PTR(normal);
	return 0;
}

void manager_sources_answered(struct manager *m)
{
	if (m->answered)
		m->answered(m->answered_userdata);
}

json_t *manager_target_info(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct np_source_ops *ops = m->sources[i].ops;
		json_t *j = ops->describe ? ops->describe(m->sources[i].userdata, target) : NULL;

		if (j)
			return j;
	}
	return NULL;
}

char *manager_sources_target_of_cgroup(struct manager *m, const char *path)
{
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct np_source_ops *ops = m->sources[i].ops;
		char *t = ops->target_of_cgroup ? ops->target_of_cgroup(m->sources[i].userdata, path) : NULL;

		if (t)
			return t;
	}
	return NULL;
}

void manager_sources_cgroup_made(struct manager *m, const char *path)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->cgroup_made)
			m->sources[i].ops->cgroup_made(m->sources[i].userdata, path);
}

void manager_target_bound(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->bound)
			m->sources[i].ops->bound(m->sources[i].userdata, target);
}

bool manager_target_settling(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->settling && m->sources[i].ops->settling(m->sources[i].userdata, target))
			return true;
	return false;
}

void manager_target_released(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->released)
			m->sources[i].ops->released(m->sources[i].userdata, target);
}

void manager_policy_added(struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->policy_added)
			m->sources[i].ops->policy_added(m->sources[i].userdata, name);
}

int manager_prepare_target(struct manager *m, const char *target, pid_t pid, const char **why)
{
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct np_source_ops *ops = m->sources[i].ops;
		int r = ops->prepare ? ops->prepare(m->sources[i].userdata, target, pid, why) : -EOPNOTSUPP;

		if (r != -EOPNOTSUPP)
			return r;
	}
	*why = "no container engine followed knows it";
	return -ENOENT;
}

void manager_sources_problems(struct manager *m, json_t *problems)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->problems)
			m->sources[i].ops->problems(m->sources[i].userdata, problems);
}

void manager_target_warnings(struct manager *m, const char *target, json_t *warnings)
{
	for (size_t i = 0; i < m->n_sources; i++)
		if (m->sources[i].ops->warnings)
			m->sources[i].ops->warnings(m->sources[i].userdata, target, warnings);
}

json_t *manager_sources_status(struct manager *m)
{
	_cleanup_json_ json_t *j = json_object();

	if (!j)
		return NULL;
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct np_source_ops *ops = m->sources[i].ops;
		json_t *s = ops->status ? ops->status(m->sources[i].userdata) : NULL;

		if (s && json_object_set_new(j, ops->name, s) < 0)
			return NULL;
	}
	return TAKE_PTR(j);
}
