/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One thread for the work that must not stall the event loop: parsing a
 * huge request, compiling a policy, filling its trie, writing the state.
 * Jobs run there one at a time, in the order they were submitted; each
 * job's done() then runs on the event loop, in the same order (an eventfd
 * wakes the loop). work() sees only its data: it does not log, and it
 * reads shared objects only when the caller guarantees that nothing changes
 * them meanwhile.
 */
#pragma once

#include <systemd/sd-event.h>

struct worker;

typedef void (*worker_fn)(void *data);

/* A job: the caller embeds it in its own object, so that submitting cannot
 * fail halfway through a change. */
struct worker_job {
	struct worker_job *next;
	worker_fn work, done; /* done may be NULL */
	void *data;
};

int worker_new(sd_event *e, struct worker **ret);
/* Lets the running job finish, then runs what is still queued (and what
 * the done() callbacks submit) on the calling thread: a job, once
 * submitted, always gets its done(). */
struct worker *worker_free(struct worker *w);
/* j must stay valid until its done() ran (or until after work() when done
 * is NULL: then work() may free it). */
void worker_submit(struct worker *w, struct worker_job *j, worker_fn work, worker_fn done, void *data);
