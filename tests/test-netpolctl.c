/* SPDX-License-Identifier: GPL-2.0-only */
/* netpolctl's verb table and argument parsing, without a daemon: the built
 * netpolctl (argv[1]) runs against a socket this test listens on, which
 * records the one request it sends and answers it. A command line must
 * become exactly that request; a bad one must fail with a message that
 * names what is wrong, and must not connect at all. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fake-netpold.h"
#include "unit-check.h"

#define TIMEOUT_MS 10000

static const char *netpolctl;
static const char *completion; /* NULL: not tested */
static char dir[] = "/tmp/netpol-test-netpolctl.XXXXXX";
static char sock_path[sizeof(dir) + 16];
static int listen_fd = -1;

/* One run of netpolctl. */
struct run {
	int status; /* exit code; -1 if killed */
	char out[16384], err[16384];
	json_t *request; /* the first request received */
	unsigned connections;
};

/* A result with what every verb prints (netpolctl trusts netpold to send
 * the fields it documents). */
static const char default_reply[] =
    "{\"version\": 1, \"ok\": true, \"result\": {\"policy\": {\"name\": \"web\"}, \"name\": \"web\", "
    "\"id\": 1, \"entries\": 2, \"target\": \"cgroup:/a\", \"cgroup_id\": 7, \"index\": 0, \"verdict\": "
    "\"deny\", \"policies\": [], \"bindings\": [], \"violations\": [], \"stats\": []}}";

static void send_all(int fd, const char *s, size_t len)
{
	/* netpolctl may be gone: that is for the checks to see, not a SIGPIPE */
	(void)!send(fd, s, len, MSG_NOSIGNAL);
}

/* Reads one request line from a client and answers it with reply (its
 * "id" set to the request's), or with default_reply. Lines after the
 * reply's first are sent as they are, as stream lines. */
static void serve(struct run *r, const char *reply)
{
	char line[65536];
	size_t len = 0;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	const char *stream;
	json_t *req, *rep;
	char *text;

	if (fd < 0)
		die("accept4");
	r->connections++;
	while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, TIMEOUT_MS) <= 0)
			break;
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	line[len] = '\0';
	req = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	reply = reply ?: default_reply;
	stream = strchr(reply, '\n');
	rep = json_loadb(reply, stream ? (size_t)(stream - reply) : strlen(reply), 0, NULL);
	if (!rep)
		die("reply");
	json_object_set(rep, "id", json_object_get(req, "id") ?: json_null());
	text = json_dumps(rep, JSON_COMPACT);
	if (!text)
		die("json_dumps");
	send_all(fd, text, strlen(text));
	send_all(fd, "\n", 1);
	if (stream)
		send_all(fd, stream + 1, strlen(stream + 1));
	free(text);
	json_decref(rep);
	close(fd);
	if (!r->request)
		r->request = req;
	else
		json_decref(req);
}

/* Runs prog (netpolctl unless set) with args (NULL-terminated), env
 * NETPOL_SOCKET unset unless env_socket, PATH starting with path_dir if
 * set, serving every connection with reply. */
static void spawn(struct run *r, const char *reply, const char *env_socket, const char *prog,
		  const char *path_dir, const char *const *args)
{
	const char *argv[32] = {prog ?: netpolctl};
	int out = memfd_create("out", MFD_CLOEXEC), err = memfd_create("err", MFD_CLOEXEC), pidfd, ws;
	size_t n = 1;
	pid_t pid;

	*r = (struct run){.status = -1};
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (out < 0 || err < 0)
		die("memfd_create");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* never a terminal: teardown would ask */
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(127);
		if (env_socket)
			setenv("NETPOL_SOCKET", env_socket, 1);
		else
			unsetenv("NETPOL_SOCKET");
		if (path_dir) {
			char path[4096];

			snprintf(path, sizeof(path), "%s:%s", path_dir, getenv("PATH") ?: "/usr/bin:/bin");
			setenv("PATH", path, 1);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	for (;;) {
		struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
		int k = poll(p, 2, TIMEOUT_MS);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			printf("netpolctl ran for more than %d ms, killed:", TIMEOUT_MS);
			for (size_t i = 1; argv[i]; i++)
				printf(" '%s'", argv[i]);
			printf("\n");
			kill(pid, SIGKILL);
			break;
		}
		if (p[0].revents & POLLIN)
			serve(r, reply);
		else if (p[1].revents & POLLIN)
			break;
	}
	if (waitpid(pid, &ws, 0) < 0)
		die("waitpid");
	/* a connection made just before it exited */
	while (poll(&(struct pollfd){.fd = listen_fd, .events = POLLIN}, 1, 0) > 0)
		serve(r, reply);
	if (WIFEXITED(ws))
		r->status = WEXITSTATUS(ws);
	close(pidfd);
	read_back(out, r->out, sizeof(r->out));
	read_back(err, r->err, sizeof(r->err));
}

static void ctl_env(struct run *r, const char *reply, const char *env_socket, const char *const *args)
{
	spawn(r, reply, env_socket, NULL, NULL, args);
}

static void run_done(struct run *r)
{
	json_decref(r->request);
	r->request = NULL;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
/* netpolctl --socket OURS ARGS... */
#define CTL(r, reply, ...) ctl_env(r, reply, NULL, ARGS("--socket", sock_path, __VA_ARGS__))

/* r sent one request: command with params (JSON text; NULL: none), and
 * exited with status. */
static void expect_request(const char *file, int line, struct run *r, int status, const char *command,
			   const char *params)
{
	json_t *want = params ? json_loads(params, 0, NULL) : NULL;
	json_t *got = json_object_get(r->request, "params");
	char *got_text = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (params && !want)
		die("params");
	check(r->status == status, file, line, "exit status %d, want %d (stderr: %s)", r->status, status,
	      r->err);
	check(r->connections == 1, file, line, "%u connections, want 1", r->connections);
	if (!check(r->request != NULL, file, line, "no request"))
		goto out;
	check(json_integer_value(json_object_get(r->request, "version")) == 1 &&
		  json_is_integer(json_object_get(r->request, "id")),
	      file, line, "no version 1 or no integer id");
	check(strcmp(json_string_value(json_object_get(r->request, "command")) ?: "", command) == 0, file,
	      line, "command '%s', want '%s'", json_string_value(json_object_get(r->request, "command")),
	      command);
	check(want ? got && json_equal(got, want) : !got, file, line, "params %s, want %s",
	      got_text ?: "none", params ?: "none");
out:
	free(got_text);
	json_decref(want);
	run_done(r);
}
#define EXPECT_REQUEST(r, command, params) expect_request(__FILE__, __LINE__, r, 0, command, params)
/* the same, for a run that ended with status 1 */
#define EXPECT_REQUEST_FAILED(r, command, params) expect_request(__FILE__, __LINE__, r, 1, command, params)

/* r failed (status 1) before connecting, with msg on stderr. */
static void expect_refused(const char *file, int line, struct run *r, const char *msg)
{
	check(r->status == 1, file, line, "exit status %d, want 1", r->status);
	check(r->connections == 0, file, line, "connected %u times, want never", r->connections);
	check(strstr(r->err, msg) != NULL, file, line, "stderr \"%s\" lacks \"%s\"", r->err, msg);
	run_done(r);
}
#define EXPECT_REFUSED(r, msg) expect_refused(__FILE__, __LINE__, r, msg)

static struct run r;

static void test_verbs(void)
{
	CTL(&r, NULL, "status");
	EXPECT_REQUEST(&r, "status", NULL);
	CTL(&r, NULL, "policy", "list");
	EXPECT_REQUEST(&r, "policy.list", NULL);
	CTL(&r, NULL, "policy", "show", "web");
	EXPECT_REQUEST(&r, "policy.show", "{\"name\": \"web\"}");
	CTL(&r, NULL, "policy", "delete", "web");
	EXPECT_REQUEST(&r, "policy.delete", "{\"name\": \"web\"}");
	CTL(&r, NULL, "apply", "cgroup:/a", "web");
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"cgroup:/a\", \"policy\": \"web\"}");
	CTL(&r, NULL, "unbind", "cgroup:/a");
	EXPECT_REQUEST(&r, "unbind", "{\"target\": \"cgroup:/a\"}");
	CTL(&r, NULL, "bindings");
	EXPECT_REQUEST(&r, "bindings", NULL);
	CTL(&r, NULL, "allow", "web", "10.0.0.0/8:5432/tcp");
	EXPECT_REQUEST(&r, "rule.add",
		       "{\"policy\": \"web\", \"action\": \"allow\", \"dest\": \"10.0.0.0/8:5432/tcp\"}");
	CTL(&r, NULL, "deny", "web", "[2001:db8::1]:443");
	EXPECT_REQUEST(&r, "rule.add",
		       "{\"policy\": \"web\", \"action\": \"deny\", \"dest\": \"[2001:db8::1]:443\"}");
	CTL(&r, NULL, "remove-rule", "web", "3");
	EXPECT_REQUEST(&r, "rule.remove", "{\"policy\": \"web\", \"index\": 3}");
	CTL(&r, NULL, "remove-rule", "web", "65535");
	EXPECT_REQUEST(&r, "rule.remove", "{\"policy\": \"web\", \"index\": 65535}");
	/* a ':' makes it a target, none a policy name */
	CTL(&r, NULL, "test", "cgroup:/a", "203.0.113.1:443");
	EXPECT_REQUEST(&r, "test", "{\"target\": \"cgroup:/a\", \"dest\": \"203.0.113.1:443\"}");
	CTL(&r, NULL, "test", "web", "203.0.113.1");
	EXPECT_REQUEST(&r, "test", "{\"policy\": \"web\", \"dest\": \"203.0.113.1\"}");
	CTL(&r, NULL, "violations");
	EXPECT_REQUEST(&r, "violations", "{}");
	CTL(&r, NULL, "violations", "--target", "cgroup:/a", "--since", "1700000000");
	EXPECT_REQUEST(&r, "violations", "{\"target\": \"cgroup:/a\", \"since\": 1700000000}");
	CTL(&r, NULL, "stats");
	EXPECT_REQUEST(&r, "stats", "{}");
	CTL(&r, NULL, "stats", "--reset", "--target=cgroup:/a");
	EXPECT_REQUEST(&r, "stats", "{\"target\": \"cgroup:/a\", \"reset\": true}");
}

static void test_prefixes(void)
{
	CTL(&r, NULL, "st");
	EXPECT_REFUSED(&r, "unknown or ambiguous command 'st'"); /* status, stats */
	CTL(&r, NULL, "sta");
	EXPECT_REFUSED(&r, "unknown or ambiguous command 'sta'");
	CTL(&r, NULL, "statu");
	EXPECT_REQUEST(&r, "status", NULL);
	CTL(&r, NULL, "stat");
	EXPECT_REFUSED(&r, "unknown or ambiguous command 'stat'");
	CTL(&r, NULL, "stats");
	EXPECT_REQUEST(&r, "stats", "{}");
	CTL(&r, NULL, "pol", "li");
	EXPECT_REQUEST(&r, "policy.list", NULL);
	CTL(&r, NULL, "b");
	EXPECT_REQUEST(&r, "bindings", NULL);
	CTL(&r, NULL, "rem", "web", "0");
	EXPECT_REQUEST(&r, "rule.remove", "{\"policy\": \"web\", \"index\": 0}");
	CTL(&r, NULL, "frobnicate");
	EXPECT_REFUSED(&r, "unknown or ambiguous command 'frobnicate' (see netpolctl --help)");
	CTL(&r, NULL, "");
	EXPECT_REFUSED(&r, "unknown or ambiguous command ''");
	CTL(&r, NULL, "policy", "frob");
	EXPECT_REFUSED(&r, "unknown or ambiguous command 'policy frob' (see netpolctl policy --help)");
	ctl_env(&r, NULL, NULL, ARGS("--socket", sock_path));
	EXPECT_REFUSED(&r, "missing command (see netpolctl --help)");
	CTL(&r, NULL, "policy");
	EXPECT_REFUSED(&r, "missing policy subcommand (see netpolctl policy --help)");
}

static void test_arguments(void)
{
	CTL(&r, NULL, "status", "extra");
	EXPECT_REFUSED(&r, "status: unexpected argument 'extra' (usage: netpolctl status)");
	CTL(&r, NULL, "apply", "cgroup:/a");
	EXPECT_REFUSED(&r, "apply: missing arguments (usage: netpolctl apply TARGET POLICY)");
	CTL(&r, NULL, "unbind");
	EXPECT_REFUSED(&r, "unbind: missing argument (usage: netpolctl unbind TARGET)");
	CTL(&r, NULL, "policy", "show");
	EXPECT_REFUSED(&r, "policy show: missing argument (usage: netpolctl policy show NAME)");
	CTL(&r, NULL, "policy", "show", "a", "b");
	EXPECT_REFUSED(&r, "policy show: unexpected argument 'b'");
	CTL(&r, NULL, "status", "--bogus");
	EXPECT_REFUSED(&r, "status: unknown option '--bogus'");
	CTL(&r, NULL, "status", "-x");
	EXPECT_REFUSED(&r, "status: unknown option '-x'");
	/* options of one verb are unknown to another */
	CTL(&r, NULL, "stats", "--since", "10m");
	EXPECT_REFUSED(&r, "stats: unknown option '--since'");
	CTL(&r, NULL, "violations", "--since");
	EXPECT_REFUSED(&r, "violations: option '--since' needs a value");
	ctl_env(&r, NULL, NULL, ARGS("--socket", sock_path, "--bogus", "status"));
	EXPECT_REFUSED(&r, "unknown option '--bogus' (see netpolctl --help)");
	ctl_env(&r, NULL, NULL, ARGS("--socket"));
	EXPECT_REFUSED(&r, "missing value for option '--socket'");

	CTL(&r, NULL, "remove-rule", "web", "-1");
	EXPECT_REFUSED(&r, "remove-rule: unknown option '-1'");
	CTL(&r, NULL, "remove-rule", "web", "--", "-1");
	EXPECT_REFUSED(&r, "invalid rule index '-1'");
	CTL(&r, NULL, "remove-rule", "web", "65536");
	EXPECT_REFUSED(&r, "invalid rule index '65536'");
	CTL(&r, NULL, "remove-rule", "web", "3x");
	EXPECT_REFUSED(&r, "invalid rule index '3x'");
	CTL(&r, NULL, "remove-rule", "web", "");
	EXPECT_REFUSED(&r, "invalid rule index ''");

	/* the destination's shape is checked before connecting */
	CTL(&r, NULL, "allow", "web", "any:");
	EXPECT_REFUSED(&r, "invalid destination 'any:': missing port after ':'");
	CTL(&r, NULL, "deny", "web", "[2001:db8::1");
	EXPECT_REFUSED(&r, "invalid destination '[2001:db8::1': missing ']' after an IPv6 address");
	CTL(&r, NULL, "test", "web", "");
	EXPECT_REFUSED(&r, "invalid destination '': empty destination");

	/* a string that is not UTF-8 cannot be sent */
	CTL(&r, NULL, "unbind", "cgroup:/\xff");
	EXPECT_REFUSED(&r, "invalid argument");
}

static void test_since(void)
{
	static const char *const bad[] = {
	    "yesterday",
	    "-5",
	    "10w",
	    "10mm",
	    "1700000000x",
	    "2024-05-01",
	    "2024-05-01T12:00:00",
	    "2024-05-01T12:00:00+2",
	    "2024-05-01T12:00:00.Z",
	    "2024-05-01T12:00:00Zjunk",
	};
	json_int_t since;
	long long now;

	CTL(&r, NULL, "violations", "--since", "2024-05-01T14:00:00.5+02:00");
	EXPECT_REQUEST(&r, "violations", "{\"since\": 1714564800}");
	CTL(&r, NULL, "violations", "--since", "2024-05-01t12:00:00z");
	EXPECT_REQUEST(&r, "violations", "{\"since\": 1714564800}");
	CTL(&r, NULL, "violations", "--since=2024-05-01 11:30:00-00:30");
	EXPECT_REQUEST(&r, "violations", "{\"since\": 1714564800}");
	CTL(&r, NULL, "violations", "--since", "10"); /* an epoch, not an age */
	EXPECT_REQUEST(&r, "violations", "{\"since\": 10}");

	now = (long long)time(NULL);
	CTL(&r, NULL, "violations", "--since", "2h");
	since = json_integer_value(json_object_get(json_object_get(r.request, "params"), "since"));
	CHECKF(since >= now - 7200 - 5 && since <= now - 7200 + 5, "--since 2h: %lld, want about %lld",
	       (long long)since, now - 7200);
	run_done(&r);
	CTL(&r, NULL, "violations", "--since", "1d");
	since = json_integer_value(json_object_get(json_object_get(r.request, "params"), "since"));
	CHECKF(since >= now - 86400 - 5 && since <= now - 86400 + 5, "--since 1d: %lld, want about %lld",
	       (long long)since, now - 86400);
	run_done(&r);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want), "violations: invalid time '%s': expected e.g. 30s", bad[i]);
		CTL(&r, NULL, "violations", "--since", bad[i]);
		EXPECT_REFUSED(&r, want);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

static void test_policy_file(void)
{
	char path[sizeof(dir) + 32];

	snprintf(path, sizeof(path), "%s/p.json", dir);
	write_file(path, "{\"name\": \"web\", \"default\": \"deny\"}\n");
	CTL(&r, NULL, "policy", "add", path);
	EXPECT_REQUEST(&r, "policy.add", "{\"policy\": {\"name\": \"web\", \"default\": \"deny\"}}");
	CTL(&r, NULL, "policy", "update", path);
	EXPECT_REQUEST(&r, "policy.update", "{\"policy\": {\"name\": \"web\", \"default\": \"deny\"}}");

	write_file(path, "{\"name\": \"web\",\n \"name\": \"x\"}\n");
	CTL(&r, NULL, "policy", "add", path);
	EXPECT_REFUSED(&r, "p.json:2:");
	write_file(path, "[1]");
	CTL(&r, NULL, "policy", "add", path);
	EXPECT_REFUSED(&r, "p.json: a policy must be a JSON object");
	unlink(path);
	CTL(&r, NULL, "policy", "add", path);
	EXPECT_REFUSED(&r, "cannot read");
}

static void test_help_and_version(void)
{
	CTL(&r, NULL, "--help");
	CHECK(r.status == 0 && r.connections == 0);
	CHECK(strstr(r.out, "Usage: netpolctl [OPTIONS] COMMAND") != NULL);
	/* every verb is listed, the policy ones one by one */
	CHECK(strstr(r.out, "  remove-rule POLICY N") && strstr(r.out, "  policy update FILE") &&
	      strstr(r.out, "  violations [--follow]") && !strstr(r.out, "policy list|show"));
	CTL(&r, NULL, "violations", "--target", "x", "--help");
	CHECK(r.status == 0 && r.connections == 0);
	CHECK(strstr(r.out, "Usage: netpolctl [--socket PATH] [--json] violations [--follow]") != NULL);
	CHECK(strstr(r.out, "--since T") != NULL);
	CTL(&r, NULL, "policy", "--help");
	CHECK(r.status == 0 && r.connections == 0 && strstr(r.out, "  policy show NAME") != NULL);
	CTL(&r, NULL, "policy", "add", "-h");
	CHECK(r.status == 0 && r.connections == 0 &&
	      strstr(r.out, "Usage: netpolctl [--socket PATH] [--json] policy add FILE") != NULL);
	CTL(&r, NULL, "-V");
	CHECK(r.status == 0 && r.connections == 0 && strncmp(r.out, "netpolctl ", 10) == 0 &&
	      strstr(r.out, "(protocol 1)") != NULL);
}

static void test_output_and_errors(void)
{
	json_t *j;

	/* --json anywhere on the line; stdout then holds the result only */
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"policy\": \"web\", \"target\": \"cgroup:/a\", \"cgroup_id\": 7}}",
	    "apply", "cgroup:/a", "web");
	CHECK(strcmp(r.out, "policy web applied to cgroup:/a (cgroup id 7)\n") == 0);
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"cgroup:/a\", \"policy\": \"web\"}");
	CTL(&r, "{\"ok\": true, \"result\": {\"cgroup_id\": 7}}", "apply", "cgroup:/a", "--json", "web");
	CHECK(strcmp(r.out, "{\"cgroup_id\":7}\n") == 0);
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"cgroup:/a\", \"policy\": \"web\"}");
	/* a reply without the fields the text names: shown as "-", not a crash */
	CTL(&r, "{\"ok\": true, \"result\": {}}", "apply", "cgroup:/a", "web");
	CHECK(r.status == 0 && strcmp(r.out, "policy - applied to - (cgroup id -)\n") == 0);
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"cgroup:/a\", \"policy\": \"web\"}");

	/* netpold's error: its message, and with --json its error object */
	CTL(&r,
	    "{\"ok\": false, \"error\": {\"code\": \"netpol.NoSuchPolicy\", \"message\": \"no policy "
	    "'web'\"}}",
	    "-j", "policy", "show", "web");
	CHECK(r.status == 1 && strcmp(r.err, "netpolctl: no policy 'web'\n") == 0);
	j = json_loads(r.out, 0, NULL);
	CHECK(j && strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "code")) ?: "",
			  "netpol.NoSuchPolicy") == 0);
	json_decref(j);
	run_done(&r);

	/* our own refusal, with --json as an error object too */
	CTL(&r, NULL, "--json", "status", "extra");
	j = json_loads(r.out, 0, NULL);
	CHECK(j && strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "code")) ?: "",
			  "netpolctl.InvalidArgument") == 0);
	json_decref(j);
	EXPECT_REFUSED(&r, "unexpected argument 'extra'");
}

#define VIOLATION                                                                                            \
	"{\"time\": \"2025-01-02T03:04:05.678Z\", \"target\": \"cgroup:/a\", \"cgroup_id\": 7, "             \
	"\"policy\": \"web\", \"rule_index\": null, \"dest\": \"2001:db8::1\", \"port\": 443, "              \
	"\"protocol\": \"tcp\", \"hook\": \"connect6\", \"verdict\": \"deny\", "                             \
	"\"reason\": \"source-route\", \"pid\": 42, \"comm\": \"curl\", \"count\": 3}"

/* violations, listed and followed: netpolctl's side of the stream */
static void test_violations(void)
{
	CTL(&r, "{\"ok\": true, \"result\": {\"violations\": [" VIOLATION "], \"lost\": 5}}", "violations");
	CHECK(strstr(r.out, "TIME") && strstr(r.out, "DESTINATION") &&
	      strstr(r.out, "[2001:db8::1]:443/tcp") && strstr(r.out, "x3\n"));
	CHECK(strstr(r.out, "\n5 events lost (netpold's ring buffer was full)\n") != NULL);
	EXPECT_REQUEST(&r, "violations", "{}");

	CTL(&r,
	    "{\"ok\": true, \"result\": {\"following\": true}}\n"
	    "{\"version\": 1, \"id\": 1, \"event\": " VIOLATION "}\n"
	    "{\"version\": 1, \"id\": 1, \"missed\": 120}\n",
	    "violations", "--follow", "--target", "cgroup:/a");
	CHECK(strstr(r.out,
		     "2025-01-02T03:04:05.678Z  cgroup:/a  web  deny (source-route)  [2001:db8::1]:443/tcp  "
		     "pid 42  curl  x3\n") != NULL);
	CHECK(strstr(r.out, "\nmissed 120 events (netpolctl read too slowly)\n") != NULL);
	/* the stream ends only when netpold closes it: a failure */
	CHECK(strstr(r.err, "netpolctl: netpold closed the connection\n") != NULL);
	EXPECT_REQUEST_FAILED(&r, "violations", "{\"follow\": true, \"target\": \"cgroup:/a\"}");

	CTL(&r,
	    "{\"ok\": true, \"result\": {\"following\": true}}\n"
	    "{\"version\": 1, \"id\": 1, \"event\": {\"count\": 2}}\n"
	    "{\"version\": 1, \"id\": 1, \"missed\": 120}\n",
	    "violations", "--follow", "--json", "--since", "5");
	/* every line on stdout JSON, the end of the stream too */
	CHECKF(strcmp(r.out,
		      "{\"following\":true}\n{\"event\":{\"count\":2}}\n{\"missed\":120}\n"
		      "{\"error\":{\"code\":\"netpolctl.Disconnected\",\"message\":\"netpold closed the "
		      "connection\"}}\n") == 0,
	       "stdout: %s", r.out);
	EXPECT_REQUEST_FAILED(&r, "violations", "{\"follow\": true, \"since\": 5}");
}

/* Two full container ids, and what netpold sends about their containers
 * (docs/protocol.md). */
#define ID_WEB "3f2a4b5c6d7e8f90112233445566778899aabbccddeeff00112233445566aabb"
#define ID_DB  "9a8b7c6d5e4f30211223344556677889900aabbccddeeff0011223344556677"
#define C_WEB  "{\"id\": \"" ID_WEB "\", \"name\": \"web\", \"image\": \"nginx\", \"engine\": \"docker\"}"
#define C_DB                                                                                                 \
	"{\"id\": \"" ID_DB "\", \"name\": \"shop_db_1\", \"image\": \"sha256:0123456789abcdef0123\", "      \
	"\"engine\": \"podman\", \"project\": \"shop\", \"service\": \"db\"}"

/* Containers are named, as container:NAME or alone, wherever a target is
 * taken; netpold resolves the name, netpolctl sends it as typed. */
static void test_container_targets(void)
{
	CTL(&r, NULL, "apply", "web", "worker");
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"web\", \"policy\": \"worker\"}");
	CTL(&r, NULL, "apply", "container:web", "worker");
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"container:web\", \"policy\": \"worker\"}");
	CTL(&r, NULL, "apply", "3f2a4b5c6d7e", "worker");
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"3f2a4b5c6d7e\", \"policy\": \"worker\"}");
	CTL(&r, NULL, "unbind", "container:" ID_WEB);
	EXPECT_REQUEST(&r, "unbind", "{\"target\": \"container:" ID_WEB "\"}");
	CTL(&r, NULL, "unbind", "web");
	EXPECT_REQUEST(&r, "unbind", "{\"target\": \"web\"}");
	CTL(&r, NULL, "violations", "--target", "web");
	EXPECT_REQUEST(&r, "violations", "{\"target\": \"web\"}");
	CTL(&r, NULL, "stats", "--target", "container:db");
	EXPECT_REQUEST(&r, "stats", "{\"target\": \"container:db\"}");
	CTL(&r, NULL, "test", "container:web", "203.0.113.1:443");
	EXPECT_REQUEST(&r, "test", "{\"target\": \"container:web\", \"dest\": \"203.0.113.1:443\"}");
	/* a bare word in test stays a policy name, as documented */
	CTL(&r, NULL, "test", "web", "203.0.113.1:443");
	EXPECT_REQUEST(&r, "test", "{\"policy\": \"web\", \"dest\": \"203.0.113.1:443\"}");

	/* apply names the container; with no cgroup yet, it says when it binds */
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"target\": \"container:" ID_WEB "\", \"policy\": \"worker\", "
	    "\"cgroup_id\": 0, \"origin\": \"explicit\", \"container\": " C_WEB ", \"warnings\": "
	    "[\"CAP_NET_RAW: raw sockets bypass the policy; run it with --cap-drop NET_RAW\"]}}",
	    "apply", "web", "worker");
	CHECKF(strcmp(r.out, "policy worker applied to web (3f2a4b5c6d7e, nginx) (no cgroup now: bound when "
			     "it starts)\nwarning: CAP_NET_RAW: raw sockets bypass the policy; run it with "
			     "--cap-drop NET_RAW\n") == 0,
	       "stdout: %s", r.out);
	EXPECT_REQUEST(&r, "apply", "{\"target\": \"web\", \"policy\": \"worker\"}");
}

#define BINDINGS_REPLY                                                                                       \
	"{\"ok\": true, \"result\": {\"bindings\": ["                                                        \
	"{\"target\": \"container:" ID_WEB "\", \"policy\": \"frontend\", \"origin\": \"label\", "           \
	"\"cgroup_id\": 1234, \"cgroup\": \"/docker/" ID_WEB "\", \"container\": " C_WEB ", "                \
	"\"warnings\": [\"CAP_NET_RAW: raw sockets bypass the policy; run it with --cap-drop NET_RAW\"]}, "  \
	"{\"target\": \"container:" ID_DB "\", \"policy\": \"database\", \"origin\": \"explicit\", "         \
	"\"cgroup_id\": 0, \"cgroup\": null, \"container\": " C_DB ", \"warnings\": []}, "                   \
	"{\"target\": \"cgroup:/docker\", \"policy\": \"deny-all\", \"origin\": \"default\", "               \
	"\"cgroup_id\": 99}], "                                                                              \
	"\"problems\": [{\"target\": \"container:" ID_WEB "\", \"container\": {\"id\": \"" ID_WEB "\", "     \
	"\"name\": \"evil\\u001b[2J\", \"image\": \"x\"}, \"message\": \"label bpf.network.policy names "    \
	"policy 'nope', which is not installed: under the container default\"}]}}"

static void test_container_bindings(void)
{
	const char *want =
	    "TARGET                                                   POLICY    CGROUP-ID  ORIGIN\n"
	    "web (3f2a4b5c6d7e, nginx)                                frontend  1234       label\n"
	    "  warning: CAP_NET_RAW: raw sockets bypass the policy; run it with --cap-drop NET_RAW\n"
	    "shop_db_1 (9a8b7c6d5e4f, 0123456789ab, service shop/db)  database  none       explicit\n"
	    "cgroup:/docker                                           deny-all  99         default\n"
	    "problem: evil?[2J (3f2a4b5c6d7e, x): label bpf.network.policy names policy 'nope', which is not "
	    "installed: under the container default\n";
	json_t *j, *want_json;

	CTL(&r, BINDINGS_REPLY, "bindings");
	CHECKF(strcmp(r.out, want) == 0, "stdout:\n%s\nwant:\n%s", r.out, want);
	EXPECT_REQUEST(&r, "bindings", NULL);

	/* --json: the daemon's result, as it sent it, and nothing else */
	CTL(&r, BINDINGS_REPLY, "bindings", "--json");
	j = json_loads(r.out, 0, NULL);
	want_json = json_loads(BINDINGS_REPLY, 0, NULL);
	CHECKF(j && want_json && json_equal(j, json_object_get(want_json, "result")), "stdout: %s", r.out);
	CHECKF(strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "stdout is not one line: %s", r.out);
	json_decref(j);
	json_decref(want_json);
	EXPECT_REQUEST(&r, "bindings", NULL);

	/* an old netpold: no problems, no containers; the table as before */
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"bindings\": [{\"target\": \"cgroup:/a\", \"policy\": \"web\", "
	    "\"cgroup_id\": 7, \"origin\": \"explicit\"}]}}",
	    "bindings");
	CHECKF(strcmp(r.out,
		      "TARGET     POLICY  CGROUP-ID  ORIGIN\ncgroup:/a  web     7          explicit\n") == 0,
	       "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "bindings", NULL);
}

static void test_container_status(void)
{
	const char *want_block =
	    "containers:\n"
	    "  /var/run/docker.sock: docker, API 1.41, connected, 3 containers\n"
	    "  /run/podman/podman.sock: not connected (connect: No such file or directory)\n"
	    "  default policy: deny-all\n"
	    "  problem: web (3f2a4b5c6d7e, nginx): label names policy 'nope', which is not installed\n";

	CTL(&r,
	    "{\"ok\": true, \"result\": {\"version\": \"1.0\", \"policies\": 2, \"containers\": {"
	    "\"engines\": [{\"socket\": \"/var/run/docker.sock\", \"engine\": \"docker\", \"api_version\": "
	    "\"1.41\", \"connected\": true, \"containers\": 3, \"error\": null}, {\"socket\": "
	    "\"/run/podman/podman.sock\", \"engine\": null, \"api_version\": null, \"connected\": false, "
	    "\"containers\": 0, \"error\": \"connect: No such file or directory\"}], \"default_policy\": "
	    "\"deny-all\", \"problems\": [{\"target\": \"container:" ID_WEB "\", \"container\": " C_WEB ", "
	    "\"message\": \"label names policy 'nope', which is not installed\"}]}}}",
	    "status");
	CHECKF(strncmp(r.out, "version:        1.0\npolicies:       2\n", 36) == 0, "stdout:\n%s", r.out);
	/* the block last, and not also as one line of JSON */
	CHECKF(strlen(r.out) > strlen(want_block) &&
		   strcmp(r.out + strlen(r.out) - strlen(want_block), want_block) == 0 &&
		   !strstr(r.out, "{\""),
	       "stdout:\n%s\nwant it to end with:\n%s", r.out, want_block);
	EXPECT_REQUEST(&r, "status", NULL);

	CTL(&r, "{\"ok\": true, \"result\": {\"containers\": {\"engines\": [], \"default_policy\": null}}}",
	    "status");
	CHECKF(strcmp(r.out, "containers:\n  no engine followed (container_sockets is empty)\n"
			     "  default policy: none (a container without a binding is not policed)\n") == 0,
	       "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "status", NULL);
}

#define VIOLATION_C(c)                                                                                       \
	"{\"time\": \"2025-01-02T03:04:05.678Z\", \"target\": \"container:" ID_WEB "\", \"cgroup_id\": 7, "  \
	"\"policy\": \"frontend\", \"rule_index\": null, \"dest\": \"203.0.113.9\", \"port\": 22, "          \
	"\"protocol\": \"tcp\", \"hook\": \"connect4\", \"verdict\": \"deny\", \"reason\": \"policy\", "     \
	"\"pid\": 42, \"comm\": \"curl\", \"count\": 1, \"container\": " c "}"

/* A violation in a container names it, not its long target. */
static void test_container_violations(void)
{
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"violations\": [" VIOLATION_C(C_WEB) ", " VIOLATION_C(C_DB) "]}}",
	    "violations");
	CHECKF(strstr(r.out, "\n2025-01-02T03:04:05.678Z  web (3f2a4b5c6d7e, nginx)  ") &&
		   strstr(r.out, "\n2025-01-02T03:04:05.678Z  shop_db_1 (9a8b7c6d5e4f, 0123456789ab, "
				 "service shop/db)  frontend") &&
		   !strstr(r.out, "container:"),
	       "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "violations", "{}");

	CTL(&r,
	    "{\"ok\": true, \"result\": {\"following\": true}}\n"
	    "{\"version\": 1, \"id\": 1, \"event\": " VIOLATION_C(C_WEB) "}\n",
	    "violations", "--follow", "--target", "web");
	CHECKF(strstr(r.out, "2025-01-02T03:04:05.678Z  web (3f2a4b5c6d7e, nginx)  frontend  deny  "
			     "203.0.113.9:22/tcp  pid 42  curl  x1\n") != NULL,
	       "stdout:\n%s", r.out);
	EXPECT_REQUEST_FAILED(&r, "violations", "{\"follow\": true, \"target\": \"web\"}");

	/* stats name the container too, when netpold says which it is */
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"stats\": [{\"target\": \"container:" ID_WEB
	    "\", \"container\": " C_WEB ", \"dest\": \"203.0.113.9\", \"port\": 22, \"protocol\": \"tcp\", "
					"\"allowed\": 0, \"denied\": 3, "
	    "\"last_seen\": \"2025-01-02T03:04:05.678Z\"}]}}",
	    "stats", "--target", "web");
	CHECKF(
	    strstr(r.out, "\nweb (3f2a4b5c6d7e, nginx)  203.0.113.9  22    tcp    0        3       2025-") !=
		NULL,
	    "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "stats", "{\"target\": \"web\"}");

	/* a hostile name cannot reach the terminal as escapes, nor run on */
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"violations\": [" VIOLATION_C(
		"{\"id\": \"" ID_WEB "\", \"name\": \"a\\u001b]0;x\\u0007b\", \"image\": "
		"\"iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii\"}") "]}}",
	    "violations");
	CHECKF(strstr(r.out,
		      "  a?]0;x?b (3f2a4b5c6d7e, "
		      "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii") == NULL &&
		   strstr(r.out,
			  "  a?]0;x?b (3f2a4b5c6d7e, iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii...)  ") !=
		       NULL &&
		   !strchr(r.out, '\033') && !strchr(r.out, '\a'),
	       "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "violations", "{}");
}

/* The bash completion (argv[2]) with netpolctl first in PATH and without
 * bash-completion or jq: what it offers after line, one word a line. */
static void complete(const char *line, const char *reply)
{
	char bin[sizeof(dir) + 16];

	snprintf(bin, sizeof(bin), "%s/bin", dir);
	spawn(&r, reply, sock_path, "/bin/bash", bin,
	      ARGS("--norc", "--noprofile", "-c",
		   ". \"$0\" && COMP_LINE=$1 && COMP_POINT=${#1} && _netpolctl && printf '%s\n' "
		   "\"${COMPREPLY[@]}\"",
		   completion, line));
}

static void test_completion(void)
{
	char bin[sizeof(dir) + 16], link[sizeof(bin) + 16];
	char *target;

	if (!completion)
		return;
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	snprintf(link, sizeof(link), "%s/netpolctl", bin);
	target = realpath(netpolctl, NULL);
	if (!target || mkdir(bin, 0700) < 0 || symlink(target, link) < 0)
		die("bin");
	free(target);

	/* bound containers by name (from bindings --json), prefixes, and
	 * never a name that is not a container name */
	complete("netpolctl apply ", BINDINGS_REPLY);
	CHECKF(r.status == 0 && strcmp(r.out, "cgroup:/\ncontainer:\nunit:\nshop_db_1\nweb\n") == 0,
	       "status %d, stdout:\n%s\nstderr: %s", r.status, r.out, r.err);
	run_done(&r);
	complete("netpolctl apply container:w", BINDINGS_REPLY);
	/* bash has "container:" already (':' breaks words): the rest */
	CHECKF(strcmp(r.out, "web\n") == 0, "stdout:\n%s", r.out);
	run_done(&r);
	complete("netpolctl --socket /nonexistent violations --target s", BINDINGS_REPLY);
	CHECKF(r.connections == 0 && strcmp(r.out, "\n") == 0, "--socket not followed: %u connections, %s",
	       r.connections, r.out);
	run_done(&r);
	complete("netpolctl stats --target ", BINDINGS_REPLY);
	CHECKF(strcmp(r.out, "cgroup:/\ncontainer:\nunit:\nshop_db_1\nweb\n") == 0, "stdout:\n%s", r.out);
	EXPECT_REQUEST(&r, "bindings", NULL);
	/* units: the bound ones (and systemctl's, where systemd runs) */
	complete("netpolctl apply unit:w",
		 "{\"ok\": true, \"result\": {\"bindings\": [{\"target\": \"unit:web.service\", \"policy\": "
		 "\"p\"}, {\"target\": \"unit:bad name.service\", \"policy\": \"p\"}], \"problems\": []}}");
	CHECKF(strcmp(r.out, "web.service\n") == 0 || strcmp(r.out, "unit:web.service\n") == 0, "stdout:\n%s",
	       r.out);
	run_done(&r);
	/* test: a bare word is a policy, so no bare container names */
	complete("netpolctl test co", BINDINGS_REPLY);
	CHECKF(strcmp(r.out, "container:\n") == 0, "stdout:\n%s", r.out);
	run_done(&r);
	/* no netpold: still the prefixes */
	unlink(link);
	complete("netpolctl unbind ", BINDINGS_REPLY);
	CHECKF(strcmp(r.out, "cgroup:/\ncontainer:\nunit:\n") == 0, "stdout:\n%s", r.out);
	run_done(&r);
	rmdir(bin);
}

static void test_socket(void)
{
	char missing[sizeof(dir) + 16];

	/* $NETPOL_SOCKET, unless --socket says otherwise */
	ctl_env(&r, NULL, sock_path, ARGS("bindings"));
	EXPECT_REQUEST(&r, "bindings", NULL);
	snprintf(missing, sizeof(missing), "%s/none.sock", dir);
	ctl_env(&r, NULL, sock_path, ARGS("--socket", missing, "bindings"));
	EXPECT_REFUSED(&r, "cannot connect to netpold at");
	ctl_env(&r, NULL, missing, ARGS("bindings"));
	EXPECT_REFUSED(&r, "(is netpold running?)");
	ctl_env(&r, NULL, missing, ARGS("bindings", "--socket", sock_path));
	EXPECT_REQUEST(&r, "bindings", NULL);
}

static void test_teardown(void)
{
	CTL(&r,
	    "{\"ok\": true, \"result\": {\"pin_dir\": \"/sys/fs/bpf/netpol\", \"attach_cgroup\": "
	    "\"/sys/fs/cgroup\", \"state_dir\": \"/var/lib/netpol\", \"bindings_forgotten\": false}}",
	    "teardown", "--yes");
	CHECKF(strstr(r.out, "netpold detached its programs from /sys/fs/cgroup, removed its pins in "
			     "/sys/fs/bpf/netpol and exited.\nNo policy is enforced now.\n") != NULL,
	       "stdout: %s", r.out);
	CHECKF(strstr(r.out, "bindings in /var/lib/netpol are kept") != NULL, "stdout: %s", r.out);
	EXPECT_REQUEST(&r, "teardown", NULL);
	CTL(&r, "{\"ok\": true, \"result\": {\"bindings_forgotten\": true, \"state_dir\": \"/s\"}}",
	    "teardown", "--forget", "--yes");
	CHECKF(strstr(r.out, "The saved bindings are removed") != NULL, "stdout: %s", r.out);
	EXPECT_REQUEST(&r, "teardown", "{\"forget\": true}");
	/* not confirmed (stdin is not a terminal): netpold is not even asked */
	CTL(&r, NULL, "teardown");
	EXPECT_REFUSED(&r, "confirm with --yes (nothing was changed)");
	CTL(&r, NULL, "teardown", "--forget");
	EXPECT_REFUSED(&r, "confirm with --yes");
	CTL(&r, NULL, "teardown", "--yes", "now");
	EXPECT_REFUSED(&r, "unexpected argument 'now'");
	CTL(&r, NULL, "--json", "teardown");
	CHECKF(strstr(r.out, "\"code\":\"netpolctl.NotConfirmed\"") != NULL, "stdout: %s", r.out);
	run_done(&r);
}

/* A stream's first reply at once, then nothing for longer than the
 * timeout, then late. */
static void answer_late(int fd, const char *late)
{
	static const char first[] =
	    "{\"version\": 1, \"id\": 1, \"ok\": true, \"result\": {\"following\": true}}\n";
	char buf[4096];

	if (poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, TIMEOUT_MS) <= 0 ||
	    read(fd, buf, sizeof(buf)) <= 0)
		return;
	send_all(fd, first, strlen(first));
	nanosleep(&(struct timespec){.tv_sec = 1, .tv_nsec = 500000000}, NULL);
	send_all(fd, late, strlen(late));
	shutdown(fd, SHUT_WR);
}

/* A netpold that takes the connection and never answers (accepting it or
 * not): netpolctl gives up after --timeout with status 124. With backlog
 * 0 and one connection of ours waiting, connect() itself would block. */
static void run_silent(struct run *rr, bool accept_it, bool backlog_full, const char *late,
		       const char *const *args)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *argv[32] = {netpolctl, "--socket", sa.sun_path};
	int lfd, held[4] = {-1, -1, -1, -1}, filler = -1, pidfd, ws, out, err;
	size_t n = 3, n_held = 0;
	pid_t pid;

	*rr = (struct run){.status = -1};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/silent.sock", dir);
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, backlog_full ? 0 : 4) < 0)
		die("silent listen");
	if (backlog_full) {
		filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (filler < 0 || connect(filler, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("filler");
	}
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	out = memfd_create("out", MFD_CLOEXEC);
	err = memfd_create("err", MFD_CLOEXEC);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = accept_it ? POLLIN : 0},
				      {.fd = pidfd, .events = POLLIN}};
		int k = poll(p, 2, TIMEOUT_MS);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			printf("netpolctl hung on a silent netpold for more than %d ms, killed\n",
			       TIMEOUT_MS);
			kill(pid, SIGKILL);
			break;
		}
		if (p[1].revents & POLLIN)
			break;
		if ((p[0].revents & POLLIN) && n_held < 4) {
			held[n_held] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			rr->connections += held[n_held] >= 0;
			if (late && held[n_held] >= 0)
				answer_late(held[n_held], late);
			n_held++;
		}
	}
	if (waitpid(pid, &ws, 0) < 0)
		die("waitpid");
	if (WIFEXITED(ws))
		rr->status = WEXITSTATUS(ws);
	read_back(out, rr->out, sizeof(rr->out));
	read_back(err, rr->err, sizeof(rr->err));
	for (size_t i = 0; i < n_held; i++)
		close(held[i]);
	if (filler >= 0)
		close(filler);
	close(pidfd);
	close(lfd);
	unlink(sa.sun_path);
}

static void expect_timeout(const char *file, int line, struct run *rr, const char *msg)
{
	check(rr->status == 124, file, line, "exit status %d, want 124 (stderr: %s)", rr->status, rr->err);
	check(strstr(rr->err, msg) != NULL, file, line, "stderr \"%s\" lacks \"%s\"", rr->err, msg);
	run_done(rr);
}
#define EXPECT_TIMEOUT(rr, msg) expect_timeout(__FILE__, __LINE__, rr, msg)

static void test_timeout(void)
{
	run_silent(&r, true, false, NULL, ARGS("--timeout", "1", "status"));
	CHECKF(r.connections == 1, "%u connections", r.connections);
	EXPECT_TIMEOUT(&r, "netpolctl: netpold did not answer within 1 s: it may be stopped or wedged");
	/* a change: it may have been made */
	run_silent(&r, true, false, NULL, ARGS("apply", "cgroup:/a", "web", "--timeout=1"));
	EXPECT_TIMEOUT(&r, "a change asked for may or may not have been made");
	/* never accepted: the backlog keeps it */
	run_silent(&r, false, false, NULL, ARGS("--timeout", "1", "bindings"));
	EXPECT_TIMEOUT(&r, "did not answer within 1 s");
	/* the backlog full: connect() itself waits */
	run_silent(&r, false, true, NULL, ARGS("--timeout", "1", "bindings"));
	EXPECT_TIMEOUT(&r, "did not answer within 1 s");
	run_silent(&r, true, false, NULL, ARGS("--json", "--timeout", "1", "policy", "list"));
	CHECKF(strstr(r.out, "{\"error\":{\"code\":\"netpolctl.Timeout\",") == r.out, "stdout: %s", r.out);
	EXPECT_TIMEOUT(&r, "within 1 s");
	run_silent(&r, true, false, NULL, ARGS("--timeout", "1", "violations", "--follow"));
	EXPECT_TIMEOUT(&r, "within 1 s");
	/* a stream is bound until its first reply only */
	run_silent(&r, true, false, "{\"version\": 1, \"id\": 1, \"event\": " VIOLATION "}\n",
		   ARGS("--timeout", "1", "violations", "--follow"));
	CHECKF(strstr(r.out, "203.0.113") || strstr(r.out, "2001:db8::1"), "stdout: %s", r.out);
	CHECKF(r.status == 1 && strstr(r.err, "netpold closed the connection") &&
		   !strstr(r.err, "did not answer"),
	       "status %d, stderr: %s", r.status, r.err);
	run_done(&r);

	CTL(&r, NULL, "--timeout", "0", "status");
	EXPECT_REQUEST(&r, "status", NULL);
	CTL(&r, NULL, "status", "--timeout", "86400");
	EXPECT_REQUEST(&r, "status", NULL);
	CTL(&r, NULL, "status", "--timeout", "-1");
	EXPECT_REFUSED(&r, "invalid timeout '-1'");
	CTL(&r, NULL, "status", "--timeout", "1m");
	EXPECT_REFUSED(&r, "invalid timeout '1m': expected seconds");
	CTL(&r, NULL, "status", "--timeout");
	EXPECT_REFUSED(&r, "option '--timeout' needs a value");
	/* before the command too, and nothing runs */
	CTL(&r, NULL, "--timeout", "x", "status");
	EXPECT_REFUSED(&r, "netpolctl: invalid timeout 'x': expected seconds");
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NETPOLCTL [BASH-COMPLETION]\n", argv[0]);
		return 99;
	}
	netpolctl = argv[1];
	completion = argc > 2 ? argv[2] : NULL;
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	listen_fd = listen_unix(sock_path);

	test_verbs();
	test_prefixes();
	test_arguments();
	test_since();
	test_policy_file();
	test_help_and_version();
	test_output_and_errors();
	test_violations();
	test_container_targets();
	test_container_bindings();
	test_container_status();
	test_container_violations();
	test_completion();
	test_socket();
	test_teardown();
	test_timeout();

	close(listen_fd);
	unlink(sock_path);
	rmdir(dir);
	printf("test-netpolctl: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
