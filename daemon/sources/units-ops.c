/* SPDX-License-Identifier: GPL-2.0-only */
/* The units source as the manager and the control methods see it: its ops
 * table, and the answers about the units it knows. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "cleanup-util.h"
#include "log.h"
#include "manager.h"
#include "units-internal.h"
#include "units-text.h"

/* The name in "unit:NAME", or NULL. */
static const char *unit_name(const char *target)
{
	return strncmp(target, "unit:", 5) == 0 ? target + 5 : NULL;
}

/* /proc/PID/cgroup, whole (a few lines; more is not a process's). */
static int read_proc_cgroup(pid_t pid, char **ret)
{
	_cleanup_free_ char *buf = malloc(4096);
	_cleanup_close_ int fd = -EBADF;
	char proc[64];
	size_t len = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < 4095 && (n = read(fd, buf + len, 4095 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Why, for a reply: lives until the next call. */
static char why_buf[512];

static int units_resolve(void *userdata, const char *target, struct target *ret, const char **why)
{
	struct units *us = userdata;
	const char *name = unit_name(target);
	_cleanup_(target_done) struct target t = {};
	struct unit *u;
	uint64_t it = 0, id;

	if (!name)
		return -EOPNOTSUPP;
	if (units_is_netpold(name)) {
		*why = "netpold's own units are never bound: netpold would police its own control socket";
		return -EINVAL;
	}
	if (!us->connected && us->subscribe)
		return -EINPROGRESS; /* connecting: on_subscribe() or disconnect() answers */
	if (!us->connected) {
		snprintf(why_buf, sizeof(why_buf), "systemd is not reachable: %s",
			 us->error[0] ? us->error : "connecting");
		*why = why_buf;
		return -EHOSTDOWN;
	}
	u = unit_get(us, name);
	if (!u)
		return -ENOMEM;
	(void)sd_event_get_iteration(us->event, &it);
	/* A bound unit's answer is kept up to date; any other's is asked for
	 * each request (systemd may drop a unit it does not need). */
	if (!u->known || (!u->changed && u->known_iteration != it)) {
		if (!u->fetch && unit_fetch(us, u) < 0) {
			*why = "systemd is not reachable: cannot ask it";
			return -EHOSTDOWN;
		}
		return -EINPROGRESS;
	}
	if (u->error < 0) {
		snprintf(why_buf, sizeof(why_buf), "%s", u->why);
		*why = why_buf;
		return u->error == -ENOENT ? -ENOENT : -EINVAL;
	}
	t.target = strdup(target);
	if (!t.target || target_join_root(us->m->cgroup_root, u->cgroup, &t.match) < 0)
		return -ENOMEM;
	if (!target_path_below(t.match, us->m->attach_cgroup)) {
		snprintf(why_buf, sizeof(why_buf),
			 "its cgroup %s is outside the attach cgroup %s, where netpol's programs do not run",
			 u->cgroup, us->m->attach_cgroup);
		*why = why_buf;
		return -EXDEV;
	}
	if (np_cgroup_id(t.match, &id) >= 0) {
		t.path = strdup(t.match);
		if (!t.path)
			return -ENOMEM;
		t.cgroup_id = id;
	}
	*ret = t;
	t = (struct target){};
	return 0;
}

static json_t *units_describe(void *userdata, const char *target)
{
	struct units *us = userdata;
	const char *name = unit_name(target);
	struct unit *u = name ? unit_find(us, name) : NULL;

	if (!name)
		return NULL;
	return json_pack("{s:s, s:s?}", "unit", name, "active_state", u ? u->active_state : NULL);
}

/* The first unit on the path below the slices: systemd names that
 * directory; below it a service with Delegate= names its own. */
static char *units_target_of_cgroup(void *userdata, const char *path)
{
	struct units *us = userdata;
	const char *rel = target_path_rel(path, us->m->cgroup_root);

	for (const char *p = rel ? rel + 1 : ""; *p;) {
		size_t n = strcspn(p, "/");
		_cleanup_free_ char *t = NULL, *normal = NULL;
		const char *why, *name = p;

		if (n > 6 && strncmp(p + n - 6, ".slice", 6) == 0) {
			p += n + (p[n] == '/');
			continue;
		}
		if (*name == '_') /* systemd's escape (units_cg_escape()) */
			name++, n--;
		if (asprintf(&t, "unit:%.*s", (int)n, name) < 0)
			return NULL;
		if (target_normalize(t, &normal, &why) < 0)
			return NULL;
		return TAKE_PTR(normal);
	}
	return NULL;
}

static void units_bound(void *userdata, const char *target)
{
	struct units *us = userdata;
	const char *name = unit_name(target);
	struct unit *u = name ? unit_get(us, name) : NULL;
	int r;

	if (!u)
		return;
	unit_follow(us, u, true);
	r = us->connected ? units_dropin_write(us, name) : 0;
	if (r > 0)
		u->reload_needed = units_reload(us);
	u->dropin_problem[0] = '\0';
	if (r == -EEXIST)
		snprintf(u->dropin_problem, sizeof(u->dropin_problem),
			 "%s/%s.d/" UNITS_DROPIN_NAME " is not netpold's: its starts are not gated, and are "
			 "policed once its cgroup is seen, which may be after its first instruction",
			 us->dropin_root, name);
	else if (r < 0)
		snprintf(u->dropin_problem, sizeof(u->dropin_problem),
			 "its gate's drop-in cannot be written (%s): its starts are policed once its cgroup "
			 "is seen, which may be after its first instruction",
			 strerror(-r));
	if (u->dropin_problem[0])
		log_error("%s: %s.", target, u->dropin_problem);
}

static void units_released(void *userdata, const char *target)
{
	struct units *us = userdata;
	const char *name = unit_name(target);
	struct unit *u = name ? unit_find(us, name) : NULL;
	int r;

	if (!name)
		return;
	if (u) {
		unit_follow(us, u, false);
		u->dropin_problem[0] = '\0';
	}
	r = units_dropin_remove(us, name);
	if (r < 0)
		log_warning_errno(r,
				  "Cannot remove the gate's drop-in of %s: %m; its starts fail until it is "
				  "removed or the unit is bound again.",
				  name);
	else if (r > 0)
		(void)units_reload(us);
}

/* A service's drop-in is written and systemd has not reloaded yet: its
 * next start would not be gated. */
static bool units_settling(void *userdata, const char *target)
{
	struct units *us = userdata;
	const char *name = unit_name(target);
	struct unit *u = name ? unit_find(us, name) : NULL;

	return u && u->reload_needed > us->reload_done;
}

/* The gate (ExecCondition=) runs in the unit's new cgroup, before its
 * first instruction: pid is the gate's, its cgroup is the one to bind. */
static int units_prepare(void *userdata, const char *target, pid_t pid, const char **why)
{
	struct units *us = userdata;
	const char *name = unit_name(target), *want;
	_cleanup_free_ char *text = NULL, *rel = NULL, *path = NULL, *escaped = NULL;
	struct np_bind *b;
	struct unit *u;
	int r;

	if (!name)
		return -EOPNOTSUPP;
	b = manager_binding_by_target(us->m, target);
	if (!b)
		return 0;
	r = read_proc_cgroup(pid, &text);
	if (r >= 0)
		r = units_proc_cgroup(text, &rel);
	if (r < 0) {
		snprintf(why_buf, sizeof(why_buf), "cannot read the cgroup of the caller (pid %d): %s",
			 (int)pid, strerror(-r));
		*why = why_buf;
		return -EXDEV;
	}
	want = b->match ? target_path_rel(b->match, us->m->cgroup_root) : NULL;
	if (!want || !units_cgroup_is(rel, want, name)) {
		const char *last = strrchr(rel, '/');

		if (units_cg_escape(name, &escaped) < 0)
			return -ENOMEM;
		snprintf(why_buf, sizeof(why_buf),
			 "the caller runs in cgroup %s, not in %s, the cgroup of %s", rel,
			 want ?: "(not known yet)", name);
		*why = why_buf;
		if (!last || strcmp(last + 1, escaped) != 0)
			return -EXDEV;
		/* The unit's own cgroup, elsewhere: systemd moved it (a new
		 * Slice=) and netpold has not heard yet. */
		u = unit_get(us, name);
		if (u)
			(void)unit_fetch(us, u);
		return -ENOENT;
	}
	r = target_join_root(us->m->cgroup_root, rel, &path);
	if (r < 0)
		return r;
	r = manager_realize(us->m, target, path);
	if (r < 0) {
		snprintf(why_buf, sizeof(why_buf), "its binding cannot be put on cgroup %s: %s", rel,
			 strerror(-r));
		*why = why_buf;
		return -EXDEV;
	}
	return 0;
}

static json_t *units_status(void *userdata)
{
	struct units *us = userdata;
	size_t n = 0;

	for (size_t i = 0; i < us->m->n_binds; i++)
		n += strncmp(us->m->binds[i].target, "unit:", 5) == 0;
	return json_pack("{s:s, s:s?, s:s?, s:i}", "systemd", us->connected ? "connected" : "unavailable",
			 "bus", us->connected ? us->bus_name : NULL, "error", us->error[0] ? us->error : NULL,
			 "bound_units", (int)n);
}

static void units_problems(void *userdata, json_t *problems)
{
	struct units *us = userdata;

	for (size_t i = 0; i < us->n_units; i++) {
		struct unit *u = us->units[i];
		char target[TARGET_UNIT_NAME_MAX + 8];

		snprintf(target, sizeof(target), "unit:%s", u->name);
		if (!manager_binding_by_target(us->m, target))
			continue;
		if (u->known && u->error < 0)
			(void)json_array_append_new(
			    problems, json_pack("{s:s, s:s}", "target", target, "message", u->why));
		if (u->dropin_problem[0])
			(void)json_array_append_new(problems, json_pack("{s:s, s:s}", "target", target,
									"message", u->dropin_problem));
	}
	if (!us->connected && !us->subscribe) /* not while connecting */
		for (size_t i = 0; i < us->m->n_binds; i++)
			if (strncmp(us->m->binds[i].target, "unit:", 5) == 0) {
				(void)json_array_append_new(
				    problems,
				    json_pack("{s:s}", "message",
					      "systemd is not reachable: bound units keep the cgroup "
					      "path they had, and are not followed"));
				break;
			}
}

const struct np_source_ops units_source_ops = {
    .name = "units",
    .origin = NP_ORIGIN_EXPLICIT,
    .start = units_start,
    .stop = units_stop,
    .forget = units_forget,
    .resolve = units_resolve,
    .describe = units_describe,
    .target_of_cgroup = units_target_of_cgroup,
    .bound = units_bound,
    .settling = units_settling,
    .released = units_released,
    .prepare = units_prepare,
    .status = units_status,
    .problems = units_problems,
};
