/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpol-oci-hook: an OCI createRuntime hook (docs/oci-hook.md). The
 * runtime runs it once the container's cgroup exists and before the
 * container's first instruction, with the container's state on stdin; it
 * asks netpold to bind the container's own policy to that cgroup and
 * returns when netpold has, so that the first instruction is judged by it.
 *
 * It fails open: whatever goes wrong (netpold stopped, a bad state, no
 * answer in time), it exits 0 by the deadline and the container starts
 * under the container default. A hook that blocked container starts while
 * netpold is down would take every container on the host down with it.
 * Only a bad command line exits non-zero: that is the hook's definition,
 * wrong for every container alike, and it must be seen.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "json-util.h"
#include "netpol-proto.h"
#include "conn.h"

#define ID_LEN 64
/* A state is a few hundred bytes; annotations (podman, CRI-O) add some KiB. */
#define STATE_MAX      (1024 * 1024)
#define TIMEOUT_MS     2000
#define TIMEOUT_MS_MAX 60000
/* netpold has not seen the container's create event yet: ask again soon. */
#define RETRY_FIRST_MS 5
#define RETRY_MAX_MS   50

static const char *arg_socket = NP_SOCKET_PATH_DEFAULT;
static long arg_timeout_ms = TIMEOUT_MS;

/* The container as messages name it: its short id, and its pid once known. */
static char who[64] = "a container";

/* A line said: to stderr, and to the system log, since runc shows a
 * hook's stderr only when the hook fails. */
struct say {
	char line[1024];  /* stderr's */
	char dgram[1024]; /* the system log's, with its priority and tag */
};

/* What the deadline says, prepared before each step that may block: the
 * handler only sends it. Two buffers, so that the one being written is
 * never the one the handler reads. */
static struct say deadline_msg[2];
static volatile sig_atomic_t deadline_cur;

DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_conn *, np_conn_free);

static void say_format(struct say *s, const char *msg)
{
	snprintf(s->line, sizeof(s->line), "netpol-oci-hook: %s\n", msg);
	snprintf(s->dgram, sizeof(s->dgram), "<%d>netpol-oci-hook[%d]: %s", LOG_DAEMON | LOG_WARNING,
		 (int)getpid(), msg);
}

/* Async-signal-safe, and never waits: not syslog(3), which may block on a
 * busy log daemon. */
static void say_now(const struct say *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	int fd;

	if (!s->line[0])
		return;
	(void)!write(STDERR_FILENO, s->line, strlen(s->line));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	(void)!sendto(fd, s->dgram, strlen(s->dgram), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
		      sizeof(sa));
	close(fd);
}

/* Makes s what the deadline says from now on. */
static void deadline_set(const struct say *s)
{
	int next = !deadline_cur;

	deadline_msg[next] = *s;
	deadline_cur = next;
}

__attribute__((format(printf, 1, 2))) static int fail_open(const char *fmt, ...)
{
	static const struct say quiet;
	char reason[512], msg[768];
	struct say s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: failing open, it starts under the container default: %s", who,
		 reason);
	say_format(&s, msg);
	/* said once: a deadline now only ends the program */
	deadline_set(&quiet);
	say_now(&s);
	return EXIT_SUCCESS;
}

/* ---- the deadline ---- */

static void on_deadline(int sig)
{
	say_now(&deadline_msg[deadline_cur]);
	_exit(EXIT_SUCCESS);
}

/* What the deadline says if it comes during the next step. */
__attribute__((format(printf, 1, 2))) static void deadline_says(const char *fmt, ...)
{
	char what[512], msg[768];
	struct say s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg),
		 "%s: failing open, it starts under the container default: no answer within %ld ms (%s)", who,
		 arg_timeout_ms, what);
	say_format(&s, msg);
	deadline_set(&s);
}

/* One deadline for the whole run, wherever it blocks (stdin, connect(),
 * the reply): a signal that ends the program, not a timeout per step. */
static int arm_deadline(void)
{
	struct itimerval it = {
	    .it_value = {.tv_sec = arg_timeout_ms / 1000, .tv_usec = (arg_timeout_ms % 1000) * 1000}};
	struct sigaction sa = {.sa_handler = on_deadline};
	sigset_t ss;

	deadline_says("reading the container's state on stdin");
	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &ss, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0)
		return -errno;
	return 0;
}

/* ---- the state ---- */

static int read_stdin(char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = malloc(STATE_MAX + 1);
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, STATE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > STATE_MAX)
			return -EFBIG;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static bool is_container_id(const char *s)
{
	if (strlen(s) != ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The id and pid of the state JSON (the OCI runtime spec's "State"), or
 * -EINVAL with *why. */
static int parse_state(const char *buf, size_t len, char id[static ID_LEN + 1], long *ret_pid,
		       const char **why)
{
	_cleanup_json_ json_t *st = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	const char *s;
	json_t *j;

	if (!st || !json_is_object(st)) {
		*why = "not a JSON object";
		return -EINVAL;
	}
	j = json_object_get(st, "id");
	s = json_string_value(j);
	if (!s || !is_container_id(s)) {
		*why = "\"id\" is not a container id (64 lowercase hex digits)";
		return -EINVAL;
	}
	memcpy(id, s, ID_LEN + 1);
	j = json_object_get(st, "pid");
	if (!json_is_integer(j) || json_integer_value(j) <= 0 || json_integer_value(j) > INT_MAX) {
		*why = "\"pid\" is not a process id (an integer > 0)";
		return -EINVAL;
	}
	*ret_pid = (long)json_integer_value(j);
	return 0;
}

/* ---- netpold ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 0 when the reply is ok; 1 to ask again (netpold does not know the
 * container yet); -EPROTO with *code and *message for an error. */
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

static int ask_netpold(const char *id, long pid)
{
	_cleanup_(np_conn_freep) struct np_conn *c = NULL;
	long retry_ms = RETRY_FIRST_MS;
	int r;

	deadline_says("connecting to netpold at %s", arg_socket);
	r = np_conn_open(arg_socket, &c);
	if (r < 0)
		return fail_open("netpold is not reachable at %s: %s", arg_socket, strerror(-r));

	for (json_int_t n = 1;; n++) {
		_cleanup_json_ json_t *req = NULL, *rep = NULL;
		const char *code, *message;

		req = np_proto_request(NP_CMD_CONTAINER_HOOK, n,
				       json_pack("{s:s, s:I}", "id", id, "pid", (json_int_t)pid));
		if (!req)
			return fail_open("out of memory");
		deadline_says("waiting for netpold to bind the container");
		r = np_conn_send(c, req);
		if (r < 0)
			return fail_open("cannot send to netpold: %s", strerror(-r));
		r = np_conn_recv(c, &rep);
		if (r == -ECONNRESET)
			return fail_open("netpold closed the connection without an answer");
		if (r < 0)
			return fail_open("cannot read netpold's answer: %s", strerror(-r));

		r = reply_status(rep, n, &code, &message);
		if (r == 0)
			return EXIT_SUCCESS;
		if (r < 0)
			return fail_open("netpold refused: %s%s%s", code ?: "", code ? ": " : "",
					 message ?: "no message");
		/* The runtime may run the hook before netpold has read the
		 * container's create event from the engine. */
		deadline_says("netpold does not know the container yet");
		sleep_ms(retry_ms);
		retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
	}
}

/* ---- options ---- */

static void print_help(void)
{
	printf("Usage: netpol-oci-hook [--socket PATH] [--timeout SECONDS]\n\n"
	       "An OCI createRuntime hook: reads the container's state (JSON) on stdin and has netpold\n"
	       "bind the container's own policy before its first instruction. It always exits 0 (but for\n"
	       "a bad command line): if netpold is down or does not answer in time, the container starts\n"
	       "under the container default, and a line on stderr and in the system log says why.\n\n"
	       "Options:\n"
	       "      --socket PATH       netpold's socket (default $NETPOL_SOCKET or %s)\n"
	       "      --timeout SECONDS   give up after this long, e.g. 2, 0.5 or 500ms (default 2;\n"
	       "                          at most 60)\n"
	       "  -h, --help              this help\n"
	       "  -V, --version           print the version\n\n"
	       "See docs/oci-hook.md.\n",
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
	fprintf(stderr, "netpol-oci-hook: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, " (see netpol-oci-hook --help)\n");
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
				    "invalid --timeout '%s': expected seconds in (0, 60], e.g. 2, "
				    "0.5 or 500ms",
				    optarg);
			break;
		case 'h':
			print_help();
			return 0;
		case 'V':
			printf("netpol-oci-hook %s (protocol %d)\n", NETPOL_VERSION, NP_PROTO_VERSION);
			return 0;
		case ':':
			return usage_error("missing value for option '%s'", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 1;
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *state = NULL;
	char id[ID_LEN + 1];
	const char *why;
	size_t len = 0;
	long pid;
	int r;

	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? 2 : EXIT_SUCCESS;

	r = arm_deadline();
	if (r < 0)
		return fail_open("cannot set the deadline: %s", strerror(-r));

	r = read_stdin(&state, &len);
	if (r == -EFBIG)
		return fail_open("the state on stdin is larger than %d bytes", STATE_MAX);
	if (r < 0)
		return fail_open("cannot read the state on stdin: %s", strerror(-r));
	r = parse_state(state, len, id, &pid, &why);
	if (r < 0)
		return fail_open("bad state on stdin: %s", why);
	snprintf(who, sizeof(who), "container %.12s (pid %ld)", id, pid);

	return ask_netpold(id, pid);
}
