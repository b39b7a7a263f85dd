/* SPDX-License-Identifier: GPL-2.0-only */
/* Docker's Engine API: negotiation, events, list, inspect (docker-api.h). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup-util.h"
#include "docker-api.h"
#include "json-util.h"

#define BACKOFF_MIN_USEC     (100 * 1000ULL)
#define BACKOFF_MAX_USEC     (5 * 1000 * 1000ULL)
#define REQUEST_TIMEOUT_USEC (30 * 1000 * 1000ULL)
#define CONNECT_TIMEOUT_USEC (5 * 1000 * 1000ULL)
#define VERSION_MAX	     (64 * 1024)

/* {"type":["container"],"event":["create","start","die","destroy","remove","rename"]} */
#define EVENTS_FILTER                                                                                        \
	"%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22create%22%2C%22start%22%2C%22die%22%2C" \
	"%22destroy%22%2C%22remove%22%2C%22rename%22%5D%7D"

enum state {
	STATE_BACKOFF, /* waiting to retry */
	STATE_VERSION, /* GET /version */
	STATE_SUBSCRIBING,
	STATE_SYNCING, /* the stream is live; listing and inspecting */
	STATE_LIVE,
};

enum job_kind {
	JOB_SYNC,  /* fills sync_v[index] */
	JOB_EVENT, /* completes a START in the queue */
	JOB_USER,  /* docker_client_inspect() */
	JOB_IMAGE, /* docker_client_image_label() */
};

struct job {
	struct docker_client *client;
	struct job *next;
	enum job_kind kind;
	struct np_curl_request *req; /* NULL while waiting */
	char target[256];
	size_t index;	       /* JOB_SYNC */
	struct pending *event; /* JOB_EVENT */
	void (*done)(void *userdata, int error, const char *message, const struct docker_container *ct);
	void (*image_done)(void *userdata, int error, const char *message, const char *value);
	void *userdata;
};

/* An event held back: during a sync, or behind its own START's inspect. */
struct pending {
	struct pending *next;
	enum docker_action action;
	bool ready; /* a START whose inspect has not answered is not */
	struct docker_container ct;
};

struct docker_client {
	sd_event *event;
	struct np_curl *curl;
	char *socket_path, *label_key;
	const struct docker_client_ops *ops;
	void *userdata;

	enum state state;
	char engine[8];
	char api_version[16]; /* "" before the first negotiation */
	uint64_t backoff_usec;
	sd_event_source *retry;
	sd_event_source *kick; /* starts users' jobs outside docker_client_inspect() */
	struct np_curl_request *version_req, *events_req, *list_req;

	/* Jobs waiting for a slot, and those in flight. */
	struct job *waiting, *running;
	unsigned n_running;

	struct docker_container **sync_v;
	size_t sync_n, sync_left;

	struct pending *queue, **queue_tail;
	size_t queue_len;
};

static void connect_start(struct docker_client *c);
static void fail(struct docker_client *c, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- validation ---- */

/* A short id (a prefix of an id) or a name: what may go in a path. */
static bool name_or_id_valid(const char *s)
{
	return docker_name_valid(s) || docker_id_valid(s);
}

static void reject(struct docker_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(struct docker_client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->ops->rejected)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->ops->rejected(c->userdata, c, msg);
}

/* Docker's errors are {"message": "..."}; anything else is left out. */
static void error_message(const struct np_curl_result *res, char *buf, size_t size)
{
	_cleanup_json_ json_t *j = NULL;
	const char *m = NULL;

	if (res->error < 0) {
		snprintf(buf, size, "%s", res->message ? res->message : strerror(-res->error));
		return;
	}
	if (res->body)
		j = json_loadb(res->body, res->body_size, 0, NULL);
	m = json_string_value(json_object_get(j, "message"));
	snprintf(buf, size, "HTTP %ld%s%.300s", res->status, m ? ": " : "", m ? m : "");
	/* The server's words go to a log: no control characters. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static int http_errno(long status)
{
	return status == 404 ? -ENOENT : status == 400 ? -EPROTO : -EIO;
}

/* ---- requests ---- */

static int request(struct docker_client *c, const char *path, size_t max_body, np_curl_done_t done,
		   void *userdata, struct np_curl_request **ret)
{
	_cleanup_free_ char *url = NULL;
	const struct np_curl_options o = {
	    .unix_socket = c->socket_path,
	    .max_body = max_body,
	    .timeout_usec = REQUEST_TIMEOUT_USEC,
	    .connect_timeout_usec = CONNECT_TIMEOUT_USEC,
	    .on_done = done,
	    .userdata = userdata,
	};
	struct np_curl_options opts = o;

	if (*c->api_version ? asprintf(&url, "http://localhost/v%s%s", c->api_version, path) < 0
			    : asprintf(&url, "http://localhost%s", path) < 0)
		return -ENOMEM;
	opts.url = url;
	return np_curl_start(c->curl, &opts, ret);
}

/* ---- inspects, DOCKER_INSPECTS at a time ---- */

/* A caller's job (not the stream's): survives a reconnect, goes first. */
static bool job_is_users(const struct job *j)
{
	return j->kind == JOB_USER || j->kind == JOB_IMAGE;
}

/* An image's name as one path segment: a reference has '/', ':', '@'. */
static void path_escape(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s && n + 4 <= size; s++) {
		unsigned char ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_')
			buf[n++] = ch;
		else
			n += snprintf(buf + n, size - n, "%%%02X", ch);
	}
	buf[n] = '\0';
}

static void job_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata);
static void job_finish(struct docker_client *c, struct job *j, int error, const char *message,
		       struct docker_container *ct);

static void jobs_run(struct docker_client *c)
{
	while (c->waiting && c->n_running < DOCKER_INSPECTS) {
		struct job *j = c->waiting;
		char path[3 * sizeof(j->target) + 32], name[3 * sizeof(j->target)];
		int r;

		c->waiting = j->next;
		path_escape(j->target, name, sizeof(name));
		snprintf(path, sizeof(path), "/%s/%s/json", j->kind == JOB_IMAGE ? "images" : "containers",
			 name);
		r = request(c, path, DOCKER_INSPECT_MAX, job_done, j, &j->req);
		if (r < 0) {
			job_finish(c, j, r, "cannot start the request", NULL);
			continue;
		}
		j->next = c->running;
		c->running = j;
		c->n_running++;
	}
}

static struct job *job_new(struct docker_client *c, enum job_kind kind, const char *target)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->client = c;
	j->kind = kind;
	snprintf(j->target, sizeof(j->target), "%s", target);
	return j;
}

/* Users' first: a hook waits on them. */
static void job_add(struct docker_client *c, struct job *j)
{
	struct job **p = &c->waiting;

	if (!job_is_users(j))
		while (*p)
			p = &(*p)->next;
	else
		while (*p && job_is_users(*p))
			p = &(*p)->next;
	j->next = *p;
	*p = j;
}

static void job_queue(struct docker_client *c, struct job *j)
{
	job_add(c, j);
	jobs_run(c);
}

static void job_unlink(struct docker_client *c, struct job *j)
{
	struct job **list = j->req ? &c->running : &c->waiting;

	for (struct job **p = list; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	if (j->req)
		c->n_running--;
}

/* Drops the jobs of the stream (sync and events), or all of them. */
static void jobs_cancel(struct docker_client *c, bool all)
{
	struct job **lists[] = {&c->waiting, &c->running};

	for (size_t i = 0; i < ELEMENTSOF(lists); i++)
		for (struct job **p = lists[i]; *p;) {
			struct job *j = *p;

			if (!all && job_is_users(j)) {
				p = &j->next;
				continue;
			}
			*p = j->next;
			if (j->req) {
				np_curl_cancel(j->req);
				c->n_running--;
			}
			free(j);
		}
}

static void image_done(struct docker_client *c, struct job *j, const struct np_curl_result *res)
{
	_cleanup_free_ char *value = NULL;
	char msg[400] = "";
	int r = 0;

	if (res->error < 0 || res->status != 200) {
		error_message(res, msg, sizeof(msg));
		r = res->error < 0 ? res->error : http_errno(res->status);
	} else if ((r = docker_image_label_parse(res->body, res->body_size, c->label_key, &value)) ==
		   -EBADMSG)
		snprintf(msg, sizeof(msg), "the inspect of image %s is not a JSON object", j->target);
	else if (r < 0)
		snprintf(msg, sizeof(msg), "out of memory");
	j->image_done(j->userdata, r, r < 0 ? msg : NULL, r < 0 ? NULL : value);
	free(j);
	jobs_run(c);
}

static void job_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata)
{
	struct job *j = userdata;
	struct docker_client *c = j->client;
	_cleanup_(docker_container_freep) struct docker_container *ct = NULL;
	char msg[400] = "";
	int r = 0;

	(void)req;
	job_unlink(c, j);
	j->req = NULL;
	if (j->kind == JOB_IMAGE)
		return image_done(c, j, res);
	if (res->error < 0 || res->status != 200) {
		error_message(res, msg, sizeof(msg));
		r = res->error < 0 ? res->error : http_errno(res->status);
	} else if ((r = docker_inspect_parse(res->body, res->body_size, c->label_key, &ct)) < 0 &&
		   r != -ENOMEM) {
		snprintf(msg, sizeof(msg), "the inspect of %s %s", j->target,
			 r == -EBADMSG ? "is not a JSON object" : "has no valid Id");
		r = -EBADMSG;
	}
	if (r == -ENOMEM)
		snprintf(msg, sizeof(msg), "out of memory");
	job_finish(c, j, r, msg, r < 0 ? NULL : ct);
	jobs_run(c);
}

static void sync_finish(struct docker_client *c);

/* ---- the event queue ---- */

static void pending_free(struct pending *p)
{
	docker_container_clear(&p->ct);
	free(p);
}

static void queue_clear(struct docker_client *c)
{
	while (c->queue) {
		struct pending *p = c->queue;

		c->queue = p->next;
		pending_free(p);
	}
	c->queue_tail = &c->queue;
	c->queue_len = 0;
}

/* Delivers what may go: after the sync, an event whose own container has
 * nothing before it in the queue. */
static void queue_flush(struct docker_client *c)
{
	if (c->state != STATE_LIVE)
		return;
	for (struct pending **p = &c->queue; *p;) {
		struct pending *e = *p;
		bool blocked = !e->ready;

		for (struct pending *q = c->queue; !blocked && q != e; q = q->next)
			blocked = memcmp(q->ct.id, e->ct.id, 64) == 0;
		if (blocked) {
			p = &e->next;
			continue;
		}
		*p = e->next;
		if (c->queue_tail == &e->next)
			c->queue_tail = p;
		c->queue_len--;
		c->ops->event(c->userdata, c, e->action, &e->ct);
		pending_free(e);
		/* The callback may have started a job, never touched the queue. */
	}
}

static void job_finish(struct docker_client *c, struct job *j, int error, const char *message,
		       struct docker_container *ct)
{
	switch (j->kind) {
	case JOB_USER:
		j->done(j->userdata, error, error < 0 ? message : NULL, ct);
		break;
	case JOB_IMAGE: /* only when its request could not start */
		j->image_done(j->userdata, error, message, NULL);
		break;
	case JOB_EVENT:
		if (ct && memcmp(ct->id, j->event->ct.id, 64) == 0) {
			docker_container_clear(&j->event->ct);
			j->event->ct = *ct;
			*ct = (struct docker_container){};
		} else {
			/* Gone already: the event's attributes, no pid. */
			j->event->ct.pid = 0;
			j->event->ct.running = false;
		}
		j->event->ready = true;
		queue_flush(c);
		break;
	case JOB_SYNC:
		if (ct && memcmp(ct->id, c->sync_v[j->index]->id, 64) == 0) {
			docker_container_clear(c->sync_v[j->index]);
			*c->sync_v[j->index] = *ct;
			*ct = (struct docker_container){};
		} else if (error == -ENOENT) {
			/* Removed since the list: its destroy event is queued. */
			docker_container_free(c->sync_v[j->index]);
			c->sync_v[j->index] = NULL;
		}
		/* Another failure keeps the listed entry, pid 0. */
		if (--c->sync_left == 0)
			sync_finish(c);
		break;
	}
	free(j);
}

static void sync_free(struct docker_client *c)
{
	for (size_t i = 0; i < c->sync_n; i++)
		docker_container_free(c->sync_v[i]);
	free(c->sync_v);
	c->sync_v = NULL;
	c->sync_n = c->sync_left = 0;
}

static void sync_finish(struct docker_client *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->sync_n; i++)
		if (c->sync_v[i])
			c->sync_v[n++] = c->sync_v[i];
	c->sync_n = n;
	c->state = STATE_LIVE;
	c->backoff_usec = BACKOFF_MIN_USEC;
	c->ops->synced(c->userdata, c, c->sync_v, n);
	sync_free(c);
	queue_flush(c);
}

/* ---- the connection: version, events, list; failure and retry ---- */

static int retry_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct docker_client *c = userdata;

	(void)s;
	(void)usec;
	c->retry = sd_event_source_disable_unref(c->retry);
	connect_start(c);
	return 0;
}

static int retry_defer(sd_event_source *s, void *userdata)
{
	return retry_fire(s, 0, userdata);
}

static void teardown(struct docker_client *c)
{
	np_curl_cancel(c->version_req);
	np_curl_cancel(c->events_req);
	np_curl_cancel(c->list_req);
	c->version_req = c->events_req = c->list_req = NULL;
	jobs_cancel(c, false);
	sync_free(c);
	queue_clear(c);
}

/* Ends this connection, tells, and retries after the backoff. */
static void fail(struct docker_client *c, int error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	teardown(c);
	c->state = STATE_BACKOFF;
	r = sd_event_add_time_relative(c->event, &c->retry, CLOCK_MONOTONIC, c->backoff_usec, 0, retry_fire,
				       c);
	c->backoff_usec = c->backoff_usec * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : c->backoff_usec * 2;
	c->ops->lost(c->userdata, c, error, msg);
	if (r < 0)
		/* No timer (no memory): try again on the next turn. */
		(void)sd_event_add_defer(c->event, &c->retry, retry_defer, c);
}

static void list_rejected(void *userdata, size_t index)
{
	reject(userdata, "a listed container without a valid Id (entry %zu)", index);
}

static void list_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata)
{
	struct docker_client *c = userdata;
	char msg[400];
	size_t n_running = 0;
	int r;

	(void)req;
	c->list_req = NULL;
	if (res->error < 0 || res->status != 200) {
		error_message(res, msg, sizeof(msg));
		return fail(c, res->error < 0 ? res->error : http_errno(res->status),
			    "cannot list the containers: %s", msg);
	}
	r = docker_list_parse(res->body, res->body_size, c->label_key, list_rejected, c, &c->sync_v,
			      &c->sync_n);
	if (r == -EBADMSG)
		return fail(c, r, "the list of containers is not a JSON array");
	if (r < 0)
		return fail(c, r, "out of memory");
	for (size_t i = 0; i < c->sync_n; i++)
		n_running += c->sync_v[i]->running;
	c->sync_left = n_running;
	if (n_running == 0)
		return sync_finish(c);
	for (size_t i = 0, n_sync = c->sync_n; i < n_sync; i++) {
		struct job *jb;

		if (!c->sync_v[i]->running)
			continue;
		jb = job_new(c, JOB_SYNC, c->sync_v[i]->id);
		if (!jb)
			return fail(c, -ENOMEM, "out of memory");
		jb->index = i;
		job_queue(c, jb);
		/* The last job may have finished the sync at once. */
		if (c->state != STATE_SYNCING)
			return;
	}
}

static int events_response(struct np_curl_request *req, long status, void *userdata)
{
	struct docker_client *c = userdata;

	(void)req;
	if (status != 200)
		return 0; /* events_done says why, with the body */
	c->state = STATE_SYNCING;
	return request(c, "/containers/json?all=1", DOCKER_LIST_MAX, list_done, c, &c->list_req);
}

static int events_line(struct np_curl_request *req, const char *line, size_t len, void *userdata)
{
	struct docker_client *c = userdata;
	struct docker_container ct = {};
	struct pending *p;
	enum docker_action a;
	int r;

	(void)req;
	r = docker_event_parse(line, len, c->label_key, &a, &ct);
	if (r == 0 || r == -EMSGSIZE || r == -ENOMEM)
		return r;
	if (r == -EBADMSG) {
		reject(c, "an event that is not a JSON object (%zu bytes)", len);
		return 0;
	}
	if (c->queue_len >= DOCKER_QUEUE_MAX) {
		docker_container_clear(&ct);
		return -ENOBUFS;
	}
	if (r < 0) {
		reject(c, "a %s event without a valid Actor.ID", docker_action_name(a));
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		docker_container_clear(&ct);
		return -ENOMEM;
	}
	p->action = a;
	p->ready = a != DOCKER_START;
	p->ct = ct;
	if (a == DOCKER_START) {
		struct job *jb = job_new(c, JOB_EVENT, p->ct.id);

		if (!jb) {
			pending_free(p);
			return -ENOMEM;
		}
		jb->event = p;
		/* Queued first: the job may end at once, and then finds it. */
		*c->queue_tail = p;
		c->queue_tail = &p->next;
		c->queue_len++;
		job_queue(c, jb);
		return 0;
	}
	*c->queue_tail = p;
	c->queue_tail = &p->next;
	c->queue_len++;
	queue_flush(c);
	return 0;
}

static void events_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata)
{
	struct docker_client *c = userdata;
	char msg[400];

	(void)req;
	c->events_req = NULL;
	if (res->error == -ENOBUFS)
		return fail(c, res->error, "more than %u events held back; resyncing", DOCKER_QUEUE_MAX);
	if (res->error < 0 || res->status != 200) {
		error_message(res, msg, sizeof(msg));
		return fail(c, res->error < 0 ? res->error : http_errno(res->status), "the events stream: %s",
			    msg);
	}
	fail(c, -ECONNRESET, "the events stream ended");
}

static int version_parse(const char *s, unsigned *ret)
{
	unsigned major, minor;
	char extra;

	if (!s || sscanf(s, "%3u.%3u%c", &major, &minor, &extra) != 2)
		return -EINVAL;
	*ret = major * 1000 + minor;
	return 0;
}

static int events_start(struct docker_client *c)
{
	_cleanup_free_ char *url = NULL;
	const struct np_curl_options o = {
	    .unix_socket = c->socket_path,
	    .max_line = DOCKER_EVENT_MAX,
	    .connect_timeout_usec = CONNECT_TIMEOUT_USEC,
	    .on_line = events_line,
	    .on_response = events_response,
	    .on_done = events_done,
	    .userdata = c,
	};
	struct np_curl_options opts = o;

	if (asprintf(&url, "http://localhost/v%s/events?filters=%s", c->api_version, EVENTS_FILTER) < 0)
		return -ENOMEM;
	opts.url = url;
	return np_curl_start(c->curl, &opts, &c->events_req);
}

static bool is_podman(json_t *version)
{
	json_t *comp;
	size_t i;

	json_array_foreach(json_object_get(version, "Components"), i, comp)
	{
		const char *name = json_string_value(json_object_get(comp, "Name"));

		if (name && strstr(name, "Podman"))
			return true;
	}
	return false;
}

static void version_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata)
{
	struct docker_client *c = userdata;
	_cleanup_json_ json_t *j = NULL;
	unsigned ours = 0, min = 0, theirs, their_min = 0;
	const char *v;
	char msg[400];
	int r;

	(void)req;
	c->version_req = NULL;
	if (res->error < 0 || res->status != 200) {
		error_message(res, msg, sizeof(msg));
		return fail(c, res->error < 0 ? res->error : http_errno(res->status), "GET /version: %s",
			    msg);
	}
	j = json_loadb(res->body, res->body_size, 0, NULL);
	v = json_string_value(json_object_get(j, "ApiVersion"));
	if (version_parse(v, &theirs) < 0)
		return fail(c, -EBADMSG, "GET /version: no valid ApiVersion");
	(void)version_parse(json_string_value(json_object_get(j, "MinAPIVersion")), &their_min);
	(void)version_parse(DOCKER_API_MAX, &ours);
	(void)version_parse(DOCKER_API_MIN, &min);
	if (theirs < min)
		return fail(c, -EPROTONOSUPPORT, "the server speaks API %s, older than the %s we need", v,
			    DOCKER_API_MIN);
	if (theirs > ours)
		theirs = ours;
	if (theirs < their_min)
		return fail(c, -EPROTONOSUPPORT, "the server needs API %s or newer, we speak up to %s",
			    json_string_value(json_object_get(j, "MinAPIVersion")), DOCKER_API_MAX);
	snprintf(c->api_version, sizeof(c->api_version), "%u.%u", theirs / 1000, theirs % 1000);
	snprintf(c->engine, sizeof(c->engine), "%s", is_podman(j) ? "podman" : "docker");
	c->state = STATE_SUBSCRIBING;
	r = events_start(c);
	if (r < 0)
		fail(c, r, "cannot subscribe to the events");
}

static void connect_start(struct docker_client *c)
{
	const struct np_curl_options opts = {
	    .url = "http://localhost/version",
	    .unix_socket = c->socket_path,
	    .max_body = VERSION_MAX,
	    .timeout_usec = REQUEST_TIMEOUT_USEC,
	    .connect_timeout_usec = CONNECT_TIMEOUT_USEC,
	    .on_done = version_done,
	    .userdata = c,
	};
	int r;

	c->state = STATE_VERSION;
	r = np_curl_start(c->curl, &opts, &c->version_req);
	if (r < 0)
		fail(c, r, "cannot start GET /version");
}

/* ---- the interface ---- */

static bool label_key_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return i > 0 && i <= DOCKER_LABEL_MAX;
}

int docker_client_new(sd_event *e, struct np_curl *curl, const char *socket_path, const char *label_key,
		      const struct docker_client_ops *ops, void *userdata, struct docker_client **ret)
{
	struct docker_client *c;
	int r;

	if (!e || !curl || !socket_path || *socket_path != '/' || strlen(socket_path) >= 108 || !label_key ||
	    !label_key_valid(label_key) || !ops || !ops->synced || !ops->event || !ops->lost || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->event = sd_event_ref(e);
	c->curl = curl;
	c->ops = ops;
	c->userdata = userdata;
	c->backoff_usec = BACKOFF_MIN_USEC;
	c->queue_tail = &c->queue;
	c->socket_path = strdup(socket_path);
	c->label_key = strdup(label_key);
	if (!c->socket_path || !c->label_key) {
		docker_client_free(c);
		return -ENOMEM;
	}
	/* The first attempt on the next turn, like every retry: no callback
	 * runs inside this call. */
	r = sd_event_add_time_relative(e, &c->retry, CLOCK_MONOTONIC, 0, 0, retry_fire, c);
	if (r < 0) {
		docker_client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void docker_client_free(struct docker_client *c)
{
	if (!c)
		return;
	teardown(c);
	jobs_cancel(c, true);
	sd_event_source_disable_unref(c->retry);
	sd_event_source_disable_unref(c->kick);
	sd_event_unref(c->event);
	free(c->socket_path);
	free(c->label_key);
	free(c);
}

const char *docker_client_socket(const struct docker_client *c)
{
	return c->socket_path;
}

const char *docker_client_engine(const struct docker_client *c)
{
	return *c->engine ? c->engine : NULL;
}

const char *docker_client_api_version(const struct docker_client *c)
{
	return *c->api_version ? c->api_version : NULL;
}

bool docker_client_connected(const struct docker_client *c)
{
	return c->state == STATE_LIVE;
}

static int kick_fire(sd_event_source *s, void *userdata)
{
	struct docker_client *c = userdata;

	(void)s;
	jobs_run(c);
	return 0;
}

/* A user's job: queued, started from the loop (never inside the call). */
static int user_job(struct docker_client *c, enum job_kind kind, const char *arg, struct job **ret)
{
	int r;

	if (!*c->api_version)
		return -ENOTCONN;
	if (!c->kick) {
		r = sd_event_add_defer(c->event, &c->kick, kick_fire, c);
		if (r < 0)
			return r;
	}
	*ret = job_new(c, kind, arg);
	return *ret ? 0 : -ENOMEM;
}

static int user_job_add(struct docker_client *c, struct job *j, void *userdata)
{
	j->userdata = userdata;
	job_add(c, j);
	return sd_event_source_set_enabled(c->kick, SD_EVENT_ONESHOT);
}

int docker_client_inspect(struct docker_client *c, const char *name_or_id,
			  void (*done)(void *userdata, int error, const char *message,
				       const struct docker_container *ct),
			  void *userdata)
{
	struct job *j;
	int r;

	if (!name_or_id || !name_or_id_valid(name_or_id) || !done)
		return -EINVAL;
	r = user_job(c, JOB_USER, name_or_id, &j);
	if (r < 0)
		return r;
	j->done = done;
	return user_job_add(c, j, userdata);
}

static bool image_ref_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return i > 0 && i <= DOCKER_LABEL_MAX;
}

int docker_client_image_label(struct docker_client *c, const char *image,
			      void (*done)(void *userdata, int error, const char *message, const char *value),
			      void *userdata)
{
	struct job *j;
	int r;

	if (!image || !image_ref_valid(image) || !done)
		return -EINVAL;
	r = user_job(c, JOB_IMAGE, image, &j);
	if (r < 0)
		return r;
	j->image_done = done;
	return user_job_add(c, j, userdata);
}
