/* SPDX-License-Identifier: GPL-2.0-only */
/* The units source's pure parts (daemon/sources/units-text.c): where
 * systemd puts a unit's cgroup, the gate's drop-in, /proc/PID/cgroup. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "units-text.h"

#include "unit-check.h"

static void path_is(const char *file, int line, const char *name, const char *slice, const char *cg,
		    const char *want)
{
	_cleanup_free_ char *out = NULL;
	int r = units_cgroup_path(name, slice, cg, &out);

	if (!want) {
		check(r == -EINVAL, file, line, "%s in %s (%s): %d, want -EINVAL", name, slice ?: "-",
		      cg ?: "-", r);
		return;
	}
	if (check(r == 0, file, line, "%s in %s (%s): %d", name, slice ?: "-", cg ?: "-", r))
		check(strcmp(out, want) == 0, file, line, "%s in %s: \"%s\", want \"%s\"", name, slice ?: "-",
		      out, want);
}
#define PATH_IS(name, slice, cg, want) path_is(__FILE__, __LINE__, name, slice, cg, want)

static void test_paths(void)
{
	/* ControlGroup, when systemd says it, is the answer. */
	PATH_IS("nginx.service", "system.slice", "/system.slice/nginx.service",
		"/system.slice/nginx.service");
	PATH_IS("nginx.service", "system.slice", "/elsewhere/x", "/elsewhere/x");
	PATH_IS("nginx.service", "system.slice", "relative", NULL);
	PATH_IS("nginx.service", "system.slice", "/a/../b", NULL);
	PATH_IS("nginx.service", "system.slice", "/a/..", NULL);
	PATH_IS("nginx.service", "system.slice", "/a//b", NULL);
	PATH_IS("nginx.service", "system.slice", "/a/..b", "/a/..b");
	/* Else where the slice puts it. */
	PATH_IS("nginx.service", "system.slice", "", "/system.slice/nginx.service");
	PATH_IS("nginx.service", "system.slice", NULL, "/system.slice/nginx.service");
	PATH_IS("web@1.service", "system-web.slice", NULL, "/system.slice/system-web.slice/web@1.service");
	PATH_IS("a.service", "a-b-c.slice", NULL, "/a.slice/a-b.slice/a-b-c.slice/a.service");
	PATH_IS("init.scope", "-.slice", NULL, "/init.scope");
	PATH_IS("x.service", "", NULL, NULL);
	PATH_IS("x.service", NULL, NULL, NULL);
	PATH_IS("x.service", "-a.slice", NULL, NULL);
	PATH_IS("x.service", "a-.slice", NULL, NULL);
	PATH_IS("x.service", "a--b.slice", NULL, NULL);
	PATH_IS("x.service", "a.service", NULL, NULL);
	/* A slice's own, from its name. */
	PATH_IS("system.slice", "-.slice", NULL, "/system.slice");
	PATH_IS("user-1000.slice", "user.slice", NULL, "/user.slice/user-1000.slice");
	PATH_IS("-.slice", NULL, NULL, "/");
	/* systemd's cg_escape(): names that look like a cgroup's files. */
	PATH_IS("cpu.service", "system.slice", NULL, "/system.slice/_cpu.service");
	PATH_IS("cpuset.service", "system.slice", NULL, "/system.slice/_cpuset.service");
	PATH_IS("cpux.service", "system.slice", NULL, "/system.slice/cpux.service");
	PATH_IS("_x.service", "system.slice", NULL, "/system.slice/__x.service");
	PATH_IS("cgroup.x.service", "system.slice", NULL, "/system.slice/_cgroup.x.service");
	PATH_IS("memory.service", "memory.slice", NULL, "/_memory.slice/_memory.service");
	PATH_IS("tasks.service", "system.slice", NULL, "/system.slice/tasks.service");
}

static void test_escape(void)
{
	static const char *const in[][2] = {
	    {"tasks", "_tasks"},
	    {"release_agent", "_release_agent"},
	    {"notify_on_release", "_notify_on_release"},
	    {".x", "_.x"},
	    {"io.x", "_io.x"},
	    {"bpf-firewall.x", "_bpf-firewall.x"},
	    {"pids", "pids"},
	    {"x.service", "x.service"},
	};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		_cleanup_free_ char *out = NULL;

		if (CHECK(units_cg_escape(in[i][0], &out) == 0))
			CHECKF(strcmp(out, in[i][1]) == 0, "%s -> %s, want %s", in[i][0], out, in[i][1]);
	}
}

static void test_dropin(void)
{
	_cleanup_free_ char *text = NULL, *esc = NULL, *bad = NULL;

	if (!CHECK(units_dropin_text("web.service", "/usr/libexec/netpol/netpol-unit-gate", &text) == 0))
		return;
	CHECK(units_dropin_is_ours(text));
	CHECKF(strstr(text, "\n[Unit]\nWants=netpold.socket\nAfter=netpold.socket\n") != NULL, "%s", text);
	CHECKF(
	    strstr(text, "\n[Service]\nExecCondition=+/usr/libexec/netpol/netpol-unit-gate web.service\n") !=
		NULL,
	    "%s", text);
	CHECK(strncmp(text, UNITS_DROPIN_MARK "unit:web.service ", strlen(UNITS_DROPIN_MARK) + 17) == 0);
	/* systemd unescapes ExecCondition='s words: a '\' is passed doubled. */
	if (CHECK(units_dropin_text("a\\x2db.service", "/g", &esc) == 0))
		CHECKF(strstr(esc, "ExecCondition=+/g a\\\\x2db.service\n") != NULL, "%s", esc);
	CHECK(units_dropin_text("a b.service", "/g", &bad) == -EINVAL);
	CHECK(units_dropin_text("a%i.service", "/g", &bad) == -EINVAL);
	CHECK(units_dropin_text("a.service", "/with space/g", &bad) == -EINVAL);
	CHECK(!units_dropin_is_ours("[Service]\nExecCondition=/bin/true\n"));
	CHECK(!units_dropin_is_ours(""));
}

static void test_proc_cgroup(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

	if (CHECK(units_proc_cgroup("0::/system.slice/web.service\n", &a) == 0))
		CHECK(strcmp(a, "/system.slice/web.service") == 0);
	/* A hybrid host: v1 lines first. */
	if (CHECK(units_proc_cgroup("12:pids:/system.slice/web.service\n1:name=systemd:/x\n0::/a/b\n", &b) ==
		  0))
		CHECK(strcmp(b, "/a/b") == 0);
	if (CHECK(units_proc_cgroup("0::/\n", &c) == 0))
		CHECK(strcmp(c, "/") == 0);
	CHECK(units_proc_cgroup("1:name=systemd:/x\n", &a) == -ENOENT);
	CHECK(units_proc_cgroup("", &a) == -ENOENT);
	CHECK(units_proc_cgroup("0::", &a) == -ENOENT);

	CHECK(units_cgroup_is("/system.slice/web.service", "/system.slice/web.service", "web.service"));
	CHECK(!units_cgroup_is("/system.slice/web.service/sub", "/system.slice/web.service", "web.service"));
	CHECK(!units_cgroup_is("/system.slice/web.service", "/other.slice/web.service", "web.service"));
	CHECK(!units_cgroup_is("/system.slice/web.service", "/system.slice/web.service", "x.service"));
	CHECK(units_cgroup_is("/system.slice/_cpu.service", "/system.slice/_cpu.service", "cpu.service"));
	CHECK(!units_cgroup_is("/", "/", "x.service"));
}

int main(void)
{
	test_paths();
	test_escape();
	test_dropin();
	test_proc_cgroup();
	printf("test-units: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
