/* SPDX-License-Identifier: GPL-2.0-only */
/* netpold.conf: values, comments, overrides, and every refusal with its line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "config.h"

#include "unit-check.h"

static int parse(struct np_config *c, const char *text, size_t size, struct np_config_error *err)
{
	if (config_init(c) < 0)
		abort();
	return config_parse(c, text, size, err);
}

static void test_values(void)
{
	static const char text[] = "# netpold.conf\n"
				   "\n"
				   "admin_group = wheel   # trailing comment\n"
				   "  socket_group=netpol-ro\r\n"
				   "socket_mode = 0640\n"
				   "idle_timeout = 3600"; /* no final newline */
	struct np_config c;
	struct np_config_error err;

	CHECK(parse(&c, text, strlen(text), &err) == 0);
	CHECK(c.admin_group && strcmp(c.admin_group, "wheel") == 0);
	CHECK(c.socket_group && strcmp(c.socket_group, "netpol-ro") == 0);
	CHECK(c.socket_mode == 0640);
	CHECK(c.idle_timeout_sec == 3600);
	CHECK(err.line == 0);
	config_done(&c);
}

static void test_defaults_and_overrides(void)
{
	static const char text[] = "socket_group =\nsocket_mode = 0600\nsocket_mode = 0\nidle_timeout = 1\n";
	struct np_config c;
	struct np_config_error err;

	/* no text at all keeps the defaults (a NULL text is fine then) */
	CHECK(parse(&c, NULL, 0, &err) == 0);
	CHECK(!c.admin_group && c.socket_group && c.socket_mode == 0660);
	config_done(&c);

	CHECK(parse(&c, text, strlen(text), &err) == 0);
	CHECK(c.socket_group == NULL); /* an empty value switches the group off */
	CHECK(c.socket_mode == 0);     /* the last line wins */
	CHECK(c.idle_timeout_sec == 1);
	config_done(&c);
}

/* The data plane's two paths, and which socket keys the file itself says
 * (those a socket from systemd overrides, with a warning). */
static void test_paths_and_set_keys(void)
{
	static const char text[] = "pin_dir = /sys/fs/bpf/np2\nattach_cgroup = /sys/fs/cgroup/np\n"
				   "socket_mode = 0660\n";
	struct np_config c;
	struct np_config_error err;

	CHECK(parse(&c, NULL, 0, &err) == 0);
	CHECK(!c.pin_dir && !c.attach_cgroup); /* the flags' or the built-in defaults then */
	CHECK(!c.socket_group_set && !c.socket_mode_set);
	config_done(&c);

	CHECK(parse(&c, text, strlen(text), &err) == 0);
	CHECK(c.pin_dir && strcmp(c.pin_dir, "/sys/fs/bpf/np2") == 0);
	CHECK(c.attach_cgroup && strcmp(c.attach_cgroup, "/sys/fs/cgroup/np") == 0);
	/* said, even where it is the default value */
	CHECK(c.socket_mode_set && c.socket_mode == 0660 && !c.socket_group_set);
	config_done(&c);

	CHECK(parse(&c, "socket_group =\n", 15, &err) == 0);
	CHECK(c.socket_group_set && !c.socket_group);
	config_done(&c);
}

static void test_containers(void)
{
	static const char text[] = "container_sockets = /run/a.sock\t/run/b.sock\n"
				   "container_cgroup_parents = //docker/ /ctr//x\n"
				   "container_default_policy = deny-all\n"
				   "container_label = com.example/policy\n"
				   "container_image_labels = follow\n";
	struct np_config c, d;
	struct np_config_error err;

	CHECK(parse(&c, NULL, 0, &err) == 0);
	CHECK(c.container_sockets[0] && strcmp(c.container_sockets[0], "/var/run/docker.sock") == 0);
	CHECK(strcmp(c.container_label, "bpf.network.policy") == 0);
	CHECK(!c.container_default_policy);
	CHECK(!c.container_image_labels);
	CHECK(strcmp(c.container_cgroup_parents[0], "/docker") == 0);
	CHECK(parse(&d, text, strlen(text), &err) == 0);
	CHECK(!config_containers_equal(&c, &d));
	CHECK(strcmp(d.container_sockets[0], "/run/a.sock") == 0 &&
	      strcmp(d.container_sockets[1], "/run/b.sock") == 0 && !d.container_sockets[2]);
	CHECK(strcmp(d.container_cgroup_parents[0], "/docker") == 0 &&
	      strcmp(d.container_cgroup_parents[1], "/ctr/x") == 0 && !d.container_cgroup_parents[2]);
	CHECK(d.container_default_policy && strcmp(d.container_default_policy, "deny-all") == 0);
	CHECK(strcmp(d.container_label, "com.example/policy") == 0);
	CHECK(d.container_image_labels);
	config_done(&c);
	CHECK(parse(&c, text, strlen(text), &err) == 0);
	CHECK(config_containers_equal(&c, &d));
	config_done(&c);
	/* an empty list follows no engine */
	CHECK(parse(&c, "container_sockets =\n", 20, &err) == 0);
	CHECK(c.container_sockets && !c.container_sockets[0]);
	config_done(&c);
	config_done(&d);
}

static void test_limits_and_groups(void)
{
	static const char text[] = "admin_group = netpol-admin\n"
				   "admin_group = ops # the last line wins\n"
				   "\tsocket_group\t=\tro=group\t\n" /* only the first '=' splits */
				   "max_clients = 65536\n"
				   "max_clients_per_uid = 65536\n"
				   "writer_clients = 65535\n"
				   "   \n"
				   "#admin_group = ignored\n";
	static const char low[] =
	    "writer_clients = 1\nmax_clients = 2\nmax_clients_per_uid = 1\nadmin_group =\n";
	struct np_config c;
	struct np_config_error err;

	/* the defaults: docs/netpold.md and docs/protocol.md */
	CHECK(parse(&c, "", 0, &err) == 0);
	CHECK(c.idle_timeout_sec == 10 && c.max_clients == 256 && c.max_clients_per_uid == 64 &&
	      c.writer_clients == 16);
	CHECK(strcmp(c.socket_group, "netpol") == 0);
	config_done(&c);

	CHECK(parse(&c, text, strlen(text), &err) == 0);
	CHECK(c.admin_group && strcmp(c.admin_group, "ops") == 0);
	CHECK(c.socket_group && strcmp(c.socket_group, "ro=group") == 0);
	CHECK(c.max_clients == 65536 && c.max_clients_per_uid == 65536 && c.writer_clients == 65535);
	config_done(&c);

	/* writer_clients is judged against max_clients as the file ends, not
	 * as the line is read */
	CHECK(parse(&c, low, strlen(low), &err) == 0);
	CHECK(c.writer_clients == 1 && c.max_clients == 2 && c.max_clients_per_uid == 1);
	CHECK(c.admin_group == NULL);
	config_done(&c);
}

/* Lines before a bad one are applied (config_load() then refuses the whole
 * file, so netpold does not start with half of it). */
static void test_partial(void)
{
	static const char text[] = "socket_mode = 0600\nadmin_group = ops\nbogus = 1\nidle_timeout = 7\n";
	struct np_config c;
	struct np_config_error err;

	CHECK(parse(&c, text, strlen(text), &err) == -EINVAL);
	CHECK(err.line == 3);
	CHECK(c.socket_mode == 0600 && c.admin_group && strcmp(c.admin_group, "ops") == 0);
	CHECK(c.idle_timeout_sec == 10);
	config_done(&c);
}

/* text must fail on line `line` with a message containing msg. */
static void bad(const char *file, int line_no, const char *text, size_t size, unsigned line, const char *msg)
{
	struct np_config c;
	struct np_config_error err;
	int r;

	r = parse(&c, text, size, &err);
	check(r == -EINVAL, file, line_no, "returned %d, want -EINVAL", r);
	check(err.line == line, file, line_no, "error on line %u, want %u", err.line, line);
	check(strstr(err.message, msg) != NULL, file, line_no, "message \"%s\" lacks \"%s\"", err.message,
	      msg);
	config_done(&c);
}
#define BAD(text, line, msg) bad(__FILE__, __LINE__, text, strlen(text), line, msg)

static void test_refusals(void)
{
	static const char nul[] = "socket_mode = 0600\n\nsocket_group = a\0b\n";

	BAD("socket_mode 0600\n", 1, "expected 'key = value', got 'socket_mode 0600'");
	BAD("# ok\nsocket_mod = 0600\n", 2, "unknown key 'socket_mod'");
	BAD("socket_mode = 0778\n", 1, "socket_mode must be an octal mode 0..0777, got '0778'");
	BAD("socket_mode = 01000\n", 1, "got '01000'");
	BAD("socket_mode =\n", 1, "socket_mode must be an octal mode");
	BAD("socket_mode = -1\n", 1, "got '-1'");
	BAD("idle_timeout = 0\n", 1, "idle_timeout must be a number of seconds 1..3600, got '0'");
	BAD("idle_timeout = 3601\n", 1, "got '3601'");
	BAD("idle_timeout = 10s\n", 1, "got '10s'");
	BAD("idle_timeout = 99999999999999999999\n", 1, "got '99999999999999999999'");
	BAD("\n\n\n= 5\n", 4, "unknown key ''");
	BAD("max_clients = 1\n", 1, "max_clients must be a number of connections 2..65536, got '1'");
	BAD("max_clients_per_uid = 0\n", 1, "got '0'");
	BAD("writer_clients = -3\n", 1, "got '-3'");
	BAD("max_clients = 65537\n", 1, "max_clients must be a number of connections 2..65536, got '65537'");
	BAD("max_clients_per_uid = 65537\n", 1,
	    "max_clients_per_uid must be a number of connections 1..65536, got '65537'");
	BAD("writer_clients = 65536\n", 1,
	    "writer_clients must be a number of connections 1..65535, got '65536'");
	BAD("writer_clients = 0\n", 1, "got '0'");
	BAD("max_clients = 0x10\n", 1, "got '0x10'");
	BAD("max_clients = 1 6\n", 1, "got '1 6'");
	BAD("socket_mode = 0o600\n", 1, "got '0o600'");
	BAD("socket mode = 0600\n", 1, "unknown key 'socket mode'");
	/* the refusal names every key there is */
	BAD("x = 1\n", 1,
	    "(known: admin_group, socket_group, socket_mode, idle_timeout, max_clients, max_clients_per_uid, "
	    "writer_clients, container_sockets, container_label, container_default_policy, "
	    "container_cgroup_parents, container_image_labels, pin_dir, attach_cgroup)");
	BAD("pin_dir = netpol\n", 1, "pin_dir must be an absolute path, got 'netpol'");
	BAD("pin_dir =\n", 1, "pin_dir must be an absolute path, got ''");
	BAD("attach_cgroup = sys/fs/cgroup\n", 1,
	    "attach_cgroup must be an absolute path, got 'sys/fs/cgroup'");
	BAD("container_sockets = docker.sock\n", 1,
	    "container_sockets: 'docker.sock' must be an absolute path");
	BAD("container_cgroup_parents = /docker x\n", 1,
	    "'/docker x' must be a cgroup path starting with '/'");
	BAD("container_cgroup_parents = /a/../b\n", 1, "'..' is not allowed");
	BAD("container_label = Bpf.Policy\n", 1, "container_label must be a label key");
	BAD("container_label =\n", 1, "container_label must be a label key");
	BAD("container_image_labels = yes\n", 1,
	    "container_image_labels must be 'ignore' or 'follow', got 'yes'");
	BAD("container_image_labels =\n", 1, "container_image_labels must be 'ignore' or 'follow', got ''");
	/* the default writer_clients (16) with a smaller max_clients */
	BAD("max_clients = 16\n", 0, "writer_clients (16) must be below max_clients (16)");
	/* each line is right, together they are not: no line to name */
	BAD("max_clients = 8\nwriter_clients = 8\n", 0, "writer_clients (8) must be below max_clients (8)");
	/* a NUL byte would cut the line short, silently: refused */
	bad(__FILE__, __LINE__, nul, sizeof(nul) - 1, 3, "contains a NUL byte");
}

static void write_file(const char *path, const char *text, size_t size)
{
	FILE *f = fopen(path, "we");

	if (!f || fwrite(text, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static void test_load(void)
{
	char dir[] = "/tmp/netpol-test-config.XXXXXX";
	_cleanup_free_ char *path = NULL, *big = NULL;
	struct np_config c;

	if (!mkdtemp(dir) || asprintf(&path, "%s/netpold.conf", dir) < 0)
		abort();

	config_init(&c);
	CHECK(config_load(&c, path, false, NULL) == 0); /* missing and optional */
	CHECK(c.socket_mode == 0660);
	CHECK(config_load(&c, path, true, NULL) == -ENOENT);
	config_done(&c);

	write_file(path, "socket_mode = 0600\nidle_timeout = 5\n", 35);
	config_init(&c);
	CHECK(config_load(&c, path, true, NULL) == 0);
	CHECK(c.socket_mode == 0600 && c.idle_timeout_sec == 5);
	config_done(&c);

	write_file(path, "socket_mode = 0600\nbogus\n", 25);
	config_init(&c);
	CHECK(config_load(&c, path, true, NULL) == -EINVAL);
	config_done(&c);

	write_file(path, "max_clients = 4\nwriter_clients = 4\n", 35);
	config_init(&c);
	CHECK(config_load(&c, path, true, NULL) == -EINVAL);
	config_done(&c);

	/* config_read() says it all in one message, for the reload's reply */
	{
		struct np_config_error err;
		_cleanup_free_ char *want = NULL;
		bool found = false;

		write_file(path, "socket_mode = 0600\n\nadmin_group = ops\nbogus_key = 1\n", 52);
		config_init(&c);
		CHECK(config_read(&c, path, false, &found, &err) == -EINVAL);
		CHECK(found);
		if (asprintf(&want, "%s:4: unknown key 'bogus_key' (known: ", path) < 0)
			abort();
		CHECK(strncmp(err.message, want, strlen(want)) == 0);
		config_done(&c);

		write_file(path, "max_clients = 4\nwriter_clients = 4\n", 35);
		free(want);
		if (asprintf(&want, "%s: writer_clients (4) must be below max_clients (4)", path) < 0)
			abort();
		config_init(&c);
		CHECK(config_read(&c, path, true, &found, &err) == -EINVAL);
		CHECK(strncmp(err.message, want, strlen(want)) == 0);
		config_done(&c);

		unlink(path);
		config_init(&c);
		CHECK(config_read(&c, path, false, &found, &err) == 0);
		CHECK(!found); /* "no such file": not "reloaded from" it */
		CHECK(config_read(&c, path, true, &found, &err) == -ENOENT);
		CHECK(!found && strstr(err.message, "cannot open the configuration file") &&
		      strncmp(err.message, path, strlen(path)) == 0);
		config_done(&c);

		config_init(&c);
		CHECK(config_load(&c, path, false, &found) == 0 && !found);
		config_done(&c);
	}

	/* a directory opens, but does not read */
	config_init(&c);
	CHECK(config_load(&c, dir, false, NULL) == -EIO);
	config_done(&c);

	/* 1 MiB of comments is still a configuration; one byte more is not */
	big = malloc(1024 * 1024 + 1);
	if (!big)
		abort();
	memset(big, '#', 1024 * 1024 + 1);
	big[0] = '\n';
	write_file(path, big, 1024 * 1024);
	config_init(&c);
	CHECK(config_load(&c, path, true, NULL) == 0);
	config_done(&c);
	write_file(path, big, 1024 * 1024 + 1);
	config_init(&c);
	CHECK(config_load(&c, path, true, NULL) == -EFBIG);
	config_done(&c);

	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_values();
	test_defaults_and_overrides();
	test_paths_and_set_keys();
	test_containers();
	test_limits_and_groups();
	test_partial();
	test_refusals();
	test_load();
	printf("test-config: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
