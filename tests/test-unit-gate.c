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

#include "unit-check.h"

#define TIMEOUT_MS 10000
#define MAX_CONNS  8

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
#define CLOSE "close"

static void die(const char *what)
{
	perror(what);
	exit(99);
}

static void read_back(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* ---- a child with a deadline ---- */

struct child {
	int status; /* exit code; -1 if killed or signalled */
	char out[16384], err[16384];
	/* the hook's: */
	json_t *requests; /* each request line received, parsed (null if not JSON) */
	unsigned connections;
};

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

static void send_reply(int fd, const char *reply, json_t *req)
{
	json_t *rep = json_loads(reply, 0, NULL);
	char *text;

	if (!rep)
		die("reply");
	if (!json_object_get(rep, "id"))
		json_object_set(rep, "id", json_object_get(req, "id") ?: json_null());
	text = json_dumps(rep, JSON_COMPACT);
	if (!text)
		die("json_dumps");
	/* the hook may be gone: that is for the checks to see, not a SIGPIPE */
	(void)!send(fd, text, strlen(text), MSG_NOSIGNAL);
	(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
	free(text);
	json_decref(rep);
}

/* Reads what a connection sent; answers each complete line from replies. */
static void serve(struct child *c, struct conn *k, const char *const *replies, size_t n_replies)
{
	ssize_t n = read(k->fd, k->buf + k->len, sizeof(k->buf) - 1 - k->len);
	char *nl;

	if (n <= 0) {
		close(k->fd);
		k->fd = -1;
		return;
	}
	k->len += (size_t)n;
	while ((nl = memchr(k->buf, '\n', k->len))) {
		size_t i = json_array_size(c->requests);
		json_t *req = json_loadb(k->buf, (size_t)(nl - k->buf), 0, NULL);

		json_array_append_new(c->requests, req ?: json_null());
		k->len -= (size_t)(nl + 1 - k->buf);
		memmove(k->buf, nl + 1, k->len);
		if (i >= n_replies || !replies[i])
			continue;
		if (strcmp(replies[i], CLOSE) == 0) {
			close(k->fd);
			k->fd = -1;
			return;
		}
		send_reply(k->fd, replies[i], req);
	}
}

/* Runs argv with stdin (NULL: a pipe never closed), env NETPOL_SOCKET set
 * to env_socket (NULL: unset), in cwd (NULL: ours); serves the hook's
 * connections until it exits. */
static void spawn(struct child *c, const char *const *argv, const char *in, size_t in_len,
		  const char *env_socket, const char *cwd, const char *const *replies, size_t n_replies)
{
	int out = memfd_create("out", MFD_CLOEXEC), err = memfd_create("err", MFD_CLOEXEC), inp[2], pidfd, ws;
	struct conn conns[MAX_CONNS];
	size_t n_conns = 0;
	pid_t pid;

	*c = (struct child){.status = -1, .requests = json_array()};
	if (out < 0 || err < 0 || pipe2(inp, O_CLOEXEC) < 0)
		die("memfd_create");
	if (in) {
		/* a file, not a pipe: the child reads it to the end, whatever its size */
		int f = memfd_create("in", MFD_CLOEXEC);

		if (f < 0 || write(f, in, in_len) != (ssize_t)in_len || lseek(f, 0, SEEK_SET) < 0)
			die("stdin");
		close(inp[0]);
		inp[0] = f;
	}
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(inp[0], STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(127);
		if (env_socket)
			setenv("NETPOL_SOCKET", env_socket, 1);
		else
			unsetenv("NETPOL_SOCKET");
		if (cwd && chdir(cwd) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(inp[0]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	for (;;) {
		struct pollfd p[2 + MAX_CONNS] = {{.fd = pidfd, .events = POLLIN},
						  {.fd = listen_fd, .events = POLLIN}};
		int k;

		for (size_t i = 0; i < n_conns; i++)
			p[2 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		k = poll(p, 2 + n_conns, TIMEOUT_MS);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			printf("%s ran for more than %d ms, killed\n", argv[0], TIMEOUT_MS);
			kill(pid, SIGKILL);
			break;
		}
		if (p[0].revents & POLLIN)
			break;
		if ((p[1].revents & POLLIN) && n_conns < MAX_CONNS) {
			conns[n_conns].fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			conns[n_conns].len = 0;
			if (conns[n_conns].fd < 0)
				die("accept4");
			c->connections++;
			n_conns++;
		}
		for (size_t i = 0; i < n_conns; i++)
			if (p[2 + i].revents && conns[i].fd >= 0)
				serve(c, &conns[i], replies, n_replies);
	}
	if (waitpid(pid, &ws, 0) < 0)
		die("waitpid");
	while (poll(&(struct pollfd){.fd = listen_fd, .events = POLLIN}, 1, 0) > 0) {
		close(accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC));
		c->connections++;
	}
	for (size_t i = 0; i < n_conns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	close(inp[1]);
	close(pidfd);
	if (WIFEXITED(ws))
		c->status = WEXITSTATUS(ws);
	read_back(out, c->out, sizeof(c->out));
	read_back(err, c->err, sizeof(c->err));
}

static void child_done(struct child *c)
{
	json_decref(c->requests);
	c->requests = NULL;
}

#define ARGV(...)     ((const char *const[]){__VA_ARGS__, NULL})
#define REPLIES(...)  ((const char *const[]){__VA_ARGS__}), ELEMENTSOF(((const char *const[]){__VA_ARGS__}))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

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
	spawn(c, argv, "", 0, NULL, NULL, replies, n_replies);
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

		spawn(&c, argv, "", 0, sock_path, NULL, REPLIES(BOUND));
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
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

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
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 16) < 0)
		die("listen");

	test_passes();
	test_fails_closed();
	test_usage();

	close(listen_fd);
	unlink(sock_path);
	rmdir(dir);
	printf("test-unit-gate: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
