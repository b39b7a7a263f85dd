/* SPDX-License-Identifier: GPL-2.0-only */
/* libcurl's multi interface driven by sd-event: curl says which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * sd-event reports readiness back through curl_multi_socket_action().
 *
 * libcurl forbids calls into the multi handle from its own callbacks, and a
 * source's natural reaction to a line (fetch the container it names, cancel,
 * shut down) is such a call. So curl's write callback only buffers, and the
 * user's callbacks run from dispatch(), after curl has returned. While
 * dispatch() runs, nothing is freed: cancelled and finished requests, and a
 * glue freed from a callback, are reaped when it ends. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "cleanup-util.h"
#include "curl-glue.h"

#define DEFAULT_CAP (1024 * 1024)

struct buf {
	char *data;
	size_t size, alloc;
};

/* One socket curl asked us to watch; its curl_multi_assign() pointer. */
struct io {
	sd_event_source *source;
	struct io *prev, *next;
};

struct np_curl_request {
	struct np_curl *glue;
	struct np_curl_request *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	np_curl_line_t on_line;
	np_curl_response_t on_response;
	np_curl_done_t on_done;
	void *userdata;
	size_t max_body, max_line;
	/* The body so far; when streaming, what on_line has not had yet. */
	struct buf buf;
	/* Streaming: the bytes after the last '\n' in buf. */
	size_t tail;
	bool decided, streaming, done, cancelled;
	/* The final response's headers are in; on_response was told. */
	bool response, response_told;
	/* Set when our write callback stopped the transfer. */
	int error;
	char why[96];
	char errbuf[CURL_ERROR_SIZE];
};

struct np_curl {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	struct io *ios;
	struct np_curl_request *requests;
	bool dispatching, free_pending;
};

static int buf_append(struct buf *b, const char *p, size_t n)
{
	if (b->size + n + 1 > b->alloc) {
		size_t alloc = b->alloc * 2 > b->size + n + 1 ? b->alloc * 2 : b->size + n + 1;
		char *data = realloc(b->data, alloc);

		if (!data)
			return -ENOMEM;
		b->data = data;
		b->alloc = alloc;
	}
	memcpy(b->data + b->size, p, n);
	b->size += n;
	b->data[b->size] = '\0';
	return 0;
}

static void request_unlink(struct np_curl_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else if (req->glue->requests == req)
		req->glue->requests = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

/* The handle must be out of the multi handle already. */
static void request_free(struct np_curl_request *req)
{
	if (!req)
		return;
	request_unlink(req);
	curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	free(req->buf.data);
	free(req);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_curl_request *, request_free);

static int curl_errno(CURL *easy, CURLcode code)
{
	long os_errno = 0;

	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		/* ENOENT or ECONNREFUSED for a Unix socket tell a missing daemon. */
		(void)curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
		return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

/* Cancelled, done, or its glue freed from a callback: no more callbacks. */
static bool ended(const struct np_curl_request *req)
{
	return req->done || req->cancelled || req->glue->free_pending;
}

/* Ends the request: out of the multi handle, on_done, reaped by dispatch(). */
static void finish(struct np_curl_request *req, int error, const char *message)
{
	struct np_curl_result res = {.error = error, .message = error < 0 ? message : ""};

	req->done = true;
	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &res.status);
	(void)curl_multi_remove_handle(req->glue->multi, req->easy);
	if (!req->streaming) {
		res.body = req->buf.data ? req->buf.data : "";
		res.body_size = req->buf.size;
	}
	if (req->on_done && !req->glue->free_pending)
		req->on_done(req, &res, req->userdata);
}

/* Calls on_response once, when the headers are in; false if that ended
 * the request. */
static bool tell_response(struct np_curl_request *req)
{
	long status = 0;
	int r;

	if (!req->response || req->response_told || ended(req))
		return !ended(req);
	req->response_told = true;
	if (!req->on_response)
		return true;
	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	r = req->on_response(req, status, req->userdata);
	if (r < 0)
		finish(req, r, "the response handler failed");
	return !ended(req);
}

/* Hands complete lines to on_line, and at a clean end the unterminated
 * rest. Empty lines (keep-alives) are skipped. */
static void deliver_lines(struct np_curl_request *req, bool eof)
{
	size_t start = 0;

	while (start < req->buf.size && !ended(req)) {
		const char *line = req->buf.data + start;
		const char *nl = memchr(line, '\n', req->buf.size - start);
		size_t len;
		int r;

		if (!nl && !eof)
			break;
		len = nl ? (size_t)(nl - line) : req->buf.size - start;
		start += len + !!nl;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		r = req->on_line(req, line, len, req->userdata);
		if (r < 0)
			finish(req, r, "the line handler failed");
	}
	if (start > 0)
		memmove(req->buf.data, req->buf.data + start, req->buf.size - start);
	req->buf.size -= start;
}

static void complete(struct np_curl_request *req, CURLcode code)
{
	int error = req->error ?: curl_errno(req->easy, code);
	const char *message = req->error ? req->why : req->errbuf[0] ? req->errbuf : curl_easy_strerror(code);

	if (!tell_response(req))
		return;
	if (error == 0 && req->streaming) {
		deliver_lines(req, true);
		if (ended(req))
			return;
	}
	finish(req, error, message);
}

static void reap(struct np_curl *g)
{
	struct np_curl_request *req = g->requests, *next;

	for (; req; req = next) {
		next = req->next;
		if (req->done || req->cancelled)
			request_free(req);
	}
}

/* Runs the user's callbacks for what the last curl_multi_socket_action()
 * brought: responses and lines first, then the ends, so that for each
 * request on_response comes before its lines and its lines before on_done. */
static void dispatch(struct np_curl *g)
{
	struct np_curl_request *req;
	CURLMsg *msg;
	int left;

	g->dispatching = true;
	for (req = g->requests; req && !g->free_pending; req = req->next)
		if (tell_response(req) && req->streaming)
			deliver_lines(req, false);
	while (!g->free_pending && (msg = curl_multi_info_read(g->multi, &left))) {
		char *p = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
		req = (struct np_curl_request *)p;
		if (req && !ended(req))
			complete(req, msg->data.result);
	}
	g->dispatching = false;
	if (g->free_pending)
		np_curl_free(g);
	else
		reap(g);
}

static size_t fail_write(struct np_curl_request *req, int error, const char *fmt, size_t cap)
{
	req->error = error;
	snprintf(req->why, sizeof(req->why), fmt, cap);
	return 0;
}

/* Inside libcurl: the empty line that ends a final (not 1xx) response's
 * headers. */
static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	struct np_curl_request *req = userdata;
	size_t len = size * n;
	long status = 0;

	if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
		(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		req->response = status >= 200;
	}
	return len;
}

/* A line of len bytes so far, its last byte last: over the cap, counted as
 * on_line gets it (without a "\r" before its "\n"), whatever the writes. */
static bool line_over(size_t len, char last, size_t max)
{
	return len > max && !(len == max + 1 && last == '\r');
}

/* Checks every line that ends in or runs on into these bytes, and keeps
 * the length of the last, unfinished one in req->tail. */
static bool lines_over(struct np_curl_request *req, const char *p, size_t len)
{
	const char *end = p + len, *nl;
	size_t run = req->tail;

	for (; (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1, run = 0) {
		/* Before this write, the line's bytes are the end of buf. */
		char last = nl > p ? nl[-1] : run > 0 ? req->buf.data[req->buf.size - 1] : '\0';

		if (line_over(run + (size_t)(nl - p), last, req->max_line))
			return true;
	}
	run += (size_t)(end - p);
	if (run > 0 && line_over(run, p < end ? end[-1] : req->buf.data[req->buf.size - 1], req->max_line))
		return true;
	req->tail = run;
	return false;
}

/* Inside libcurl: buffer, check the caps, nothing else. */
static size_t on_write(char *p, size_t size, size_t n, void *userdata)
{
	struct np_curl_request *req = userdata;
	size_t len = size * n;

	if (!req->decided) {
		long status = 0;

		(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		req->streaming = req->on_line && status / 100 == 2;
		req->decided = true;
	}
	if (req->streaming) {
		if (lines_over(req, p, len))
			return fail_write(req, -EMSGSIZE, "a line is longer than %zu bytes", req->max_line);
	} else if (len > req->max_body - req->buf.size)
		return fail_write(req, -EMSGSIZE, "the body is larger than %zu bytes", req->max_body);
	if (buf_append(&req->buf, p, len) < 0)
		return fail_write(req, -ENOMEM, "out of memory buffering %zu bytes", len);
	return len;
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a)
{
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct np_curl *g = userdata;
	int mask = 0, running;

	if (revents & (EPOLLIN | EPOLLHUP))
		mask |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (revents & EPOLLERR)
		mask |= CURL_CSELECT_ERR;
	/* Its errors are out of memory or our bugs; the transfers report theirs. */
	(void)curl_multi_socket_action(g->multi, fd, mask, &running);
	dispatch(g);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct np_curl *g = userdata;
	int running;

	(void)curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	dispatch(g);
	return 0;
}

static void io_free(struct np_curl *g, struct io *io)
{
	if (!io)
		return;
	if (io->prev)
		io->prev->next = io->next;
	else
		g->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
	sd_event_source_disable_unref(io->source);
	free(io);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userdata, void *socketp)
{
	struct np_curl *g = userdata;
	struct io *io = socketp;
	uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	if (what == CURL_POLL_REMOVE) {
		io_free(g, io);
		return 0;
	}
	if (io)
		return sd_event_source_set_io_events(io->source, events) < 0 ? -1 : 0;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -1;
	if (sd_event_add_io(g->event, &io->source, fd, events, on_io, g) < 0) {
		free(io);
		return -1;
	}
	io->next = g->ios;
	if (g->ios)
		g->ios->prev = io;
	g->ios = io;
	if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
		io_free(g, io);
		return -1;
	}
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userdata)
{
	struct np_curl *g = userdata;
	uint64_t now;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(g->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	if (sd_event_now(g->event, CLOCK_MONOTONIC, &now) < 0 ||
	    sd_event_source_set_time(g->timer, now + (uint64_t)timeout_ms * 1000) < 0 ||
	    sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
		return -1;
	return 0;
}

/* The open fds without FD_CLOEXEC. */
static int fds_without_cloexec(int **ret, size_t *ret_n)
{
	_cleanup_free_ int *fds = NULL;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t n = 0;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name), flags, *t;

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags < 0 || (flags & FD_CLOEXEC))
			continue;
		t = reallocarray(fds, n + 1, sizeof(*fds));
		if (!t) {
			r = -ENOMEM;
			break;
		}
		fds = t;
		fds[n++] = fd;
	}
	closedir(d);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(fds);
	*ret_n = n;
	return 0;
}

/* libcurl 7.88 makes the multi handle's wake-up socket pair without
 * SOCK_CLOEXEC (later versions use an eventfd with EFD_CLOEXEC): mark the
 * fds without it that curl_multi_init() left behind. */
static int multi_init_cloexec(CURLM **ret)
{
	_cleanup_free_ int *before = NULL, *after = NULL;
	size_t n_before = 0, n_after = 0;
	int r;

	r = fds_without_cloexec(&before, &n_before);
	if (r < 0)
		return r;
	*ret = curl_multi_init();
	if (!*ret)
		return -ENOMEM;
	r = fds_without_cloexec(&after, &n_after);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_after; i++) {
		bool old = false;

		for (size_t j = 0; j < n_before && !old; j++)
			old = before[j] == after[i];
		if (!old && fcntl(after[i], F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
	}
	return 0;
}

void np_curl_free(struct np_curl *g)
{
	if (!g)
		return;
	if (g->dispatching) {
		g->free_pending = true;
		return;
	}
	while (g->requests) {
		if (!g->requests->done && !g->requests->cancelled)
			(void)curl_multi_remove_handle(g->multi, g->requests->easy);
		request_free(g->requests);
	}
	if (g->multi)
		curl_multi_cleanup(g->multi);
	while (g->ios)
		io_free(g, g->ios);
	sd_event_source_disable_unref(g->timer);
	sd_event_unref(g->event);
	free(g);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_curl *, np_curl_free);

int np_curl_new(sd_event *event, struct np_curl **ret)
{
	_cleanup_(np_curl_freep) struct np_curl *g = NULL;
	CURLMcode c;
	int r;

	/* A synchronous name lookup would block the loop. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_ASYNCHDNS))
		return -EOPNOTSUPP;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->event = sd_event_ref(event);
	r = multi_init_cloexec(&g->multi);
	if (r < 0)
		return r;
	/* Never, until curl asks. Accuracy 1 ms: sd-event's default (250 ms)
	 * would slow every request. */
	r = sd_event_add_time(event, &g->timer, CLOCK_MONOTONIC, UINT64_MAX, 1000, on_timer, g);
	if (r < 0)
		return r;

	c = curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	c = c ?: curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
	c = c ?: curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	c = c ?: curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
	if (c != CURLM_OK)
		return -EINVAL;
	*ret = TAKE_PTR(g);
	return 0;
}

static long usec_to_ms(uint64_t usec)
{
	return (long)((usec + 999) / 1000);
}

static int easy_setup(struct np_curl_request *req, const struct np_curl_options *o)
{
	CURL *e = req->easy;
	CURLcode c;

	for (const char *const *h = o->headers; h && *h; h++) {
		struct curl_slist *l = curl_slist_append(req->headers, *h);

		if (!l)
			return -ENOMEM;
		req->headers = l;
	}

	c = curl_easy_setopt(e, CURLOPT_URL, o->url);
	c = c ?: curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	c = c ?: curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)req);
	c = c ?: curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	/* No SIGALRM for timeouts: the daemon has threads. */
	c = c ?: curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	c = c ?: curl_easy_setopt(e, CURLOPT_USERAGENT, "netpold/" NETPOL_VERSION);
	/* The address given, never one from http_proxy and the like: a proxy
	 * would see the API's credentials and could forge its answers. */
	c = c ?: curl_easy_setopt(e, CURLOPT_PROXY, "");
	c = c ?: curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	c = c ?: curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	c = c ?: curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	c = c ?: curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
	c = c ?: curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	/* A watch stream can be quiet for hours: find a dead peer. */
	c = c ?: curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	c = c ?: curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	if (o->unix_socket)
		c = c ?: curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	if (o->ca_file)
		c = c ?: curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->timeout_usec)
		c = c ?: curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, usec_to_ms(o->timeout_usec));
	if (o->connect_timeout_usec)
		c = c ?: curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, usec_to_ms(o->connect_timeout_usec));
	if (c == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return c == CURLE_OK ? 0 : -EINVAL;
}

int np_curl_start(struct np_curl *g, const struct np_curl_options *o, struct np_curl_request **ret)
{
	_cleanup_(request_freep) struct np_curl_request *req = NULL;
	CURLMcode mc;
	int r;

	if (!g || !o || !o->url || g->free_pending)
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	*req = (struct np_curl_request){
	    .glue = g,
	    .on_line = o->on_line,
	    .on_response = o->on_response,
	    .on_done = o->on_done,
	    .userdata = o->userdata,
	    .max_body = o->max_body ?: DEFAULT_CAP,
	    .max_line = o->max_line ?: DEFAULT_CAP,
	};
	req->easy = curl_easy_init();
	if (!req->easy)
		return -ENOMEM;
	r = easy_setup(req, o);
	if (r < 0)
		return r;
	/* The transfer starts from the timer this arms, on the next turn. */
	mc = curl_multi_add_handle(g->multi, req->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;

	req->next = g->requests;
	if (g->requests)
		g->requests->prev = req;
	g->requests = req;
	if (ret)
		*ret = req;
	TAKE_PTR(req);
	return 0;
}

void np_curl_cancel(struct np_curl_request *req)
{
	if (!req || req->done || req->cancelled)
		return;
	req->cancelled = true;
	(void)curl_multi_remove_handle(req->glue->multi, req->easy);
	if (!req->glue->dispatching)
		request_free(req);
}
