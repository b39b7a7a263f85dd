/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the containers source's files share: containers.c follows the
 * engines and binds; containers-ops.c answers what the manager and the
 * control methods ask (its ops table), over it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "containers.h"
#include "docker-parse.h"
#include "engine-link.h"
#include "manager.h"

struct containers;

/* Inspects in flight for cgroups of containers not known yet; beyond it,
 * the container's own events bind it. */
#define CONTAINERS_EARLY_MAX 64

struct early {
	struct containers *cs;
	struct engine *engine;
	char id[TARGET_CONTAINER_ID_LEN + 1];
};

/* A request for the policy label of a container's image; the container
 * may be gone when it answers. */
struct image_ask {
	struct containers *cs;
	struct image_ask *next;
	char id[TARGET_CONTAINER_ID_LEN + 1];
	char image_id[72]; /* asked by id ("": by name) */
};

/* Images' values of the label, by image id: an id names the same content
 * for good (a name does not: never kept by name). */
#define IMAGE_CACHE_MAX 64

struct image_seen {
	char id[72];
	char *policy; /* NULL: none */
};

enum image_state {
	IMAGE_UNKNOWN,
	IMAGE_ASKING,
	IMAGE_KNOWN,
	IMAGE_FAILED,
};

/* One Engine API socket followed. */
struct engine {
	struct containers *cs;
	struct engine_link *client;
	char *socket;
	bool synced;	/* has listed its containers once */
	bool connected; /* its events stream is live */
	char *message;	/* why it is not, for status */
};

/* A container an engine told of. */
struct ctr {
	char id[TARGET_CONTAINER_ID_LEN + 1];
	struct engine *engine;
	char *name, *image, *project, *service;
	char *policy; /* its label's value */
	char image_id[72];
	enum image_state image_state;
	struct image_ask *ask; /* while IMAGE_ASKING */
	char *image_policy;    /* the image's value of the label, when IMAGE_KNOWN */
	char *cgroup;	       /* its cgroup directory when it last started */
	char *problem;	       /* why its label binds nothing */
	bool running;
	bool net_raw; /* its bounding set keeps CAP_NET_RAW */
	bool warned_net_raw;
};

struct containers {
	struct manager *m;
	char *helper; /* netpol-engine: one process per engine socket */
	char *mount;  /* the cgroup2 mount: /proc/PID/cgroup is relative to it */
	struct engine *engines;
	size_t n_engines;
	struct ctr **ctrs;
	size_t n_ctrs;
	struct np_pol *default_pol;
	char *default_problem;
	/* Inspects of containers seen first as a cgroup (containers-ops.c). */
	struct early *early[CONTAINERS_EARLY_MAX];
	size_t n_early;
	struct image_ask *asks;
	struct image_seen seen[IMAGE_CACHE_MAX];
	size_t n_seen, next_seen;
};

/* containers.c */
struct ctr *ctr_by_id(struct containers *cs, const char *id);
struct ctr *ctr_upsert(struct containers *cs, struct engine *en, const struct docker_container *d);
/* The id in "container:ID", or NULL. */
const char *target_id(const char *target);
const char *shown_name(const struct ctr *c);
void set_problem(struct ctr *c, const char *fmt, const char *arg);
int ctr_target(const struct ctr *c, struct target *t);
/* "container:ID", in buf. */
#define CTR_TARGET_SIZE (sizeof("container:") + TARGET_CONTAINER_ID_LEN)
const char *ctr_target_name(const struct ctr *c, char buf[CTR_TARGET_SIZE]);
/* The binding of the container, or NULL. */
struct np_bind *ctr_binding(struct containers *cs, const struct ctr *c);
void apply_label(struct containers *cs, struct ctr *c);
void ctr_running(struct containers *cs, struct ctr *c, pid_t pid);
void realize_known(struct containers *cs, struct ctr *c);
/* The container default on the parents, as netpold.conf says now. */
void apply_default(struct containers *cs);
int containers_start(struct manager *m, sd_event *e, void **ret);
void containers_stop(void *userdata);
