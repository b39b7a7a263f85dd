/* SPDX-License-Identifier: GPL-2.0-only */
/* The strict mode's two programs without a runtime or a daemon.
 *
 * netpol-oci-hook (argv[1]) runs with a state on stdin against a socket
 * this test listens on and answers from a script: it must send the
 * container's id and pid, ask again while netpold does not know the
 * container, and in every failure (no daemon, a bad state, no answer, an
 * error) exit 0 with one line saying it failed open, on stderr and (as
 * root) in the system log; only a bad command line exits non-zero.
 *
 * netpol-runc (argv[2]) runs a fake runc that records its arguments and
 * the config.json it found: the hook must be added on create and run,
 * once (a second edit replaces it), keeping the rest of the file; other
 * commands and broken bundles must reach runc untouched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "fake-netpold.h"
#include "unit-check.h"

static const char *hook, *runc_wrapper;
static char dir[] = "/tmp/netpol-test-oci-hook.XXXXXX";
static char sock_path[sizeof(dir) + 16], missing_sock[sizeof(dir) + 16];
static int listen_fd = -1;

static const char id[] = "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d";

/* The daemon's answers, one per request in order; past the end, or NULL:
 * none (it hangs); CLOSE: it closes the connection. */
#define NO_SUCH_TARGET                                                                                       \
	"{\"version\": 1, \"ok\": false, \"error\": {\"code\": \"netpol.NoSuchTarget\", \"message\": \"no "  \
	"container 4c3b\"}}"
#define BOUND "{\"version\": 1, \"ok\": true, \"result\": {}}"

/* ---- netpol-oci-hook ---- */

static char *state(long pid)
{
	char *s;

	if (asprintf(&s,
		     "{\"ociVersion\": \"1.0.2\", \"id\": \"%s\", \"status\": \"creating\", \"pid\": %ld, "
		     "\"bundle\": \"/run/containerd/io.containerd.runtime.v2.task/moby/%s\", "
		     "\"annotations\": {\"io.container.manager\": \"libpod\"}}",
		     id, pid, id) < 0)
		die("asprintf");
	return s;
}

/* Exited 0 with one line that says it failed open and contains why. */
static void expect_failed_open(const char *file, int line, struct child *c, const char *why)
{
	const char *nl = strchr(c->err, '\n');

	check(c->status == 0, file, line, "exit status %d, want 0 (stderr: %s)", c->status, c->err);
	check(strstr(c->err, "failing open") && strstr(c->err, why) && nl && !nl[1], file, line,
	      "stderr '%s', want one line that fails open and says '%s'", c->err, why);
}
#define EXPECT_FAILED_OPEN(c, why) expect_failed_open(__FILE__, __LINE__, c, why)

/* j as compact text for a message, in a buffer of the caller's. */
static const char *text_of(const json_t *j, char *buf, size_t size)
{
	size_t n;

	if (!j)
		return "none";
	n = json_dumpb(j, buf, size, JSON_COMPACT);
	if (n >= size) /* cut: json_dumpb() wrote size bytes, no NUL */
		memcpy(buf + size - 4, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

/* Request i was container-hook with the id and pid. */
static void expect_request(const char *file, int line, struct child *c, size_t i, long pid)
{
	json_t *req = json_array_get(c->requests, i);
	json_t *want = json_pack("{s:s, s:I}", "id", id, "pid", (json_int_t)pid);
	json_t *params = json_object_get(req, "params");
	char b1[1024], b2[1024];

	check(json_is_string(json_object_get(req, "command")) &&
		  strcmp(json_string_value(json_object_get(req, "command")), "container-hook") == 0 &&
		  json_equal(params, want) && json_integer_value(json_object_get(req, "version")) == 1,
	      file, line, "request %zu: %s, want container-hook with %s", i, text_of(req, b1, sizeof(b1)),
	      text_of(want, b2, sizeof(b2)));
	json_decref(want);
}
#define EXPECT_REQUEST(c, i, pid) expect_request(__FILE__, __LINE__, c, i, pid)

static void hook_run(struct child *c, const char *in, const char *const *args, const char *const *replies,
		     size_t n_replies)
{
	const char *argv[16] = {hook};
	size_t n = 1;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	fake_spawn(c, listen_fd, argv, in, in ? strlen(in) : 0, NULL, NULL, replies, n_replies);
}

static void test_hook_binds(void)
{
	char *st = state(4242);
	struct child c;

	/* netpold knows the container at once */
	hook_run(&c, st, ARGV("--socket", sock_path), REPLIES(BOUND));
	CHECKF(c.status == 0 && !c.err[0], "status %d, stderr '%s'", c.status, c.err);
	CHECK(json_array_size(c.requests) == 1);
	EXPECT_REQUEST(&c, 0, 4242);
	child_done(&c);

	/* its create event not read yet: the hook asks again, on the same connection */
	hook_run(&c, st, ARGV("--socket", sock_path), REPLIES(NO_SUCH_TARGET, NO_SUCH_TARGET, BOUND));
	CHECKF(c.status == 0 && !c.err[0], "status %d, stderr '%s'", c.status, c.err);
	CHECKF(json_array_size(c.requests) == 3 && c.connections == 1, "%zu requests on %u connections",
	       json_array_size(c.requests), c.connections);
	for (size_t i = 0; i < 3; i++)
		EXPECT_REQUEST(&c, i, 4242);
	CHECK(json_integer_value(json_object_get(json_array_get(c.requests, 0), "id")) !=
	      json_integer_value(json_object_get(json_array_get(c.requests, 2), "id")));
	child_done(&c);

	/* netpold never learns of it: asked until the deadline, then open */
	hook_run(&c, st, ARGV("--socket", sock_path, "--timeout", "300ms"),
		 REPLIES(NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET,
			 NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET,
			 NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET,
			 NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET, NO_SUCH_TARGET));
	EXPECT_FAILED_OPEN(&c, "no answer within 300 ms (netpold does not know the container yet)");
	CHECKF(json_array_size(c.requests) >= 2, "%zu requests", json_array_size(c.requests));
	child_done(&c);

	/* the socket from the environment, as netpolctl */
	fake_spawn(&c, listen_fd, ARGV(hook), st, strlen(st), sock_path, NULL, REPLIES(BOUND));
	CHECKF(c.status == 0 && !c.err[0] && json_array_size(c.requests) == 1, "status %d, stderr '%s'",
	       c.status, c.err);
	child_done(&c);
	free(st);
}

static void test_hook_fails_open(void)
{
	char *st = state(77);
	struct child c;

	/* netpold stopped: at once, not after the deadline (60 s here, past the test's kill) */
	hook_run(&c, st, ARGV("--socket", missing_sock, "--timeout", "60"), REPLIES(NULL));
	EXPECT_FAILED_OPEN(&c, "netpold is not reachable at");
	CHECK(strstr(c.err, missing_sock) && strstr(c.err, "container 4c3b2a19f8e7 (pid 77)"));
	child_done(&c);

	/* connected, never answered: the deadline ends it */
	hook_run(&c, st, ARGV("--socket", sock_path, "--timeout", "0.3"), REPLIES(NULL));
	EXPECT_FAILED_OPEN(&c, "no answer within 300 ms (waiting for netpold to bind the container)");
	CHECK(json_array_size(c.requests) == 1);
	child_done(&c);

	/* stdin never ends */
	hook_run(&c, NULL, ARGV("--socket", sock_path, "--timeout", "0.2s"), REPLIES(BOUND));
	EXPECT_FAILED_OPEN(&c, "no answer within 200 ms (reading the container's state on stdin)");
	CHECK(c.connections == 0);
	child_done(&c);

	/* a netpold without the method, or one that refuses */
	hook_run(&c, st, ARGV("--socket", sock_path),
		 REPLIES("{\"version\": 1, \"ok\": false, \"error\": {\"code\": \"netpol.UnknownCommand\", "
			 "\"message\": \"unknown command 'container-hook'\"}}"));
	EXPECT_FAILED_OPEN(&c, "netpold refused: netpol.UnknownCommand: unknown command 'container-hook'");
	CHECK(json_array_size(c.requests) == 1);
	child_done(&c);

	/* closed without a word */
	hook_run(&c, st, ARGV("--socket", sock_path), REPLIES(CLOSE));
	EXPECT_FAILED_OPEN(&c, "netpold closed the connection without an answer");
	child_done(&c);

	/* an answer to something else */
	hook_run(&c, st, ARGV("--socket", sock_path), REPLIES("{\"version\": 1, \"id\": 999, \"ok\": true}"));
	EXPECT_FAILED_OPEN(&c, "netpold refused: a reply to another request");
	child_done(&c);
	free(st);
}

static void test_hook_bad_state(void)
{
	static const struct {
		const char *state, *why;
	} bad[] = {
	    {"", "not a JSON object"},
	    {"garbage", "not a JSON object"},
	    {"[1, 2]", "not a JSON object"},
	    {"{\"pid\": 12}", "\"id\" is not a container id"},
	    {"{\"id\": \"4c3b2a19f8e7\", \"pid\": 12}", "\"id\" is not a container id"},
	    {"{\"id\": \"4C3B2A19F8E7D6C5B4A39281706F5E4D3C2B1A09F8E7D6C5B4A39281706F5E4D\", \"pid\": 12}",
	     "\"id\" is not a container id"},
	    {"{\"id\": \"../../../../../../../../../../../../../../../../../../../../../../etc\", \"pid\": "
	     "12}",
	     "\"id\" is not a container id"},
	    {"{\"id\": 12, \"pid\": 12}", "\"id\" is not a container id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\"}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": 0}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": -5}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": \"5\"}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": 5.0}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": 4294967297}",
	     "\"pid\" is not a process id"},
	    {"{\"id\": \""
	     "4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d"
	     "\", \"pid\": 5, \"pid\": 6}",
	     "not a JSON object"},
	};
	size_t big_len = 2 * 1024 * 1024;
	char *big = malloc(big_len + 1), *st = state(5);
	struct child c;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		hook_run(&c, bad[i].state, ARGV("--socket", sock_path), REPLIES(BOUND));
		EXPECT_FAILED_OPEN(&c, bad[i].why);
		CHECKF(c.connections == 0, "state %zu: connected to netpold", i);
		child_done(&c);
	}

	/* a valid state, padded past the bound */
	if (!big)
		die("malloc");
	memset(big, ' ', big_len);
	memcpy(big, st, strlen(st));
	big[big_len] = '\0';
	hook_run(&c, big, ARGV("--socket", sock_path), REPLIES(BOUND));
	EXPECT_FAILED_OPEN(&c, "the state on stdin is larger than");
	CHECK(c.connections == 0);
	child_done(&c);
	free(big);
	free(st);
}

/* The line reaches the system log too (runc drops a hook's stderr when it
 * succeeds): in a mount namespace of its own, with a /dev/log of the
 * test's. Root only; the rest of the test needs none. */
static void test_hook_syslog(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	char *st = state(31), got[2][2048] = {};
	int ws, pipefd[2];
	pid_t pid;

	if (geteuid() != 0) {
		printf("# not root: the system log's line not checked\n");
		free(st);
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe2");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct child c;
		int fd;

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("netpol-test", "/dev", "tmpfs", 0, NULL) < 0)
			_exit(99);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(99);
		/* one by the failure path, one by the deadline's handler */
		hook_run(&c, st, ARGV("--socket", missing_sock), REPLIES(NULL));
		hook_run(&c, NULL, ARGV("--socket", sock_path, "--timeout", "0.1"), REPLIES(NULL));
		for (int i = 0; i < 2; i++) {
			ssize_t n = recv(fd, got[i], sizeof(got[i]) - 1, MSG_DONTWAIT);

			got[i][n > 0 ? n : 0] = '\0';
		}
		(void)!write(pipefd[1], got, sizeof(got));
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], got, sizeof(got)) != sizeof(got))
		got[0][0] = got[1][0] = '\0';
	close(pipefd[0]);
	waitpid(pid, &ws, 0);
	CHECKF(strncmp(got[0], "<28>netpol-oci-hook[", 20) == 0 &&
		   strstr(got[0], "]: container 4c3b2a19f8e7 (pid 31): failing open") &&
		   strstr(got[0], "netpold is not reachable"),
	       "system log got '%s'", got[0]);
	CHECKF(strncmp(got[1], "<28>netpol-oci-hook[", 20) == 0 && strstr(got[1], "no answer within 100 ms"),
	       "system log got '%s'", got[1]);
	free(st);
}

static void test_hook_usage(void)
{
	static const struct {
		const char *args[4];
		const char *why;
	} bad[] = {
	    {{"--timeout", "0"}, "invalid --timeout '0'"},
	    {{"--timeout", "61"}, "invalid --timeout '61'"},
	    {{"--timeout", "2m"}, "invalid --timeout '2m'"},
	    {{"--timeout", "-1"}, "invalid --timeout '-1'"},
	    {{"--timeout"}, "missing value for option '--timeout'"},
	    {{"--socket", ""}, "empty --socket"},
	    {{"--bogus"}, "unknown option '--bogus'"},
	    {{"extra"}, "unexpected argument 'extra'"},
	};
	char *st = state(5);
	struct child c;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		const char *argv[8] = {hook, "--socket", sock_path};
		size_t n = 3;

		for (size_t k = 0; k < 4 && bad[i].args[k]; k++)
			argv[n++] = bad[i].args[k];
		fake_spawn(&c, listen_fd, argv, st, strlen(st), NULL, NULL, REPLIES(BOUND));
		CHECKF(c.status == 2 && strstr(c.err, bad[i].why) && c.connections == 0,
		       "case %zu: status %d, stderr '%s', want 2 and '%s', no connection", i, c.status, c.err,
		       bad[i].why);
		child_done(&c);
	}
	hook_run(&c, NULL, ARGV("--help"), REPLIES(NULL));
	CHECK(c.status == 0 && strstr(c.out, "--timeout SECONDS") && strstr(c.out, "exits 0"));
	child_done(&c);
	free(st);
}

/* ---- netpol-runc ---- */

static char fake_runc[sizeof(dir) + 16], bundle[sizeof(dir) + 16], out_dir[sizeof(dir) + 16];

/* What dockerd writes, trimmed: its own prestart hook must stay. */
static const char config_json[] =
    "{\"ociVersion\": \"1.0.2-dev\", \"process\": {\"args\": [\"/bin/first\"], \"cwd\": \"/\"}, "
    "\"root\": {\"path\": \"/var/lib/docker/overlay2/x/merged\"}, \"hostname\": \"4c3b2a19f8e7\", "
    "\"hooks\": {\"prestart\": [{\"path\": \"/proc/1/exe\", \"args\": [\"libnetwork-setkey\", "
    "\"-exec-root=/x\", "
    "\"4c3b\", \"e3b0\"]}]}, \"linux\": {\"cgroupsPath\": \"/docker/4c3b\", \"resources\": {\"memory\": "
    "{\"limit\": 9223372036854771712}}}}";

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fchmod(fd, mode) < 0)
		die(path);
	close(fd);
}

static char *read_file(const char *path)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strdup(buf);
}

static json_t *load(const char *dir_path, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir_path, name);
	return json_load_file(path, 0, NULL);
}

static unsigned count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A bundle with config.json holding text (NULL: no config.json); the fake
 * runc's records removed. */
static void reset(const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/config.json", bundle);
	unlink(path);
	if (text)
		write_file(path, text, 0640);
	snprintf(path, sizeof(path), "%s/argv", out_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/seen.json", out_dir);
	unlink(path);
}

/* netpol-runc ARGS..., its environment telling the fake where to write. */
static void runc_run(struct child *c, const char *cwd, const char *const *args)
{
	const char *argv[32] = {runc_wrapper};
	size_t n = 1;

	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	fake_spawn(c, listen_fd, argv, "", 0, NULL, cwd, REPLIES(NULL));
}

/* The fake runc ran (its exit code 7 came back) with exactly want (one
 * argument a line). */
static void expect_runc_argv(const char *file, int line, struct child *c, const char *want)
{
	char path[256], *got;

	snprintf(path, sizeof(path), "%s/argv", out_dir);
	got = read_file(path);
	check(c->status == 7, file, line, "exit status %d, want the fake runc's 7 (stderr: %s)", c->status,
	      c->err);
	check(got && strcmp(got, want) == 0, file, line, "runc got\n%s\nwant\n%s", got ?: "(did not run)",
	      want);
	free(got);
}
#define EXPECT_RUNC_ARGV(c, want) expect_runc_argv(__FILE__, __LINE__, c, want)

/* What runc saw is the original config with hooks.createRuntime = want. */
static void expect_hooked(const char *file, int line, const char *original, const char *want)
{
	json_t *seen = load(out_dir, "seen.json"), *orig = json_loads(original, 0, NULL),
	       *w = json_loads(want, 0, NULL);
	json_t *got_hooks = json_object_get(json_object_get(seen, "hooks"), "createRuntime");
	char buf[4096];

	if (!orig || !w)
		die("json");
	check(json_equal(got_hooks, w), file, line, "hooks.createRuntime %s, want %s",
	      text_of(got_hooks, buf, sizeof(buf)), want);
	/* the rest as it was */
	if (seen && json_object_get(seen, "hooks"))
		json_object_del(json_object_get(seen, "hooks"), "createRuntime");
	if (json_object_size(json_object_get(seen, "hooks")) == 0)
		json_object_del(seen, "hooks");
	check(json_equal(seen, orig), file, line, "config.json changed beyond the hook: %s",
	      seen ? text_of(seen, buf, sizeof(buf)) : "(runc saw none)");
	json_decref(seen);
	json_decref(orig);
	json_decref(w);
}
#define EXPECT_HOOKED(original, want) expect_hooked(__FILE__, __LINE__, original, want)

static void test_runc_create(void)
{
	char want_argv[1024], config_path[256];
	struct stat st;
	struct child c;

	snprintf(config_path, sizeof(config_path), "%s/config.json", bundle);

	/* as containerd's shim calls it, with our options from daemon.json's runtimeArgs */
	reset(config_json);
	runc_run(&c, NULL,
		 ARGV("--runc", fake_runc, "--hook", "/opt/np/hook", "--socket", "/tmp/np.sock", "--timeout",
		      "1", "--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json",
		      "--log-format", "json", "create", "--bundle", bundle, "--pid-file", "/run/x/init.pid",
		      id));
	snprintf(
	    want_argv, sizeof(want_argv),
	    "--root\n/var/run/docker/runtime-runc/moby\n--log\n/run/x/log.json\n--log-format\njson\ncreate\n"
	    "--bundle\n%s\n--pid-file\n/run/x/init.pid\n%s\n",
	    bundle, id);
	EXPECT_RUNC_ARGV(&c, want_argv);
	CHECKF(!c.err[0], "stderr '%s'", c.err);
	EXPECT_HOOKED(config_json,
		      "[{\"path\": \"/opt/np/hook\", \"args\": [\"netpol-oci-hook\", \"--socket\", "
		      "\"/tmp/np.sock\", \"--timeout\", \"1\"]}]");
	CHECK(stat(config_path, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECKF(count_entries(bundle) == 1, "%u files in the bundle, want config.json alone",
	       count_entries(bundle));
	child_done(&c);

	/* the same bundle again: still one hook, with the options given now */
	runc_run(&c, NULL, ARGV("--runc", fake_runc, "--hook", "/opt/np/hook", "create", "-b", bundle, id));
	EXPECT_HOOKED(config_json, "[{\"path\": \"/opt/np/hook\", \"args\": [\"netpol-oci-hook\"]}]");
	child_done(&c);

	/* the environment's runc and hook; --bundle=DIR; hooks of others kept, ours after them */
	reset("{\"ociVersion\": \"1.0.2\", \"hooks\": {\"createRuntime\": [{\"path\": \"/other\"}]}}");
	setenv("NETPOL_RUNC", fake_runc, 1);
	setenv("NETPOL_OCI_HOOK", "/env/hook", 1);
	{
		char opt[300];

		snprintf(opt, sizeof(opt), "--bundle=%s", bundle);
		runc_run(&c, NULL, ARGV("--systemd-cgroup", "run", "--detach", opt, id));
		snprintf(want_argv, sizeof(want_argv), "--systemd-cgroup\nrun\n--detach\n%s\n%s\n", opt, id);
	}
	unsetenv("NETPOL_RUNC");
	unsetenv("NETPOL_OCI_HOOK");
	EXPECT_RUNC_ARGV(&c, want_argv);
	EXPECT_HOOKED("{\"ociVersion\": \"1.0.2\"}",
		      "[{\"path\": \"/other\"}, {\"path\": \"/env/hook\", \"args\": [\"netpol-oci-hook\"]}]");
	child_done(&c);

	/* no --bundle: the current directory, as runc */
	reset(config_json);
	runc_run(&c, bundle, ARGV("--runc", fake_runc, "--hook=/h", "create", "--console-socket", "/s", id));
	EXPECT_HOOKED(config_json, "[{\"path\": \"/h\", \"args\": [\"netpol-oci-hook\"]}]");
	child_done(&c);
}

static void test_runc_passes(void)
{
	char *after, want_argv[512], config_path[256];
	struct stat st1, st2;
	struct child c;

	snprintf(config_path, sizeof(config_path), "%s/config.json", bundle);

	/* not create: config.json not even rewritten */
	reset(config_json);
	stat(config_path, &st1);
	runc_run(&c, NULL, ARGV("--runc", fake_runc, "--root", "/r", "state", id));
	snprintf(want_argv, sizeof(want_argv), "--root\n/r\nstate\n%s\n", id);
	EXPECT_RUNC_ARGV(&c, want_argv);
	CHECK(stat(config_path, &st2) == 0 && st1.st_ino == st2.st_ino);
	child_done(&c);

	/* "create" as a global option's value is not the command */
	runc_run(&c, NULL, ARGV("--runc", fake_runc, "--log", "create", "delete", "--force", id));
	CHECK(c.status == 7 && stat(config_path, &st2) == 0 && st1.st_ino == st2.st_ino);
	child_done(&c);

	/* a config.json it cannot read, or whose hooks are not an object:
	 * left alone, said, and runc runs all the same */
	{
		static const char *const broken[][2] = {
		    {"{\"ociVersion\": ", "cannot add netpol-oci-hook"},
		    {"{\"hooks\": []}", "\"hooks\" is not an object"},
		    {"{\"hooks\": {\"createRuntime\": {}}}", "\"hooks.createRuntime\" is not an array"},
		    {"[]", "not a JSON object"},
		};

		for (size_t i = 0; i < ELEMENTSOF(broken); i++) {
			reset(broken[i][0]);
			runc_run(&c, NULL, ARGV("--runc", fake_runc, "create", "--bundle", bundle, id));
			snprintf(want_argv, sizeof(want_argv), "create\n--bundle\n%s\n%s\n", bundle, id);
			EXPECT_RUNC_ARGV(&c, want_argv);
			after = read_file(config_path);
			CHECKF(after && strcmp(after, broken[i][0]) == 0, "case %zu: config.json now '%s'", i,
			       after);
			CHECKF(strstr(c.err, broken[i][1]) && strstr(c.err, "starts without it"),
			       "case %zu: stderr '%s', want '%s'", i, c.err, broken[i][1]);
			CHECK(count_entries(bundle) == 1);
			free(after);
			child_done(&c);
		}
	}

	/* no bundle at all */
	reset(NULL);
	runc_run(&c, NULL, ARGV("--runc", fake_runc, "create", "--bundle", "/nonexistent/netpol-bundle", id));
	CHECK(c.status == 7 &&
	      strstr(c.err, "/nonexistent/netpol-bundle/config.json (No such file or directory)"));
	child_done(&c);

	/* its own bad option: not a runc command line at all */
	runc_run(&c, NULL, ARGV("--runc"));
	CHECKF(c.status == 2 && strstr(c.err, "missing value for option '--runc'"), "status %d, stderr '%s'",
	       c.status, c.err);
	child_done(&c);
	runc_run(&c, NULL, ARGV("--help"));
	CHECK(c.status == 0 && strstr(c.out, "runtimeArgs"));
	child_done(&c);
}

int main(int argc, char **argv)
{
	char script[512];

	if (argc != 3) {
		fprintf(stderr, "usage: %s NETPOL-OCI-HOOK NETPOL-RUNC\n", argv[0]);
		return 99;
	}
	/* absolute: a run may change directory */
	hook = realpath(argv[1], NULL);
	runc_wrapper = realpath(argv[2], NULL);
	if (!hook || !runc_wrapper)
		die("realpath");
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	snprintf(missing_sock, sizeof(missing_sock), "%s/none.sock", dir);
	listen_fd = listen_unix(sock_path);

	snprintf(fake_runc, sizeof(fake_runc), "%s/runc", dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
	if (mkdir(bundle, 0700) < 0 || mkdir(out_dir, 0700) < 0)
		die("mkdir");
	snprintf(script, sizeof(script),
		 "#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s/argv\n"
		 "[ -f %s/config.json ] && cp %s/config.json %s/seen.json\nexit 7\n",
		 out_dir, bundle, bundle, out_dir);
	write_file(fake_runc, script, 0755);

	test_hook_binds();
	test_hook_fails_open();
	test_hook_bad_state();
	test_hook_usage();
	test_hook_syslog();
	test_runc_create();
	test_runc_passes();

	close(listen_fd);
	if (!getenv("NETPOL_TEST_KEEP")) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	printf("test-oci-hook: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
