/* SPDX-License-Identifier: GPL-2.0-only */
/* The libcurl glue (daemon/sources/curl-glue.c) against an HTTP server on a
 * Unix socket in this process: no root, no network. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "curl-glue.h"

#include "unit-check.h"

#define MAX_LINES 512

static char sock_path[108];
/* 127.0.0.1's port in our own network namespace; 0: no namespace. */
static unsigned tcp_port;
/* The server writes here when a client went away under /forever or /stall. */
static int closed_efd = -EBADF;
/* The fds without FD_CLOEXEC when the test started (inherited ones). */
static int inherited[64];
static size_t n_inherited;

/* ---- the server: one thread per connection, "Connection: close" ---- */

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

static int send_chunk(int fd, const char *p, size_t len)
{
	char head[32];

	snprintf(head, sizeof(head), "%zx\r\n", len);
	if (send_str(fd, head) < 0 || send_all(fd, p, len) < 0)
		return -EPIPE;
	return send_str(fd, "\r\n");
}

static void send_body(int fd, const char *status, const char *body, size_t len)
{
	char head[160];

	snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 status, len);
	if (send_str(fd, head) == 0)
		(void)send_all(fd, body, len);
}

static const char chunked_head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: "
				   "application/json\r\nConnection: close\r\n\r\n";

static void notify_closed(void)
{
	uint64_t one = 1;

	if (write(closed_efd, &one, sizeof(one)) < 0)
		abort();
}

/* event 1 .. event 200 (one with "\r\n", an empty line after 100), then
 * "last" without a newline, in chunks of odd sizes, a few per read. */
static void serve_lines(int fd)
{
	static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
	char body[4096];
	size_t len = 0;

	for (int i = 1; i <= 200; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len, "event %d%s%s", i,
					i == 50 ? "\r\n" : "\n", i == 100 ? "\n" : "");
	len += (size_t)snprintf(body + len, sizeof(body) - len, "last");
	if (send_str(fd, chunked_head) < 0)
		return;
	for (size_t off = 0, i = 0; off < len; i++) {
		size_t n =
		    sizes[i % ELEMENTSOF(sizes)] < len - off ? sizes[i % ELEMENTSOF(sizes)] : len - off;

		if (send_chunk(fd, body + off, n) < 0)
			return;
		off += n;
		if (i % 10 == 9)
			usleep(1000);
	}
	(void)send_str(fd, "0\r\n\r\n");
}

/* Lines of 1100 bytes that end inside a write: one within a single chunk,
 * and one begun in a chunk and ended in the next (a write apart). */
static void serve_overcap(int fd)
{
	char body[1200];

	if (send_str(fd, chunked_head) < 0)
		return;
	memcpy(body, "short\n", 6);
	memset(body + 6, 'w', 1100);
	memcpy(body + 1106, "\nafter\n", 7);
	if (send_chunk(fd, body, 1113) < 0)
		return;
	usleep(20000);
	memset(body, 'v', 550);
	if (send_chunk(fd, body, 550) < 0)
		return;
	usleep(20000);
	memcpy(body + 550, "\nend\n", 5);
	if (send_chunk(fd, body, 555) < 0)
		return;
	(void)send_str(fd, "0\r\n\r\n");
}

/* Lines of exactly 1024 bytes, one with "\r\n", in one chunk and across
 * chunks (the "\r" and the "\n" apart). */
static void serve_atcap(int fd)
{
	char body[2100];

	if (send_str(fd, chunked_head) < 0)
		return;
	memset(body, 'a', 1024);
	memcpy(body + 1024, "\r\n", 2);
	memset(body + 1026, 'b', 1024);
	memcpy(body + 2050, "\n", 1);
	if (send_chunk(fd, body, 2051) < 0)
		return;
	usleep(20000);
	memset(body, 'c', 1024);
	body[1024] = '\r';
	if (send_chunk(fd, body, 1025) < 0)
		return;
	usleep(20000);
	if (send_chunk(fd, "\nend\n", 5) < 0)
		return;
	(void)send_str(fd, "0\r\n\r\n");
}

static void serve_forever(int fd)
{
	char line[32];

	if (send_str(fd, chunked_head) < 0)
		return;
	for (unsigned i = 0;; i++) {
		int n = snprintf(line, sizeof(line), "tick %u\n", i);

		if (send_chunk(fd, line, (size_t)n) < 0)
			break;
		usleep(2000);
	}
	notify_closed();
}

static void serve_stall(int fd)
{
	char c;

	while (recv(fd, &c, 1, 0) != 0)
		if (errno != EINTR)
			break;
	notify_closed();
}

static void serve(int fd, const char *path, const char *request)
{
	const char *missing = "{\"message\":\"page not found\"}";
	char *big;

	if (strcmp(path, "/hello") == 0)
		send_body(fd, "200 OK", "hello world", 11);
	else if (strncmp(path, "/echo/", 6) == 0)
		send_body(fd, "200 OK", path + 6, strlen(path + 6));
	else if (strcmp(path, "/request") == 0)
		send_body(fd, "200 OK", request, strlen(request));
	else if (strcmp(path, "/big") == 0 && (big = malloc(64 * 1024))) {
		memset(big, 'x', 64 * 1024);
		send_body(fd, "200 OK", big, 64 * 1024);
		free(big);
	} else if (strcmp(path, "/lines") == 0)
		serve_lines(fd);
	else if (strcmp(path, "/cut") == 0) {
		if (send_str(fd, chunked_head) == 0)
			(void)send_chunk(fd, "one\ntwo\nthr", 11);
	} else if (strcmp(path, "/longline") == 0 && (big = malloc(4096))) {
		memset(big, 'y', 4096);
		if (send_str(fd, chunked_head) == 0)
			(void)send_chunk(fd, big, 4096);
		free(big);
	} else if (strcmp(path, "/overcap") == 0)
		serve_overcap(fd);
	else if (strcmp(path, "/atcap") == 0)
		serve_atcap(fd);
	else if (strcmp(path, "/forever") == 0)
		serve_forever(fd);
	else if (strcmp(path, "/stall") == 0)
		serve_stall(fd);
	else if (strcmp(path, "/quiet") == 0) {
		/* Docker's /events before the first event. */
		if (send_str(fd, chunked_head) == 0)
			serve_stall(fd);
	} else
		send_body(fd, "404 Not Found", missing, strlen(missing));
}

static void *connection_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096], path[256];
	size_t len = 0;

	while (!memmem(req, len, "\r\n\r\n", 4)) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n <= 0)
			goto out;
		len += (size_t)n;
		/* A TLS ClientHello, say. */
		if (len >= 4 && memcmp(req, "GET ", 4) != 0) {
			send_body(fd, "400 Bad Request", "", 0);
			goto out;
		}
	}
	req[len] = '\0';
	if (sscanf(req, "GET %255s HTTP/1.1", path) == 1)
		serve(fd, path, req);
out:
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	int listen_fd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, connection_thread, (void *)(intptr_t)fd) != 0)
			abort();
		pthread_detach(t);
	}
	return NULL;
}

static void serve_on(int fd)
{
	pthread_t t;

	if (listen(fd, 128) < 0 || pthread_create(&t, NULL, accept_thread, (void *)(intptr_t)fd) != 0) {
		perror("test-curl-glue: server");
		exit(1);
	}
	pthread_detach(t);
}

static void start_servers(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	closed_efd = eventfd(0, EFD_CLOEXEC);
	if (closed_efd < 0)
		abort();
	snprintf(sock_path, sizeof(sock_path), "%s/http.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("test-curl-glue: Unix socket");
		exit(1);
	}
	serve_on(fd);
	if (!tcp_port)
		return;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("test-curl-glue: TCP socket");
		exit(1);
	}
	tcp_port = ntohs(sin.sin_port);
	serve_on(fd);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = -EIO;
	close(fd);
	return r;
}

/* TCP only in a network namespace of our own, with nothing but lo: root
 * makes one, anyone else inside a user namespace. Before any thread. */
static bool enter_own_netns(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	char map[64];
	int fd;

	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			return false;
	} else {
		uid_t uid = getuid();
		gid_t gid = getgid();

		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return false;
		snprintf(map, sizeof(map), "%u %u 1", uid, uid);
		if (write_file("/proc/self/uid_map", map) < 0 ||
		    write_file("/proc/self/setgroups", "deny") < 0)
			return false;
		snprintf(map, sizeof(map), "%u %u 1", gid, gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return false;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		abort();
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		abort();
	close(fd);
	return true;
}

/* ---- the client side ---- */

struct call {
	sd_event *event;
	struct np_curl *glue;
	struct np_curl_request *req;
	int error;
	char message[256];
	long status;
	char *body;
	size_t body_size;
	bool done, body_null;
	unsigned n_done;
	char *lines[MAX_LINES];
	unsigned n_lines;
	bool line_after_done;
	/* what a test does from inside a callback */
	unsigned act_after;
	void (*act)(struct call *c);
	struct call *other, *spawn;
	bool exit_on_done;
	/* on_line fails at this line */
	unsigned fail_at;
	/* on_response: calls, the status, lines before it; what it does */
	unsigned n_responses, lines_at_response;
	long response_status;
	bool done_at_response;
	int response_return;
	bool response_cancels;
	/* many: exit when this reaches 0 */
	unsigned *pending;
};

static void call_clear(struct call *c)
{
	free(c->body);
	for (unsigned i = 0; i < c->n_lines; i++)
		free(c->lines[i]);
}

static void on_done(struct np_curl_request *req, const struct np_curl_result *res, void *userdata)
{
	struct call *c = userdata;

	CHECK(req == c->req);
	c->done = true;
	c->n_done++;
	c->error = res->error;
	snprintf(c->message, sizeof(c->message), "%s", res->message);
	c->status = res->status;
	c->body_null = !res->body;
	if (res->body) {
		c->body = strndup(res->body, res->body_size);
		c->body_size = res->body_size;
		CHECK(res->body[res->body_size] == '\0');
	}
	/* A no-op once done. */
	np_curl_cancel(req);
	if (c->exit_on_done || (c->pending && --*c->pending == 0))
		sd_event_exit(c->event, 0);
}

static int on_line(struct np_curl_request *req, const char *line, size_t len, void *userdata)
{
	struct call *c = userdata;

	CHECK(req == c->req);
	if (c->done)
		c->line_after_done = true;
	if (c->n_lines < MAX_LINES)
		c->lines[c->n_lines++] = strndup(line, len);
	if (c->act && c->n_lines == c->act_after)
		c->act(c);
	return c->n_lines == c->fail_at ? -EBADMSG : 0;
}

static int on_response(struct np_curl_request *req, long status, void *userdata)
{
	struct call *c = userdata;

	CHECK(req == c->req);
	c->n_responses++;
	c->response_status = status;
	c->lines_at_response = c->n_lines;
	c->done_at_response = c->done;
	if (c->response_cancels) {
		np_curl_cancel(req);
		sd_event_exit(c->event, 0);
	}
	return c->response_return;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	bool *expired = userdata;

	*expired = true;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Runs the loop until a callback exits it; fails the test after 10 s. */
static void run(sd_event *e, const char *what)
{
	sd_event_source *watchdog = NULL;
	bool expired = false;
	uint64_t now;

	sd_event_now(e, CLOCK_MONOTONIC, &now);
	if (sd_event_add_time(e, &watchdog, CLOCK_MONOTONIC, now + 10 * 1000000ULL, 0, on_watchdog,
			      &expired) < 0)
		abort();
	CHECKF(sd_event_loop(e) >= 0, "%s: sd_event_loop failed", what);
	CHECKF(!expired, "%s: no end after 10 s", what);
	sd_event_source_disable_unref(watchdog);
}

static void setup(struct call *c, sd_event **e, struct np_curl **g)
{
	CHECK(sd_event_new(e) >= 0);
	CHECK(np_curl_new(*e, g) == 0);
	*c = (struct call){.event = *e, .glue = *g, .exit_on_done = true};
}

/* path: "/x" over the Unix socket, "http://..." or "https://..." as is. */
static int start(struct call *c, const char *path, struct np_curl_options o)
{
	char url[128];

	snprintf(url, sizeof(url), "%s%s", path[0] == '/' ? "http://localhost" : "", path);
	o.url = url;
	if (!o.unix_socket && path[0] == '/')
		o.unix_socket = sock_path;
	o.on_done = on_done;
	o.userdata = c;
	return np_curl_start(c->glue, &o, &c->req);
}

/* Waits until the server saw n more clients go away, 10 s at most. */
static void wait_closed(uint64_t n, const char *what)
{
	struct pollfd p = {.fd = closed_efd, .events = POLLIN};
	uint64_t v, seen = 0;

	while (seen < n && poll(&p, 1, 10000) == 1 && read(closed_efd, &v, sizeof(v)) == sizeof(v))
		seen += v;
	CHECKF(seen == n, "%s: the server saw %" PRIu64 " of %" PRIu64 " connections closed", what, seen, n);
}

/* act: called from on_line at line act_after. */
static void fetch_act(const char *path, struct np_curl_options o, struct call *c, void (*act)(struct call *c),
		      unsigned act_after)
{
	sd_event *e = NULL;
	struct np_curl *g = NULL;

	setup(c, &e, &g);
	c->act = act;
	c->act_after = act_after;
	CHECKF(start(c, path, o) == 0, "%s: start", path);
	run(e, path);
	np_curl_free(g);
	sd_event_unref(e);
}

static void fetch(const char *path, struct np_curl_options o, struct call *c)
{
	fetch_act(path, o, c, NULL, 0);
}

static void test_get(void)
{
	struct call c;

	fetch("/hello", (struct np_curl_options){}, &c);
	CHECKF(c.done && c.error == 0, "error %d (%s)", c.error, c.message);
	CHECKF(c.status == 200, "status %ld", c.status);
	CHECKF(c.body && strcmp(c.body, "hello world") == 0 && c.body_size == 11, "body \"%s\"", c.body);
	CHECK(c.n_done == 1);
	call_clear(&c);
}

static void test_headers(void)
{
	const char *headers[] = {"X-Netpol-Test: yes", "Accept: application/json", NULL};
	struct call c;

	fetch("/request", (struct np_curl_options){.headers = headers}, &c);
	CHECKF(c.error == 0 && c.status == 200, "error %d (%s) status %ld", c.error, c.message, c.status);
	CHECKF(c.body && strstr(c.body, "\r\nX-Netpol-Test: yes\r\n") &&
		   strstr(c.body, "\r\nAccept: application/json\r\n"),
	       "request \"%s\"", c.body);
	CHECKF(c.body && strstr(c.body, "\r\nUser-Agent: netpold/"), "request \"%s\"", c.body);
	call_clear(&c);
}

static void test_404(void)
{
	struct call c;

	fetch("/missing", (struct np_curl_options){}, &c);
	CHECKF(c.done && c.error == 0, "error %d (%s)", c.error, c.message);
	CHECKF(c.status == 404, "status %ld", c.status);
	CHECKF(c.body && strstr(c.body, "page not found"), "body \"%s\"", c.body);
	call_clear(&c);

	/* Streaming is for 2xx bodies: an error's body is buffered for on_done. */
	fetch("/missing", (struct np_curl_options){.on_line = on_line}, &c);
	CHECKF(c.status == 404 && c.error == 0, "status %ld error %d", c.status, c.error);
	CHECKF(c.n_lines == 0, "%u lines", c.n_lines);
	CHECKF(c.body && strstr(c.body, "page not found"), "body \"%s\"", c.body);
	call_clear(&c);
}

static void test_caps(void)
{
	struct call c;

	fetch("/big", (struct np_curl_options){.max_body = 1024}, &c);
	CHECKF(c.done && c.error == -EMSGSIZE, "error %d (%s)", c.error, c.message);
	CHECKF(strstr(c.message, "1024"), "message \"%s\"", c.message);
	CHECKF(c.body_size <= 1024, "%zu bytes buffered", c.body_size);
	call_clear(&c);

	fetch("/big", (struct np_curl_options){.max_body = 64 * 1024}, &c);
	CHECKF(c.error == 0 && c.body_size == 64 * 1024, "error %d, %zu bytes", c.error, c.body_size);
	call_clear(&c);

	fetch("/longline", (struct np_curl_options){.on_line = on_line, .max_line = 1024}, &c);
	CHECKF(c.done && c.error == -EMSGSIZE, "error %d (%s)", c.error, c.message);
	CHECKF(strstr(c.message, "line"), "message \"%s\"", c.message);
	CHECK(c.n_lines == 0);
	call_clear(&c);
}

/* Every line is held to max_line, wherever the writes cut the stream. */
static void test_line_cap(void)
{
	struct call c;

	fetch("/overcap", (struct np_curl_options){.on_line = on_line, .max_line = 1024}, &c);
	CHECKF(c.done && c.error == -EMSGSIZE, "over the cap: error %d (%s), %u lines", c.error, c.message,
	       c.n_lines);
	for (unsigned i = 0; i < c.n_lines; i++)
		CHECKF(strlen(c.lines[i]) <= 1024, "over the cap: line %u has %zu bytes", i,
		       strlen(c.lines[i]));
	call_clear(&c);

	fetch("/atcap", (struct np_curl_options){.on_line = on_line, .max_line = 1024}, &c);
	CHECKF(c.done && c.error == 0, "at the cap: error %d (%s)", c.error, c.message);
	CHECKF(c.n_lines == 4, "at the cap: %u lines", c.n_lines);
	for (unsigned i = 0; i < 3 && i < c.n_lines; i++)
		CHECKF(strlen(c.lines[i]) == 1024 && c.lines[i][1023] == "abc"[i], "at the cap: line %u", i);
	call_clear(&c);
}

static void test_stream(void)
{
	struct call c;
	char want[32];
	bool in_order = true;

	fetch("/lines", (struct np_curl_options){.on_line = on_line}, &c);
	CHECKF(c.done && c.error == 0 && c.status == 200, "error %d (%s) status %ld", c.error, c.message,
	       c.status);
	CHECKF(c.n_lines == 201, "%u lines", c.n_lines);
	for (unsigned i = 0; i < 200 && i < c.n_lines && in_order; i++) {
		snprintf(want, sizeof(want), "event %u", i + 1);
		in_order =
		    CHECKF(strcmp(c.lines[i], want) == 0, "line %u \"%s\", want \"%s\"", i, c.lines[i], want);
	}
	CHECKF(c.n_lines == 201 && strcmp(c.lines[200], "last") == 0, "the unterminated last line");
	CHECK(!c.line_after_done);
	CHECK(c.body_null);
	call_clear(&c);
}

static void fail_at_3(struct call *c)
{
	c->fail_at = 3;
}

/* A line handler's error ends the request with it. */
static void test_line_error(void)
{
	struct call c;

	fetch_act("/forever", (struct np_curl_options){.on_line = on_line}, &c, fail_at_3, 1);
	CHECKF(c.done && c.error == -EBADMSG, "error %d (%s)", c.error, c.message);
	CHECKF(c.n_lines == 3, "%u lines", c.n_lines);
	CHECK(!c.line_after_done);
	wait_closed(1, "line error");
	call_clear(&c);
}

/* on_response comes once, before lines and on_done: a watch is live. */
static void test_response(void)
{
	struct np_curl_options o = {.on_line = on_line, .on_response = on_response};
	struct call c;
	sd_event *e = NULL;
	struct np_curl *g = NULL;

	fetch("/lines", o, &c);
	CHECKF(c.n_responses == 1 && c.response_status == 200, "%u calls, status %ld", c.n_responses,
	       c.response_status);
	CHECKF(c.lines_at_response == 0 && !c.done_at_response, "%u lines, done %d before on_response",
	       c.lines_at_response, c.done_at_response);
	CHECK(c.done && c.error == 0 && c.n_lines == 201);
	call_clear(&c);

	fetch("/missing", o, &c);
	CHECKF(c.n_responses == 1 && c.response_status == 404 && !c.done_at_response,
	       "404: %u calls, status %ld", c.n_responses, c.response_status);
	call_clear(&c);

	/* A stream with nothing in it yet: live, and cancelled from the callback. */
	setup(&c, &e, &g);
	c.response_cancels = true;
	CHECK(start(&c, "/quiet", o) == 0);
	run(e, "quiet");
	CHECKF(c.n_responses == 1 && c.response_status == 200 && !c.done, "quiet: %u calls, status %ld",
	       c.n_responses, c.response_status);
	wait_closed(1, "quiet");
	np_curl_free(g);
	sd_event_unref(e);
	call_clear(&c);

	/* Its error ends the request. */
	setup(&c, &e, &g);
	c.response_return = -EPERM;
	CHECK(start(&c, "/quiet", o) == 0);
	run(e, "quiet, refused");
	CHECKF(c.done && c.error == -EPERM && c.n_lines == 0, "error %d (%s)", c.error, c.message);
	wait_closed(1, "quiet, refused");
	np_curl_free(g);
	sd_event_unref(e);
	call_clear(&c);
}

static void test_cut(void)
{
	struct call c;

	fetch("/cut", (struct np_curl_options){.on_line = on_line}, &c);
	CHECKF(c.done && c.error == -ECONNRESET, "error %d (%s)", c.error, c.message);
	CHECKF(c.message[0], "no message");
	CHECKF(c.n_lines == 2 && strcmp(c.lines[0], "one") == 0 && strcmp(c.lines[1], "two") == 0, "%u lines",
	       c.n_lines);
	call_clear(&c);
}

static void test_no_socket(void)
{
	struct call c;

	fetch("/hello", (struct np_curl_options){.unix_socket = "/nonexistent/test-curl-glue.sock"}, &c);
	CHECKF(c.done && c.error == -ENOENT, "error %d (%s)", c.error, c.message);
	CHECKF(c.message[0], "no message");
	call_clear(&c);
}

static void cancel_both_and_start(struct call *c)
{
	np_curl_cancel(c->other->req);
	np_curl_cancel(c->req);
	/* Twice is fine, and so is starting from a callback. */
	np_curl_cancel(c->req);
	CHECK(start(c->spawn, "/hello", (struct np_curl_options){}) == 0);
}

static void test_cancel_in_callback(void)
{
	struct call c[3];
	sd_event *e = NULL;
	struct np_curl *g = NULL;

	setup(&c[0], &e, &g);
	c[1] = c[2] = c[0];
	c[0].act_after = 3;
	c[0].act = cancel_both_and_start;
	c[0].other = &c[1];
	c[0].spawn = &c[2];
	c[0].exit_on_done = c[1].exit_on_done = false;
	CHECK(start(&c[0], "/forever", (struct np_curl_options){.on_line = on_line}) == 0);
	CHECK(start(&c[1], "/stall", (struct np_curl_options){}) == 0);
	run(e, "cancel");
	CHECKF(c[0].n_lines == 3, "%u lines after cancelling at 3", c[0].n_lines);
	CHECK(!c[0].done && !c[1].done);
	CHECKF(c[2].done && c[2].error == 0 && c[2].status == 200, "the request started from a callback");
	/* The cancelled requests' connections were closed. */
	wait_closed(2, "cancel");
	np_curl_free(g);
	sd_event_unref(e);
	for (int i = 0; i < 3; i++)
		call_clear(&c[i]);
}

static void free_glue(struct call *c)
{
	np_curl_free(c->glue);
	sd_event_exit(c->event, 0);
}

static void test_free_in_callback(void)
{
	struct call c[2];
	sd_event *e = NULL;
	struct np_curl *g = NULL;

	setup(&c[0], &e, &g);
	c[1] = c[0];
	c[0].act_after = 2;
	c[0].act = free_glue;
	CHECK(start(&c[0], "/forever", (struct np_curl_options){.on_line = on_line}) == 0);
	CHECK(start(&c[1], "/stall", (struct np_curl_options){}) == 0);
	run(e, "free");
	CHECKF(c[0].n_lines == 2, "%u lines after freeing at 2", c[0].n_lines);
	CHECK(!c[0].done && !c[1].done);
	wait_closed(2, "free");
	sd_event_unref(e);
	call_clear(&c[0]);
}

static void test_many(void)
{
	enum { N = 64 };
	struct call c[N];
	sd_event *e = NULL;
	struct np_curl *g = NULL;
	unsigned pending = N, ok = 0;
	char path[32];

	setup(&c[0], &e, &g);
	for (int i = 0; i < N; i++) {
		c[i] = c[0];
		c[i].exit_on_done = false;
		c[i].pending = &pending;
		snprintf(path, sizeof(path), "/echo/%d", i);
		CHECK(start(&c[i], path, (struct np_curl_options){}) == 0);
	}
	run(e, "many");
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%d", i);
		ok += c[i].done && c[i].error == 0 && c[i].status == 200 && c[i].body &&
		      strcmp(c[i].body, path) == 0;
		call_clear(&c[i]);
	}
	CHECKF(ok == N, "%u of %d concurrent requests answered right", ok, N);
	np_curl_free(g);
	sd_event_unref(e);
}

struct ticker {
	unsigned ticks, stop_at;
	struct call *call;
};

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ticker *t = userdata;

	if (++t->ticks == t->stop_at) {
		np_curl_cancel(t->call->req);
		return sd_event_exit(sd_event_source_get_event(s), 0);
	}
	sd_event_source_set_time(s, usec + 10 * 1000);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* /stall, with a 10 ms ticker on the same loop that cancels it and ends
 * the loop at its t->stop_at-th tick. */
static void stall(struct call *c, uint64_t timeout_usec, struct ticker *t, const char *what)
{
	sd_event *e = NULL;
	struct np_curl *g = NULL;
	sd_event_source *tick = NULL;
	uint64_t now;

	setup(c, &e, &g);
	CHECK(start(c, "/stall", (struct np_curl_options){.timeout_usec = timeout_usec}) == 0);
	sd_event_now(e, CLOCK_MONOTONIC, &now);
	CHECK(sd_event_add_time(e, &tick, CLOCK_MONOTONIC, now + 10 * 1000, 0, on_tick, t) >= 0);
	run(e, what);
	wait_closed(1, what);
	sd_event_source_disable_unref(tick);
	np_curl_free(g);
	sd_event_unref(e);
}

/* A stalled request leaves the loop free: a timer fires through it. */
static void test_responsive(void)
{
	struct call c;
	struct ticker t = {.stop_at = 5, .call = &c};

	stall(&c, 0, &t, "responsive");
	CHECKF(t.ticks == 5 && !c.done, "%u ticks, done %d", t.ticks, c.done);
	call_clear(&c);
}

/* curl's own timeout ends a stalled request, the loop running meanwhile. */
static void test_timeout(void)
{
	struct call c;
	struct ticker t = {.stop_at = 1000, .call = &c};

	stall(&c, 300 * 1000, &t, "timeout");
	CHECKF(c.done && c.error == -ETIMEDOUT, "error %d (%s)", c.error, c.message);
	/* 30 expected; a loop blocked by the request would see none. */
	CHECKF(t.ticks >= 5, "%u ticks of 10 ms during a 300 ms timeout", t.ticks);
	call_clear(&c);
}

static bool inherited_fd(int fd)
{
	for (size_t i = 0; i < n_inherited; i++)
		if (inherited[i] == fd)
			return true;
	return false;
}

/* Calls f on every open fd without FD_CLOEXEC. */
static void each_fd_without_cloexec(void (*f)(int fd))
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name), flags;

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			f(fd);
	}
	closedir(d);
}

static void record_inherited(int fd)
{
	if (n_inherited < ELEMENTSOF(inherited))
		inherited[n_inherited++] = fd;
}

static void check_cloexec(int fd)
{
	CHECKF(inherited_fd(fd), "fd %d is not close-on-exec", fd);
}

static void check_fds(struct call *c)
{
	each_fd_without_cloexec(check_cloexec);
}

static void cloexec_and_stop(struct call *c)
{
	each_fd_without_cloexec(check_cloexec);
	np_curl_cancel(c->req);
	sd_event_exit(c->event, 0);
}

/* Checked while a request holds its connection open. */
static void test_cloexec(void)
{
	struct call c;
	sd_event *e = NULL;
	struct np_curl *g = NULL;

	setup(&c, &e, &g);
	c.act_after = 2;
	c.act = cloexec_and_stop;
	CHECK(start(&c, "/forever", (struct np_curl_options){.on_line = on_line}) == 0);
	run(e, "cloexec");
	CHECK(c.n_lines == 2);
	wait_closed(1, "cloexec");
	np_curl_free(g);
	sd_event_unref(e);
	call_clear(&c);
}

/* The same server over TCP; TLS against it fails in the handshake. */
static void test_tcp(void)
{
	struct call c;
	char url[64];

	if (!tcp_port) {
		printf("test-curl-glue: no network namespace of our own: TCP not tested\n");
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/lines", tcp_port);
	fetch_act(url, (struct np_curl_options){.on_line = on_line}, &c, check_fds, 2);
	CHECKF(c.done && c.error == 0 && c.status == 200, "TCP: error %d (%s) status %ld", c.error, c.message,
	       c.status);
	CHECKF(c.n_lines == 201, "TCP: %u lines", c.n_lines);
	call_clear(&c);

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/hello", tcp_port);
	fetch(url, (struct np_curl_options){}, &c);
	CHECKF(c.done && c.error == -EPROTO && c.status == 0, "TLS to HTTP: error %d (%s) status %ld",
	       c.error, c.message, c.status);
	call_clear(&c);

	snprintf(url, sizeof(url), "http://127.0.0.1:1/hello");
	fetch(url, (struct np_curl_options){}, &c);
	CHECKF(c.done && c.error == -ECONNREFUSED, "no listener: error %d (%s)", c.error, c.message);
	call_clear(&c);
}

static const char tls_server_py[] = "import http.server, ssl, sys\n"
				    "class H(http.server.BaseHTTPRequestHandler):\n"
				    "    def do_GET(self):\n"
				    "        self.send_response(200)\n"
				    "        self.send_header('Content-Length', '9')\n"
				    "        self.end_headers()\n"
				    "        self.wfile.write(b'hello tls')\n"
				    "    def log_message(self, *args):\n"
				    "        pass\n"
				    "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
				    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
				    "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
				    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
				    "print(srv.server_address[1], flush=True)\n"
				    "srv.serve_forever()\n";

/* python3's ssl on 127.0.0.1, with tests/data/curl-glue-tls.{crt,key}
 * (self-signed for IP 127.0.0.1, valid 2000-2100); its port, or 0. *ret_fd
 * is the read end of its stdout: open until it is killed, or it could die
 * of EPIPE between the digits and the newline. */
static unsigned start_tls_server(pid_t *ret_pid, int *ret_fd)
{
	struct pollfd p = {.events = POLLIN};
	char buf[16] = "";
	size_t len = 0;
	int pipe_fds[2];
	pid_t pid;

	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		if (dup2(pipe_fds[1], STDOUT_FILENO) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		execlp("python3", "python3", "-c", tls_server_py, TEST_DATA_DIR "/curl-glue-tls.crt",
		       TEST_DATA_DIR "/curl-glue-tls.key", NULL);
		_exit(127);
	}
	close(pipe_fds[1]);
	p.fd = pipe_fds[0];
	while (!memchr(buf, '\n', len) && len < sizeof(buf) - 1 && poll(&p, 1, 10000) == 1) {
		ssize_t n = read(pipe_fds[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*ret_pid = pid;
	*ret_fd = pipe_fds[0];
	return memchr(buf, '\n', len) ? (unsigned)atoi(buf) : 0;
}

/* Verified against the CA given, refused without it. */
static void test_tls(void)
{
	struct call c;
	char url[64];
	unsigned port;
	pid_t pid;
	int fd;

	if (!tcp_port)
		return;
	port = start_tls_server(&pid, &fd);
	if (CHECKF(port > 0, "no TLS server (python3)")) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%u/", port);
		fetch(url, (struct np_curl_options){.ca_file = TEST_DATA_DIR "/curl-glue-tls.crt"}, &c);
		CHECKF(c.done && c.error == 0 && c.status == 200, "TLS: error %d (%s) status %ld", c.error,
		       c.message, c.status);
		CHECKF(c.body && strcmp(c.body, "hello tls") == 0, "TLS: body \"%s\"", c.body);
		call_clear(&c);

		fetch(url, (struct np_curl_options){}, &c);
		CHECKF(c.done && c.error == -EPROTO && c.status == 0,
		       "TLS, unknown CA: error %d (%s) status %ld", c.error, c.message, c.status);
		call_clear(&c);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(fd);
}

int main(void)
{
	char dir[] = "/tmp/test-curl-glue.XXXXXX";

	each_fd_without_cloexec(record_inherited);
	/* To be ignored: the glue talks to the address it is given. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	tcp_port = enter_own_netns();
	if (!mkdtemp(dir)) {
		perror("test-curl-glue: mkdtemp");
		return 1;
	}
	start_servers(dir);

	test_get();
	test_headers();
	test_404();
	test_caps();
	test_line_cap();
	test_stream();
	test_line_error();
	test_response();
	test_cut();
	test_no_socket();
	test_cancel_in_callback();
	test_free_in_callback();
	test_many();
	test_responsive();
	test_timeout();
	test_cloexec();
	test_tcp();
	test_tls();

	unlink(sock_path);
	rmdir(dir);
	printf("test-curl-glue: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
