/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpol-unit-gate: the ExecCondition= of a bound service (docs/units.md).
 * systemd runs it in the service's new cgroup before ExecStartPre= and
 * ExecStart=; it asks netpold to put the unit's binding on that cgroup
 * (method "unit-hook": netpold checks the caller's cgroup itself) and
 * exits 0 once netpold says it is in place, or that the unit is not bound.
 *
 * It fails closed: whatever goes wrong (netpold cannot be reached, it
 * refuses, no answer in time), it says why on stderr (the unit's journal)
 * and exits 255, so that systemd fails the start rather than run the
 * service unpoliced. (1 to 254 would skip the start quietly.)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "conn.h"
#include "json-util.h"
#include "netpol-proto.h"

#define EXIT_CLOSED    255
#define TIMEOUT_MS     30000 /* netpold may be starting: socket activation at boot */
#define TIMEOUT_MS_MAX 600000
#define RETRY_FIRST_MS 5
#define RETRY_MAX_MS   100
#define UNIT_MAX       255

static const char *arg_socket = NP_SOCKET_PATH_DEFAULT;
static long arg_timeout_ms = TIMEOUT_MS;
static const char *arg_unit;

DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_conn *, np_conn_free);

/* What the deadline says, prepared before each step that may block: the
 * handler only writes it. Two buffers, so that the one being written is
 * never the one the handler reads. */
static char deadline_msg[2][768];
static volatile sig_atomic_t deadline_cur;

__attribute__((format(printf, 1, 2))) static void deadline_says(const char *fmt, ...)
{
	int next = !deadline_cur;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(deadline_msg[next], sizeof(deadline_msg[next]),
		 "netpol-unit-gate: %s: not starting it: no answer from netpold within %ld ms (%s)\n",
		 arg_unit ?: "?", arg_timeout_ms, what);
	deadline_cur = next;
}

static void on_deadline(int sig)
{
	const char *m = deadline_msg[deadline_cur];

	(void)!write(STDERR_FILENO, m, strlen(m));
	_exit(EXIT_CLOSED);
}

static int arm_deadline(void)
{
	struct itimerval it = {
	    .it_value = {.tv_sec = arg_timeout_ms / 1000, .tv_usec = (arg_timeout_ms % 1000) * 1000}};
	struct sigaction sa = {.sa_handler = on_deadline};
	sigset_t ss;

	deadline_says("starting");
	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &ss, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0)
		return -errno;
	return 0;
}

__attribute__((format(printf, 1, 2))) static int fail_closed(const char *fmt, ...)
{
	char reason[640];
	va_list ap;

	/* said once: the deadline now only ends the program */
	deadline_msg[!deadline_cur][0] = '\0';
	deadline_cur = !deadline_cur;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	fprintf(stderr, "netpol-unit-gate: %s: not starting it: %s\n", arg_unit ?: "?", reason);
	return EXIT_CLOSED;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 0 when the reply is ok; 1 to ask again (netpold does not know where
 * the unit is yet); -EPROTO with *code and *message for an error. */
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

static int ask_netpold(void)
{
	_cleanup_(np_conn_freep) struct np_conn *c = NULL;
	long retry_ms = RETRY_FIRST_MS;
	int r;

	deadline_says("connecting to %s", arg_socket);
	r = np_conn_open(arg_socket, &c);
	if (r < 0)
		return fail_closed("netpold is not reachable at %s: %s", arg_socket, strerror(-r));
	for (json_int_t n = 1;; n++) {
		_cleanup_json_ json_t *req = NULL, *rep = NULL;
		const char *code, *message;

		req = np_proto_request(NP_CMD_UNIT_HOOK, n, json_pack("{s:s}", "unit", arg_unit));
		if (!req)
			return fail_closed("out of memory");
		deadline_says("waiting for netpold to bind the unit's cgroup");
		r = np_conn_send(c, req);
		if (r < 0)
			return fail_closed("cannot send to netpold: %s", strerror(-r));
		r = np_conn_recv(c, &rep);
		if (r == -ECONNRESET)
			return fail_closed("netpold closed the connection without an answer");
		if (r < 0)
			return fail_closed("cannot read netpold's answer: %s", strerror(-r));
		r = reply_status(rep, n, &code, &message);
		if (r == 0)
			return EXIT_SUCCESS;
		if (r < 0)
			return fail_closed("netpold refused: %s%s%s", code ?: "", code ? ": " : "",
					   message ?: "no message");
		/* systemd moved the unit (a new Slice=) and netpold is asking
		 * it where to: moments away. */
		deadline_says("netpold does not know the unit's cgroup yet: %s", message ?: "");
		sleep_ms(retry_ms);
		retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
	}
}

static void print_help(void)
{
	printf("Usage: netpol-unit-gate [--socket PATH] [--timeout SECONDS] UNIT\n\n"
	       "The ExecCondition= that netpold puts in a bound service's drop-in: run by systemd in the\n"
	       "service's new cgroup, it has netpold bind the unit's policy to that cgroup before the\n"
	       "service's first instruction. Exits 0 when the binding is in place (or UNIT is not bound);\n"
	       "255, with the reason on stderr, if netpold cannot be asked, refuses or does not answer in\n"
	       "time: systemd then fails the start rather than run the service unpoliced.\n\n"
	       "Options:\n"
	       "      --socket PATH       netpold's socket (default $NETPOL_SOCKET or %s)\n"
	       "      --timeout SECONDS   give up after this long, e.g. 30, 0.5 or 500ms (default 30;\n"
	       "                          at most 600)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           print the version\n\n"
	       "See docs/units.md.\n",
	       NP_SOCKET_PATH_DEFAULT);
}

/* "2", "0.5", "2s" or "500ms": milliseconds in 1 .. TIMEOUT_MS_MAX. */
static int parse_timeout(const char *s, long *ret)
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
	if (v * 1000 < 1 || v * 1000 > TIMEOUT_MS_MAX)
		return -ERANGE;
	*ret = (long)(v * 1000 + 0.5);
	return 0;
}

static int usage_error(const char *fmt, const char *what)
{
	fprintf(stderr, "netpol-unit-gate: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see netpol-unit-gate --help)\n");
	return -EINVAL;
}

/* 1 to go on, 0 to exit (help, version), or -EINVAL. */
static int parse_argv(int argc, char **argv)
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
		arg_socket = env;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) >= 0)
		switch (c) {
		case OPT_SOCKET:
			if (!*optarg)
				return usage_error("empty --socket%s", "");
			arg_socket = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &arg_timeout_ms) < 0)
				return usage_error(
				    "invalid --timeout '%s': expected seconds in (0, 600], e.g. "
				    "30, 0.5 or 500ms",
				    optarg);
			break;
		case 'h':
			print_help();
			return 0;
		case 'V':
			printf("netpol-unit-gate %s (protocol %d)\n", NETPOL_VERSION, NP_PROTO_VERSION);
			return 0;
		case ':':
			return usage_error("missing value for option '%s'", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	if (optind >= argc)
		return usage_error("missing the unit's name%s", "");
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	arg_unit = argv[optind];
	if (!*arg_unit || strlen(arg_unit) > UNIT_MAX)
		return usage_error("'%s' is not a unit name", arg_unit);
	return 1;
}

int main(int argc, char **argv)
{
	int r;

	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_CLOSED : EXIT_SUCCESS;
	r = arm_deadline();
	if (r < 0)
		return fail_closed("cannot set the deadline: %s", strerror(-r));
	return ask_netpold();
}
