/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "worker.h"

/* A FIFO of jobs. */
struct job_list {
	struct worker_job *head, **tail;
};

struct worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;	       /* under lock */
	struct job_list todo;  /* under lock */
	struct job_list done;  /* under lock */
	int event_fd;	       /* readable while done holds jobs */
	sd_event_source *source;
};

static void list_init(struct job_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void list_push(struct job_list *l, struct worker_job *j)
{
	j->next = NULL;
	*l->tail = j;
	l->tail = &j->next;
}

static struct worker_job *list_pop(struct job_list *l)
{
	struct worker_job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = &l->head;
	}
	return j;
}

/* Runs j's work; true if j has a done() to run, and is to be queued for
 * it (without one, work() may have freed j). */
static bool run_work(struct worker_job *j)
{
	bool has_done = j->done;

	j->work(j->data);
	return has_done;
}

static void *worker_main(void *userdata)
{
	struct worker *w = userdata;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *j;
		bool has_done;

		while (!w->stopping && !w->todo.head)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		j = list_pop(&w->todo);
		pthread_mutex_unlock(&w->lock);
		has_done = run_work(j);
		pthread_mutex_lock(&w->lock);
		if (!has_done)
			continue;
		list_push(&w->done, j);
		/* Cannot fail short of a counter at 2^64 - 1. */
		(void)!write(w->event_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Runs the done() of every finished job, in order. */
static void run_done(struct worker *w)
{
	struct job_list done;
	struct worker_job *j;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	if (!done.head)
		done.tail = &done.head;
	list_init(&w->done);
	pthread_mutex_unlock(&w->lock);
	while ((j = list_pop(&done)))
		j->done(j->data);
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct worker *w = userdata;
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	run_done(w);
	return 0;
}

void worker_submit(struct worker *w, struct worker_job *j, worker_fn work, worker_fn done, void *data)
{
	*j = (struct worker_job){.work = work, .done = done, .data = data};
	pthread_mutex_lock(&w->lock);
	list_push(&w->todo, j);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

struct worker *worker_free(struct worker *w)
{
	struct worker_job *j;

	if (!w)
		return NULL;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	/* The thread is gone: the lists are ours, and done() may submit more. */
	for (;;) {
		run_done(w);
		j = list_pop(&w->todo);
		if (!j)
			break;
		if (run_work(j))
			list_push(&w->done, j);
	}
	sd_event_source_disable_unref(w->source);
	if (w->event_fd >= 0)
		close(w->event_fd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct worker *, worker_free);

int worker_new(sd_event *e, struct worker **ret)
{
	_cleanup_(worker_freep) struct worker *w = NULL;
	sigset_t all, old;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->event_fd = -EBADF;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	list_init(&w->todo);
	list_init(&w->done);
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0)
		return -errno;
	r = sd_event_add_io(e, &w->source, w->event_fd, EPOLLIN, on_done, w);
	if (r < 0)
		return r;
	/* Signals are the event loop's business (signalfd): the thread
	 * starts with every one blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	w->started = true;
	*ret = TAKE_PTR(w);
	return 0;
}
