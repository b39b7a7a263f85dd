/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "engine-link.h"
#include "engine-msg.h"
#include "json-util.h"

#define BACKOFF_MIN_USEC (1000 * 1000ull)
#define BACKOFF_MAX_USEC (30 * 1000 * 1000ull)
#define SYNC_MAX	 (1u << 20) /* containers in one sync */

struct request {
	struct request *next;
	json_int_t q;
	void (*inspected)(void *userdata, int error, const char *message, const struct docker_container *ct);
	void (*labelled)(void *userdata, int error, const char *message, const char *value);
	void *userdata;
};

struct engine_link {
	sd_event *event;
	char *helper, *socket_path, *label_key;
	const struct engine_link_ops *ops;
	void *userdata;

	pid_t pid;
	int fd;
	sd_event_source *io, *retry;
	uint64_t backoff_usec;

	char engine[16], api[16];
	bool connected;
	struct docker_container **sync_v;
	size_t sync_n;
	bool syncing;

	struct request *requests;
	json_int_t next_q;
};

static void spawn_later(struct engine_link *l);

/* ---- the helper process ---- */

static void sync_drop(struct engine_link *l)
{
	for (size_t i = 0; i < l->sync_n; i++)
		docker_container_free(l->sync_v[i]);
	free(l->sync_v);
	l->sync_v = NULL;
	l->sync_n = 0;
	l->syncing = false;
}

static void reap(struct engine_link *l)
{
	l->io = sd_event_source_disable_unref(l->io);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -EBADF;
	if (l->pid > 0) {
		/* Its link is closed: it ends by itself; a stuck one is killed. */
		if (waitpid(l->pid, NULL, WNOHANG) == 0) {
			(void)kill(l->pid, SIGKILL);
			(void)waitpid(l->pid, NULL, 0);
		}
	}
	l->pid = 0;
	l->connected = false;
	sync_drop(l);
}

/* Requests in flight are failed, not forgotten: their callers wait. */
static void fail_requests(struct engine_link *l, int error, const char *message)
{
	struct request *r;

	while ((r = l->requests)) {
		l->requests = r->next;
		if (r->inspected)
			r->inspected(r->userdata, error, message, NULL);
		else
			r->labelled(r->userdata, error, message, NULL);
		free(r);
	}
}

static void helper_gone(struct engine_link *l, const char *why)
{
	reap(l);
	fail_requests(l, -ECONNRESET, why);
	l->ops->lost(l->userdata, l, -ECONNRESET, why);
	spawn_later(l);
}

static struct request *take_request(struct engine_link *l, json_int_t q)
{
	for (struct request **p = &l->requests; *p; p = &(*p)->next)
		if ((*p)->q == q) {
			struct request *r = *p;

			*p = r->next;
			return r;
		}
	return NULL;
}

/* A message that breaks the rules ends the helper: netpold trusts it no
 * more than the engine. */
static int on_state(struct engine_link *l, json_t *j)
{
	const char *engine = json_string_value(json_object_get(j, "engine"));
	const char *api = json_string_value(json_object_get(j, "api"));

	if (engine && (strcmp(engine, "docker") == 0 || strcmp(engine, "podman") == 0))
		snprintf(l->engine, sizeof(l->engine), "%s", engine);
	if (api && strlen(api) < sizeof(l->api) && strspn(api, "0123456789.") == strlen(api))
		snprintf(l->api, sizeof(l->api), "%s", api);
	l->connected = json_is_true(json_object_get(j, "connected"));
	return 0;
}

static int on_sync_item(struct engine_link *l, json_t *j)
{
	struct docker_container *ct, **v;
	int r;

	if (!l->syncing || l->sync_n >= SYNC_MAX)
		return -EBADMSG;
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	r = engine_msg_parse_container(json_object_get(j, "c"), ct);
	v = r >= 0 ? realloc(l->sync_v, (l->sync_n + 1) * sizeof(*v)) : NULL;
	if (!v) {
		docker_container_free(ct);
		return r < 0 ? r : -ENOMEM;
	}
	l->sync_v = v;
	l->sync_v[l->sync_n++] = ct;
	return 0;
}

static int on_event_msg(struct engine_link *l, json_t *j)
{
	_cleanup_(docker_container_clear) struct docker_container ct = {};
	enum docker_action a;
	int r;

	r = engine_msg_action(json_string_value(json_object_get(j, "a")), &a);
	if (r < 0)
		return -EBADMSG;
	r = engine_msg_parse_container(json_object_get(j, "c"), &ct);
	if (r < 0)
		return r;
	l->ops->event(l->userdata, l, a, &ct);
	return 0;
}

/* The helper's words go to a log: bounded, printable. */
static const char *message_of(json_t *j, char *buf, size_t size)
{
	const char *m = json_string_value(json_object_get(j, "message"));

	if (!m)
		return NULL;
	snprintf(buf, size, "%s", m);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return buf;
}

static int error_of(json_t *j)
{
	json_int_t e = json_integer_value(json_object_get(j, "error"));

	return e < 0 && e > -4096 ? (int)e : e == 0 ? 0 : -EIO;
}

static int on_reply(struct engine_link *l, json_t *j, bool inspected)
{
	_cleanup_(docker_container_clear) struct docker_container ct = {};
	struct request *r = take_request(l, json_integer_value(json_object_get(j, "q")));
	const json_t *c = json_object_get(j, "c"), *value = json_object_get(j, "value");
	int error = error_of(j), k = 0;
	char buf[512];

	if (!r || !!r->inspected != inspected)
		return -EBADMSG;
	if (inspected && error == 0 && (k = engine_msg_parse_container(c, &ct)) >= 0)
		r->inspected(r->userdata, 0, NULL, &ct);
	else if (inspected)
		r->inspected(r->userdata, error ?: k, message_of(j, buf, sizeof(buf)), NULL);
	else if (error == 0 && value && !json_is_null(value) &&
		 (!json_is_string(value) || json_string_length(value) > DOCKER_LABEL_MAX))
		r->labelled(r->userdata, -EBADMSG, "a bad label value", NULL), k = -EBADMSG;
	else
		r->labelled(r->userdata, error, message_of(j, buf, sizeof(buf)), json_string_value(value));
	free(r);
	return k;
}

static int dispatch(struct engine_link *l, json_t *j)
{
	const char *t = json_string_value(json_object_get(j, "t"));
	char buf[512];

	if (!t)
		return -EBADMSG;
	if (strcmp(t, "state") == 0)
		return on_state(l, j);
	if (strcmp(t, "event") == 0)
		return l->syncing ? -EBADMSG : on_event_msg(l, j);
	if (strcmp(t, "sync-begin") == 0) {
		sync_drop(l);
		l->syncing = true;
		return 0;
	}
	if (strcmp(t, "sync-item") == 0)
		return on_sync_item(l, j);
	if (strcmp(t, "sync-end") == 0) {
		if (!l->syncing)
			return -EBADMSG;
		l->syncing = false;
		l->backoff_usec = BACKOFF_MIN_USEC;
		l->ops->synced(l->userdata, l, l->sync_v, l->sync_n);
		sync_drop(l);
		return 0;
	}
	if (strcmp(t, "lost") == 0) {
		l->connected = false;
		l->ops->lost(l->userdata, l, error_of(j) ?: -EIO, message_of(j, buf, sizeof(buf)));
		return 0;
	}
	if (strcmp(t, "inspected") == 0)
		return on_reply(l, j, true);
	if (strcmp(t, "image-label") == 0)
		return on_reply(l, j, false);
	return strcmp(t, "rejected") == 0 ? 0 : -EBADMSG;
}

static int on_message(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct engine_link *l = userdata;
	char buf[ENGINE_MSG_MAX + 1];

	for (;;) {
		_cleanup_json_ json_t *j = NULL;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		int r;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			helper_gone(l, "the engine helper exited");
			return 0;
		}
		j = (size_t)n <= ENGINE_MSG_MAX ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
		r = j ? dispatch(l, j) : -EBADMSG;
		if (r < 0) {
			helper_gone(l,
				    r == -ENOMEM ? "out of memory" : "the engine helper sent a bad message");
			return 0;
		}
	}
}

static int spawn(struct engine_link *l)
{
	int sv[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* dup2 leaves the copy open across exec; everything else of
		 * netpold's is close-on-exec. */
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execl(l->helper, "netpol-engine", "--label", l->label_key, l->socket_path, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	l->pid = pid;
	l->fd = sv[0];
	r = sd_event_add_io(l->event, &l->io, l->fd, EPOLLIN, on_message, l);
	if (r < 0) {
		reap(l);
		return r;
	}
	return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct engine_link *l = userdata;
	int r;

	l->retry = sd_event_source_disable_unref(l->retry);
	r = spawn(l);
	if (r < 0) {
		l->ops->lost(l->userdata, l, r, "cannot start the engine helper");
		spawn_later(l);
	}
	return 0;
}

static void spawn_later(struct engine_link *l)
{
	uint64_t delay = l->backoff_usec;

	l->backoff_usec = delay * 2 > BACKOFF_MAX_USEC ? BACKOFF_MAX_USEC : delay * 2;
	if (sd_event_add_time_relative(l->event, &l->retry, CLOCK_MONOTONIC, delay, 0, on_retry, l) < 0)
		l->ops->lost(l->userdata, l, -ENOMEM, "cannot schedule the engine helper's restart");
}

/* ---- the interface ---- */

int engine_link_new(sd_event *e, const char *helper, const char *socket_path, const char *label_key,
		    const struct engine_link_ops *ops, void *userdata, struct engine_link **ret)
{
	struct engine_link *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	*l = (struct engine_link){.event = sd_event_ref(e),
				  .ops = ops,
				  .userdata = userdata,
				  .fd = -EBADF,
				  .backoff_usec = BACKOFF_MIN_USEC};
	l->helper = strdup(helper);
	l->socket_path = strdup(socket_path);
	l->label_key = strdup(label_key);
	if (!l->helper || !l->socket_path || !l->label_key) {
		engine_link_free(l);
		return -ENOMEM;
	}
	r = sd_event_add_time_relative(e, &l->retry, CLOCK_MONOTONIC, 0, 0, on_retry, l);
	if (r < 0) {
		engine_link_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void engine_link_free(struct engine_link *l)
{
	struct request *r;

	if (!l)
		return;
	l->retry = sd_event_source_disable_unref(l->retry);
	reap(l);
	while ((r = l->requests)) {
		l->requests = r->next;
		free(r);
	}
	free(l->helper);
	free(l->socket_path);
	free(l->label_key);
	sd_event_unref(l->event);
	free(l);
}

const char *engine_link_socket(const struct engine_link *l)
{
	return l->socket_path;
}

const char *engine_link_engine(const struct engine_link *l)
{
	return l->engine[0] ? l->engine : NULL;
}

const char *engine_link_api_version(const struct engine_link *l)
{
	return l->api[0] ? l->api : NULL;
}

bool engine_link_connected(const struct engine_link *l)
{
	return l->connected;
}

static int ask(struct engine_link *l, const char *kind, const char *key, const char *arg, struct request *r)
{
	int k;

	if (l->fd < 0 || !l->connected) {
		free(r);
		return -ENOTCONN;
	}
	r->q = ++l->next_q;
	k = engine_msg_send(l->fd, json_pack("{s:s, s:I, s:s}", "t", kind, "q", r->q, key, arg));
	if (k < 0) {
		free(r);
		return k;
	}
	r->next = l->requests;
	l->requests = r;
	return 0;
}

int engine_link_inspect(struct engine_link *l, const char *name_or_id,
			void (*done)(void *userdata, int error, const char *message,
				     const struct docker_container *ct),
			void *userdata)
{
	struct request *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	*r = (struct request){.inspected = done, .userdata = userdata};
	return ask(l, "inspect", "name", name_or_id, r);
}

int engine_link_image_label(struct engine_link *l, const char *image,
			    void (*done)(void *userdata, int error, const char *message, const char *value),
			    void *userdata)
{
	struct request *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	*r = (struct request){.labelled = done, .userdata = userdata};
	return ask(l, "image-label", "image", image, r);
}

char *engine_link_helper_path(void)
{
	char self[4096], *path = NULL, *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash && asprintf(&path, "%.*s/netpol-engine", (int)(slash - self), self) >= 0 &&
		    access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return strdup(NETPOL_LIBEXECDIR "/netpol-engine");
}
