/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "target-util.h"

/* "cgroup:/a//b/./c/" -> "/a/b/c"; ".." is refused rather than resolved,
 * so that a target can never climb out of the tree it names. */
static int normalize_cgroup_path(const char *s, char **ret, const char **why)
{
	_cleanup_free_ char *out = NULL;
	size_t n = 0, len = strlen(s);

	if (s[0] != '/') {
		*why = "the path after 'cgroup:' must start with '/'";
		return -EINVAL;
	}
	if (len >= PATH_MAX) {
		*why = "the path is too long";
		return -EINVAL;
	}
	out = malloc(len + 2);
	if (!out)
		return -ENOMEM;
	for (const char *p = s; *p;) {
		size_t c;

		while (*p == '/')
			p++;
		c = strcspn(p, "/");
		if (c == 0)
			break;
		if (c == 2 && p[0] == '.' && p[1] == '.') {
			*why = "'..' is not allowed in a cgroup path";
			return -EINVAL;
		}
		if (!(c == 1 && p[0] == '.')) {
			out[n++] = '/';
			memcpy(out + n, p, c);
			n += c;
		}
		p += c;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

int target_parse(const char *s, char **ret_rel, const char **why)
{
	if (strncmp(s, "cgroup:", 7) != 0) {
		*why = "a target must look like 'cgroup:/path' (relative to the cgroup2 mount)";
		return -EINVAL;
	}
	return normalize_cgroup_path(s + 7, ret_rel, why);
}

int target_normalize(const char *s, char **ret, const char **why)
{
	_cleanup_free_ char *rel = NULL;
	int r;

	r = target_parse(s, &rel, why);
	if (r < 0)
		return r;
	if (asprintf(ret, "cgroup:%s", rel) < 0)
		return -ENOMEM;
	return 0;
}

bool target_matches(const char *target, const char *filter)
{
	size_t n = strlen(filter);

	if (strcmp(filter, "cgroup:/") == 0)
		return strncmp(target, "cgroup:/", 8) == 0;
	return strncmp(target, filter, n) == 0 && (target[n] == '\0' || target[n] == '/');
}
