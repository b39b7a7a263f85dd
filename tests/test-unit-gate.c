/* SPDX-License-Identifier: GPL-2.0-only */
/* netpol-unit-gate (argv[1]), a bound service's ExecCondition=, against a
 * socket this test listens on and answers from a script: it must send
 * unit-hook with the unit's name, ask again while netpold does not know
 * the unit's cgroup, exit 0 once netpold answers, and in every failure (no
 * daemon, a refusal, no answer in time, a closed connection, a bad command
 * line) exit 255 with one line on stderr saying why: closed, never open. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "fake-netpold.h"
#include "unit-check.h"

static const char *gate;
static char dir[] = "/tmp/netpol-test-unit-gate.XXXXXX";
static char sock_path[sizeof(dir) + 16], missing_sock[sizeof(dir) + 16];
static int listen_fd = -1;

/* The daemon's answers, one per request in order; past the end, or NULL:
 * none (it hangs); CLOSE: it closes the connection. */
#define NO_SUCH_TARGET                                                                                       \
	"{\"version\": 1, \"ok\": false, \"error\": {\"code\": \"netpol.NoSuchTarget\", \"message\": "       \
	"\"not known yet\"}}"
#define BOUND "{\"version\": 1, \"ok\": true, \"result\": {}}"

/* ---- netpol-unit-gate ---- */

#define NOT_BOUND                                                                                            \
	"{\"version\": 1, \"ok\": true, \"result\": {\"target\": \"unit:web.service\", \"policy\": null}}"
#define REFUSED                                                                                              \
	"{\"version\": 1, \"ok\": false, \"error\": {\"code\": \"netpol.InvalidParameter\", \"message\": "   \
	"\"the caller runs in cgroup /x, not in /system.slice/web.service\"}}"
#define OTHER_ID "{\"version\": 1, \"id\": 999, \"ok\": true, \"result\": {}}"

static void gate_run(struct child *c, const char *const *args, const char *const *replies, size_t n_replies)
{
	const char *argv[16] = {gate};
	size_t n = 1;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	fake_spawn(c, listen_fd, argv, "", 0, NULL, NULL, replies, n_replies);
}

/* Request i was unit-hook for web.service. */
static void expect_request(const char *file, int line, struct child *c, size_t i)
{
	json_t *req = json_array_get(c->requests, i);
	json_t *want = json_pack("{s:s}", "unit", "web.service");
	const char *cmd = json_string_value(json_object_get(req, "command"));

	check(cmd && strcmp(cmd, "unit-hook") == 0 && json_equal(json_object_get(req, "params"), want) &&
		  json_integer_value(json_object_get(req, "version")) == 1,
	      file, line, "request %zu is not unit-hook {\"unit\": \"web.service\"}", i);
	json_decref(want);
}
#define EXPECT_REQUEST(c, i) expect_request(__FILE__, __LINE__, c, i)

/* Exited 255 with one line that says it does not start the unit, and why. */
static void expect_closed(const char *file, int line, struct child *c, const char *why)
{
	const char *nl = strchr(c->err, '\n');

	check(c->status == 255, file, line, "exit status %d, want 255 (stderr: %s)", c->status, c->err);
	check(strstr(c->err, "not starting it") && strstr(c->err, why) && nl && !nl[1], file, line,
	      "stderr '%s', want one line that says 'not starting it' and '%s'", c->err, why);
}
#define EXPECT_CLOSED(c, why) expect_closed(__FILE__, __LINE__, c, why)

static void test_passes(void)
{
	struct child c;

	gate_run(&c, ARGV("--socket", sock_path, "web.service"), REPLIES(BOUND));
	CHECKF(c.status == 0 && !c.err[0], "bound: status %d, stderr '%s'", c.status, c.err);
	CHECK(json_array_size(c.requests) == 1 && c.connections == 1);
	EXPECT_REQUEST(&c, 0);
	child_done(&c);

	gate_run(&c, ARGV("--socket", sock_path, "web.service"), REPLIES(NOT_BOUND));
	CHECKF(c.status == 0 && !c.err[0], "not bound: status %d, stderr '%s'", c.status, c.err);
	child_done(&c);

	/* netpold asks systemd where the unit went: the gate asks again. */
	gate_run(&c, ARGV("--socket", sock_path, "web.service"),
		 REPLIES(NO_SUCH_TARGET, NO_SUCH_TARGET, BOUND));
	CHECKF(c.status == 0, "after retries: status %d, stderr '%s'", c.status, c.err);
	CHECK(json_array_size(c.requests) == 3 && c.connections == 1);
	EXPECT_REQUEST(&c, 2);
	child_done(&c);

	/* The socket from the environment. */
	{
		const char *argv[] = {gate, "web.service", NULL};

		fake_spawn(&c, listen_fd, argv, "", 0, sock_path, NULL, REPLIES(BOUND));
		CHECKF(c.status == 0 && c.connections == 1, "NETPOL_SOCKET: status %d, %u connections",
		       c.status, c.connections);
		child_done(&c);
	}
}

static void test_fails_closed(void)
{
	struct child c;

	gate_run(&c, ARGV("--socket", missing_sock, "web.service"), REPLIES(BOUND));
	EXPECT_CLOSED(&c, "netpold is not reachable");
	child_done(&c);

	gate_run(&c, ARGV("--socket", sock_path, "web.service"), REPLIES(REFUSED));
	EXPECT_CLOSED(&c, "netpold refused: netpol.InvalidParameter: the caller runs in cgroup /x");
	child_done(&c);

	gate_run(&c, ARGV("--socket", sock_path, "web.service"), REPLIES(CLOSE));
	EXPECT_CLOSED(&c, "closed the connection without an answer");
	child_done(&c);

	gate_run(&c, ARGV("--socket", sock_path, "web.service"), REPLIES(OTHER_ID));
	EXPECT_CLOSED(&c, "a reply to another request");
	child_done(&c);

	/* netpold hangs: the deadline. */
	gate_run(&c, ARGV("--socket", sock_path, "--timeout", "300ms", "web.service"), REPLIES(NULL));
	EXPECT_CLOSED(&c, "no answer from netpold within 300 ms");
	CHECK(json_array_size(c.requests) == 1);
	child_done(&c);

	/* netpold never learns the cgroup: the deadline too. */
	gate_run(&c, ARGV("--socket", sock_path, "--timeout", "0.3", "web.service"),
		 REPLIES(NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET,
			 NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET,
			 NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET));
	EXPECT_CLOSED(&c, "does not know the unit's cgroup yet: not known yet");
	child_done(&c);
}

static void test_usage(void)
{
	struct child c;

	gate_run(&c, ARGV("--socket", sock_path), REPLIES(BOUND));
	CHECKF(c.status == 255 && strstr(c.err, "missing the unit's name") && c.connections == 0,
	       "no unit: status %d, stderr '%s'", c.status, c.err);
	child_done(&c);
	gate_run(&c, ARGV("--socket", sock_path, "a.service", "b.service"), REPLIES(BOUND));
	CHECKF(c.status == 255 && strstr(c.err, "unexpected argument 'b.service'"), "two units: %d '%s'",
	       c.status, c.err);
	child_done(&c);
	gate_run(&c, ARGV("--timeout", "0", "web.service"), REPLIES(BOUND));
	CHECKF(c.status == 255 && strstr(c.err, "invalid --timeout '0'"), "timeout 0: %d '%s'", c.status,
	       c.err);
	child_done(&c);
	gate_run(&c, ARGV("--help"), REPLIES(BOUND));
	CHECKF(c.status == 0 && strstr(c.out, "ExecCondition=") && strstr(c.out, "255"), "--help: %d '%s'",
	       c.status, c.out);
	child_done(&c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s NETPOL-UNIT-GATE\n", argv[0]);
		return 99;
	}
	gate = realpath(argv[1], NULL);
	if (!gate)
		die("realpath");
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	snprintf(missing_sock, sizeof(missing_sock), "%s/none.sock", dir);
	listen_fd = listen_unix(sock_path);

	test_passes();
	test_fails_closed();
	test_usage();

	close(listen_fd);
	unlink(sock_path);
	rmdir(dir);
	printf("test-unit-gate: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
