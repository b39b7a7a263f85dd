/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket (docs/protocol.md): accept with SO_PEERCRED, line
 * framing with hard limits, a bounded output queue per client, validation
 * in the documented order, then dispatch through the method table given
 * to ctl_server_new(). It knows nothing of what the methods do: their
 * userdata rides along in every call, and a follower's filter is theirs.
 * Never blocks on a client: every socket is non-blocking, and EPOLLOUT is
 * only asked for while output is queued.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "netpol-proto.h"

struct ctl_server;
struct ctl_client;
struct ctl_job;

/* Whether a follower wants an event (what ctl_server_broadcast() got). */
typedef bool (*ctl_follow_filter_fn)(const void *data, const void *event);

/* One request on its way through a method. */
struct ctl_call {
	void *userdata; /* ctl_server_new()'s */
	struct ctl_server *server;
	struct ctl_job *job;
	json_t *id;
	uid_t uid;
	pid_t pid; /* the peer's, from SO_PEERCRED when it connected */
	bool can_write;
	json_t *result; /* set by a method that succeeds */
	json_t *error;	/* set by ctl_fail() */
	/* Set by ctl_call_follow(): the client becomes a follower after the reply. */
	bool follow;
	ctl_follow_filter_fn follow_filter; /* NULL: every event */
	void *follow_data;
	void (*follow_free)(void *data);
	json_t *backlog; /* events to stream right after the reply */
};

/* Returns 0 with call->result set, a negative errno (with call->error set
 * by ctl_fail(), or an internal error), or what ctl_call_defer() returns. */
typedef int (*ctl_method_fn)(struct ctl_call *call, json_t *params);

/*
 * Slow steps (parsing and compiling a large policy, filling its trie,
 * writing the state) leave the event loop: a method returns
 * ctl_call_defer(call, work, done, data, free_data); work(data) then runs
 * on the worker thread, and done(call, data) back on the event loop, which
 * returns like a method (and may defer again). The reply waits, and so do
 * the client's next requests and, for a write, every other write: state
 * changes stay one at a time, in order. work() must not log nor touch the
 * userdata, except to read what no other request can change meanwhile (a
 * write's own policies). free_data(data) runs when the call is over.
 */
#define CTL_DEFERRED 1
typedef void (*ctl_work_fn)(void *data);
typedef int (*ctl_done_fn)(struct ctl_call *call, void *data);
int ctl_call_defer(struct ctl_call *call, ctl_work_fn work, ctl_done_fn done, void *data,
		   void (*free_data)(void *data));

/*
 * A method that waits for an answer from outside netpold, on the event
 * loop (systemd's, over D-Bus), returns ctl_call_suspend(call): its reply
 * waits (and, for a write, every other write) until
 * ctl_server_resume(server) runs every suspended method again from the
 * start, with the same params. Whoever asked calls that once the answer is
 * in, in the same turn of the loop, so that the method finds it then;
 * one still missing its answer suspends again.
 */
#define CTL_SUSPENDED 2
int ctl_call_suspend(struct ctl_call *call);
void ctl_server_resume(struct ctl_server *s);

/* A method table ends with an entry whose name is NULL. */
struct ctl_method {
	const char *name;
	ctl_method_fn fn;
	enum np_privilege privilege;
};

/* Makes the caller a follower once the method's reply is sent: it gets
 * the events of backlog (a JSON array, may be NULL), then every event
 * broadcast that filter(data, event) wants. Takes data (free_data(data)
 * when the follower goes, or the call fails) and backlog. */
void ctl_call_follow(struct ctl_call *call, ctl_follow_filter_fn filter, void *data,
		     void (*free_data)(void *data), json_t *backlog);

/* Sets the call's error reply; returns -EINVAL so that a method can
 * `return ctl_fail(...)`. */
int ctl_fail(struct ctl_call *call, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Serves listen_fd (taken on success; -1: none) on e: methods (a table
 * that must outlive the server) get userdata in every call. */
int ctl_server_new(sd_event *e, const struct np_config *config, const struct ctl_method *methods,
		   void *userdata, int listen_fd, struct ctl_server **ret);
/* Serves fd, a connected stream socket (non-blocking, close-on-exec), as
 * if it had been accepted: its peer's credentials decide. Takes fd. */
void ctl_server_add_connection(struct ctl_server *s, int fd);
struct ctl_server *ctl_server_free(struct ctl_server *s);
/* Looks the configured groups up again (startup, SIGHUP). */
void ctl_server_set_config(struct ctl_server *s, const struct np_config *config);
/* Streams json, the form of event, to every follower whose filter wants it. */
void ctl_server_broadcast(struct ctl_server *s, const void *event, json_t *json);
unsigned ctl_server_n_clients(const struct ctl_server *s);
unsigned ctl_server_n_followers(const struct ctl_server *s);
