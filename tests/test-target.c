/* SPDX-License-Identifier: GPL-2.0-only */
/* The target grammar (daemon/target.c): normalizing, matching, and the
 * checks of target_resolve() that need no privilege. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "cgroup-util.h"
#include "target.h"

#include "unit-check.h"

static void good(const char *file, int line, const char *in, const char *want)
{
	_cleanup_free_ char *out = NULL;
	const char *why = "";
	int r;

	r = target_normalize(in, &out, &why);
	if (!check(r == 0, file, line, "\"%s\": %d %s", in, r, why))
		return;
	check(strcmp(out, want) == 0, file, line, "\"%s\" -> \"%s\", want \"%s\"", in, out, want);
}
#define GOOD(in, want) good(__FILE__, __LINE__, in, want)

static void bad(const char *file, int line, const char *in, const char *msg)
{
	char *out = NULL;
	const char *why = "";
	int r;

	r = target_normalize(in, &out, &why);
	check(r == -EINVAL, file, line, "\"%s\": returned %d, want -EINVAL", in, r);
	check(!out, file, line, "\"%s\": output written on failure", in);
	check(strstr(why, msg) != NULL, file, line, "\"%s\": reason \"%s\" lacks \"%s\"", in, why, msg);
	free(out);
}
#define BAD(in, msg) bad(__FILE__, __LINE__, in, msg)

static void test_normalize(void)
{
	char *longest = malloc(PATH_MAX + 16);

	GOOD("cgroup:/", "cgroup:/");
	GOOD("cgroup://", "cgroup:/");
	GOOD("cgroup:/a", "cgroup:/a");
	GOOD("cgroup:/a//b/./c/", "cgroup:/a/b/c");
	GOOD("cgroup:/./.", "cgroup:/");
	GOOD("cgroup:/a b/c.d/...", "cgroup:/a b/c.d/...");
	GOOD("cgroup:/..a/b..", "cgroup:/..a/b..");
	BAD("", "must look like 'cgroup:/path'");
	GOOD("cgroup", "container:cgroup"); /* a container may be called that */
	BAD("Cgroup:/a", "must look like 'cgroup:/path'");
	BAD("/a/b", "must look like 'cgroup:/path'");
	BAD("pod:web", "must look like 'cgroup:/path'");
	GOOD("container:web", "container:web");
	GOOD("web", "container:web");
	GOOD("shop_web.1-a", "container:shop_web.1-a");
	GOOD("container:3F2A", "container:3F2A");
	GOOD("container:0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef",
	     "container:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	BAD("container:", "needs a container name or id");
	BAD("container:-web", "starts with a letter or digit");
	BAD("container:web/x", "only letters, digits");
	BAD("web app", "only letters, digits");
	BAD("cgroup:", "must start with '/'");
	BAD("cgroup:a/b", "must start with '/'");
	BAD("cgroup:/a/../b", "'..' is not allowed");
	BAD("cgroup:/..", "'..' is not allowed");
	if (CHECK(longest != NULL)) {
		strcpy(longest, "cgroup:/");
		memset(longest + 8, 'x', PATH_MAX);
		longest[PATH_MAX + 8] = '\0';
		BAD(longest, "too long");
	}
	free(longest);
}

static void test_matches(void)
{
	CHECK(target_matches("cgroup:/a", "cgroup:/a"));
	CHECK(target_matches("cgroup:/a/b", "cgroup:/a"));
	CHECK(!target_matches("cgroup:/ab", "cgroup:/a"));
	CHECK(!target_matches("cgroup:/a", "cgroup:/a/b"));
	CHECK(target_matches("cgroup:/a", "cgroup:/"));
	CHECK(target_matches("cgroup:/", "cgroup:/"));
	CHECK(!target_matches("cgroup-id:7", "cgroup:/"));

	CHECK(target_path_below("/sys/fs/cgroup/a", "/sys/fs/cgroup"));
	CHECK(target_path_below("/sys/fs/cgroup", "/sys/fs/cgroup"));
	CHECK(target_path_below("/sys/fs/cgroup/a", "/sys/fs/cgroup/"));
	CHECK(!target_path_below("/sys/fs/cgroupx", "/sys/fs/cgroup"));
	CHECK(target_path_below("/a", "/"));

	CHECK(strcmp(target_path_rel("/sys/fs/cgroup/a/b", "/sys/fs/cgroup"), "/a/b") == 0);
	CHECK(strcmp(target_path_rel("/sys/fs/cgroup", "/sys/fs/cgroup"), "/") == 0);
	CHECK(strcmp(target_path_rel("/a/b", "/"), "/a/b") == 0);
	CHECK(!target_path_rel("/sys/fs/cgroupx", "/sys/fs/cgroup"));
	for (unsigned i = 0; i < 3; i++) {
		static const char *const in[][3] = {
		    {"/sys/fs/cgroup", "/a/b", "/sys/fs/cgroup/a/b"},
		    {"/sys/fs/cgroup", "/", "/sys/fs/cgroup"},
		    {"/", "/a", "/a"},
		};
		_cleanup_free_ char *out = NULL;

		if (CHECK(target_join_root(in[i][0], in[i][1], &out) == 0))
			CHECKF(strcmp(out, in[i][2]) == 0, "join %s %s: %s", in[i][0], in[i][1], out);
	}
}

/* systemd's unit_name_is_valid(), for the unit types with a cgroup. */
static void test_units(void)
{
	char name[300];
	enum target_kind kind = TARGET_CGROUP;
	_cleanup_free_ char *out = NULL;
	const char *why = "";

	GOOD("unit:nginx.service", "unit:nginx.service");
	GOOD("unit:getty@tty1.service", "unit:getty@tty1.service");
	GOOD("unit:a@b@c.service", "unit:a@b@c.service"); /* the instance may hold '@' */
	GOOD("unit:session-3.scope", "unit:session-3.scope");
	GOOD("unit:system-web.slice", "unit:system-web.slice");
	GOOD("unit:-.slice", "unit:-.slice");
	GOOD("unit:foo\\x2dbar.service", "unit:foo\\x2dbar.service");
	GOOD("unit:a:b_c.d-e.service", "unit:a:b_c.d-e.service");
	BAD("unit:", "needs a unit name");
	BAD("unit:nginx", "ends in '.service', '.scope' or '.slice'");
	BAD("unit:nginx.socket", "ends in '.service', '.scope' or '.slice'");
	BAD("unit:nginx.timer", "ends in '.service', '.scope' or '.slice'");
	BAD("unit:nginx.Service", "ends in '.service'");
	BAD("unit:.service", "nothing before its type");
	BAD("unit:@x.service", "nothing before its type");
	BAD("unit:getty@.service", "a template");
	BAD("unit:a b.service", "only letters, digits");
	BAD("unit:a/b.service", "only letters, digits");
	BAD("unit:a%i.service", "only letters, digits");
	BAD("unit:a@b.slice", "a slice name has no '@'");
	GOOD("nginx.service", "container:nginx.service"); /* a bare word names a container */
	memset(name, 'a', sizeof(name));
	strcpy(name, "unit:");
	memset(name + 5, 'a', 255 - 8);
	strcpy(name + 5 + 255 - 8, ".service");
	GOOD(name, name); /* 255 characters */
	memset(name + 5, 'a', 256 - 8);
	strcpy(name + 5 + 256 - 8, ".service");
	BAD(name, "too long (at most 255");
	if (CHECK(target_parse("unit:x.scope", &kind, &out, &why) == 0))
		CHECK(kind == TARGET_UNIT);
	CHECK(strcmp(target_info_key("unit:x.service"), "unit") == 0);
	CHECK(strcmp(target_info_key("container:x"), "container") == 0);
	CHECK(target_matches("unit:x.service", "unit:x.service"));
	CHECK(!target_matches("unit:x.service", "unit:x.serv"));
}

static void test_container_names(void)
{
	const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char buf[128];

	CHECK(target_is_container_id(id));
	CHECK(!target_is_container_id("0123"));
	CHECK(!target_is_container_id("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK(target_cgroup_name_is(id, id));
	snprintf(buf, sizeof(buf), "docker-%s.scope", id);
	CHECK(target_cgroup_name_is(buf, id));
	snprintf(buf, sizeof(buf), "libpod-%s", id);
	CHECK(target_cgroup_name_is(buf, id));
	snprintf(buf, sizeof(buf), "cri-containerd-%s.scope", id);
	CHECK(target_cgroup_name_is(buf, id));
	/* podman's monitor is not the container */
	snprintf(buf, sizeof(buf), "libpod-conmon-%s.scope", id);
	CHECK(!target_cgroup_name_is(buf, id));
	snprintf(buf, sizeof(buf), "x%s", id);
	CHECK(!target_cgroup_name_is(buf, id));
	snprintf(buf, sizeof(buf), "%s-1", id);
	CHECK(!target_cgroup_name_is(buf, id));
	CHECK(!target_cgroup_name_is("docker", id));
	CHECK(!target_cgroup_name_is(id, ""));

	char got[TARGET_CONTAINER_ID_LEN + 1];

	snprintf(buf, sizeof(buf), "docker-%s.scope", id);
	CHECK(target_cgroup_name_id(buf, got) && strcmp(got, id) == 0);
	CHECK(target_cgroup_name_id(id, got) && strcmp(got, id) == 0);
	snprintf(buf, sizeof(buf), "libpod-conmon-%s.scope", id);
	CHECK(!target_cgroup_name_id(buf, got));
	CHECK(!target_cgroup_name_id("docker.scope", got));
	CHECK(!target_cgroup_name_id("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", got));
}

static void bad_resolve(const char *file, int line, const struct target_root *root, const char *in, int want,
			const char *msg)
{
	struct target t = {};
	const char *why = "";
	int r;

	r = target_resolve(root, in, &t, &why);
	check(r == want, file, line, "\"%s\": returned %d, want %d", in, r, want);
	check(!t.target && !t.path, file, line, "\"%s\": output written on failure", in);
	check(strstr(why, msg) != NULL, file, line, "\"%s\": reason \"%s\" lacks \"%s\"", in, why, msg);
	target_done(&t);
}
#define BAD_RESOLVE(root, in, want, msg) bad_resolve(__FILE__, __LINE__, root, in, want, msg)

/* Only reads the tree: stat, statfs and the cgroup id need no privilege. */
static void test_resolve(void)
{
	_cleanup_free_ char *mount = NULL, *tmp = NULL;
	struct target t = {};
	const char *why = "";
	int r;

	tmp = strdup("/tmp/test-target-XXXXXX");
	if (CHECK(tmp && mkdtemp(tmp))) {
		struct target_root not_cgroup2 = {.cgroup_root = tmp, .attach_cgroup = tmp};

		BAD_RESOLVE(&not_cgroup2, "cgroup:/", -EXDEV, "not a directory on the cgroup2 file system");
		BAD_RESOLVE(&not_cgroup2, "cgroup:/gone", -ENOENT, "no such cgroup");
		BAD_RESOLVE(&not_cgroup2, "cgroup:/a/../b", -EINVAL, "'..' is not allowed");
		rmdir(tmp);
	}
	if (np_cgroup2_mount(&mount) < 0) {
		printf("# no cgroup2 mount: resolving a real cgroup is not tested\n");
		return;
	}
	struct target_root root = {.cgroup_root = mount, .attach_cgroup = mount};

	r = target_resolve(&root, "cgroup://./", &t, &why);
	if (CHECKF(r == 0, "cgroup:/ on %s: %d %s", mount, r, why)) {
		CHECKF(strcmp(t.target, "cgroup:/") == 0, "target \"%s\"", t.target);
		CHECKF(strcmp(t.path, mount) == 0, "path \"%s\", want \"%s\"", t.path, mount);
		CHECK(t.cgroup_id != 0);
	}
	target_done(&t);
	CHECK(!t.target && !t.path && t.cgroup_id == 0);
	BAD_RESOLVE(&root, "cgroup:/netpol-test-target-no-such-cgroup", -ENOENT, "no such cgroup");
	BAD_RESOLVE(&root, "cgroup:/cgroup.procs", -EXDEV, "not a cgroup directory");

	/* The cgroup root, seen from an attach cgroup below it. */
	BAD_RESOLVE(&root, "unit:x.service", -ENOENT, "units source");
	root.attach_cgroup = "/nonexistent-attach-cgroup";
	BAD_RESOLVE(&root, "cgroup:/", -EXDEV, "outside the attach cgroup");
}

int main(void)
{
	test_normalize();
	test_matches();
	test_container_names();
	test_units();
	test_resolve();
	printf("test-target: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
