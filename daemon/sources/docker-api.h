/* SPDX-License-Identifier: GPL-2.0-only */
/* A client of Docker's Engine API (dockerd, and Podman's compatible service)
 * on a Unix socket, on the daemon's event loop through curl-glue.h: it
 * follows the container events and lists the containers, and knows nothing
 * of bindings. No logging: failures reach the caller as -errno and a message.
 *
 * The lifecycle of one connection:
 *   GET /version                negotiates: min(DOCKER_API_MAX, ApiVersion),
 *                               refused below 1.24 (curl-glue hands out no
 *                               headers, so /_ping's Api-Version is out of
 *                               reach; /version carries the same value, and
 *                               Podman names itself in its Components)
 *   GET /vX/events?filters=...  subscribes first; when its headers are in:
 *   GET /vX/containers/json?all=1, then /vX/containers/{id}/json for each
 *                               running one (State.Pid), DOCKER_INSPECTS
 *                               at a time; then synced(), then the events
 *                               that came meanwhile, in stream order.
 * On request, ahead of those: GET /vX/containers/{name}/json
 * (docker_client_inspect) and GET /vX/images/{name}/json
 * (docker_client_image_label), DOCKER_INSPECTS at a time with the rest.
 * DOCKER_API_MAX is above Docker 20.10's 1.41 because Docker 29 refuses
 * anything below 1.44; the fields read here are the same in all of them.
 * The stream is read as it comes, never paused (dockerd skips a subscriber
 * that takes over 100 ms). When it ends or any step fails: lost(), a retry
 * after a backoff (0.1 s doubling to 5 s, back to 0.1 s after a sync), and
 * a new sync: events are lossy, so every reconnect re-lists.
 *
 * Nothing from a container is trusted: docker-parse.h says what is checked;
 * events and entries without a valid id are dropped and told to rejected(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "curl-glue.h"
#include "docker-parse.h"

#define DOCKER_API_MIN	   "1.24"
#define DOCKER_API_MAX	   "1.45"
#define DOCKER_INSPECTS	   8	       /* inspects in flight at once */
#define DOCKER_QUEUE_MAX   4096	       /* events held back (a sync, an inspect); more: reconnect */
#define DOCKER_LIST_MAX	   (64u << 20) /* the list of all containers: thousands of them */
#define DOCKER_INSPECT_MAX (4u << 20)

struct docker_client;

/* A struct docker_container handed out is valid only during the callback
 * that hands it out: copy what you keep. */

/* Callbacks run from the event loop, never inside a docker_client_*() call.
 * They may call docker_client_inspect(), not docker_client_free(). */
struct docker_client_ops {
	/* The events stream is live and here is every container that exists:
	 * at the first connect and after every reconnect, for the caller to
	 * reconcile (what is not in v is gone). A running container whose
	 * inspect failed (not with 404) is there with pid 0. The events that
	 * came during the sync follow, and the list may already show them:
	 * apply events as states (a CREATE for a container known running,
	 * a DESTROY for one not known), not as steps. */
	void (*synced)(void *userdata, struct docker_client *c, struct docker_container *const *v, size_t n);
	/* Per container in stream order (across containers, an event may pass
	 * another container's START that waits for its inspect).
	 * CREATE: at once, from the event's attributes (labels, name, image),
	 * running false. START: after an inspect, with State.Pid; running false
	 * and pid 0 if it died meanwhile, and the event's attributes if the
	 * inspect failed (the container is gone already). DIE, DESTROY: the
	 * attributes, running false; a DESTROY may come with no DIE before it
	 * (podman rm -f). RENAME: the new name. */
	void (*event)(void *userdata, struct docker_client *c, enum docker_action a,
		      const struct docker_container *ct);
	/* The stream ended or could not be opened, after every failed attempt
	 * (error: -errno; message: for the log), so every 5 s while the engine
	 * is away: log changes, not each call. The client retries by itself
	 * and calls synced() when back. */
	void (*lost)(void *userdata, struct docker_client *c, int error, const char *message);
	/* Optional: input dropped as invalid (an event, a list entry). */
	void (*rejected)(void *userdata, struct docker_client *c, const char *message);
};

/* Starts connecting (on the next turn of the loop). label_key: the policy
 * label, e.g. "bpf.network.policy". -EINVAL for a bad socket path or key. */
int docker_client_new(sd_event *e, struct np_curl *curl, const char *socket_path, const char *label_key,
		      const struct docker_client_ops *ops, void *userdata, struct docker_client **ret);
/* Ends every request, no callbacks; NULL is fine. */
void docker_client_free(struct docker_client *c);

const char *docker_client_socket(const struct docker_client *c);
/* "docker" or "podman"; NULL before the first negotiation. */
const char *docker_client_engine(const struct docker_client *c);
/* The version in use, e.g. "1.41"; NULL before the first negotiation. */
const char *docker_client_api_version(const struct docker_client *c);
/* Synced and following the stream. */
bool docker_client_connected(const struct docker_client *c);

/* Inspects one container by id, short id or name (for an explicit apply by
 * name, for a hook that races the create event), ahead of the client's own
 * inspects. done gets 0 and the container, or -errno (-ENOENT: no such
 * container), a message for the user (the engine's own words) and NULL; it runs from the loop, never inside
 * this call, and not once the client is freed. Fails at once with -EINVAL for what no container can be
 * called, -ENOTCONN before the first negotiation. */
int docker_client_inspect(struct docker_client *c, const char *name_or_id,
			  void (*done)(void *userdata, int error, const char *message,
				       const struct docker_container *ct),
			  void *userdata);

/* The value of the policy label in an image's own labels (GET
 * /images/{image}/json, Config.Labels), which Docker and Podman merge into
 * the labels of every container made from it. image: an image id
 * ("sha256:..."), which names one image for good, or a name, which names
 * whatever it is tagged on at the time of the request: ask by id when
 * known. done gets 0 and the value (NULL: the image has none, or one that
 * breaks docker-parse.h's rules), or -errno (-ENOENT: no such image) and a
 * message; as for docker_client_inspect(): from the loop, never inside this
 * call, not once the client is freed; -EINVAL for an empty name, one with
 * blanks or control characters, or longer than DOCKER_LABEL_MAX;
 * -ENOTCONN before the first negotiation. */
int docker_client_image_label(struct docker_client *c, const char *image,
			      void (*done)(void *userdata, int error, const char *message, const char *value),
			      void *userdata);
