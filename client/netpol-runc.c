/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpol-runc: runc for Docker, with netpol-oci-hook added (docs/oci-hook.md).
 * Docker has no hooks.d; it runs a "runtime" named in daemon.json with
 * runc's command line. On `create` and `run` this adds netpol-oci-hook to
 * the bundle's config.json as a createRuntime hook, then execs the real
 * runc with the same arguments; any other command goes to runc untouched.
 *
 * It fails open: a config.json it cannot edit is left as it was, said on
 * stderr, and runc runs anyway. Its own options come first, before runc's
 * (daemon.json "runtimeArgs"), and are not passed on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup-util.h"
#include "json-util.h"
#include "io-util.h"

#ifndef NETPOL_OCI_HOOK_PATH
#define NETPOL_OCI_HOOK_PATH "/usr/libexec/netpol/netpol-oci-hook"
#endif

/* Docker's config.json is some KiB (a seccomp profile the most); far more
 * is not a bundle of Docker's. */
#define CONFIG_MAX (16 * 1024 * 1024)

static const char *arg_runc;
static const char *arg_hook = NETPOL_OCI_HOOK_PATH;
static const char *arg_socket;
static const char *arg_timeout;

/* ---- runc's command line ---- */

/* Whether opt (with its dashes: runc takes "-x" and "--x" alike) is one of
 * names, and then its value: "=value" in it, or the next argument. */
static bool is_opt(const char *opt, const char *const *names, bool *ret_inline)
{
	const char *s = opt[1] == '-' ? opt + 2 : opt + 1;

	if (opt[0] != '-')
		return false;
	for (; *names; names++) {
		size_t n = strlen(*names);

		if (strncmp(s, *names, n) == 0 && (s[n] == '\0' || s[n] == '=')) {
			*ret_inline = s[n] == '=';
			return true;
		}
	}
	return false;
}

/* The index of runc's command in args (runc's arguments), or -1. Global
 * options come before it; those named here take a value. */
static int find_command(int n, char **args)
{
	static const char *const with_value[] = {"log", "log-format", "root", "criu", "rootless", NULL};

	for (int i = 0; i < n; i++) {
		bool inl;

		if (args[i][0] != '-')
			return i;
		if (strcmp(args[i], "--") == 0)
			return i + 1 < n ? i + 1 : -1;
		if (is_opt(args[i], with_value, &inl) && !inl)
			i++;
	}
	return -1;
}

/* The bundle of `create`/`run` (args from the command's first option):
 * --bundle or -b, the current directory when absent (as runc). */
static const char *find_bundle(int n, char **args)
{
	static const char *const bundle[] = {"bundle", "b", NULL};
	static const char *const with_value[] = {"console-socket", "pid-file", "preserve-fds", NULL};

	for (int i = 0; i < n && args[i][0] == '-' && strcmp(args[i], "--") != 0; i++) {
		bool inl;

		if (is_opt(args[i], bundle, &inl)) {
			if (inl)
				return strchr(args[i], '=') + 1;
			return i + 1 < n ? args[i + 1] : NULL;
		}
		if (is_opt(args[i], with_value, &inl) && !inl)
			i++;
	}
	return ".";
}

/* ---- config.json ---- */

static json_t *hook_entry(void)
{
	/* no "timeout": runc would fail the container on it; the hook keeps its own */
	return json_pack("{s:s, s:[s, s*, s*, s*, s*]}", "path", arg_hook, "args", "netpol-oci-hook",
			 arg_socket ? "--socket" : NULL, arg_socket, arg_timeout ? "--timeout" : NULL,
			 arg_timeout);
}

/* Adds the hook to config. An entry of the same hook is replaced: the
 * hook runs once, with the options given now. */
static int add_hook(json_t *config, const char **why)
{
	json_t *hooks = json_object_get(config, "hooks"), *stage, *entry, *h;
	size_t i;

	if (!json_is_object(config)) {
		*why = "not a JSON object";
		return -EINVAL;
	}
	if (!hooks) {
		hooks = json_object();
		if (json_object_set_new(config, "hooks", hooks) < 0)
			return -ENOMEM;
	} else if (!json_is_object(hooks)) {
		*why = "\"hooks\" is not an object";
		return -EINVAL;
	}
	stage = json_object_get(hooks, "createRuntime");
	if (!stage) {
		stage = json_array();
		if (json_object_set_new(hooks, "createRuntime", stage) < 0)
			return -ENOMEM;
	} else if (!json_is_array(stage)) {
		*why = "\"hooks.createRuntime\" is not an array";
		return -EINVAL;
	}
	entry = hook_entry();
	if (!entry)
		return -ENOMEM;
	json_array_foreach(stage, i, h)
	{
		const char *path = json_string_value(json_object_get(h, "path"));

		if (path && strcmp(path, arg_hook) == 0)
			return json_array_set_new(stage, i, entry) < 0 ? -ENOMEM : 0;
	}
	return json_array_append_new(stage, entry) < 0 ? -ENOMEM : 0;
}

static int read_config(int dfd, struct stat *st, json_t **ret, const char **why)
{
	_cleanup_close_ int fd = openat(dfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *buf = NULL;
	json_error_t e;
	json_t *j;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || st->st_size > CONFIG_MAX) {
		*why = S_ISREG(st->st_mode) ? "larger than 16 MiB" : "not a regular file";
		return -EINVAL;
	}
	buf = malloc((size_t)st->st_size + 1);
	if (!buf)
		return -ENOMEM;
	r = np_read_full(fd, buf, (size_t)st->st_size);
	if (r < 0)
		return r;
	j = json_loadb(buf, (size_t)st->st_size, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		static char msg[sizeof(e.text) + 64];

		snprintf(msg, sizeof(msg), "line %d: %s", e.line, e.text);
		*why = msg;
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

/* Replaces config.json at once: runc reads either the old file or the new. */
static int write_config(const char *bundle, int dfd, const struct stat *st, const json_t *config)
{
	_cleanup_free_ char *text = json_dumps(config, JSON_COMPACT), *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (!text || asprintf(&tmp, "%s/config.json.netpol-XXXXXX", bundle) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = np_write_full(fd, text, strlen(text));
	if (r >= 0 && fchmod(fd, st->st_mode & 07777) < 0)
		r = -errno;
	if (r >= 0 && (st->st_uid != geteuid() || st->st_gid != getegid()) &&
	    fchown(fd, st->st_uid, st->st_gid) < 0)
		r = -errno;
	/* no fsync(): a bundle does not outlive a crash of the host */
	if (r >= 0 && renameat(dfd, strrchr(tmp, '/') + 1, dfd, "config.json") < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

/* 0, or -errno and *why (if only errno says it: NULL). */
static int edit_bundle(const char *bundle, const char **why)
{
	_cleanup_json_ json_t *config = NULL;
	_cleanup_close_ int dfd = -EBADF;
	struct stat st;
	int r;

	*why = NULL;
	dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = read_config(dfd, &st, &config, why);
	if (r < 0)
		return r;
	r = add_hook(config, why);
	if (r < 0)
		return r;
	return write_config(bundle, dfd, &st, config);
}

/* ---- options and main ---- */

static void print_help(void)
{
	printf("Usage: netpol-runc [--runc PATH] [--hook PATH] [--socket PATH] [--timeout SECONDS] "
	       "RUNC-ARGS...\n\n"
	       "runc with netpol's OCI hook, for Docker (daemon.json \"runtimes\"): on create and run,\n"
	       "adds netpol-oci-hook to the bundle's config.json as a createRuntime hook, then runs\n"
	       "runc with RUNC-ARGS. If config.json cannot be changed it says so on stderr and runs\n"
	       "runc anyway.\n\n"
	       "Options (before runc's own; daemon.json \"runtimeArgs\"):\n"
	       "      --runc PATH        the real runc (default $NETPOL_RUNC, else /usr/bin/runc or\n"
	       "                         /usr/sbin/runc, the first that exists)\n"
	       "      --hook PATH        the hook (default $NETPOL_OCI_HOOK or %s)\n"
	       "      --socket PATH      passed to the hook: netpold's socket\n"
	       "      --timeout SECONDS  passed to the hook: how long it waits for netpold (default 2)\n"
	       "      --help             this help (only as the first argument)\n\n"
	       "See docs/oci-hook.md.\n",
	       NETPOL_OCI_HOOK_PATH);
}

/* Takes netpol-runc's own options from the front of argv: the index of
 * runc's first argument, or -EINVAL. */
static int parse_own(int argc, char **argv)
{
	static const struct {
		const char *name;
		const char **arg;
	} opts[] = {
	    {"--runc", &arg_runc},
	    {"--hook", &arg_hook},
	    {"--socket", &arg_socket},
	    {"--timeout", &arg_timeout},
	};
	int i = 1;

	while (i < argc) {
		size_t k;

		for (k = 0; k < ELEMENTSOF(opts); k++) {
			size_t n = strlen(opts[k].name);

			if (strncmp(argv[i], opts[k].name, n) != 0)
				continue;
			if (argv[i][n] == '=') {
				*opts[k].arg = argv[i] + n + 1;
				i++;
				break;
			}
			if (argv[i][n] == '\0') {
				if (i + 1 >= argc) {
					fprintf(stderr, "netpol-runc: missing value for option '%s'\n",
						argv[i]);
					return -EINVAL;
				}
				*opts[k].arg = argv[i + 1];
				i += 2;
				break;
			}
		}
		if (k == ELEMENTSOF(opts))
			break;
	}
	return i;
}

static const char *runc_path(void)
{
	static const char *const defaults[] = {"/usr/bin/runc", "/usr/sbin/runc"};
	const char *env = getenv("NETPOL_RUNC");

	if (arg_runc)
		return arg_runc;
	if (env && *env)
		return env;
	for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
		if (access(defaults[i], X_OK) == 0)
			return defaults[i];
	return defaults[0];
}

int main(int argc, char **argv)
{
	const char *env = getenv("NETPOL_OCI_HOOK"), *runc, *bundle, *why;
	int first, cmd, r;
	char **args;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		print_help();
		return EXIT_SUCCESS;
	}
	if (env && *env)
		arg_hook = env;
	first = parse_own(argc, argv);
	if (first < 0)
		return 2;
	runc = runc_path();
	/* runc's argv: its name, then what follows our options */
	args = argv + first - 1;
	args[0] = (char *)"runc";

	cmd = find_command(argc - first, argv + first);
	if (cmd >= 0 && (strcmp(argv[first + cmd], "create") == 0 || strcmp(argv[first + cmd], "run") == 0)) {
		bundle = find_bundle(argc - first - cmd - 1, argv + first + cmd + 1);
		r = bundle ? edit_bundle(bundle, &why) : -EINVAL;
		if (!bundle)
			why = "--bundle has no value";
		if (r < 0)
			fprintf(
			    stderr,
			    "netpol-runc: cannot add netpol-oci-hook to %s/config.json (%s); the container "
			    "starts without it, under the container default\n",
			    bundle ?: "?", why ?: strerror(-r));
	}

	execv(runc, args);
	fprintf(stderr, "netpol-runc: cannot run %s: %m\n", runc);
	return 127;
}
