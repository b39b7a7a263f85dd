/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * np-loader: open (load or adopt) the data plane, install policies, bind
 * cgroups, exit. Enforcement continues through the pins. Used by test-adopt
 * and by people poking at the data plane by hand:
 *
 *   np-loader --pin-dir D --attach-cgroup C [--install ID:FILE.json ...]
 *             [--bind CGROUP_PATH:ID ...] [--unbind CGROUP_PATH ...] [--unpin]
 *
 * Prints "adopted" or "loaded" on the first line of stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "dataplane.h"
#include "policy.h"

#define MAX_ACTIONS 256

enum { ACT_INSTALL, ACT_BIND, ACT_UNBIND };

struct action {
	int kind;
	const char *arg;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: np-loader --pin-dir DIR --attach-cgroup CGROUP [--install ID:FILE.json]...\n"
		   "                 [--bind CGROUP_PATH:ID]... [--unbind CGROUP_PATH]... [--unpin]\n");
}

static int parse_id(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v >= NP_MAX_POLICIES)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int read_text(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, used = 0, n;

	if (!f)
		return -errno;
	for (;;) {
		if (used + 4096 + 1 > size) {
			char *nb = realloc(buf, size = size ? size * 2 : 8192);

			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = fread(buf + used, 1, size - used - 1, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		return -EIO;
	buf[used] = 0;
	*ret = TAKE_PTR(buf);
	return 0;
}

static int do_install(struct np_dataplane *dp, const char *arg)
{
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
	_cleanup_free_ char *text = NULL;
	const char *colon = strchr(arg, ':');
	struct np_error err = {};
	char idbuf[16];
	uint32_t id;
	int r;

	if (!colon || colon - arg >= (ptrdiff_t)sizeof(idbuf)) {
		fprintf(stderr, "--install %s: expected ID:FILE\n", arg);
		return -EINVAL;
	}
	memcpy(idbuf, arg, colon - arg);
	idbuf[colon - arg] = 0;
	if (parse_id(idbuf, &id) < 0) {
		fprintf(stderr, "--install %s: bad policy id '%s' (1..%d)\n", arg, idbuf,
			NP_MAX_POLICIES - 1);
		return -EINVAL;
	}
	r = read_text(colon + 1, &text);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", colon + 1, strerror(-r));
		return r;
	}
	r = np_policy_from_string(text, &p, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s%s%s\n", colon + 1, err.field, err.field[0] ? ": " : "", err.message);
		return r;
	}
	r = np_policy_compile(p, &c, &err);
	if (r < 0) {
		fprintf(stderr, "%s: cannot compile: %s%s%s\n", colon + 1, err.field,
			err.field[0] ? ": " : "", err.message);
		return r;
	}
	r = np_dataplane_install(dp, id, p->name, c);
	if (r < 0) {
		fprintf(stderr, "install policy %u (%s): %s\n", id, p->name, strerror(-r));
		return r;
	}
	printf("installed %u %s (%zu entries)\n", id, p->name, c->n_entries);
	return 0;
}

static int do_bind(struct np_dataplane *dp, const char *arg, bool unbind)
{
	_cleanup_free_ char *path = strdup(arg);
	uint64_t cgid;
	uint32_t id = 0;
	char *colon;
	int r;

	if (!path)
		return -ENOMEM;
	if (!unbind) {
		colon = strrchr(path, ':');
		if (!colon || parse_id(colon + 1, &id) < 0) {
			fprintf(stderr, "--bind %s: expected CGROUP_PATH:ID\n", arg);
			return -EINVAL;
		}
		*colon = 0;
	}
	r = np_cgroup_id(path, &cgid);
	if (r < 0) {
		fprintf(stderr, "%s: not a cgroup2 directory: %s\n", path, strerror(-r));
		return r;
	}
	r = unbind ? np_dataplane_unbind(dp, cgid) : np_dataplane_bind(dp, cgid, id);
	if (r < 0) {
		fprintf(stderr, "%s %s: %s\n", unbind ? "unbind" : "bind", path, strerror(-r));
		return r;
	}
	if (unbind)
		printf("unbound %s (%llu)\n", path, (unsigned long long)cgid);
	else
		printf("bound %s (%llu) to %u\n", path, (unsigned long long)cgid, id);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pin-dir", required_argument, NULL, 'p'}, {"attach-cgroup", required_argument, NULL, 'c'},
	    {"install", required_argument, NULL, 'i'}, {"bind", required_argument, NULL, 'b'},
	    {"unbind", required_argument, NULL, 'u'},  {"unpin", no_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},	       {},
	};
	_cleanup_(np_dataplane_freep) struct np_dataplane *dp = NULL;
	struct np_dataplane_opts o = {};
	struct action actions[MAX_ACTIONS];
	size_t n_actions = 0;
	bool unpin = false, adopted = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'p':
			o.pin_dir = optarg;
			break;
		case 'c':
			o.attach_cgroup = optarg;
			break;
		case 'i':
		case 'b':
		case 'u':
			if (n_actions >= MAX_ACTIONS) {
				fprintf(stderr, "too many actions\n");
				return 2;
			}
			actions[n_actions++] = (struct action){
			    .kind = c == 'i'   ? ACT_INSTALL
				    : c == 'b' ? ACT_BIND
					       : ACT_UNBIND,
			    .arg = optarg,
			};
			break;
		case 'U':
			unpin = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o.pin_dir || !o.attach_cgroup) {
		usage(stderr);
		return 2;
	}

	r = np_dataplane_open(&o, &dp, &adopted);
	if (r < 0) {
		fprintf(stderr, "np_dataplane_open(pin dir %s, attach %s): %s\n", o.pin_dir, o.attach_cgroup,
			strerror(-r));
		return 1;
	}
	printf("%s\n", adopted ? "adopted" : "loaded");
	fflush(stdout);

	/* installs first, so a bind can name a policy given on the same line */
	for (size_t i = 0; i < n_actions; i++)
		if (actions[i].kind == ACT_INSTALL && do_install(dp, actions[i].arg) < 0)
			return 1;
	for (size_t i = 0; i < n_actions; i++) {
		if (actions[i].kind == ACT_INSTALL)
			continue;
		if (do_bind(dp, actions[i].arg, actions[i].kind == ACT_UNBIND) < 0)
			return 1;
	}
	if (unpin) {
		r = np_dataplane_unpin(dp);
		if (r < 0) {
			fprintf(stderr, "unpin %s: %s\n", o.pin_dir, strerror(-r));
			return 1;
		}
		printf("unpinned\n");
	}
	return 0;
}
