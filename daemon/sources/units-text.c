/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "units-text.h"

/* systemd 252's controllers, each "NAME." a prefix that needs escaping. */
static const char *const controllers[] = {
    "cpu",
    "cpuacct",
    "cpuset",
    "io",
    "blkio",
    "memory",
    "devices",
    "pids",
    "bpf-firewall",
    "bpf-devices",
    "bpf-foreign",
    "bpf-socket-bind",
    "bpf-restrict-network-interfaces",
};

static bool needs_escape(const char *p)
{
	if (p[0] == '_' || p[0] == '.')
		return true;
	if (strcmp(p, "notify_on_release") == 0 || strcmp(p, "release_agent") == 0 ||
	    strcmp(p, "tasks") == 0 || strncmp(p, "cgroup.", 7) == 0)
		return true;
	for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
		size_t n = strlen(controllers[i]);

		if (strncmp(p, controllers[i], n) == 0 && p[n] == '.')
			return true;
	}
	return false;
}

int units_cg_escape(const char *name, char **ret)
{
	if (asprintf(ret, "%s%s", needs_escape(name) ? "_" : "", name) < 0)
		return -ENOMEM;
	return 0;
}

/* systemd's slice_name_is_valid() beyond the unit name: the dashes mark
 * the parents, so none leads, trails or doubles. */
int units_slice_path(const char *slice, char **ret)
{
	_cleanup_free_ char *path = NULL;
	size_t n = strlen(slice), len = 0, stem;

	if (strcmp(slice, "-.slice") == 0) {
		*ret = strdup("/");
		return *ret ? 0 : -ENOMEM;
	}
	if (n <= 6 || strcmp(slice + n - 6, ".slice") != 0)
		return -EINVAL;
	stem = n - 6;
	if (slice[0] == '-' || slice[stem - 1] == '-' || memmem(slice, stem, "--", 2))
		return -EINVAL;
	/* Each parent's name, "a.slice", "a-b.slice", ..., below the last. */
	path = malloc(stem * (stem + 8) + 2);
	if (!path)
		return -ENOMEM;
	for (size_t i = 0; i <= stem; i++) {
		_cleanup_free_ char *part = NULL, *escaped = NULL;

		if (i < stem && slice[i] != '-')
			continue;
		if (asprintf(&part, "%.*s.slice", (int)i, slice) < 0 || units_cg_escape(part, &escaped) < 0)
			return -ENOMEM;
		len += sprintf(path + len, "/%s", escaped);
	}
	*ret = TAKE_PTR(path);
	return 0;
}

int units_cgroup_path(const char *name, const char *slice, const char *control_group, char **ret)
{
	_cleanup_free_ char *parent = NULL, *escaped = NULL;
	size_t n = strlen(name);
	int r;

	if (control_group && control_group[0]) {
		/* A path as systemd makes them: absolute, no "..", no "//". */
		if (control_group[0] != '/' || strstr(control_group, "/../") || strstr(control_group, "//") ||
		    (strlen(control_group) >= 3 && strcmp(control_group + strlen(control_group) - 3, "/..") == 0))
			return -EINVAL;
		*ret = strdup(control_group);
		return *ret ? 0 : -ENOMEM;
	}
	if (n > 6 && strcmp(name + n - 6, ".slice") == 0)
		return units_slice_path(name, ret);
	if (!slice || !slice[0])
		return -EINVAL;
	r = units_slice_path(slice, &parent);
	if (r < 0)
		return r;
	if (units_cg_escape(name, &escaped) < 0)
		return -ENOMEM;
	if (asprintf(ret, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, escaped) < 0)
		return -ENOMEM;
	return 0;
}

int units_dropin_text(const char *name, const char *gate, char **ret)
{
	_cleanup_free_ char *arg = malloc(strlen(name) * 2 + 1);
	size_t n = 0;

	/* systemd splits ExecCondition= at spaces, takes '%' as a specifier
	 * and unescapes '\' ("foo\x2dbar.service"): the name is passed on
	 * with its backslashes doubled, and nothing else may need quoting. */
	if (!arg)
		return -ENOMEM;
	if (strpbrk(name, " \t\n%\"'") || strpbrk(gate, " \t\n%\"'\\"))
		return -EINVAL;
	for (const char *p = name; *p; p++) {
		if (*p == '\\')
			arg[n++] = '\\';
		arg[n++] = *p;
	}
	arg[n] = '\0';
	if (asprintf(ret,
		     UNITS_DROPIN_MARK
		     "unit:%s (netpolctl unbind removes it).\n"
		     "# Its gate binds the policy to each new cgroup of the unit before the service's\n"
		     "# first instruction; if netpold cannot be asked, the service does not start.\n"
		     "[Unit]\n"
		     "Wants=netpold.socket\n"
		     "After=netpold.socket\n"
		     "\n"
		     "[Service]\n"
		     "ExecCondition=+%s %s\n",
		     name, gate, arg) < 0)
		return -ENOMEM;
	return 0;
}

bool units_dropin_is_ours(const char *text)
{
	return strncmp(text, UNITS_DROPIN_MARK, strlen(UNITS_DROPIN_MARK)) == 0;
}

int units_proc_cgroup(const char *text, char **ret)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > 3 && strncmp(line, "0::", 3) == 0 && line[3] == '/') {
			*ret = strndup(line + 3, len - 3);
			return *ret ? 0 : -ENOMEM;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

bool units_cgroup_is(const char *rel, const char *want, const char *name)
{
	_cleanup_free_ char *escaped = NULL;
	const char *last = strrchr(rel, '/');

	if (!last || strcmp(rel, want) != 0 || units_cg_escape(name, &escaped) < 0)
		return false;
	return strcmp(last + 1, escaped) == 0;
}
