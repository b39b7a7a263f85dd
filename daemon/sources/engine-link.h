/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold's side of an engine helper (netpol-engine, engine-msg.h): one
 * process per Engine API socket, started here, which follows the engine
 * for netpold without netpold's capabilities. The interface is
 * docker-api.h's, across the process boundary: the same callbacks, in the
 * same order, every container checked again on arrival. A helper that
 * exits is reported as lost() and started again with a backoff (1 s
 * doubling to 30 s), and its next sync reconciles. No logging.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "docker-parse.h"

struct engine_link;

struct engine_link_ops {
	void (*synced)(void *userdata, struct engine_link *l, struct docker_container *const *v, size_t n);
	void (*event)(void *userdata, struct engine_link *l, enum docker_action a,
		      const struct docker_container *ct);
	void (*lost)(void *userdata, struct engine_link *l, int error, const char *message);
};

/* helper: the netpol-engine program. Starts it on the next turn of the loop. */
int engine_link_new(sd_event *e, const char *helper, const char *socket_path, const char *label_key,
		    const struct engine_link_ops *ops, void *userdata, struct engine_link **ret);
/* Stops the helper (no callbacks); NULL is fine. */
void engine_link_free(struct engine_link *l);

const char *engine_link_socket(const struct engine_link *l);
/* "docker", "podman"; NULL before the helper first negotiated. */
const char *engine_link_engine(const struct engine_link *l);
const char *engine_link_api_version(const struct engine_link *l);
bool engine_link_connected(const struct engine_link *l);

/* As docker_client_inspect() and docker_client_image_label(): done runs
 * from the loop, never inside the call nor once l is freed; -ECONNRESET
 * when the helper exits first. */
int engine_link_inspect(struct engine_link *l, const char *name_or_id,
			void (*done)(void *userdata, int error, const char *message,
				     const struct docker_container *ct),
			void *userdata);
int engine_link_image_label(struct engine_link *l, const char *image,
			    void (*done)(void *userdata, int error, const char *message, const char *value),
			    void *userdata);

/* The helper beside the running program, else the installed one. malloc()ed. */
char *engine_link_helper_path(void);
