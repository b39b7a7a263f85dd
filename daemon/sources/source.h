/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A binding source watches something outside netpold (container labels,
 * systemd unit properties, pod annotations) and asks the manager to bind
 * and unbind targets for it, under its own origin:
 *
 *   manager_bind(m, &target, policy, ops->origin, NULL);
 *   manager_unbind(m, "cgroup:/...", ops->origin);
 *
 * The origin is saved with the binding (bindings.json) and shown by
 * `netpolctl bindings`, and it fences sources in: a source changes only
 * the bindings of its own origin, never an explicit one (-EBUSY).
 * A source runs on netpold's event loop and never blocks it; it is started
 * after the restore (so that it sees the bindings it made before a
 * restart, and can drop those that no longer apply) and stopped before the
 * manager is freed. Each lives in daemon/sources/<name>.c and exports one
 * const struct np_source_ops; one that speaks HTTP (the Docker or Podman
 * API, the Kubernetes API) does it through curl-glue.h.
 */
#pragma once

#include <systemd/sd-event.h>

#include "state-parse.h"

struct manager;

struct np_source_ops {
	const char *name;      /* in messages: "docker" */
	enum np_origin origin; /* of the bindings it makes */
	/* Starts watching on e; *ret_userdata is handed to stop(). Logs the
	 * reason of a failure. */
	int (*start)(struct manager *m, sd_event *e, void **ret_userdata);
	/* Stops watching and frees what start() made; its bindings stay. */
	void (*stop)(void *userdata);
};
