/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup-util.h"
#include "ctl-auth.h"
#include "ctl-request.h"
#include "ctl-server.h"
#include "log.h"
#include "worker.h"

#define READ_CHUNK (64u * 1024)
/* Lines longer than this are parsed on the worker thread. */
#define CTL_LARGE_LINE (64u * 1024)

/* Client buffers come from mmap, not malloc: a few clients can make them
 * megabytes big (a request line of 8 MiB, a follower that never reads),
 * and what malloc frees it mostly keeps, while munmap gives it back. */
struct buf {
	char *p;
	size_t cap;
};

#define BUF_STEP (16u * 1024)

static int buf_reserve(struct buf *b, size_t want)
{
	size_t cap = (want + BUF_STEP - 1) / BUF_STEP * BUF_STEP;
	void *p;

	if (want <= b->cap)
		return 0;
	if (b->p)
		p = mremap(b->p, b->cap, cap, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_release(struct buf *b)
{
	if (b->p)
		munmap(b->p, b->cap);
	*b = (struct buf){};
}

struct ctl_client {
	struct ctl_server *server;
	struct ctl_client *prev, *next;
	int fd;
	struct ucred cred;
	bool can_write;
	sd_event_source *io;
	sd_event_source *idle;

	struct buf in;
	size_t in_len, in_scanned;
	struct buf out;
	size_t out_len, out_off;

	bool eof;     /* the peer shut its sending side */
	bool closing; /* close once the queue is flushed */
	bool dead;    /* close now */

	struct ctl_job *job; /* the request under way, if any */

	bool follower;
	json_t *follow_id;
	char *follow_id_text; /* follow_id as JSON */
	ctl_follow_filter_fn follow_filter;
	void *follow_data;
	void (*follow_free)(void *data);
	uint64_t missed;
};

struct ctl_server {
	const struct ctl_method *methods;
	void *userdata;
	sd_event *event;
	int listen_fd;
	int spare_fd; /* given up to accept-and-refuse when out of fds */
	sd_event_source *listen_source;
	struct ctl_client *clients;
	unsigned n_clients, n_followers, n_readers;
	unsigned max_clients, max_clients_per_uid, writer_clients;
	struct ctl_auth auth;
	uint64_t idle_usec;

	struct worker *worker;
	struct ctl_job *writer;		       /* the write under way */
	struct ctl_job *writes, **writes_tail; /* writes waiting for it, in order */
	struct ctl_job *suspended;	       /* ctl_call_suspend()'s, waiting for a resume */
};

int ctl_fail(struct ctl_call *call, const char *code, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(call->error);
	/* People read the message alone, so it names the field too. */
	if (field)
		call->error = np_proto_reply_error(call->id, code, field, "%s: %s", field, msg);
	else
		call->error = np_proto_reply_error(call->id, code, NULL, "%s", msg);
	return -EINVAL;
}

void ctl_server_set_config(struct ctl_server *s, const struct np_config *c)
{
	s->idle_usec = (uint64_t)c->idle_timeout_sec * 1000000ull;
	s->max_clients = c->max_clients;
	s->max_clients_per_uid = c->max_clients_per_uid;
	s->writer_clients = c->writer_clients;
	ctl_auth_set_config(&s->auth, c);
}

/* ---- idleness ---- */

/* A client that stays silent, neither sending nor reading, for the idle
 * timeout is closed, so that connections left open cannot hold the slots
 * that others need. The deadline moves with every byte either way. A
 * follower is silent by design, and one whose request is under way waits
 * for us: neither has a deadline. */
static void arm_idle(struct ctl_client *c)
{
	uint64_t now;

	if (c->dead || c->follower || c->job) {
		(void)sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_now(c->server->event, CLOCK_MONOTONIC, &now);
	(void)sd_event_source_set_time(c->idle, now + c->server->idle_usec);
	(void)sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
}

/* ---- output ---- */

static size_t out_pending(const struct ctl_client *c)
{
	return c->out_len - c->out_off;
}

static int out_append(struct ctl_client *c, const char *data, size_t len)
{
	int r;

	/* Compact rather than grow: the buffer holds what is pending, no more. */
	if (c->out_off > 0 && c->out_len + len > c->out.cap) {
		memmove(c->out.p, c->out.p + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	r = buf_reserve(&c->out, c->out_len + len);
	if (r < 0)
		return r;
	memcpy(c->out.p + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/* All sent: a buffer grown by a large reply or a burst of events goes
 * back; a small one is kept for the next reply. */
static void out_drained(struct ctl_client *c)
{
	c->out_off = c->out_len = 0;
	if (c->out.cap > BUF_STEP)
		buf_release(&c->out);
}

static void client_update_events(struct ctl_client *c)
{
	uint32_t ev = 0;

	if (c->dead)
		return;
	/* Level-triggered: no EPOLLIN while a request is under way, since
	 * nothing is read then. */
	if (!c->eof && !c->closing && !c->job)
		ev |= EPOLLIN;
	if (out_pending(c) > 0)
		ev |= EPOLLOUT;
	(void)sd_event_source_set_io_events(c->io, ev);
}

static int queue_line(struct ctl_client *c, const char *line, size_t len);

static void client_flush(struct ctl_client *c)
{
	bool sent = false;

	while (!c->dead && out_pending(c) > 0) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, out_pending(c), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			break;
		}
		c->out_off += (size_t)n;
		sent = true;
		if (out_pending(c) == 0)
			out_drained(c);
		/* A follower that caught up learns what it missed. */
		if (out_pending(c) == 0 && c->missed > 0) {
			_cleanup_(json_decrefp) json_t *j =
			    json_pack("{s:i, s:O, s:I}", "version", NP_PROTO_VERSION, "id",
				      c->follow_id ?: json_null(), "missed", (json_int_t)c->missed);
			_cleanup_free_ char *line = j ? np_proto_dump_line(j) : NULL;

			if (line && out_append(c, line, strlen(line)) >= 0)
				c->missed = 0;
		}
	}
	/* A client that reads what we send is not idle. */
	if (sent)
		arm_idle(c);
	client_update_events(c);
}

static int queue_line(struct ctl_client *c, const char *line, size_t len)
{
	int r;

	if (c->dead)
		return -EPIPE;
	r = out_append(c, line, len);
	if (r < 0) {
		c->dead = true;
		return r;
	}
	client_flush(c);
	return 0;
}

/* A reply. A client that lets replies pile up beyond the limit is not
 * reading: it is closed rather than allowed to grow our memory. */
static void send_reply(struct ctl_client *c, json_t *reply)
{
	_cleanup_free_ char *line = NULL;

	if (!reply) {
		c->dead = true;
		return;
	}
	if (out_pending(c) > NP_PROTO_CLIENT_OUT_MAX) {
		log_debug("Client (uid %u, pid %d) does not read its replies; closing it.", c->cred.uid,
			  c->cred.pid);
		c->dead = true;
		return;
	}
	line = np_proto_dump_line(reply);
	if (!line) {
		c->dead = true;
		return;
	}
	(void)queue_line(c, line, strlen(line));
}

static void send_error(struct ctl_client *c, json_t *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void send_error(struct ctl_client *c, json_t *id, const char *code, const char *fmt, ...)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;
	va_list ap;

	va_start(ap, fmt);
	reply = np_proto_reply_errorv(id, code, NULL, fmt, ap);
	va_end(ap);
	send_reply(c, reply);
}

/* ---- clients ---- */

static void client_drop_job(struct ctl_client *c);

static struct ctl_client *client_free(struct ctl_client *c)
{
	struct ctl_server *s;

	if (!c)
		return NULL;
	s = c->server;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_clients--;
	s->n_readers -= !c->can_write;
	if (c->follower)
		s->n_followers--;
	client_drop_job(c);
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->idle);
	if (c->fd >= 0)
		close(c->fd);
	json_decref(c->follow_id);
	free(c->follow_id_text);
	if (c->follow_free)
		c->follow_free(c->follow_data);
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
	return NULL;
}

/* Every entry point ends here: frees the client once nothing more can or
 * needs to be said to it. */
static void client_settle(struct ctl_client *c)
{
	if (c->dead) {
		client_free(c);
		return;
	}
	if (out_pending(c) == 0 && !c->job && (c->closing || (c->eof && !c->follower))) {
		client_free(c);
		return;
	}
	client_update_events(c);
}

static void start_following(struct ctl_client *c, struct ctl_call *call)
{
	size_t i;
	json_t *v;

	if (!c->follower)
		c->server->n_followers++;
	c->follower = true;
	json_decref(c->follow_id);
	c->follow_id = json_incref(call->id);
	free(c->follow_id_text);
	c->follow_id_text = json_dumps(call->id, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!c->follow_id_text) {
		c->dead = true;
		return;
	}
	if (c->follow_free)
		c->follow_free(c->follow_data);
	c->follow_filter = call->follow_filter;
	c->follow_data = TAKE_PTR(call->follow_data);
	c->follow_free = TAKE_PTR(call->follow_free);
	json_array_foreach(call->backlog, i, v)
	{
		_cleanup_(json_decrefp) json_t *j =
		    json_pack("{s:i, s:O, s:O}", "version", NP_PROTO_VERSION, "id", call->id, "event", v);
		_cleanup_free_ char *line = j ? np_proto_dump_line(j) : NULL;

		if (!line || out_pending(c) + strlen(line) > NP_PROTO_FOLLOWER_OUT_MAX)
			c->missed++;
		else
			(void)queue_line(c, line, strlen(line));
	}
}

/* ---- requests ---- */

/*
 * A request's life: its line is parsed (on the worker when it is large),
 * checked and dispatched (steps 5 to 7); a method may hand slow steps to
 * the worker (ctl_call_defer()) and finish later. Meanwhile its client
 * reads no further request, so that replies keep the request order.
 * Writes go one at a time: a write that arrives while another is under way
 * waits in the server's queue, and runs once that one is answered. Reads
 * are served all along.
 */
struct ctl_job {
	struct ctl_server *server;
	struct ctl_client *client; /* NULL once the client is gone */
	struct ctl_job *next;	   /* in the queue of writes */
	bool queued;
	struct ctl_job *next_suspended;
	struct worker_job wj;

	char *line; /* a large line, copied for the worker */
	size_t len;
	int parse_r;
	json_t *parse_error;
	struct ctl_request req;

	const struct ctl_method *method;
	json_t *params;
	struct ctl_call call;

	ctl_work_fn work; /* the method's deferred step */
	ctl_done_fn done;
	void *data;
	void (*free_data)(void *data);
};

static void job_resume_client(struct ctl_client *c);
static void writes_pump(struct ctl_server *s);

struct disposal {
	struct worker_job wj;
	json_t *json;
};

static void dispose_work(void *data)
{
	struct disposal *d = data;

	json_decref(d->json);
	free(d);
}

/* Drops j, on the worker if it came from a large line: freeing the JSON
 * of half a million CIDRs takes tens of milliseconds. */
static void json_dispose(struct ctl_server *s, json_t *j, bool large)
{
	struct disposal *d = large && j ? malloc(sizeof(*d)) : NULL;

	if (!d) {
		json_decref(j);
		return;
	}
	d->json = j;
	worker_submit(s->worker, &d->wj, dispose_work, NULL, d);
}

static struct ctl_job *job_new(struct ctl_client *c)
{
	struct ctl_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->server = c->server;
	job->client = c;
	job->call = (struct ctl_call){
	    .userdata = c->server->userdata,
	    .server = c->server,
	    .job = job,
	    .uid = c->cred.uid,
	    .pid = c->cred.pid,
	    .can_write = c->can_write,
	};
	return job;
}

static void job_free(struct ctl_job *job)
{
	bool large = job->len > CTL_LARGE_LINE;

	if (job->free_data)
		job->free_data(job->data);
	json_decref(job->call.result);
	json_decref(job->call.error);
	json_decref(job->call.backlog);
	if (job->call.follow_free)
		job->call.follow_free(job->call.follow_data);
	json_decref(job->parse_error);
	free(job->line);
	if (!job->req.params)
		json_decref(job->params); /* the {} made for a request without params */
	json_dispose(job->server, TAKE_PTR(job->req.req), large);
	free(job);
}

/* The job is over: its client may go on with its next request. */
static void job_end(struct ctl_job *job)
{
	struct ctl_server *s = job->server;

	if (s->writer == job)
		s->writer = NULL;
	if (job->client && job->client->job == job)
		job->client->job = NULL;
	job_free(job);
}

/* c goes: a write it queued is dropped (nothing has happened yet); one
 * under way goes on without it, since it may have changed state already. */
static void client_drop_job(struct ctl_client *c)
{
	struct ctl_server *s = c->server;
	struct ctl_job *job = TAKE_PTR(c->job), **p;

	if (!job)
		return;
	job->client = NULL;
	if (!job->queued)
		return;
	for (p = &s->writes; *p != job; p = &(*p)->next)
		;
	*p = job->next;
	if (s->writes_tail == &job->next)
		s->writes_tail = p;
	job_free(job);
}

static void job_reply(struct ctl_job *job, json_t *reply)
{
	if (job->client)
		send_reply(job->client, reply);
}

static void job_fail(struct ctl_job *job, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_fail(struct ctl_job *job, const char *code, const char *field, const char *fmt, ...)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;
	va_list ap;

	va_start(ap, fmt);
	reply = np_proto_reply_errorv(job->req.id, code, field, fmt, ap);
	va_end(ap);
	job_reply(job, reply);
	if (!reply && job->client)
		job->client->dead = true;
}

void ctl_call_follow(struct ctl_call *call, ctl_follow_filter_fn filter, void *data,
		     void (*free_data)(void *data), json_t *backlog)
{
	if (call->follow_free)
		call->follow_free(call->follow_data);
	json_decref(call->backlog);
	call->follow = true;
	call->follow_filter = filter;
	call->follow_data = data;
	call->follow_free = free_data;
	call->backlog = backlog;
}

int ctl_call_defer(struct ctl_call *call, ctl_work_fn work, ctl_done_fn done, void *data,
		   void (*free_data)(void *data))
{
	struct ctl_job *job = call->job;

	if (job->data != data && job->free_data)
		job->free_data(job->data);
	job->work = work;
	job->done = done;
	job->data = data;
	job->free_data = free_data;
	return CTL_DEFERRED;
}

int ctl_call_suspend(struct ctl_call *call)
{
	return CTL_SUSPENDED;
}

static void job_work(void *data)
{
	struct ctl_job *job = data;

	job->work(job->data);
}

static void job_step(struct ctl_job *job, int r);

/* Back on the event loop after the worker did a method's step. */
static void job_done(void *data)
{
	struct ctl_job *job = data;
	struct ctl_client *c = job->client;
	struct ctl_server *s = job->server;

	job_step(job, job->done(&job->call, job->data));
	if (c)
		job_resume_client(c);
	writes_pump(s);
}

/* After a method or one of its deferred steps returned r. */
static void job_step(struct ctl_job *job, int r)
{
	struct ctl_server *s = job->server;
	struct ctl_client *c = job->client;
	_cleanup_(json_decrefp) json_t *reply = NULL;

	if (r == CTL_DEFERRED) {
		if (job->method->privilege == NP_PRIV_WRITE)
			s->writer = job;
		if (c)
			c->job = job;
		worker_submit(s->worker, &job->wj, job_work, job_done, job);
		return;
	}
	if (r == CTL_SUSPENDED) {
		if (job->method->privilege == NP_PRIV_WRITE)
			s->writer = job;
		if (c)
			c->job = job;
		job->next_suspended = s->suspended;
		s->suspended = job;
		return;
	}
	if (r < 0 && job->call.error)
		reply = TAKE_PTR(job->call.error);
	else if (r < 0)
		reply = np_proto_reply_error(job->req.id, NP_ERR_INTERNAL, NULL,
					     "%s failed: %s (nothing was changed)", job->req.command,
					     strerror(-r));
	else
		reply = np_proto_reply_ok(job->req.id, TAKE_PTR(job->call.result));
	job_reply(job, reply);
	if (r >= 0 && job->call.follow && c && !c->dead)
		start_following(c, &job->call);
	job_end(job);
}

static void job_run(struct ctl_job *job)
{
	struct ctl_client *c = job->client;

	if (c)
		log_debug("uid %u (pid %d): %s", c->cred.uid, c->cred.pid, job->req.command);
	job_step(job, job->method->fn(&job->call, job->params));
}

/* Runs the writes that waited, in order, until one is under way. */
static void writes_pump(struct ctl_server *s)
{
	while (!s->writer && s->writes) {
		struct ctl_job *job = s->writes;
		struct ctl_client *c = job->client;

		s->writes = job->next;
		if (!s->writes)
			s->writes_tail = &s->writes;
		job->queued = false;
		job_run(job);
		if (c)
			job_resume_client(c);
	}
}

void ctl_server_resume(struct ctl_server *s)
{
	struct ctl_job *job = TAKE_PTR(s->suspended), *next;

	for (; job; job = next) {
		struct ctl_client *c = job->client;

		next = job->next_suspended;
		/* A client that left is answered by nobody; a write goes on. */
		job_step(job, job->method->fn(&job->call, job->params));
		if (c)
			job_resume_client(c);
	}
	writes_pump(s);
}

static const struct ctl_method *method_find(const struct ctl_server *s, const char *name)
{
	for (const struct ctl_method *m = s->methods; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* Steps 5 to 7 of the validation order, for a request whose envelope
 * ctl_request_parse() checked. */
static void dispatch(struct ctl_job *job)
{
	struct ctl_server *s = job->server;
	struct ctl_client *c = job->client;

	job->method = method_find(s, job->req.command);
	if (!job->method) {
		job_fail(job, NP_ERR_UNKNOWN_COMMAND, NULL, "unknown command '%s'", job->req.command);
		goto end;
	}
	if (job->method->privilege == NP_PRIV_WRITE && !job->call.can_write) {
		job_fail(job, NP_ERR_PERMISSION, NULL,
			 "permission denied: '%s' changes state, which needs root or the admin group",
			 job->req.command);
		goto end;
	}
	if (job->req.nul_path[0]) {
		job_fail(job, NP_ERR_INVALID_PARAM, job->req.nul_path,
			 "%s: a string must not contain NUL characters", job->req.nul_path);
		goto end;
	}
	job->call.id = job->req.id;
	job->params = job->req.params ?: json_object();
	if (!job->params) {
		c->dead = true;
		goto end;
	}
	if (job->method->privilege == NP_PRIV_WRITE && (s->writer || s->writes)) {
		job->queued = true;
		*s->writes_tail = job;
		s->writes_tail = &job->next;
		c->job = job;
		return;
	}
	job_run(job);
	return;
end:
	job_end(job);
}

static void job_parsed(struct ctl_job *job)
{
	struct ctl_client *c = job->client;

	/* Its client left while the line was parsed: nothing has happened. */
	if (!c) {
		job_end(job);
		return;
	}
	if (job->parse_r < 0) {
		if (!job->parse_error)
			c->dead = true;
		job_reply(job, job->parse_error);
		if (job->parse_r == -EMSGSIZE)
			c->closing = true;
		job_end(job);
		return;
	}
	dispatch(job);
}

static void parse_work(void *data)
{
	struct ctl_job *job = data;

	job->parse_r = ctl_request_parse(job->line, job->len, &job->req, &job->parse_error);
	free(TAKE_PTR(job->line));
}

static void parse_done(void *data)
{
	struct ctl_job *job = data;
	struct ctl_client *c = job->client;
	struct ctl_server *s = job->server;

	if (c && c->job == job)
		c->job = NULL;
	job_parsed(job);
	if (c)
		job_resume_client(c);
	writes_pump(s);
}

static void handle_line(struct ctl_client *c, const char *line, size_t len)
{
	struct ctl_job *job = job_new(c);

	if (!job) {
		c->dead = true;
		return;
	}
	job->len = len;
	if (len > CTL_LARGE_LINE && len <= NP_PROTO_MAX_MSG) {
		job->line = malloc(len);
		if (job->line) {
			memcpy(job->line, line, len);
			c->job = job;
			worker_submit(c->server->worker, &job->wj, parse_work, parse_done, job);
			return;
		}
	}
	job->parse_r = ctl_request_parse(line, len, &job->req, &job->parse_error);
	job_parsed(job);
}

static void too_large(struct ctl_client *c)
{
	send_error(c, NULL, NP_ERR_TOO_LARGE, "a request line may be at most %u bytes", NP_PROTO_MAX_MSG);
	c->closing = true;
}

/* Handles the complete lines in the input buffer, one request at a time;
 * keeps the rest. */
static void process_input(struct ctl_client *c)
{
	size_t start = 0;

	while (!c->dead && !c->closing && !c->job) {
		/* (An empty buffer may have no memory at all.) */
		char *nl = c->in_len > c->in_scanned
			       ? memchr(c->in.p + c->in_scanned, '\n', c->in_len - c->in_scanned)
			       : NULL;
		size_t len;

		if (!nl) {
			c->in_scanned = c->in_len;
			/* A last request without its '\n' still counts. */
			if (c->eof && c->in_len > start) {
				handle_line(c, c->in.p + start, c->in_len - start);
				start = c->in_len;
			}
			break;
		}
		len = (size_t)(nl - (c->in.p + start));
		c->in_scanned = (size_t)(nl - c->in.p) + 1;
		if (len > NP_PROTO_MAX_MSG) {
			too_large(c);
			break;
		}
		handle_line(c, c->in.p + start, len);
		start = c->in_scanned;
	}
	if (start > 0) {
		memmove(c->in.p, c->in.p + start, c->in_len - start);
		c->in_len -= start;
		c->in_scanned -= start;
	}
	/* Grown for a large line, given back once it is handled. */
	if (c->in_len == 0 && c->in.cap > 2 * READ_CHUNK)
		buf_release(&c->in);
	if (!c->closing && !c->job && c->in_len > NP_PROTO_MAX_MSG)
		too_large(c);
}

/* After a request of c was answered: its next ones, if it sent any. */
static void job_resume_client(struct ctl_client *c)
{
	if (!c->job)
		process_input(c);
	arm_idle(c);
	client_settle(c);
}

static int grow_input(struct ctl_client *c)
{
	/* Room for one full line plus one read: past that it is TooLarge. */
	size_t limit = NP_PROTO_MAX_MSG + 2 * READ_CHUNK, want;

	if (c->in.cap - c->in_len >= READ_CHUNK)
		return 0;
	want = c->in.cap ? c->in.cap * 2 : 2 * READ_CHUNK;
	return buf_reserve(&c->in, want < limit ? want : limit);
}

static void client_read(struct ctl_client *c)
{
	ssize_t n;

	if (grow_input(c) < 0) {
		c->dead = true;
		return;
	}
	n = read(c->fd, c->in.p + c->in_len, c->in.cap - c->in_len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (n == 0) {
		c->eof = true;
		process_input(c);
		arm_idle(c);
		return;
	}
	c->in_len += (size_t)n;
	process_input(c);
	arm_idle(c);
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ctl_client *c = userdata;

	if (revents & EPOLLOUT)
		client_flush(c);
	/* No reading while a request is under way: its reply comes first. */
	if (!c->dead && !c->eof && !c->closing && !c->job && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		client_read(c);
	/* Both directions gone: nothing we queue can arrive any more. */
	if (revents & (EPOLLHUP | EPOLLERR))
		c->dead = true;
	client_settle(c);
	return 0;
}

static int on_client_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ctl_client *c = userdata;

	if (c->in_len > 0)
		log_debug("Client (uid %u, pid %d) sent half a request and went quiet; closing it.",
			  c->cred.uid, c->cred.pid);
	else
		log_debug("Client (uid %u, pid %d) stayed silent for %" PRIu64 " s; closing it.", c->cred.uid,
			  c->cred.pid, c->server->idle_usec / 1000000);
	c->dead = true;
	client_settle(c);
	return 0;
}

/* Refusals are one best-effort line: the client gets no queue. */
static void refuse(int fd, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(int fd, const char *code, const char *fmt, ...)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;
	_cleanup_free_ char *line = NULL;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply = np_proto_reply_error(NULL, code, NULL, "%s", msg);
	line = reply ? np_proto_dump_line(reply) : NULL;
	if (line)
		(void)send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static unsigned clients_of_uid(struct ctl_server *s, uid_t uid)
{
	unsigned n = 0;

	for (struct ctl_client *c = s->clients; c; c = c->next)
		n += c->cred.uid == uid;
	return n;
}

static int client_new(struct ctl_server *s, int fd, const struct ucred *uc, bool can_write)
{
	struct ctl_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	*c = (struct ctl_client){.server = s, .fd = fd, .cred = *uc, .can_write = can_write};
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->n_clients++;
	r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_client_io, c);
	if (r >= 0)
		r = sd_event_add_time(s->event, &c->idle, CLOCK_MONOTONIC, UINT64_MAX, 1000000,
				      on_client_idle, c);
	if (r < 0) {
		c->fd = -EBADF; /* the caller closes it */
		client_free(c);
		return r;
	}
	s->n_readers += !can_write;
	/* Until its first request: a connection that never sends is idle. */
	arm_idle(c);
	return 0;
}

/* The connection limits. Readers hit theirs first: the last
 * writer_clients connections are kept for root and the admin group, so
 * that readers holding connections open cannot lock root out; every uid
 * but root has at most max_clients_per_uid. */
static bool has_room(struct ctl_server *s, const struct ucred *uc, bool writer, char *why, size_t size)
{
	unsigned mine;

	if (s->n_clients >= s->max_clients) {
		snprintf(why, size, "all %u connections are taken", s->max_clients);
		return false;
	}
	if (!writer && s->n_readers >= s->max_clients - s->writer_clients) {
		snprintf(why, size,
			 "the %u connections open to readers are taken (the other %u are kept for root and "
			 "the admin group)",
			 s->max_clients - s->writer_clients, s->writer_clients);
		return false;
	}
	mine = uc->uid == 0 ? 0 : clients_of_uid(s, uc->uid);
	if (mine >= s->max_clients_per_uid) {
		snprintf(why, size, "uid %u has %u connections open already (at most %u per uid)", uc->uid,
			 mine, s->max_clients_per_uid);
		return false;
	}
	return true;
}

/* Steps 1 (credentials) and the client limits, before reading a byte. */
void ctl_server_add_connection(struct ctl_server *s, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	char why[160];
	int priv, r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		log_warning_errno(-errno, "Failed to read a client's credentials, closing it: %m");
		close(fd);
		return;
	}
	priv = ctl_auth_peer_privilege(&s->auth, &uc);
	if (priv < 0) {
		if (priv != -EPERM)
			log_warning_errno(priv, "Failed to look up uid %u's groups, refusing it: %m", uc.uid);
		refuse(fd, NP_ERR_PERMISSION,
		       "permission denied: uid %u is neither root nor in netpold's admin or socket group",
		       uc.uid);
		close(fd);
		return;
	}
	if (!has_room(s, &uc, priv > 0, why, sizeof(why))) {
		refuse(fd, NP_ERR_TOO_MANY_CLIENTS, "too many clients: %s", why);
		close(fd);
		return;
	}
	r = client_new(s, fd, &uc, priv > 0);
	if (r < 0) {
		log_warning_errno(r, "Failed to set up a client, closing it: %m");
		close(fd);
	}
}

static int on_listen(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct ctl_server *s = userdata;
	int cfd;

	cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
		/* The listening socket stays readable while the connection
		 * waits: take it with the spare fd and drop it, rather than
		 * spin. */
		close(s->spare_fd);
		cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0)
			close(cfd);
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		log_warning("Out of file descriptors; refused a client.");
		return 0;
	}
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(-errno, "Failed to accept a client, ignoring: %m");
		return 0;
	}
	ctl_server_add_connection(s, cfd);
	return 0;
}

void ctl_server_broadcast(struct ctl_server *s, const void *event, json_t *json)
{
	_cleanup_free_ char *text = NULL;
	struct ctl_client *c, *next;

	if (s->n_followers == 0)
		return;
	/* Serialized once; only the id differs between followers. */
	text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		return;
	for (c = s->clients; c; c = next) {
		_cleanup_free_ char *line = NULL;
		int n;

		next = c->next;
		if (!c->follower || c->dead)
			continue;
		if (c->follow_filter && !c->follow_filter(c->follow_data, event))
			continue;
		/* A slow follower loses events, counted, instead of slowing us
		 * or growing our memory; once it lost one, it gets nothing
		 * until it caught up. */
		if (c->missed > 0 || out_pending(c) >= NP_PROTO_FOLLOWER_OUT_MAX) {
			c->missed++;
			continue;
		}
		n = asprintf(&line, "{\"version\":%d,\"id\":%s,\"event\":%s}\n", NP_PROTO_VERSION,
			     c->follow_id_text, text);
		if (n < 0) {
			line = NULL;
			continue;
		}
		(void)queue_line(c, line, (size_t)n);
		client_settle(c);
	}
}

unsigned ctl_server_n_clients(const struct ctl_server *s)
{
	return s->n_clients;
}

unsigned ctl_server_n_followers(const struct ctl_server *s)
{
	return s->n_followers;
}

struct ctl_server *ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return NULL;
	while (s->clients)
		client_free(s->clients);
	/* A write under way is finished (and saved, or undone), unanswered. */
	s->worker = worker_free(s->worker);
	/* One that waits for an answer has changed nothing yet. */
	for (struct ctl_job *job = TAKE_PTR(s->suspended), *next; job; job = next) {
		next = job->next_suspended;
		job_free(job);
	}
	sd_event_source_disable_unref(s->listen_source);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	sd_event_unref(s->event);
	free(s);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ctl_server *, ctl_server_free);

int ctl_server_new(sd_event *e, const struct np_config *config, const struct ctl_method *methods,
		   void *userdata, int listen_fd, struct ctl_server **ret)
{
	_cleanup_(ctl_server_freep) struct ctl_server *s = NULL;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->methods = methods;
	s->userdata = userdata;
	s->event = sd_event_ref(e);
	s->listen_fd = listen_fd;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->writes_tail = &s->writes;
	ctl_server_set_config(s, config);
	r = worker_new(s->event, &s->worker);
	if (r < 0) {
		s->listen_fd = -EBADF; /* still the caller's */
		return r;
	}
	r = listen_fd < 0 ? 0
			  : sd_event_add_io(s->event, &s->listen_source, listen_fd, EPOLLIN, on_listen, s);
	if (r < 0) {
		s->listen_fd = -EBADF; /* still the caller's */
		return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}
