/* SPDX-License-Identifier: GPL-2.0-only */
/* What docker-api.c reads from the Engine API, from bytes to a struct
 * docker_container: an /events line, the body of GET /containers/json, the
 * body of GET /containers/{id}/json; and an image's policy label from the
 * body of GET /images/{name}/json. Pure (no socket, no event loop, no
 * logging), so that the fuzzers drive exactly what a container's creator
 * controls: its labels, name and image, and an image's author its labels.
 *
 * Nothing from a container is trusted: ids must be 64 lowercase hex (other
 * events and entries are dropped), names follow Docker's rule
 * [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most 255), label values and images are at
 * most DOCKER_LABEL_MAX bytes without control characters; a value that
 * breaks a rule is left out (NULL) and said in ct->problem. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cleanup-util.h"

#define DOCKER_LABEL_MAX 255
#define DOCKER_EVENT_MAX (1u << 20) /* one event line, with all its labels */

struct docker_container {
	char id[65];		 /* 64 lowercase hex */
	char *name;		 /* without Docker's leading '/'; NULL if unknown or invalid */
	char *image;		 /* Config.Image, or the event's "image" attribute */
	char image_id[72];	 /* "sha256:" and 64 lowercase hex; "" if not known (events) */
	char *policy;		 /* the value of the policy label; NULL if none (or invalid) */
	char *project, *service; /* com.docker.compose.project/.service; NULL if none */
	char *problem;		 /* why a value was left out; NULL if none was */
	pid_t pid;		 /* State.Pid; 0 when not running or not known */
	bool running;
};

enum docker_action {
	DOCKER_CREATE,
	DOCKER_START,
	DOCKER_DIE,
	DOCKER_DESTROY, /* Podman says "remove" */
	DOCKER_RENAME,
};

const char *docker_action_name(enum docker_action a);

/* The rules above, for the caller's own input. */
bool docker_id_valid(const char *s);
bool docker_name_valid(const char *s);

/* Frees what ct holds and zeroes it. */
void docker_container_clear(struct docker_container *ct);
void docker_container_free(struct docker_container *ct);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct docker_container *, docker_container_free);

/* One line of /events (without its newline), label_key the policy label.
 * 1: an event of ours, *ret_action and *ct filled (clear it after);
 * 0: nothing for us (an empty line, another type or action), ct untouched;
 * -EMSGSIZE: longer than DOCKER_EVENT_MAX; -EBADMSG: not a JSON object;
 * -EINVAL: an event of ours (*ret_action set) without a valid Actor.ID,
 * ct cleared; -ENOMEM. */
int docker_event_parse(const char *line, size_t len, const char *label_key, enum docker_action *ret_action,
		       struct docker_container *ct);

/* The body of GET /containers/json: *ret_v gets the valid entries, in
 * order (no pid there), *ret_n their number; the array has room for one
 * more and is freed with each entry. An entry without a valid Id is left
 * out and told to rejected() (optional) with its index. -EBADMSG: not a
 * JSON array; -ENOMEM. */
int docker_list_parse(const char *body, size_t size, const char *label_key,
		      void (*rejected)(void *userdata, size_t index), void *userdata,
		      struct docker_container ***ret_v, size_t *ret_n);

/* The body of GET /containers/{id}/json. -EBADMSG: not a JSON object;
 * -EINVAL: no valid Id; -ENOMEM. */
int docker_inspect_parse(const char *body, size_t size, const char *label_key, struct docker_container **ret);

/* An image id ("sha256:" and 64 lowercase hex, or the 64 hex alone, as
 * Podman gives it) into ret (72 bytes), as "sha256:...". */
bool docker_image_id_parse(const char *s, char ret[72]);

/* The body of GET /images/{name}/json: *ret_value gets the value of the
 * policy label in Config.Labels, NULL if the image has none, or one that
 * breaks the rules above (the container's own value, if valid, then
 * differs from it). -EBADMSG: not a JSON object; -ENOMEM. */
int docker_image_label_parse(const char *body, size_t size, const char *label_key, char **ret_value);
