/* SPDX-License-Identifier: GPL-2.0-only */
/* systemd units, bound by name (units.c, docs/units.md). */
#pragma once

#include <stdbool.h>

#include <systemd/sd-bus.h>

#include "source.h"

extern const struct np_source_ops units_source_ops;

/* What units_forget_gates() did. */
struct units_forgotten {
	unsigned removed;   /* the gates' drop-ins removed */
	unsigned left;	    /* netpold's drop-ins that could not be removed */
	bool reload_needed; /* removed, but systemd did not reload: they still apply */
};

/* For teardown --forget: removes every drop-in netpold wrote (the gates of
 * bound services; never a file that is not its own, by its first line) and
 * has PID 1 reload, waiting up to a few seconds for it: on bus, or, if bus
 * is NULL, on a connection of its own (the private socket, else the system
 * bus). Blocks: for a netpold about to exit only. Logs. The first error
 * removing a drop-in, or 0 (a failed reload is *ret's reload_needed). */
int units_forget_gates(sd_bus *bus, struct units_forgotten *ret);
