/* SPDX-License-Identifier: GPL-2.0-only */
/* HTTP requests for the sources (Docker/Podman's Engine API over a Unix
 * socket, Kubernetes over HTTPS) on the daemon's sd-event loop, through
 * libcurl's multi interface: nothing here blocks the loop. No logging;
 * functions return 0 or -errno.
 *
 * Callbacks never run inside libcurl nor inside np_curl_start(): they may
 * start, cancel, or free anything, np_curl_free() of their own glue included.
 * Every fd that stays open is close-on-exec. Briefly, not: libcurl 7.88's
 * resolver socket pair during a name lookup and its one-time IPv6 probe, and
 * the files OpenSSL reads (its configuration, the CA bundle). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct np_curl;
struct np_curl_request;

struct np_curl_result {
	/* 0, or -errno: -ECONNREFUSED, -ENOENT (no such socket), -ETIMEDOUT,
	 * -ECONNRESET (the server closed mid-body), -EMSGSIZE (over a cap), ... */
	int error;
	/* When error < 0: what went wrong, curl's words when curl failed. */
	const char *message;
	/* The HTTP status, 0 when none came. */
	long status;
	/* The body, NUL-terminated; NULL when streamed as lines. */
	const char *body;
	size_t body_size;
};

/* Called once, when the request ends, unless it was cancelled first. The
 * request is freed when this returns. */
typedef void (*np_curl_done_t)(struct np_curl_request *req, const struct np_curl_result *res, void *userdata);
/* The response's status and headers are in: before any line or on_done.
 * For a watch, the subscription is live from here on. A negative return
 * ends the request with that error. */
typedef int (*np_curl_response_t)(struct np_curl_request *req, long status, void *userdata);
/* A line of a streamed 2xx body, without its "\n" or "\r\n"; not
 * NUL-terminated. A negative return ends the request with that error. */
typedef int (*np_curl_line_t)(struct np_curl_request *req, const char *line, size_t len, void *userdata);

struct np_curl_options {
	const char *url;	       /* http://localhost/v1.43/events, https://10.0.0.1/api */
	const char *unix_socket;       /* connect here instead of the URL's host */
	const char *ca_file;	       /* TLS: trust this CA instead of the system's */
	const char *const *headers;    /* "Name: value", NULL-terminated */
	size_t max_body;	       /* a larger body fails with -EMSGSIZE; 0: 1 MiB */
	size_t max_line;	       /* streamed: a longer line fails with -EMSGSIZE; 0: 1 MiB */
	uint64_t timeout_usec;	       /* the whole request; 0: none (streams) */
	uint64_t connect_timeout_usec; /* 0: libcurl's */
	/* Set: a 2xx body goes to on_line as it comes, line by line (any other
	 * status's body is buffered for on_done, as without on_line). */
	np_curl_line_t on_line;
	np_curl_response_t on_response; /* optional */
	np_curl_done_t on_done;
	void *userdata;
};

int np_curl_new(sd_event *event, struct np_curl **ret);
/* Ends every request (no callbacks) and frees; NULL is fine. */
void np_curl_free(struct np_curl *g);

/* Queues a request; it starts on the next turn of the loop. On success
 * *ret (may be NULL) stays valid until on_done returns or it is cancelled. */
int np_curl_start(struct np_curl *g, const struct np_curl_options *opts, struct np_curl_request **ret);
/* Ends the request without calling on_done; a no-op once it is done. */
void np_curl_cancel(struct np_curl_request *req);
