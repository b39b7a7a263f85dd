/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What netpold sends to the journal: the fields of a violation
 * (violation_journal_fields()), the fields of any entry (log_entry_build()),
 * and, where a private mount namespace can be had (root, or unprivileged
 * user namespaces), the datagrams themselves, read from a socket of the
 * test's own mounted at journald's /run/systemd/journal/socket: one
 * CODE_FILE per entry, the violation's fields as documented.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "log.h"
#include "violations.h"

#include "unit-check.h"

#define SEC 1000000000ull

static bool has(char **f, const char *field)
{
	for (; f && *f; f++)
		if (strcmp(*f, field) == 0)
			return true;
	return false;
}

static unsigned count_prefix(char **f, const char *prefix)
{
	unsigned n = 0;

	for (; f && *f; f++)
		n += strncmp(*f, prefix, strlen(prefix)) == 0;
	return n;
}

/* A denied TCP connection from process 42, first seen at realtime 0. */
static struct violation a_violation(void)
{
	struct violation v = {
	    .count = 3,
	    .cgroup_id = 1000,
	    .policy_id = 7,
	    .pid = 42,
	    .addr = {[10] = 0xff, [11] = 0xff, [12] = 203, [13] = 0, [14] = 113, [15] = 1},
	    .port = 443,
	    .rule = 2,
	    .proto = 6,
	    .verdict = NP_VERDICT_DENY,
	    .hook = NP_HOOK_CONNECT4,
	    .reason = NP_REASON_RULES,
	    .comm = "curl",
	    .thread = "curl",
	    .policy = "frontend",
	};
	return v;
}

static void test_fields(void)
{
	static const char *const want[] = {
	    "MESSAGE_ID=" VIOLATION_MESSAGE_DENIED,
	    "NETPOL_VERDICT=deny",
	    "NETPOL_TARGET=container:3f2a",
	    "NETPOL_POLICY=frontend",
	    "NETPOL_DEST=203.0.113.1",
	    "NETPOL_PROTOCOL=tcp",
	    "NETPOL_HOOK=connect4",
	    "NETPOL_REASON=policy",
	    "NETPOL_PROGRAM=curl",
	    "NETPOL_THREAD=curl",
	    NULL, /* NETPOL_TIME, not compared */
	    "NETPOL_PORT=443",
	    "NETPOL_PID=42",
	    "NETPOL_COUNT=3",
	    "NETPOL_CGROUP_ID=1000",
	    "NETPOL_RULE=2",
	    "NETPOL_CONTAINER=web",
	    "NETPOL_CONTAINER_ID=3f2a",
	};
	struct violation v = a_violation();
	char **f = NULL;
	json_t *j;
	size_t n = 0;

	v.target = "container:3f2a";
	j = violation_to_json(&v);
	CHECK(j &&
	      json_object_set_new(j, "container", json_pack("{s:s, s:s}", "id", "3f2a", "name", "web")) == 0);
	CHECK(violation_journal_fields(j, &f) == 0);
	for (; f && f[n]; n++)
		if (n < ELEMENTSOF(want))
			CHECKF(want[n] ? strcmp(f[n], want[n]) == 0 : strncmp(f[n], "NETPOL_TIME=", 12) == 0,
			       "field %zu: %s, want %s", n, f[n], want[n] ?: "NETPOL_TIME=...");
	CHECKF(n == ELEMENTSOF(want), "%zu fields, want %zu", n, ELEMENTSOF(want));
	CHECK(count_prefix(f, "NETPOL_PID_HIDDEN=") == 0);
	CHECK(has(f, "NETPOL_TIME=1970-01-01T00:00:00.000Z") || count_prefix(f, "NETPOL_TIME=20") == 1);
	violation_fields_free(f);
	json_decref(j);

	/* The policy default decided, under audit, at sock_create (no
	 * destination), no process; a unit's target, a hostile name. */
	v = a_violation();
	v.rule = NP_CELL_RULE_DEFAULT;
	v.verdict = NP_VERDICT_AUDIT;
	v.hook = NP_HOOK_SOCK_CREATE;
	v.pid = 0;
	v.pid_hidden = true;
	v.comm[0] = v.thread[0] = '\0';
	v.target = "unit:web\nMESSAGE=forged\x1b[2J.service";
	j = violation_to_json(&v);
	f = NULL;
	CHECK(j && violation_journal_fields(j, &f) == 0);
	CHECK(has(f, "MESSAGE_ID=" VIOLATION_MESSAGE_AUDITED));
	CHECK(has(f, "NETPOL_RULE=default"));
	CHECK(has(f, "NETPOL_PID=0") && has(f, "NETPOL_PID_HIDDEN=1"));
	CHECK(count_prefix(f, "NETPOL_DEST=") == 0 && count_prefix(f, "NETPOL_PROGRAM=") == 0 &&
	      count_prefix(f, "NETPOL_THREAD=") == 0 && count_prefix(f, "NETPOL_CONTAINER") == 0);
	CHECK(has(f, "NETPOL_TARGET=unit:web?MESSAGE=forged?[2J.service"));
	CHECK(has(f, "NETPOL_UNIT=web?MESSAGE=forged?[2J.service"));
	for (char **p = f; p && *p; p++)
		CHECKF(!strchr(*p, '\n') && !strchr(*p, '\x1b'), "unsafe field: %s", *p);
	violation_fields_free(f);
	json_decref(j);

	/* A unit described by its source; an overlong value is cut. */
	{
		char long_target[3000];

		memset(long_target, 'a', sizeof(long_target) - 1);
		long_target[sizeof(long_target) - 1] = '\0';
		memcpy(long_target, "cgroup:/", 8);
		v = a_violation();
		v.target = long_target;
		j = violation_to_json(&v);
		f = NULL;
		CHECK(j && json_object_set_new(j, "unit",
					       json_pack("{s:s, s:s}", "unit", "web.service", "active_state",
							 "active")) == 0);
		CHECK(violation_journal_fields(j, &f) == 0);
		CHECK(has(f, "NETPOL_UNIT=web.service") && count_prefix(f, "NETPOL_CONTAINER") == 0);
		CHECK(count_prefix(f, "NETPOL_TARGET=cgroup:/aaa") == 1);
		for (char **p = f; p && *p; p++)
			if (strncmp(*p, "NETPOL_TARGET=", 14) == 0)
				CHECKF(strlen(*p) == 14 + VIOLATION_FIELD_VALUE_MAX,
				       "target field of %zu bytes", strlen(*p));
		violation_fields_free(f);
		json_decref(j);
	}
}

static void test_entry(void)
{
	const char *const fields[] = {"NETPOL_POLICY=web", "NETPOL_TARGET=x\ny", NULL};
	const char *many[LOG_FIELDS_MAX + 2];
	struct log_entry e;
	unsigned code_file = 0;
	bool policy = false, target = false;

	CHECKF(strcmp(log_code_file(__FILE__), "tests/test-journal.c") == 0, "%s: %s", __FILE__,
	       log_code_file(__FILE__));
	CHECK(strcmp(log_code_file("daemon/log.c"), "daemon/log.c") == 0);

	CHECK(log_entry_build(&e, LOG_INFO, 0, "daemon/violations.c", 12, "log_violation", fields,
			      "deny\nforged line") == 0);
	for (size_t i = 0; i < e.n; i++) {
		const char *s = e.iov[i].iov_base;

		CHECKF(e.iov[i].iov_len == strlen(s) && !memchr(s, '\n', e.iov[i].iov_len), "field %zu: %s",
		       i, s);
		code_file += strncmp(s, "CODE_FILE=", 10) == 0;
		policy |= strcmp(s, "NETPOL_POLICY=web") == 0;
		target |= strcmp(s, "NETPOL_TARGET=x?y") == 0;
	}
	CHECK(code_file == 1 && policy && target);
	CHECK(e.n == 8 && strcmp(e.iov[0].iov_base, "MESSAGE=deny?forged line") == 0);
	CHECK(strcmp(e.iov[1].iov_base, "PRIORITY=6") == 0);
	CHECK(strcmp(e.iov[3].iov_base, "CODE_FILE=daemon/violations.c") == 0);
	CHECK(strcmp(e.iov[4].iov_base, "CODE_LINE=12") == 0);
	CHECK(strcmp(e.iov[5].iov_base, "CODE_FUNC=log_violation") == 0);
	log_entry_done(&e);

	for (size_t i = 0; i < ELEMENTSOF(many) - 1; i++)
		many[i] = "NETPOL_X=1";
	many[ELEMENTSOF(many) - 1] = NULL;
	CHECK(log_entry_build(&e, LOG_INFO, 5, "x.c", 1, "f", many, "m") == -E2BIG);
}

/* ---- what reaches the socket ---- */

static char *target_name(void *userdata, uint64_t cgroup_id)
{
	return strdup("container:3f2a");
}

static const char *policy_name(void *userdata, uint32_t policy_id)
{
	return "frontend";
}

static json_t *describe(void *userdata, const struct violation *v)
{
	json_t *j = violation_to_json(v);

	if (j)
		(void)json_object_set_new(j, "container",
					  json_pack("{s:s, s:s}", "id", "3f2a", "name", "web"));
	return j;
}

static const struct violations_ops ops = {
    .target_name = target_name,
    .policy_name = policy_name,
    .describe = describe,
};

/* journald's native protocol: "KEY=value\n", or "KEY\n", a 64-bit
 * little-endian length, the value and "\n". Returns the fields. */
static unsigned parse_entry(const char *buf, size_t len, char out[][512], unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len && n < max) {
		const char *nl = memchr(buf + i, '\n', len - i), *eq = memchr(buf + i, '=', len - i);

		if (!nl)
			break;
		if (eq && eq < nl) {
			snprintf(out[n++], 512, "%.*s", (int)(nl - (buf + i)), buf + i);
			i = (size_t)(nl - buf) + 1;
		} else {
			uint64_t l = 0;
			size_t k = (size_t)(nl - (buf + i));

			if ((size_t)(nl - buf) + 9 > len)
				break;
			memcpy(&l, nl + 1, 8); /* little endian, as this machine */
			snprintf(out[n++], 512, "%.*s=%.*s", (int)k, buf + i, (int)l, nl + 9);
			i = (size_t)(nl - buf) + 9 + l + 1;
		}
	}
	return n;
}

static int private_run(void)
{
	if (unshare(CLONE_NEWNS) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		return -errno;
	if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
		return -errno;
	return 0;
}

/* In a child: a violation, logged through the journal to our socket. */
static int sent_child(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket"};
	static char buf[65536], fields[64][512];
	struct violations *vs = NULL;
	sd_event *ev = NULL;
	struct np_event e = {
	    .cgroup_id = 1000,
	    .pid = 42,
	    .comm = "curl",
	    .thread = "curl",
	    .addr = {[10] = 0xff, [11] = 0xff, [12] = 203, [13] = 0, [14] = 113, [15] = 1},
	    .policy_id = 7,
	    .port = 443,
	    .rule = 2,
	    .hook = NP_HOOK_CONNECT4,
	    .proto = 6,
	    .verdict = NP_VERDICT_DENY,
	    .family = AF_INET,
	};
	unsigned entries = 0, violation_entries = 0, failed_before = n_fail; /* the parent's, inherited */
	struct timespec ts;
	int fd, r;

	r = private_run();
	if (r < 0) {
		printf("# no private mount namespace (%s): the datagrams are not read\n", strerror(-r));
		return 77;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 2;

	log_setup(LOG_TARGET_JOURNAL);
	log_set_max_level(LOG_INFO);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.ts_ns = (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec - 100 * SEC;
	if (sd_event_new(&ev) < 0 || violations_new(ev, &ops, NULL, &vs) < 0)
		return 2;
	violations_on_event(&e, vs);
	violations_on_event(&e, vs);
	log_error_errno(-ENOENT, "A plain message: %m");
	for (int i = 0; i < 100 && sd_event_run(ev, 0) > 0; i++)
		;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		unsigned n, code_file = 0;
		bool is_violation = false, plain = false;

		if (len < 0)
			break;
		entries++;
		n = parse_entry(buf, (size_t)len, fields, ELEMENTSOF(fields));
		for (unsigned i = 0; i < n; i++) {
			code_file += strncmp(fields[i], "CODE_FILE=", 10) == 0;
			is_violation |= strcmp(fields[i], "MESSAGE_ID=" VIOLATION_MESSAGE_DENIED) == 0;
			plain |= strcmp(fields[i], "MESSAGE=A plain message: No such file or directory") == 0;
		}
		CHECKF(code_file == 1, "%u CODE_FILE fields in an entry of %u", code_file, n);
		for (unsigned i = 0; i < n; i++)
			if (strncmp(fields[i], "CODE_FILE=", 10) == 0)
				CHECKF(strcmp(fields[i], is_violation
							     ? "CODE_FILE=daemon/violations.c"
							     : "CODE_FILE=tests/test-journal.c") == 0,
				       "%s", fields[i]);
		if (plain) {
			bool errno_field = false;

			for (unsigned i = 0; i < n; i++)
				errno_field |= strcmp(fields[i], "ERRNO=2") == 0;
			CHECK(errno_field);
		}
		if (!is_violation)
			continue;
		violation_entries++;
		{
			static const char *const want[] = {
			    "NETPOL_POLICY=frontend",
			    "NETPOL_TARGET=container:3f2a",
			    "NETPOL_DEST=203.0.113.1",
			    "NETPOL_PORT=443",
			    "NETPOL_PROTOCOL=tcp",
			    "NETPOL_PID=42",
			    "NETPOL_PROGRAM=curl",
			    "NETPOL_COUNT=2",
			    "NETPOL_RULE=2",
			    "NETPOL_CONTAINER=web",
			    "PRIORITY=6",
			    "SYSLOG_IDENTIFIER=netpold",
			};

			for (size_t w = 0; w < ELEMENTSOF(want); w++) {
				bool found = false;

				for (unsigned i = 0; i < n; i++)
					found |= strcmp(fields[i], want[w]) == 0;
				CHECKF(found, "the violation's entry has no %s", want[w]);
			}
		}
	}
	CHECKF(entries == 2 && violation_entries == 1, "%u entries, %u of them violations", entries,
	       violation_entries);
	violations_free(vs);
	sd_event_unref(ev);
	close(fd);
	return n_fail > failed_before ? 1 : 0;
}

static void test_sent(void)
{
	pid_t pid;
	int status = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = sent_child();

		fflush(stdout);
		_exit(r);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECKF(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77, "the journal's datagrams: exit %d",
	       WEXITSTATUS(status));
}

int main(void)
{
	test_fields();
	test_entry();
	test_sent();
	printf("test-journal: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
