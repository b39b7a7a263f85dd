/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The units source: systemd units bound by name (docs/units.md). It talks
 * to PID 1 over sd-bus, on netpold's event loop and asynchronously only:
 * its private socket first (there before dbus-daemon, at early boot), the
 * system bus if that cannot be had. It asks what a unit's cgroup is
 * (LoadUnit, then its properties), follows the bound units' changes
 * (Subscribe(), PropertiesChanged on their objects, Reloading) and
 * re-points a binding whose unit moved (a new Slice=), and connects again,
 * with a backoff, when PID 1 goes away (daemon-reexec).
 *
 * The binding itself is the manager's named-target machinery: its match
 * is the unit's cgroup path, where systemd makes the cgroup at each start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager.h"
#include "units-internal.h"
#include "units-text.h"

#define SD_DEST	     "org.freedesktop.systemd1"
#define SD_PATH	     "/org/freedesktop/systemd1"
#define SD_MANAGER   "org.freedesktop.systemd1.Manager"
#define SD_UNIT	     "org.freedesktop.systemd1.Unit"
#define PRIVATE_BUS  "unix:path=/run/systemd/private"
#define CALL_TIMEOUT (10 * 1000000ULL)
#define SYNC_TIMEOUT (5 * 1000000ULL)
#define BACKOFF_MIN  (100 * 1000ULL)
#define BACKOFF_MAX  (30 * 1000000ULL)

static void disconnect(struct units *us, const char *why, int error);

/* ---- the cache ---- */

static void unit_free(struct unit *u)
{
	if (!u)
		return;
	sd_bus_slot_unref(u->fetch);
	sd_bus_slot_unref(u->changed);
	free(u->name);
	free(u->object_path);
	free(u->load_state);
	free(u->active_state);
	free(u->cgroup);
	free(u);
}

struct unit *unit_find(struct units *us, const char *name)
{
	for (size_t i = 0; i < us->n_units; i++)
		if (strcmp(us->units[i]->name, name) == 0)
			return us->units[i];
	return NULL;
}

struct np_bind *units_binding(struct units *us, const char *name)
{
	char t[TARGET_UNIT_NAME_MAX + 8];

	snprintf(t, sizeof(t), "unit:%s", name);
	return manager_binding_by_target(us->m, t);
}

/* Forgets the units asked about once that are neither bound nor asked
 * about now: a client may ask about any number of names. */
static void units_trim(struct units *us)
{
	for (size_t i = us->n_units; i-- > 0 && us->n_units >= UNITS_CACHE_MAX;) {
		struct unit *u = us->units[i];

		if (u->fetch || u->changed || units_binding(us, u->name))
			continue;
		unit_free(u);
		us->units[i] = us->units[--us->n_units];
	}
}

struct unit *unit_get(struct units *us, const char *name)
{
	struct unit *u = unit_find(us, name), **v;

	if (u)
		return u;
	units_trim(us);
	if (us->n_units >= UNITS_CACHE_MAX)
		return NULL;
	v = realloc(us->units, (us->n_units + 1) * sizeof(*v));
	if (!v)
		return NULL;
	us->units = v;
	u = calloc(1, sizeof(*u));
	if (!u || !(u->name = strdup(name))) {
		free(u);
		return NULL;
	}
	u->us = us;
	us->units[us->n_units++] = u;
	return u;
}

/* ---- what systemd says of a unit ---- */

static void unit_answer(struct units *us, struct unit *u, int error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void unit_answer(struct units *us, struct unit *u, int error, const char *fmt, ...)
{
	va_list ap;

	u->fetch = sd_bus_slot_unref(u->fetch);
	u->error = error;
	u->why[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(u->why, sizeof(u->why), fmt, ap);
		va_end(ap);
	}
	u->known = true;
	(void)sd_event_get_iteration(us->event, &u->known_iteration);
}

/* A bound unit whose cgroup moved: its binding follows it (the next
 * cgroup it gets is the new one's). */
static void repoint(struct units *us, struct unit *u)
{
	_cleanup_(target_done) struct target t = {};
	char name[TARGET_UNIT_NAME_MAX + 8];
	struct np_bind *b;
	struct np_pol *pol;

	snprintf(name, sizeof(name), "unit:%s", u->name);
	b = manager_binding_by_target(us->m, name);
	if (!b || u->error < 0 || !u->cgroup)
		return;
	t.target = strdup(name);
	if (!t.target || target_join_root(us->m->cgroup_root, u->cgroup, &t.match) < 0) {
		log_oom();
		return;
	}
	if (b->match && strcmp(b->match, t.match) == 0)
		return;
	pol = manager_policy_by_id(us->m, b->policy_id);
	if (!pol)
		return;
	log_info("The cgroup of '%s' is now %s: its binding follows it.", name, t.match);
	(void)manager_bind(us->m, &t, pol, b->origin, NULL); /* logged */
}

/* The properties of an a{sv} that are strings, into the fields asked. */
static int read_props(sd_bus_message *reply, const char *const *names, char **values)
{
	int r;

	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *key, *contents, *s;
		size_t i;
		char type;

		r = sd_bus_message_read(reply, "s", &key);
		if (r < 0)
			return r;
		for (i = 0; names[i] && strcmp(names[i], key) != 0; i++)
			;
		r = sd_bus_message_peek_type(reply, &type, &contents);
		if (r < 0)
			return r;
		if (names[i] && contents && strcmp(contents, "s") == 0) {
			r = sd_bus_message_read(reply, "v", "s", &s);
			if (r < 0)
				return r;
			free(values[i]);
			values[i] = strdup(s);
			if (!values[i])
				return -ENOMEM;
		} else if ((r = sd_bus_message_skip(reply, "v")) < 0)
			return r;
		r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(reply);
}

/* The interface of a unit's type, where ControlGroup and Slice are. */
static const char *type_interface(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && strcmp(dot, ".service") == 0)
		return "org.freedesktop.systemd1.Service";
	if (dot && strcmp(dot, ".scope") == 0)
		return "org.freedesktop.systemd1.Scope";
	return "org.freedesktop.systemd1.Slice";
}

static void fetch_done(struct units *us, struct unit *u)
{
	bool again = u->refetch;

	u->refetch = false;
	repoint(us, u);
	manager_sources_answered(us->m);
	if (again)
		(void)unit_fetch(us, u);
}

static int on_type_props(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct unit *u = userdata;
	struct units *us = u->us;
	static const char *const names[] = {"ControlGroup", "Slice", NULL};
	char *values[2] = {};
	int r;

	if (sd_bus_message_is_method_error(reply, NULL)) {
		unit_answer(us, u, -EIO, "systemd did not tell its cgroup: %s",
			    sd_bus_message_get_error(reply)->message ?: "?");
		goto done;
	}
	r = read_props(reply, names, values);
	if (r < 0) {
		unit_answer(us, u, r, "systemd's answer about it could not be read: %s", strerror(-r));
		goto done;
	}
	free(u->cgroup);
	u->cgroup = NULL;
	r = units_cgroup_path(u->name, values[1], values[0], &u->cgroup);
	if (r < 0)
		unit_answer(us, u, r == -ENOMEM ? r : -EINVAL,
			    "systemd names no cgroup for it (ControlGroup '%s', Slice '%s')", values[0] ?: "",
			    values[1] ?: "");
	else
		unit_answer(us, u, 0, NULL);
done:
	free(values[0]);
	free(values[1]);
	fetch_done(us, u);
	return 0;
}

static int on_unit_props(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct unit *u = userdata;
	struct units *us = u->us;
	static const char *const names[] = {"LoadState", "ActiveState", NULL};
	char *values[2] = {};
	int r;

	if (sd_bus_message_is_method_error(reply, NULL)) {
		unit_answer(us, u, -EIO, "systemd did not tell its state: %s",
			    sd_bus_message_get_error(reply)->message ?: "?");
		fetch_done(us, u);
		return 0;
	}
	r = read_props(reply, names, values);
	free(u->load_state);
	free(u->active_state);
	u->load_state = values[0];
	u->active_state = values[1];
	if (r < 0 || !u->load_state) {
		unit_answer(us, u, r < 0 ? r : -EIO, "systemd's answer about it could not be read");
		fetch_done(us, u);
		return 0;
	}
	if (strcmp(u->load_state, "not-found") == 0) {
		unit_answer(us, u, -ENOENT, "no such unit (systemd finds no unit file for it)");
	} else if (strcmp(u->load_state, "masked") == 0) {
		unit_answer(us, u, -ENOENT, "the unit is masked");
	} else if (strcmp(u->load_state, "loaded") != 0 && strcmp(u->load_state, "stub") != 0 &&
		   strcmp(u->load_state, "merged") != 0) {
		unit_answer(us, u, -EINVAL, "systemd could not load the unit (load state '%s')",
			    u->load_state);
	} else {
		sd_bus_slot_unref(u->fetch);
		u->fetch = NULL;
		r = sd_bus_call_method_async(us->bus, &u->fetch, SD_DEST, u->object_path,
					     "org.freedesktop.DBus.Properties", "GetAll", on_type_props, u,
					     "s", type_interface(u->name));
		if (r >= 0)
			return 0;
		unit_answer(us, u, r, "cannot ask systemd: %s", strerror(-r));
	}
	fetch_done(us, u);
	return 0;
}

static int on_load_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct unit *u = userdata;
	struct units *us = u->us;
	const char *path;
	int r;

	if (sd_bus_message_is_method_error(reply, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(reply);

		unit_answer(us, u,
			    sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit") ? -ENOENT : -EIO,
			    "systemd refused it: %s", e->message ?: e->name);
		fetch_done(us, u);
		return 0;
	}
	r = sd_bus_message_read(reply, "o", &path);
	if (r >= 0) {
		free(u->object_path);
		u->object_path = strdup(path);
		if (!u->object_path)
			r = -ENOMEM;
	}
	if (r >= 0) {
		u->fetch = sd_bus_slot_unref(u->fetch);
		r = sd_bus_call_method_async(us->bus, &u->fetch, SD_DEST, u->object_path,
					     "org.freedesktop.DBus.Properties", "GetAll", on_unit_props, u,
					     "s", SD_UNIT);
	}
	if (r >= 0) {
		if (units_binding(us, u->name))
			unit_follow(us, u, true);
		return 0;
	}
	unit_answer(us, u, r, "cannot ask systemd: %s", strerror(-r));
	fetch_done(us, u);
	return 0;
}

int unit_fetch(struct units *us, struct unit *u)
{
	int r;

	if (!us->connected)
		return -EHOSTDOWN;
	if (u->fetch) {
		u->refetch = true;
		return 0;
	}
	r = sd_bus_call_method_async(us->bus, &u->fetch, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit",
				     on_load_unit, u, "s", u->name);
	if (r < 0)
		return log_warning_errno(r, "Cannot ask systemd about %s: %m", u->name);
	return 0;
}

/* ---- following the bound units ---- */

static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct unit *u = userdata;

	/* The signal only says to look: what counts is systemd's answer to
	 * netpold's own question (anyone on the system bus may send one). */
	(void)unit_fetch(u->us, u);
	return 0;
}

void unit_follow(struct units *us, struct unit *u, bool on)
{
	_cleanup_free_ char *match = NULL;

	if (!on || !us->connected || !u->object_path) {
		if (!on)
			u->changed = sd_bus_slot_unref(u->changed);
		return;
	}
	if (u->changed)
		return;
	if (asprintf(&match,
		     "type='signal',path='%s',interface='org.freedesktop.DBus.Properties',"
		     "member='PropertiesChanged'",
		     u->object_path) < 0) {
		log_oom();
		return;
	}
	if (sd_bus_add_match_async(us->bus, &u->changed, match, on_changed, NULL, u) < 0)
		log_warning("Cannot follow the changes of %s; its binding follows the cgroup it has now.",
			    u->name);
}

/* Every bound unit, asked about again: after a connect or a reload. */
static void fetch_bound(struct units *us)
{
	for (size_t i = 0; i < us->m->n_binds; i++) {
		const char *t = us->m->binds[i].target;
		struct unit *u;

		if (strncmp(t, "unit:", 5) != 0)
			continue;
		u = unit_get(us, t + 5);
		if (u)
			(void)unit_fetch(us, u);
	}
}

/* ---- Reload ---- */

static int on_reload(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct units *us = userdata;

	us->reload = sd_bus_slot_unref(us->reload);
	us->reload_done = us->reload_sent;
	if (sd_bus_message_is_method_error(reply, NULL))
		log_warning("systemd's reload failed (%s): a bound service's gate takes effect at the "
			    "next 'systemctl daemon-reload'.",
			    sd_bus_message_get_error(reply)->message ?: "?");
	if (us->reload_again) {
		us->reload_again = false;
		(void)units_reload(us);
	}
	/* An apply waits for it (units_settling()). */
	manager_sources_answered(us->m);
	return 0;
}

uint64_t units_reload(struct units *us)
{
	int r;

	if (!us->connected) {
		us->reload_wanted = true;
		return us->reload_sent + 1;
	}
	if (us->reload) {
		us->reload_again = true;
		return us->reload_sent + 1;
	}
	us->reload_wanted = false;
	r = sd_bus_call_method_async(us->bus, &us->reload, SD_DEST, SD_PATH, SD_MANAGER, "Reload", on_reload,
				     us, "");
	if (r < 0) {
		log_warning_errno(r, "Cannot ask systemd to reload: %m");
		return us->reload_done;
	}
	return ++us->reload_sent;
}

/* ---- the connection ---- */

static int on_reloading(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units *us = userdata;
	int done = 0;

	/* Reloading(false) comes when it is over: a Slice= may have changed. */
	if (sd_bus_message_read(m, "b", &done) >= 0 && !done)
		fetch_bound(us);
	return 0;
}

static int on_subscribe(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	struct units *us = userdata;

	us->subscribe = sd_bus_slot_unref(us->subscribe);
	if (sd_bus_message_is_method_error(reply, NULL)) {
		disconnect(us, sd_bus_message_get_error(reply)->message ?: "Subscribe() failed", -EIO);
		return 0;
	}
	us->connected = true;
	us->backoff_usec = 0;
	us->error[0] = '\0';
	log_info("Connected to systemd (%s bus).", us->bus_name);
	fetch_bound(us);
	/* Drop-ins are for systemd: where PID 1 is another, none is written. */
	if (!us->synced) {
		us->synced = true;
		if (units_dropins_sync(us) > 0)
			us->reload_wanted = true;
	}
	if (us->reload_wanted)
		units_reload(us);
	manager_sources_answered(us->m);
	return 0;
}

/* sd-bus says it on the connection itself: a filter, never a match that
 * a bus daemon would be asked to install. */
static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected"))
		disconnect(userdata, "the connection to systemd closed (a daemon-reexec?)", -ECONNRESET);
	return 0;
}

/* e: attached to it; NULL: for synchronous calls only. */
static int open_bus(sd_event *e, bool private, sd_bus **ret)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	if (private) {
		r = sd_bus_new(&bus);
		if (r < 0)
			return r;
		r = sd_bus_set_address(bus, PRIVATE_BUS);
		if (r < 0)
			return r;
		r = sd_bus_start(bus);
	} else
		r = sd_bus_open_system(&bus);
	if (r < 0)
		return r;
	(void)sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT);
	r = e ? sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL) : 0;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(bus);
	return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

static void schedule_retry(struct units *us)
{
	uint64_t now = 0;

	us->backoff_usec = us->backoff_usec ? us->backoff_usec * 2 : BACKOFF_MIN;
	if (us->backoff_usec > BACKOFF_MAX)
		us->backoff_usec = BACKOFF_MAX;
	(void)sd_event_now(us->event, CLOCK_MONOTONIC, &now);
	us->retry = sd_event_source_disable_unref(us->retry);
	if (sd_event_add_time(us->event, &us->retry, CLOCK_MONOTONIC, now + us->backoff_usec, 0, on_retry,
			      us) < 0)
		log_warning("Cannot schedule the next connect to systemd; units stay bound as they are.");
}

static void connect_bus(struct units *us)
{
	int r, k;

	us->bus = sd_bus_flush_close_unref(us->bus); /* closed by disconnect() */
	us->bus_name = "private";
	r = open_bus(us->event, true, &us->bus);
	if (r < 0) {
		us->bus_name = "system";
		k = open_bus(us->event, false, &us->bus);
		if (k < 0) {
			snprintf(
			    us->error, sizeof(us->error),
			    "neither its private socket (/run/systemd/private: %s) nor the system bus (%s) "
			    "can be reached",
			    strerror(-r), strerror(-k));
			schedule_retry(us);
			return;
		}
	}
	r = sd_bus_add_filter(us->bus, &us->disconnected, on_message, us);
	if (r >= 0)
		r = sd_bus_match_signal_async(us->bus, &us->reloading, NULL, SD_PATH, SD_MANAGER, "Reloading",
					      on_reloading, NULL, us);
	if (r >= 0)
		r = sd_bus_call_method_async(us->bus, &us->subscribe, SD_DEST, SD_PATH, SD_MANAGER,
					     "Subscribe", on_subscribe, us, "");
	if (r < 0)
		disconnect(us, "cannot ask systemd", r);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct units *us = userdata;

	us->retry = sd_event_source_disable_unref(us->retry);
	connect_bus(us);
	return 0;
}

static void drop_bus(struct units *us)
{
	for (size_t i = 0; i < us->n_units; i++) {
		us->units[i]->fetch = sd_bus_slot_unref(us->units[i]->fetch);
		us->units[i]->changed = sd_bus_slot_unref(us->units[i]->changed);
		us->units[i]->refetch = false;
	}
	us->subscribe = sd_bus_slot_unref(us->subscribe);
	us->reloading = sd_bus_slot_unref(us->reloading);
	us->disconnected = sd_bus_slot_unref(us->disconnected);
	if (us->reload)
		us->reload_wanted = true;
	us->reload = sd_bus_slot_unref(us->reload);
	us->reload_again = false;
	/* Nobody waits for a reload that is put off to the next connect. */
	us->reload_done = ++us->reload_sent;
	us->connected = false;
}

/* Bindings stay as they are, enforced; what waited for an answer gets one. */
static void disconnect(struct units *us, const char *why, int error)
{
	bool was = us->connected;

	snprintf(us->error, sizeof(us->error), "%s (%s)", why, strerror(-error));
	if (was)
		log_warning("Lost systemd: %s; bound units stay bound, connecting again.", us->error);
	drop_bus(us);
	/* Freed at the next connect: this may run in one of its callbacks. */
	if (us->bus)
		(void)sd_bus_close(us->bus);
	schedule_retry(us);
	manager_sources_answered(us->m);
}

/* The restored bindings, by their cgroup's path: each is bound the moment
 * systemd makes the cgroup (at boot, before netpold hears from systemd). */
static void watch_bound(struct units *us)
{
	for (size_t i = 0; i < us->m->n_binds; i++) {
		struct np_bind *b = &us->m->binds[i];
		_cleanup_free_ char *dir = NULL;
		char *slash;

		if (strncmp(b->target, "unit:", 5) != 0 || !b->match || b->path)
			continue;
		dir = strdup(b->match);
		if (!dir) {
			log_oom();
			return;
		}
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		manager_watch_cgroup_dir(us->m, dir);
	}
}

int units_start(struct manager *m, sd_event *e, void **ret)
{
	_cleanup_free_ struct units *us = calloc(1, sizeof(*us));

	if (!us)
		return log_oom();
	us->m = m;
	us->event = e;
	us->dropin_root = strdup(UNITS_DROPIN_ROOT);
	us->gate = strdup(NETPOL_LIBEXECDIR "/netpol-unit-gate");
	if (!us->dropin_root || !us->gate) {
		free(us->dropin_root);
		free(us->gate);
		return log_oom();
	}
	watch_bound(us);
	connect_bus(us);
	if (!us->bus)
		log_info("systemd is not reachable (%s): unit targets are refused until it is.", us->error);
	*ret = TAKE_PTR(us);
	return 0;
}

void units_stop(void *userdata)
{
	struct units *us = userdata;
	struct manager *m = us->m;

	drop_bus(us);
	us->bus = sd_bus_flush_close_unref(us->bus);
	us->retry = sd_event_source_disable_unref(us->retry);
	for (size_t i = 0; i < us->n_units; i++)
		unit_free(us->units[i]);
	free(us->units);
	free(us->dropin_root);
	free(us->gate);
	free(us);
	/* What waited for systemd's answer is answered now, without it. */
	manager_sources_answered(m);
}

/* ---- forgetting the gates (teardown --forget) ---- */

/* Reload, waiting for it: on bus, or on a connection of its own. */
static int reload_now(sd_bus *bus, char *why, size_t len)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *own = NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	int r, k;

	if (!bus) {
		r = open_bus(NULL, true, &own);
		if (r < 0 && (k = open_bus(NULL, false, &own)) < 0) {
			snprintf(
			    why, len,
			    "neither its private socket (/run/systemd/private: %s) nor the system bus (%s) "
			    "can be reached",
			    strerror(-r), strerror(-k));
			return k;
		}
		bus = own;
	}
	r = sd_bus_message_new_method_call(bus, &call, SD_DEST, SD_PATH, SD_MANAGER, "Reload");
	if (r >= 0)
		r = sd_bus_call(bus, call, SYNC_TIMEOUT, &error, &reply);
	if (r < 0)
		snprintf(why, len, "its Reload failed: %s", error.message ?: strerror(-r));
	return r;
}

int units_forget_gates(sd_bus *bus, struct units_forgotten *ret)
{
	char why[320] = "";
	int r;

	*ret = (struct units_forgotten){};
	r = units_dropins_remove_all(UNITS_DROPIN_ROOT, &ret->removed, &ret->left);
	if (ret->removed == 0)
		return r;
	if (reload_now(bus, why, sizeof(why)) < 0) {
		ret->reload_needed = true;
		log_warning("Removed the gates of %u formerly bound service(s) in " UNITS_DROPIN_ROOT
			    ", but systemd (PID 1) did not reload: %s. They apply until it does: run "
			    "'systemctl daemon-reload'.",
			    ret->removed, why);
	} else
		log_info("Removed the gates of %u formerly bound service(s) in " UNITS_DROPIN_ROOT
			 " and systemd reloaded: they start unpoliced.",
			 ret->removed);
	return r;
}

void units_forget(void *userdata, json_t *result)
{
	struct units *us = userdata;
	struct units_forgotten f;

	/* Synchronous, against the rule: netpold exits right after this, and
	 * the reply should say whether systemd let go of the gates. */
	(void)units_forget_gates(us->connected ? us->bus : NULL, &f);
	(void)json_object_set_new(result, "gates_removed", json_integer(f.removed));
	(void)json_object_set_new(result, "gates_left", json_integer(f.left));
	(void)json_object_set_new(result, "daemon_reload_needed", json_boolean(f.reload_needed));
}
