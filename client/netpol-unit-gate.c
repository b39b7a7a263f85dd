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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook-call.h"
#include "json-util.h"
#include "netpol-proto.h"

#define EXIT_CLOSED    255
#define TIMEOUT_MS     30000 /* netpold may be starting: socket activation at boot */
#define TIMEOUT_MS_MAX 600000
#define RETRY_MAX_MS   100
#define UNIT_MAX       255

static const char *arg_socket = NP_SOCKET_PATH_DEFAULT;
static long arg_timeout_ms = TIMEOUT_MS;
static const char *arg_unit;

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
	deadline_says("starting");
	return hook_arm_deadline(arg_timeout_ms, on_deadline);
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

static int fail_call(const char *reason)
{
	return fail_closed("%s", reason);
}

static void on_step(enum hook_step step, const char *detail)
{
	switch (step) {
	case HOOK_CONNECTING:
		deadline_says("connecting to %s", detail);
		break;
	case HOOK_WAITING:
		deadline_says("waiting for netpold to bind the unit's cgroup");
		break;
	case HOOK_NOT_YET:
		/* systemd moved the unit (a new Slice=) and netpold is asking
		 * it where to: moments away. */
		deadline_says("netpold does not know the unit's cgroup yet: %s", detail);
		break;
	}
}

static int ask_netpold(void)
{
	_cleanup_json_ json_t *params = json_pack("{s:s}", "unit", arg_unit);
	const struct hook_call h = {
	    .socket = arg_socket,
	    .command = NP_CMD_UNIT_HOOK,
	    .params = params,
	    .retry_max_ms = RETRY_MAX_MS,
	    .step = on_step,
	    .fail = fail_call,
	};

	if (!params)
		return fail_closed("out of memory");
	return hook_call(&h);
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

static int usage_error(const char *fmt, const char *what)
{
	return hook_usage_error("netpol-unit-gate", fmt, what);
}

/* 1 to go on, 0 to exit (help, version), or -EINVAL. */
static int parse_argv(int argc, char **argv)
{
	static const struct hook_options o = {
	    .name = "netpol-unit-gate",
	    .timeout_max_ms = TIMEOUT_MS_MAX,
	    .timeout_examples = "30, 0.5 or 500ms",
	    .print_help = print_help,
	};
	int r;

	r = hook_parse_options(&o, &arg_socket, &arg_timeout_ms, argc, argv);
	if (r <= 0)
		return r;
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
