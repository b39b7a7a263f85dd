/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "target.h"

/* "/a//b/./c/" -> "/a/b/c"; ".." is refused rather than resolved, so that
 * a target can never climb out of the tree it names. */
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

bool target_is_container_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == TARGET_CONTAINER_ID_LEN && s[n] == '\0';
}

/* Docker's rule for names ([a-zA-Z0-9][a-zA-Z0-9_.-]+), which short ids
 * also follow; a full id in any case becomes lowercase. */
static int normalize_container(const char *s, char **ret, const char **why)
{
	size_t n = strlen(s);

	if (n == 0) {
		*why = "'container:' needs a container name or id";
		return -EINVAL;
	}
	if (n > 253) {
		*why = "the container name is too long (at most 253 characters)";
		return -EINVAL;
	}
	if (!isalnum((unsigned char)s[0]) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
		*why = "a container name starts with a letter or digit and has only letters, digits, "
		       "'_', '.' and '-'";
		return -EINVAL;
	}
	*ret = strdup(s);
	if (!*ret)
		return -ENOMEM;
	if (n == TARGET_CONTAINER_ID_LEN && strspn(s, "0123456789abcdefABCDEF") == n)
		for (char *p = *ret; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* name's length without a ".scope" suffix. */
static size_t unscoped_len(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && strcmp(name + n - 6, ".scope") == 0 ? n - 6 : n;
}

bool target_cgroup_name_id(const char *name, char id[TARGET_CONTAINER_ID_LEN + 1])
{
	size_t n = unscoped_len(name);

	if (n < TARGET_CONTAINER_ID_LEN)
		return false;
	memcpy(id, name + n - TARGET_CONTAINER_ID_LEN, TARGET_CONTAINER_ID_LEN);
	id[TARGET_CONTAINER_ID_LEN] = '\0';
	return target_is_container_id(id) && target_cgroup_name_is(name, id);
}

bool target_cgroup_name_is(const char *name, const char *id)
{
	size_t n = unscoped_len(name), k = strlen(id);

	if (k == 0)
		return false;
	if (n < k || strncmp(name + n - k, id, k) != 0)
		return false;
	if (n == k)
		return true;
	/* A runtime's prefix: "docker-", "libpod-", "cri-containerd-". */
	return name[n - k - 1] == '-' && !memmem(name, n - k, "conmon", 6);
}

/* systemd's unit_name_is_valid() for the unit types that have a cgroup of
 * their own to bind: a plain or an instance name, never a template
 * ("foo@.service" runs nothing). */
static int normalize_unit(const char *s, char **ret, const char **why)
{
	static const char *const types[] = {".service", ".scope", ".slice"};
	size_t n = strlen(s), k;
	const char *dot = strrchr(s, '.'), *at = strchr(s, '@');

	if (n == 0) {
		*why = "'unit:' needs a unit name, like 'unit:nginx.service'";
		return -EINVAL;
	}
	if (n > TARGET_UNIT_NAME_MAX) {
		*why = "the unit name is too long (at most 255 characters)";
		return -EINVAL;
	}
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (dot && strcmp(dot, types[k]) == 0)
			break;
	if (k == sizeof(types) / sizeof(types[0])) {
		*why = "a unit name ends in '.service', '.scope' or '.slice' (the units with a cgroup "
		       "of their own)";
		return -EINVAL;
	}
	if (dot == s || at == s) {
		*why = "the unit name has nothing before its type (or its '@')";
		return -EINVAL;
	}
	if (strspn(s, TARGET_UNIT_NAME_CHARS "@") < (size_t)(dot - s)) {
		*why = "a unit name has only letters, digits, ':', '-', '_', '.', '\\' and '@'";
		return -EINVAL;
	}
	if (at && at + 1 == dot) {
		*why =
		    "a template ('NAME@.service') has no cgroup: give an instance, 'NAME@INSTANCE.service'";
		return -EINVAL;
	}
	if (strcmp(dot, ".slice") == 0 && at) {
		*why = "a slice name has no '@'";
		return -EINVAL;
	}
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static const struct {
	const char *prefix;
	enum target_kind kind;
	/* The text after the prefix, in its normal form. */
	int (*normalize)(const char *rest, char **ret, const char **why);
} kinds[] = {
    {"cgroup:", TARGET_CGROUP, normalize_cgroup_path},
    {"container:", TARGET_CONTAINER, normalize_container},
    {"unit:", TARGET_UNIT, normalize_unit},
};

int target_parse(const char *s, enum target_kind *ret_kind, char **ret, const char **why)
{
	_cleanup_free_ char *rest = NULL;
	int r;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncmp(s, kinds[i].prefix, n) != 0)
			continue;
		r = kinds[i].normalize(s + n, &rest, why);
		if (r < 0)
			return r;
		if (asprintf(ret, "%s%s", kinds[i].prefix, rest) < 0)
			return -ENOMEM;
		*ret_kind = kinds[i].kind;
		return 0;
	}
	/* A bare word names a container, as docker's own commands take it. */
	if (s[0] && !strchr(s, ':') && s[0] != '/') {
		r = normalize_container(s, &rest, why);
		if (r < 0)
			return r;
		if (asprintf(ret, "container:%s", rest) < 0)
			return -ENOMEM;
		*ret_kind = TARGET_CONTAINER;
		return 0;
	}
	*why = "a target must look like 'cgroup:/path' (relative to the cgroup2 mount), "
	       "'container:NAME', 'unit:NAME.service' (or .scope, .slice) or a container's name or id";
	return -EINVAL;
}

int target_normalize(const char *s, char **ret, const char **why)
{
	enum target_kind k;

	return target_parse(s, &k, ret, why);
}

bool target_matches(const char *target, const char *filter)
{
	size_t n = strlen(filter);

	if (strcmp(filter, "cgroup:/") == 0)
		return strncmp(target, "cgroup:/", 8) == 0;
	return strncmp(target, filter, n) == 0 && (target[n] == '\0' || target[n] == '/');
}

bool target_path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n > 0 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int target_join_root(const char *root, const char *rel, char **ret)
{
	if (strcmp(rel, "/") == 0)
		*ret = strdup(root);
	else if (asprintf(ret, "%s%s", strcmp(root, "/") == 0 ? "" : root, rel) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

const char *target_path_rel(const char *path, const char *root)
{
	size_t n = strcmp(root, "/") == 0 ? 0 : strlen(root);

	if (!target_path_below(path, root))
		return NULL;
	return path[n] ? path + n : "/";
}

const char *target_info_key(const char *target)
{
	return strncmp(target, "unit:", 5) == 0 ? "unit" : "container";
}

void target_done(struct target *t)
{
	free(t->target);
	free(t->path);
	free(t->match);
	*t = (struct target){};
}
