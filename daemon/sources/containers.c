/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The containers source: Docker and Podman containers bound by their label
 * (container_label, "bpf.network.policy"), and the container default on the
 * runtimes' parent cgroups (docs/containers.md).
 *
 * What makes the first instruction of a container policed: the default
 * binds the parents before any container exists (the kernel takes the
 * deepest bound ancestor); the label's binding is made at the create event,
 * before the cgroup exists, and the manager puts it on the cgroup the moment
 * its directory is made; each start binds it again from State.Pid. Events
 * are lossy, so every (re)connection lists the containers and reconciles.
 *
 * Docker and Podman merge an image's LABELs into its containers' labels: a
 * policy label that only repeats the image's was chosen by the image's
 * author, not by whoever runs it. Unless container_image_labels = follow,
 * such a label binds nothing, so the label's binding waits for the image's
 * own value (asked per container, by the image id when known: a name may
 * be re-tagged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-util.h"
#include "cleanup-util.h"
#include "containers-internal.h"
#include "docker-parse.h"
#include "engine-link.h"
#include "log.h"
#include "manager.h"

static void engine_free(struct engine *en)
{
	engine_link_free(en->client);
	free(en->socket);
	free(en->message);
}

static struct ctr *ctr_free(struct ctr *c)
{
	if (!c)
		return NULL;
	free(c->name);
	free(c->image);
	free(c->policy);
	free(c->image_policy);
	free(c->project);
	free(c->service);
	free(c->cgroup);
	free(c->problem);
	free(c);
	return NULL;
}

static void containers_free(struct containers *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n_engines; i++)
		engine_free(&cs->engines[i]);
	free(cs->engines);
	for (size_t i = 0; i < cs->n_ctrs; i++)
		ctr_free(cs->ctrs[i]);
	free(cs->ctrs);
	for (size_t i = 0; i < cs->n_early; i++)
		free(cs->early[i]);
	while (cs->asks) {
		struct image_ask *a = cs->asks;

		cs->asks = a->next;
		free(a);
	}
	for (size_t i = 0; i < cs->n_seen; i++)
		free(cs->seen[i].policy);
	free(cs->helper);
	free(cs->default_problem);
	free(cs->mount);
	free(cs);
}

/* ---- the containers known ---- */

struct ctr *ctr_by_id(struct containers *cs, const char *id)
{
	for (size_t i = 0; i < cs->n_ctrs; i++)
		if (strcmp(cs->ctrs[i]->id, id) == 0)
			return cs->ctrs[i];
	return NULL;
}

const char *target_id(const char *target)
{
	return strncmp(target, "container:", 10) == 0 ? target + 10 : NULL;
}

static int set_str(char **dst, const char *s)
{
	char *v = s ? strdup(s) : NULL;

	if (s && !v)
		return -ENOMEM;
	free(*dst);
	*dst = v;
	return 0;
}

/* What an engine tells about a container, over what was known. */
static int ctr_update(struct ctr *c, const struct docker_container *d)
{
	if ((d->name && set_str(&c->name, d->name) < 0) || (d->image && set_str(&c->image, d->image) < 0))
		return -ENOMEM;
	if (d->image_id[0])
		memcpy(c->image_id, d->image_id, sizeof(c->image_id));
	/* Labels are fixed at create: an event without them keeps them. */
	if (d->policy && set_str(&c->policy, d->policy) < 0)
		return -ENOMEM;
	if ((d->project && set_str(&c->project, d->project) < 0) ||
	    (d->service && set_str(&c->service, d->service) < 0))
		return -ENOMEM;
	return 0;
}

struct ctr *ctr_upsert(struct containers *cs, struct engine *en, const struct docker_container *d)
{
	struct ctr *c = ctr_by_id(cs, d->id), **v;

	if (!c) {
		v = realloc(cs->ctrs, (cs->n_ctrs + 1) * sizeof(*v));
		if (!v)
			return NULL;
		cs->ctrs = v;
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		memcpy(c->id, d->id, sizeof(c->id));
		cs->ctrs[cs->n_ctrs++] = c;
	}
	c->engine = en;
	if (ctr_update(c, d) < 0)
		return NULL;
	/* A label netpold refused (too long, odd bytes) binds nothing: said. */
	if (d->problem && !c->policy && strncmp(d->problem, "the label ", 10) == 0 &&
	    strncmp(d->problem + 10, cs->m->config.container_label, strlen(cs->m->config.container_label)) ==
		0)
		set_problem(c, "%s; it stays under the container default", d->problem);
	return c;
}

static void ctr_remove(struct containers *cs, struct ctr *c)
{
	for (size_t i = 0; i < cs->n_ctrs; i++)
		if (cs->ctrs[i] == c) {
			cs->ctrs[i] = cs->ctrs[--cs->n_ctrs];
			break;
		}
	ctr_free(c);
}

const char *shown_name(const struct ctr *c)
{
	return c->name ?: c->id;
}

/* ---- bindings ---- */

void set_problem(struct ctr *c, const char *fmt, const char *arg)
{
	_cleanup_free_ char *msg = NULL;

	if (asprintf(&msg, fmt, arg) < 0)
		return;
	/* Logged once per container and problem, not at every event. */
	if (!c->problem || strcmp(c->problem, msg) != 0)
		log_warning("Container '%s' (%.12s): %s", shown_name(c), c->id, msg);
	free(c->problem);
	c->problem = TAKE_PTR(msg);
}

const char *ctr_target_name(const struct ctr *c, char buf[CTR_TARGET_SIZE])
{
	snprintf(buf, CTR_TARGET_SIZE, "container:%s", c->id);
	return buf;
}

struct np_bind *ctr_binding(struct containers *cs, const struct ctr *c)
{
	char buf[CTR_TARGET_SIZE];

	return manager_binding_by_target(cs->m, ctr_target_name(c, buf));
}

int ctr_target(const struct ctr *c, struct target *t)
{
	char buf[CTR_TARGET_SIZE];

	*t = (struct target){.target = strdup(ctr_target_name(c, buf)), .match = strdup(c->id)};
	return t->target && t->match ? 0 : -ENOMEM;
}

static void on_image_label(void *userdata, int error, const char *message, const char *value);

static struct image_seen *image_seen(struct containers *cs, const char *image_id)
{
	for (size_t i = 0; i < cs->n_seen; i++)
		if (strcmp(cs->seen[i].id, image_id) == 0)
			return &cs->seen[i];
	return NULL;
}

static void image_seen_add(struct containers *cs, const char *image_id, const char *policy)
{
	struct image_seen *e;
	char *v = policy ? strdup(policy) : NULL;

	if ((policy && !v) || image_seen(cs, image_id)) {
		free(v);
		return;
	}
	if (cs->n_seen < IMAGE_CACHE_MAX)
		e = &cs->seen[cs->n_seen++];
	else {
		e = &cs->seen[cs->next_seen];
		cs->next_seen = (cs->next_seen + 1) % IMAGE_CACHE_MAX;
		free(e->policy);
	}
	snprintf(e->id, sizeof(e->id), "%s", image_id);
	e->policy = v;
}

/* Asks the container's engine for the policy label of its image, unless
 * that is under way or its image id's answer is known already. */
static void image_ask(struct containers *cs, struct ctr *c)
{
	const char *ref = c->image_id[0] ? c->image_id : c->image;
	struct image_seen *seen;
	struct image_ask *a;
	int r;

	if (c->image_state == IMAGE_ASKING || c->image_state == IMAGE_KNOWN)
		return;
	seen = c->image_id[0] ? image_seen(cs, c->image_id) : NULL;
	if (seen) {
		log_debug("Container %.12s: its image %s is known", c->id, c->image_id);
		if (set_str(&c->image_policy, seen->policy) < 0)
			return (void)log_oom();
		c->image_state = IMAGE_KNOWN;
		return;
	}
	if (!ref || !c->engine) {
		c->image_state = IMAGE_FAILED;
		set_problem(c, "%s",
			    "netpold does not know its image, so cannot tell whether its policy label is the "
			    "image's; it stays under the container default");
		return;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return (void)log_oom();
	a->cs = cs;
	memcpy(a->id, c->id, sizeof(a->id));
	memcpy(a->image_id, c->image_id, sizeof(a->image_id));
	r = engine_link_image_label(c->engine->client, ref, on_image_label, a);
	if (r < 0) {
		free(a);
		c->image_state = IMAGE_FAILED;
		set_problem(c,
			    "netpold cannot read the labels of its image (%s), so cannot tell whether its "
			    "policy label is the image's; it stays under the container default",
			    r == -ENOTCONN ? "its engine is not connected" : strerror(-r));
		return;
	}
	log_debug("Container %.12s: asking for the labels of its image %s", c->id, ref);
	a->next = cs->asks;
	cs->asks = a;
	c->ask = a;
	c->image_state = IMAGE_ASKING;
}

static void drop_label_binding(struct containers *cs, struct ctr *c)
{
	struct np_bind *b = ctr_binding(cs, c);
	char target[CTR_TARGET_SIZE];
	int r;

	if (!b || b->origin != NP_ORIGIN_LABEL)
		return;
	r = manager_unbind(cs->m, ctr_target_name(c, target), NP_ORIGIN_LABEL);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "Failed to remove the label's binding of container '%s': %m",
				  shown_name(c));
}

static bool explicitly_bound(struct containers *cs, const struct ctr *c)
{
	struct np_bind *b = ctr_binding(cs, c);

	return b && b->origin == NP_ORIGIN_EXPLICIT;
}

/* Whether the container's label may bind: not when it is its image's. */
static bool label_is_operators(struct containers *cs, struct ctr *c)
{
	if (cs->m->config.container_image_labels)
		return true;
	image_ask(cs, c);
	if (c->image_state != IMAGE_KNOWN)
		return false; /* its answer applies the label */
	if (!c->image_policy || strcmp(c->image_policy, c->policy) != 0)
		return true;
	if (explicitly_bound(cs, c)) {
		free(c->problem);
		c->problem = NULL;
		return false;
	}
	set_problem(c,
		    "its policy label comes from its image '%s' (a LABEL in the image), which netpold does "
		    "not follow; it stays under the container default. Set it on the container with "
		    "--label, or netpolctl apply",
		    c->image ?: c->image_id);
	drop_label_binding(cs, c);
	return false;
}

/* The label's binding, unless a client's decides, or it is in place. */
void apply_label(struct containers *cs, struct ctr *c)
{
	_cleanup_(target_done) struct target t = {};
	struct np_bind *b;
	struct np_pol *pol;
	int r;

	if (!c->policy || !label_is_operators(cs, c))
		return;
	pol = manager_policy_by_name(cs->m, c->policy);
	if (!pol) {
		set_problem(c,
			    "its label names policy '%s', which does not exist; it stays under the container "
			    "default until the policy is added",
			    c->policy);
		return;
	}
	free(c->problem);
	c->problem = NULL;
	if (ctr_target(c, &t) < 0) {
		log_oom();
		return;
	}
	b = manager_binding_by_target(cs->m, t.target);
	if (b && (b->origin == NP_ORIGIN_EXPLICIT || b->policy_id == pol->id))
		return;
	r = manager_bind(cs->m, &t, pol, NP_ORIGIN_LABEL, NULL);
	if (r < 0 && r != -EBUSY)
		log_warning_errno(r,
				  "Failed to bind container '%s' (%.12s) to policy '%s' from its label: %m",
				  shown_name(c), c->id, c->policy);
}

/* The processes of a container whose bounding set keeps CAP_NET_RAW can
 * send through AF_PACKET, which no cgroup hook sees. */
static bool has_net_raw(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[256];
	unsigned long long caps;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %llx", &caps) == 1)
			return caps & (1ull << 13); /* CAP_NET_RAW */
	return false;
}

/* The cgroup a running container's process is in: the cgroup2 line
 * ("0::/docker/ID") of /proc/PID/cgroup, seen from netpold's cgroup
 * namespace (the host's), cut after the first directory named by the id.
 * A process that moved itself deeper (a container that may write its
 * cgroup, systemd in podman) does not take the binding off the rest of the
 * container, and a pid that is not the container's (reused, or another
 * container's) binds nothing: -EXDEV. */
static int ctr_cgroup(struct containers *cs, const char *id, pid_t pid, char **ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[4096];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end = strchr(line, '\n'), *name;

		/* A longer line's rest would read as a line of its own. */
		if (!end && !feof(f))
			return -ENAMETOOLONG;
		if (end)
			*end = '\0';
		if (strncmp(line, "0::/", 4) != 0 || strstr(line, "/.."))
			continue;
		for (name = line + 4;; name = end + 1) {
			char sep;

			end = name + strcspn(name, "/");
			sep = *end;
			*end = '\0';
			if (target_cgroup_name_is(name, id))
				break;
			if (!sep)
				return -EXDEV;
			*end = sep;
		}
		return target_join_root(cs->mount, line + 3, ret);
	}
	return -ENOENT;
}

/* A container runs (a start event, or found running at a sync). */
void ctr_running(struct containers *cs, struct ctr *c, pid_t pid)
{
	_cleanup_free_ char *cgroup = NULL, *parent = NULL;
	char target[CTR_TARGET_SIZE], *slash;
	int r;

	c->running = pid > 0;
	if (pid <= 0)
		return;
	r = ctr_cgroup(cs, c->id, pid, &cgroup);
	if (r < 0) {
		if (r == -EXDEV)
			log_warning("Process %d of container '%s' (%.12s) is in no cgroup named by its id; "
				    "its cgroup is not bound from it.",
				    (int)pid, shown_name(c), c->id);
		else if (r != -ENOENT && r != -ESRCH)
			log_warning_errno(r, "Cannot find the cgroup of container '%s' (pid %d): %m",
					  shown_name(c), (int)pid);
		return;
	}
	c->net_raw = has_net_raw(pid);
	(void)set_str(&c->cgroup, cgroup);
	/* The runtime's parent: its next containers are seen being made. */
	parent = strdup(cgroup);
	slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent && target_path_below(parent, cs->m->attach_cgroup)) {
		*slash = '\0';
		manager_watch_cgroup_dir(cs->m, parent);
	}
	if (ctr_binding(cs, c))
		(void)manager_realize(cs->m, ctr_target_name(c, target), cgroup);
	if (c->net_raw && !c->warned_net_raw && (ctr_binding(cs, c) || cs->default_pol)) {
		c->warned_net_raw = true;
		log_warning("Container '%s' (%.12s) is policed, but its processes may hold CAP_NET_RAW: "
			    "packets sent through AF_PACKET sockets pass no cgroup hook. Start it with "
			    "--cap-drop NET_RAW.",
			    shown_name(c), c->id);
	}
}

/* A binding made while the container runs goes on its cgroup now (the
 * manager finds it too, unless the cgroup sits where nothing is watched). */
void realize_known(struct containers *cs, struct ctr *c)
{
	char target[CTR_TARGET_SIZE];

	if (c->running && c->cgroup && ctr_binding(cs, c))
		(void)manager_realize(cs->m, ctr_target_name(c, target), c->cgroup);
}

static void on_image_label(void *userdata, int error, const char *message, const char *value)
{
	struct image_ask *a = userdata;
	struct containers *cs = a->cs;
	struct ctr *c = ctr_by_id(cs, a->id);

	if (error >= 0 && a->image_id[0])
		image_seen_add(cs, a->image_id, value);
	for (struct image_ask **p = &cs->asks; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	if (c && c->ask != a)
		c = NULL; /* gone meanwhile, and made again by a sync */
	free(a);
	if (!c)
		return;
	c->ask = NULL;
	log_debug("Container %.12s: its image's label is %s (%d)", c->id, value ?: "none", error);
	if (error < 0) {
		/* Asked again at its next event: no loop on an image that is gone. */
		c->image_state = IMAGE_FAILED;
		set_problem(c,
			    "netpold cannot read the labels of its image (%s), so cannot tell whether its "
			    "policy label is the image's; it stays under the container default",
			    message ?: strerror(-error));
		return;
	}
	if (set_str(&c->image_policy, value) < 0) {
		c->image_state = IMAGE_UNKNOWN;
		return (void)log_oom();
	}
	c->image_state = IMAGE_KNOWN;
	apply_label(cs, c);
	realize_known(cs, c);
}

static void ctr_gone(struct containers *cs, struct ctr *c)
{
	char target[CTR_TARGET_SIZE];

	if (ctr_binding(cs, c)) {
		int r = manager_forget(cs->m, ctr_target_name(c, target));

		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "Failed to remove the binding of removed container '%s': %m",
					  shown_name(c));
	}
	ctr_remove(cs, c);
}

/* ---- the container default ---- */

void apply_default(struct containers *cs)
{
	const char *name = cs->m->config.container_default_policy;
	struct np_pol *pol = name ? manager_policy_by_name(cs->m, name) : NULL;

	free(cs->default_problem);
	cs->default_problem = NULL;
	cs->default_pol = pol;
	if (name && !pol) {
		(void)asprintf(&cs->default_problem,
			       "container_default_policy names policy '%s', which does not exist; containers "
			       "have no default until it is added",
			       name);
		log_error("%s", cs->default_problem ?: "container_default_policy names no policy");
	}
	for (char **p = cs->m->config.container_cgroup_parents; p && *p; p++) {
		_cleanup_(target_done) struct target t = {};
		uint64_t id;
		int r;

		if (target_join_root(cs->mount, *p, &t.match) < 0)
			return (void)log_oom();
		if (!target_path_below(t.match, cs->m->attach_cgroup))
			continue; /* not policed here: netpol is attached elsewhere */
		manager_watch_cgroup_dir(cs->m, t.match);
		if (!pol || asprintf(&t.target, "cgroup:%s", *p) < 0)
			continue;
		if (np_cgroup_id(t.match, &id) >= 0) {
			t.path = strdup(t.match);
			t.cgroup_id = id;
		}
		r = manager_bind(cs->m, &t, pol, NP_ORIGIN_DEFAULT, NULL);
		if (r < 0 && r != -EBUSY)
			log_warning_errno(r, "Failed to bind the container default to '%s': %m", t.target);
	}
}

/* Default bindings the configuration no longer names go. */
static void drop_old_defaults(struct containers *cs)
{
	for (size_t i = cs->m->n_binds; i-- > 0;) {
		struct np_bind *b = &cs->m->binds[i];
		bool named = false;

		if (b->origin != NP_ORIGIN_DEFAULT)
			continue;
		for (char **p = cs->m->config.container_cgroup_parents; p && *p && cs->default_pol; p++)
			named |= strcmp(b->target + strlen("cgroup:"), *p) == 0 &&
				 b->policy_id == cs->default_pol->id;
		if (!named) {
			_cleanup_free_ char *target = strdup(b->target);

			if (target)
				(void)manager_unbind(cs->m, target, NP_ORIGIN_DEFAULT);
		}
	}
}

/* ---- what the engines say ---- */

static bool all_synced(const struct containers *cs)
{
	for (size_t i = 0; i < cs->n_engines; i++)
		if (!cs->engines[i].synced)
			return false;
	return true;
}

/* Once every engine has listed its containers, a bound container none of
 * them knows was removed while netpold or its engine was away. */
static void sweep_unknown(struct containers *cs)
{
	if (!all_synced(cs))
		return;
	for (size_t i = cs->m->n_binds; i-- > 0;) {
		const char *id = target_id(cs->m->binds[i].target);
		_cleanup_free_ char *target = NULL;

		if (!id || ctr_by_id(cs, id))
			continue;
		target = strdup(cs->m->binds[i].target);
		log_info("Container %.12s is gone; removing its binding.", id);
		if (target)
			(void)manager_forget(cs->m, target);
	}
}

static void on_synced(void *userdata, struct engine_link *client, struct docker_container *const *v, size_t n)
{
	struct engine *en = userdata;
	struct containers *cs = en->cs;

	en->synced = true;
	en->connected = true;
	free(en->message);
	en->message = NULL;
	log_info("Following %s at '%s' (API %s): %zu containers.", engine_link_engine(client), en->socket,
		 engine_link_api_version(client) ?: "?", n);
	/* What this engine no longer lists is gone. */
	for (size_t i = cs->n_ctrs; i-- > 0;) {
		struct ctr *c = cs->ctrs[i];
		bool listed = false;

		for (size_t k = 0; k < n && !listed; k++)
			listed = strcmp(v[k]->id, c->id) == 0;
		if (c->engine == en && !listed)
			ctr_gone(cs, c);
	}
	for (size_t k = 0; k < n; k++) {
		struct ctr *c = ctr_upsert(cs, en, v[k]);

		if (!c) {
			log_oom();
			return;
		}
		apply_label(cs, c);
		if (v[k]->running)
			ctr_running(cs, c, v[k]->pid);
	}
	sweep_unknown(cs);
}

static void on_event(void *userdata, struct engine_link *client, enum docker_action a,
		     const struct docker_container *d)
{
	struct engine *en = userdata;
	struct containers *cs = en->cs;
	struct ctr *c;

	log_debug("%s: %s %.12s (%s, pid %d)", en->socket, docker_action_name(a), d->id, d->name ?: "?",
		  (int)d->pid);
	if (a == DOCKER_DESTROY) {
		c = ctr_by_id(cs, d->id);
		if (c)
			ctr_gone(cs, c);
		return;
	}
	c = ctr_upsert(cs, en, d);
	if (!c) {
		log_oom();
		return;
	}
	switch (a) {
	case DOCKER_CREATE:
		apply_label(cs, c);
		break;
	case DOCKER_START:
		apply_label(cs, c);
		ctr_running(cs, c, d->pid);
		break;
	case DOCKER_DIE:
		c->running = false;
		break;
	default:
		break;
	}
}

static void on_lost(void *userdata, struct engine_link *client, int error, const char *message)
{
	struct engine *en = userdata;

	/* Said once per outage; the bindings made stay enforced meanwhile. */
	if (en->connected || !en->message)
		log_warning("Lost %s at '%s' (%s); what is bound stays enforced, reconnecting.",
			    engine_link_engine(client) ?: "the container engine", en->socket,
			    message ?: strerror(-error));
	en->connected = false;
	(void)set_str(&en->message, message ?: strerror(-error));
}

static const struct engine_link_ops client_ops = {
    .synced = on_synced,
    .event = on_event,
    .lost = on_lost,
};

/* ---- the source ---- */

int containers_start(struct manager *m, sd_event *e, void **ret)
{
	struct containers *cs = calloc(1, sizeof(*cs));
	char **sockets = m->config.container_sockets;
	size_t n = 0;
	int r;

	if (!cs)
		return log_oom();
	cs->m = m;
	r = np_cgroup2_mount(&cs->mount);
	if (r < 0) {
		containers_free(cs);
		return log_error_errno(r, "Cannot find the cgroup2 mount for containers: %m");
	}
	while (sockets && sockets[n])
		n++;
	cs->engines = calloc(n ?: 1, sizeof(*cs->engines));
	cs->helper = engine_link_helper_path();
	r = cs->engines && cs->helper ? 0 : -ENOMEM;
	if (r < 0) {
		containers_free(cs);
		return log_error_errno(r, "Failed to set up the container engines: %m");
	}
	apply_default(cs);
	drop_old_defaults(cs);
	for (size_t i = 0; i < n; i++) {
		struct engine *en = &cs->engines[cs->n_engines];

		en->cs = cs;
		en->socket = strdup(sockets[i]);
		if (!en->socket) {
			containers_free(cs);
			return log_oom();
		}
		cs->n_engines++;
		r = engine_link_new(e, cs->helper, sockets[i], m->config.container_label, &client_ops, en,
				    &en->client);
		if (r < 0) {
			containers_free(cs);
			return log_error_errno(r, "Failed to follow the container engine at '%s': %m",
					       sockets[i]);
		}
	}
	*ret = cs;
	return 0;
}

void containers_stop(void *userdata)
{
	containers_free(userdata);
}
