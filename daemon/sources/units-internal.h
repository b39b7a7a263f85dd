/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the units source's files share: units.c talks to systemd (PID 1)
 * over sd-bus and keeps what it said about units; units-ops.c answers the
 * manager (its ops table); units-dropin.c writes the drop-ins that gate a
 * bound service's start.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "units.h"

struct manager;
struct np_bind;

#define UNITS_DROPIN_ROOT "/etc/systemd/system"

/* Units asked about and not bound are forgotten beyond this many. */
#define UNITS_CACHE_MAX 1024

/* What systemd said of a unit. */
struct unit {
	struct units *us;
	char *name;
	char *object_path;
	char *load_state, *active_state;
	char *cgroup; /* below the cgroup root: its ControlGroup, or where its slice puts it */
	int error;    /* <0: it cannot be bound (why says why) */
	char why[160];
	bool known;		  /* an answer came */
	uint64_t known_iteration; /* the loop's iteration when it came */
	sd_bus_slot *fetch;	  /* the questions under way */
	sd_bus_slot *changed;	  /* PropertiesChanged, while it is bound */
	bool refetch;		  /* asked again while a question was under way */
	char dropin_problem[256]; /* why its drop-in is not in place, or "" */
	uint64_t reload_needed;	  /* the Reload that loads its drop-in as it is now */
};

struct units {
	struct manager *m;
	sd_event *event;
	sd_bus *bus;
	bool connected;	      /* Subscribe() answered */
	const char *bus_name; /* "private" or "system" */
	char error[256];      /* why systemd is not reachable */
	sd_event_source *retry;
	uint64_t backoff_usec;
	sd_bus_slot *subscribe, *reloading, *disconnected;

	struct unit **units;
	size_t n_units;

	sd_bus_slot *reload;
	uint64_t reload_sent, reload_done; /* Reloads asked for, and answered */
	bool reload_again;  /* drop-ins changed while a Reload was under way */
	bool reload_wanted; /* changed before systemd was reachable */
	bool synced;	    /* the drop-ins checked against the bindings, once */
	char *dropin_root;  /* /etc/systemd/system */
	char *gate;	    /* the gate's path, in ExecCondition= */
};

/* units.c */
struct unit *unit_find(struct units *us, const char *name);
/* The binding of unit:name, NULL if it has none. */
struct np_bind *units_binding(struct units *us, const char *name);
/* Asks systemd about u (again); manager_sources_answered() when it knows. */
int unit_fetch(struct units *us, struct unit *u);
/* The entry for name, made if there is none (NULL on OOM). */
struct unit *unit_get(struct units *us, const char *name);
/* u is bound: follow its changes; not: stop. */
void unit_follow(struct units *us, struct unit *u, bool on);
/* Asks PID 1 to reload its unit files (once, however many asked); the
 * number of the Reload that covers what changed until now. */
uint64_t units_reload(struct units *us);
int units_start(struct manager *m, sd_event *e, void **ret);
void units_stop(void *userdata);
/* The forget op: units_forget_gates() on the source's connection, what it
 * did in result ("gates_removed", "gates_left", "daemon_reload_needed"). */
void units_forget(void *userdata, json_t *result);

/* units-dropin.c */
/* Puts the gate's drop-in of name in place (or removes it); 1 if a file
 * changed (systemd needs a Reload), 0 if not, or a negative errno. */
int units_dropin_write(struct units *us, const char *name);
int units_dropin_remove(struct units *us, const char *name);
/* Removes netpold's drop-ins that no binding needs, writes those missing;
 * 1 if any file changed. Logs. */
int units_dropins_sync(struct units *us);
/* Removes every drop-in of netpold's below root ("NAME.service.d/"
 * UNITS_DROPIN_NAME whose first line is the mark); *ret_removed counts
 * them, *ret_left those that could not be removed. Logs; the first error,
 * or 0. */
int units_dropins_remove_all(const char *root, unsigned *ret_removed, unsigned *ret_left);
/* True for netpold's own units, never bound. */
bool units_is_netpold(const char *name);
