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

#include <jansson.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "state-parse.h"
#include "target.h"

struct manager;

/* The optional callbacks let the manager and the control methods ask a
 * source about the targets it knows (NULL: it knows none of that kind). */
struct np_source_ops {
	const char *name;      /* in messages: "containers" */
	enum np_origin origin; /* of the bindings it makes */
	/* Starts watching on e; *ret_userdata is handed to the rest. Logs the
	 * reason of a failure. */
	int (*start)(struct manager *m, sd_event *e, void **ret_userdata);
	/* Stops watching and frees what start() made; its bindings stay. */
	void (*stop)(void *userdata);
	/* The bindings are being forgotten (teardown --forget), netpold exits
	 * next: undo what the source wrote outside netpold for them, and add
	 * what it did to result (the teardown's reply, docs/protocol.md). It
	 * may block a little: nothing else runs any more. Logs. */
	void (*forget)(void *userdata, json_t *result);

	/* A client's target of this source's kind ("container:web", by name
	 * or id) as the target it is now: normalized (a full id), with its
	 * match, and its cgroup if it has one. -ENOENT if unknown, -EINVAL if
	 * ambiguous, with *why; -EOPNOTSUPP: not this source's kind. */
	int (*resolve)(void *userdata, const char *target, struct target *ret, const char **why);
	/* What people are shown about one of its targets ({"name", "image",
	 * ...}, new reference), or NULL. */
	json_t *(*describe)(void *userdata, const char *target);
	/* The target whose cgroup path is (an unbound container under the
	 * default), malloc()ed, or NULL. */
	char *(*target_of_cgroup)(void *userdata, const char *path);
	/* A cgroup directory no binding knows was made in a watched
	 * directory: it may be one of the source's targets that it has not
	 * heard of yet (a container whose create event is late). */
	void (*cgroup_made)(void *userdata, const char *path);
	/* A client bound one of its targets (apply): the source follows it. */
	void (*bound)(void *userdata, const char *target);
	/* True while what bound() set in motion is not in effect yet (a
	 * service's gate, until systemd has reloaded): apply answers once it
	 * is, when the source calls manager_sources_answered(). */
	bool (*settling)(void *userdata, const char *target);
	/* A client removed the binding of one of its targets: the source's own
	 * binding (a label's) applies again, if it has one. */
	void (*released)(void *userdata, const char *target);
	/* The target's first process, pid, is about to run (an OCI hook
	 * asks): its binding goes on pid's cgroup now. -ENOENT: unknown (yet),
	 * -EOPNOTSUPP: not this source's kind; *why. */
	int (*prepare)(void *userdata, const char *target, pid_t pid, const char **why);
	/* A policy was added: what named it before it existed binds now. */
	void (*policy_added)(void *userdata, const char *name);
	/* For `status`: its state (new reference), or NULL. */
	json_t *(*status)(void *userdata);
	/* For `bindings`: appends what stops it from binding ({"target",
	 * "message"}) to problems, and warnings about target's binding to
	 * warnings (a JSON array each). */
	void (*problems)(void *userdata, json_t *problems);
	void (*warnings)(void *userdata, const char *target, json_t *warnings);
};

/* The sources netpold runs, NULL-terminated (sources.c). */
extern const struct np_source_ops *const np_sources[];
