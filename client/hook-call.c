/* SPDX-License-Identifier: GPL-2.0-only */
#include "hook-call.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cleanup-util.h"
#include "conn.h"
#include "json-util.h"
#include "netpol-proto.h"

/* netpold is moments away from knowing the target: ask again soon. */
#define RETRY_FIRST_MS 5

DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_conn *, np_conn_free);

/* "2", "0.5", "2s" or "500ms": milliseconds in 1 .. max_ms. */
static int parse_timeout(const char *s, long max_ms, long *ret)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	if (v * 1000 < 1 || v * 1000 > max_ms)
		return -ERANGE;
	*ret = (long)(v * 1000 + 0.5);
	return 0;
}

int hook_usage_error(const char *name, const char *fmt, const char *what)
{
	fprintf(stderr, "%s: ", name);
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see %s --help)\n", name);
	return -EINVAL;
}

int hook_parse_options(const struct hook_options *o, const char **socket, long *timeout_ms, int argc,
		       char **argv)
{
	enum { OPT_SOCKET = 0x100, OPT_TIMEOUT };
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {},
	};
	const char *env = getenv("NETPOL_SOCKET");
	int c;

	if (env && *env)
		*socket = env;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) >= 0)
		switch (c) {
		case OPT_SOCKET:
			if (!*optarg)
				return hook_usage_error(o->name, "empty --socket%s", "");
			*socket = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, o->timeout_max_ms, timeout_ms) < 0) {
				fprintf(stderr,
					"%s: invalid --timeout '%s': expected seconds in (0, %ld], e.g. %s "
					"(see %s "
					"--help)\n",
					o->name, optarg, o->timeout_max_ms / 1000, o->timeout_examples,
					o->name);
				return -EINVAL;
			}
			break;
		case 'h':
			o->print_help();
			return 0;
		case 'V':
			printf("%s %s (protocol %d)\n", o->name, NETPOL_VERSION, NP_PROTO_VERSION);
			return 0;
		case ':':
			return hook_usage_error(o->name, "missing value for option '%s'", argv[optind - 1]);
		default:
			return hook_usage_error(o->name, "unknown option '%s'", argv[optind - 1]);
		}
	return 1;
}

int hook_arm_deadline(long ms, void (*on_deadline)(int sig))
{
	struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};
	struct sigaction sa = {.sa_handler = on_deadline};
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &ss, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0)
		return -errno;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 0 when the reply is ok; 1 to ask again (netpold does not know the
 * target yet); -EPROTO with *code and *message for an error. */
static int reply_status(json_t *rep, json_int_t id, const char **code, const char **message)
{
	json_t *err = json_object_get(rep, "error");

	*code = *message = NULL;
	if (json_integer_value(json_object_get(rep, "id")) != id) {
		*message = "a reply to another request";
		return -EPROTO;
	}
	if (json_is_true(json_object_get(rep, "ok")))
		return 0;
	*code = json_string_value(json_object_get(err, "code"));
	*message = json_string_value(json_object_get(err, "message"));
	if (*code && strcmp(*code, NP_ERR_NO_SUCH_TARGET) == 0)
		return 1;
	return -EPROTO;
}

__attribute__((format(printf, 2, 3))) static int fail(const struct hook_call *h, const char *fmt, ...)
{
	char reason[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return h->fail(reason);
}

int hook_call(const struct hook_call *h)
{
	_cleanup_(np_conn_freep) struct np_conn *c = NULL;
	long retry_ms = RETRY_FIRST_MS;
	int r;

	h->step(HOOK_CONNECTING, h->socket);
	r = np_conn_open(h->socket, &c);
	if (r < 0)
		return fail(h, "netpold is not reachable at %s: %s", h->socket, strerror(-r));
	for (json_int_t n = 1;; n++) {
		_cleanup_json_ json_t *req = NULL, *rep = NULL;
		const char *code, *message;

		req = np_proto_request(h->command, n, json_incref(h->params));
		if (!req)
			return fail(h, "out of memory");
		h->step(HOOK_WAITING, NULL);
		r = np_conn_send(c, req);
		if (r < 0)
			return fail(h, "cannot send to netpold: %s", strerror(-r));
		r = np_conn_recv(c, &rep);
		if (r == -ECONNRESET)
			return fail(h, "netpold closed the connection without an answer");
		if (r < 0)
			return fail(h, "cannot read netpold's answer: %s", strerror(-r));
		r = reply_status(rep, n, &code, &message);
		if (r == 0)
			return EXIT_SUCCESS;
		if (r < 0)
			return fail(h, "netpold refused: %s%s%s", code ?: "", code ? ": " : "",
				    message ?: "no message");
		h->step(HOOK_NOT_YET, message ?: "");
		sleep_ms(retry_ms);
		retry_ms = retry_ms * 2 > h->retry_max_ms ? h->retry_max_ms : retry_ms * 2;
	}
}
