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
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "hook-call.h"
#include "json-util.h"
#include "netpol-proto.h"

#define ID_LEN 64
/* A state is a few hundred bytes; annotations (podman, CRI-O) add some KiB. */
#define STATE_MAX      (1024 * 1024)
#define TIMEOUT_MS     2000
#define TIMEOUT_MS_MAX 60000
/* netpold has not seen the container's create event yet: ask again soon. */
#define RETRY_MAX_MS 50

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
	deadline_says("reading the container's state on stdin");
	return hook_arm_deadline(arg_timeout_ms, on_deadline);
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

static int fail_call(const char *reason)
{
	return fail_open("%s", reason);
}

static void on_step(enum hook_step step, const char *detail)
{
	switch (step) {
	case HOOK_CONNECTING:
		deadline_says("connecting to netpold at %s", detail);
		break;
	case HOOK_WAITING:
		deadline_says("waiting for netpold to bind the container");
		break;
	case HOOK_NOT_YET:
		/* The runtime may run the hook before netpold has read the
		 * container's create event from the engine. */
		deadline_says("netpold does not know the container yet");
		break;
	}
}

static int ask_netpold(const char *id, long pid)
{
	_cleanup_json_ json_t *params = json_pack("{s:s, s:I}", "id", id, "pid", (json_int_t)pid);
	const struct hook_call h = {
	    .socket = arg_socket,
	    .command = NP_CMD_CONTAINER_HOOK,
	    .params = params,
	    .retry_max_ms = RETRY_MAX_MS,
	    .step = on_step,
	    .fail = fail_call,
	};

	if (!params)
		return fail_open("out of memory");
	return hook_call(&h);
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

/* 1 to go on, 0 to exit (help, version), or -EINVAL. */
static int parse_argv(int argc, char **argv)
{
	static const struct hook_options o = {
	    .name = "netpol-oci-hook",
	    .timeout_max_ms = TIMEOUT_MS_MAX,
	    .timeout_examples = "2, 0.5 or 500ms",
	    .print_help = print_help,
	};
	int r;

	r = hook_parse_options(&o, &arg_socket, &arg_timeout_ms, argc, argv);
	if (r <= 0)
		return r;
	if (optind < argc)
		return hook_usage_error("netpol-oci-hook", "unexpected argument '%s'", argv[optind]);
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
