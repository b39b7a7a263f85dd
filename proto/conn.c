/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client side of the framing in docs/protocol.md: compact JSON, one
 * object per line. Reads are buffered and may return any part of a line;
 * lines may be long (a policy list), so the buffer grows up to a cap.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "netpol-proto.h"
#include "conn.h"

#define READ_CHUNK 65536

struct np_conn {
	int fd;
	uint64_t deadline; /* CLOCK_MONOTONIC µs; 0: none */
	char *buf;
	size_t off;  /* first byte not yet returned */
	size_t scan; /* bytes from off already known to hold no '\n' */
	size_t len;  /* bytes in buf */
	size_t size; /* allocated */
};

uint64_t np_conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Waits for events on fd until the deadline (none: returns at once, the
 * caller's call blocks as it always did). */
static int wait_for(const struct np_conn *c, int fd, short events)
{
	for (;;) {
		uint64_t now;
		int k;

		if (!c->deadline)
			return 0;
		now = np_conn_now();
		if (now >= c->deadline)
			return -ETIMEDOUT;
		/* rounded up: a wait that ends early only polls again */
		k = poll(&(struct pollfd){.fd = fd, .events = events}, 1,
			 (int)((c->deadline - now + 999) / 1000));
		if (k < 0)
			return -errno; /* -EINTR: a signal, for the caller to judge */
		if (k > 0)
			return 0;
	}
}

/* A listener that does not accept (netpold stopped) blocks connect() once
 * its backlog is full: the send timeout bounds that wait (unix(7)). */
static int connect_until(int fd, const struct sockaddr_un *sa, uint64_t deadline)
{
	struct timeval tv = {};
	uint64_t now;

	if (deadline) {
		now = np_conn_now();
		if (now >= deadline)
			return -ETIMEDOUT;
		tv.tv_sec = (time_t)((deadline - now) / 1000000);
		tv.tv_usec = (suseconds_t)((deadline - now) % 1000000); /* never both 0: now < deadline */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
			return -errno;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return deadline && errno == EAGAIN ? -ETIMEDOUT : -errno;
	tv = (struct timeval){};
	if (deadline && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int np_conn_open_until(const char *path, uint64_t deadline, struct np_conn **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	struct np_conn *c;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect_until(fd, &sa, deadline);
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = TAKE_FD(fd);
	c->deadline = deadline;
	*ret = c;
	return 0;
}

int np_conn_open(const char *path, struct np_conn **ret)
{
	return np_conn_open_until(path, 0, ret);
}

void np_conn_set_deadline(struct np_conn *c, uint64_t deadline)
{
	c->deadline = deadline;
}

struct np_conn *np_conn_free(struct np_conn *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
	return NULL;
}

static int write_all(const struct np_conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k;
		int r = wait_for(c, c->fd, POLLOUT);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		k = send(c->fd, p, n, MSG_NOSIGNAL | (c->deadline ? MSG_DONTWAIT : 0));
		if (k < 0) {
			if (errno == EINTR || (errno == EAGAIN && c->deadline))
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int np_conn_send(struct np_conn *c, const json_t *msg)
{
	_cleanup_free_ char *line = np_proto_dump_line(msg);

	if (!line)
		return -ENOMEM;
	return write_all(c, line, strlen(line));
}

/* Room for at least READ_CHUNK more bytes: drop what was returned, then grow. */
static int make_room(struct np_conn *c)
{
	size_t want;
	char *p;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->size - c->len >= READ_CHUNK)
		return 0;
	if (c->len >= NP_CONN_MAX_LINE)
		return -EMSGSIZE;
	want = c->size ? c->size * 2 : 2 * READ_CHUNK;
	if (want > NP_CONN_MAX_LINE + READ_CHUNK)
		want = NP_CONN_MAX_LINE + READ_CHUNK;
	p = realloc(c->buf, want);
	if (!p)
		return -ENOMEM;
	c->buf = p;
	c->size = want;
	return 0;
}

/* One more read: >0 bytes, 0 at end of stream, or negative errno. */
static int fill(struct np_conn *c)
{
	ssize_t k;
	int r;

	r = make_room(c);
	if (r < 0)
		return r;
	r = wait_for(c, c->fd, POLLIN);
	if (r < 0)
		return r;
	k = read(c->fd, c->buf + c->len, c->size - c->len);
	if (k < 0)
		return -errno;
	c->len += (size_t)k;
	return (int)(k > 0);
}

/* The next complete line, '\n' replaced by '\0', in *ret (valid until the
 * next call). */
static int next_line(struct np_conn *c, char **ret)
{
	for (;;) {
		/* buf is NULL until the first read: no pointer arithmetic on it before */
		char *nl = c->len > c->off
			       ? memchr(c->buf + c->off + c->scan, '\n', c->len - c->off - c->scan)
			       : NULL;
		int r;

		if (nl) {
			char *start = c->buf + c->off;

			*nl = '\0';
			c->off += (size_t)(nl - start) + 1;
			c->scan = 0;
			*ret = start;
			return 0;
		}
		c->scan = c->len - c->off;
		r = fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return c->len > c->off ? -EPROTO : -ECONNRESET;
	}
}

int np_conn_recv(struct np_conn *c, json_t **ret)
{
	json_t *msg;
	char *line;
	int r;

	r = next_line(c, &line);
	if (r < 0)
		return r;
	msg = json_loads(line, 0, NULL);
	if (!msg)
		return -EBADMSG;
	if (!json_is_object(msg)) {
		json_decref(msg);
		return -EBADMSG;
	}
	*ret = msg;
	return 0;
}

int np_conn_fd(const struct np_conn *c)
{
	return c->fd;
}
