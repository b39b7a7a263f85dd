/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "config.h"
#include "log.h"
#include "netpol-proto.h"
#include "target.h"

#define CONFIG_MAX_BYTES (1024u * 1024u)

__attribute__((format(printf, 3, 4))) static int config_error(struct np_config_error *err, int r,
							      const char *fmt, ...);

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static bool strv_equal(char *const *a, char *const *b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Words separated by blanks; each must pass check (which may rewrite it
 * in place, shorter). */
static int parse_words(const char *value, int (*check)(char *word, const char **why), char ***ret,
		       const char **why)
{
	_cleanup_free_ char *copy = strdup(value);
	char **v = NULL, *save = NULL;
	size_t n = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	v = calloc(1, sizeof(*v));
	for (char *w = strtok_r(copy, " \t", &save); v && w; w = strtok_r(NULL, " \t", &save)) {
		char **nv;

		r = check(w, why);
		if (r < 0)
			break;
		nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[n] = strdup(w);
		v[++n] = NULL;
		if (!v[n - 1])
			break;
	}
	if (r < 0 || !v || (n > 0 && !v[n - 1]) || strtok_r(NULL, " \t", &save)) {
		strv_free(v);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = v;
	return 0;
}

static int check_socket(char *w, const char **why)
{
	if (w[0] != '/') {
		*why = "must be an absolute path";
		return -EINVAL;
	}
	if (strlen(w) >= 108) {
		*why = "is longer than a Unix socket path may be";
		return -EINVAL;
	}
	return 0;
}

/* "/a//b/" -> "/a/b", as cgroup targets are written. */
static int check_cgroup_path(char *w, const char **why)
{
	_cleanup_free_ char *t = NULL, *normal = NULL;
	int r;

	if (w[0] != '/') {
		*why = "must be a cgroup path starting with '/'";
		return -EINVAL;
	}
	if (asprintf(&t, "cgroup:%s", w) < 0)
		return -ENOMEM;
	r = target_normalize(t, &normal, why);
	if (r < 0)
		return r;
	strcpy(w, normal + strlen("cgroup:"));
	return 0;
}

int config_init(struct np_config *c)
{
	const char *why;

	*c = (struct np_config){
	    .socket_group = strdup(NP_SOCKET_GROUP_DEFAULT),
	    .socket_mode = 0660,
	    .idle_timeout_sec = NP_PROTO_IDLE_TIMEOUT_SEC,
	    .max_clients = NP_PROTO_MAX_CLIENTS,
	    .max_clients_per_uid = NP_PROTO_MAX_CLIENTS_PER_UID,
	    .writer_clients = NP_PROTO_WRITER_CLIENTS,
	    .container_label = strdup(NP_CONTAINER_LABEL_DEFAULT),
	};
	if (!c->socket_group || !c->container_label ||
	    parse_words(NP_CONTAINER_SOCKETS_DEFAULT, check_socket, &c->container_sockets, &why) < 0 ||
	    parse_words(NP_CONTAINER_PARENTS_DEFAULT, check_cgroup_path, &c->container_cgroup_parents, &why) <
		0)
		return -ENOMEM;
	return 0;
}

void config_done(struct np_config *c)
{
	free(c->admin_group);
	free(c->socket_group);
	strv_free(c->container_sockets);
	free(c->container_label);
	free(c->container_default_policy);
	strv_free(c->container_cgroup_parents);
	free(c->pin_dir);
	free(c->attach_cgroup);
	*c = (struct np_config){};
}

bool config_containers_equal(const struct np_config *a, const struct np_config *b)
{
	return strv_equal(a->container_sockets, b->container_sockets) &&
	       str_equal(a->container_label, b->container_label) &&
	       str_equal(a->container_default_policy, b->container_default_policy) &&
	       strv_equal(a->container_cgroup_parents, b->container_cgroup_parents) &&
	       a->container_image_labels == b->container_image_labels;
}

/* *dst becomes a copy of value; unchanged if there is no memory for it. */
static int set_string(char **dst, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	free(*dst);
	*dst = v;
	return 0;
}

/* Docker's label keys: lowercase letters, digits, '.', '-' and '/'. */
static int set_label(char **dst, const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n > 128 || !isalnum((unsigned char)value[0]) ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789.-/_") != n)
		return -EINVAL;
	return set_string(dst, value);
}

static int set_words(char ***dst, const char *value, int (*check)(char *word, const char **why),
		     struct np_config_error *err, const char *key)
{
	const char *why = "";
	char **v;
	int r;

	r = parse_words(value, check, &v, &why);
	if (r == -EINVAL)
		return config_error(err, r, "%s: '%s' %s", key, value, why);
	if (r < 0)
		return r;
	strv_free(*dst);
	*dst = v;
	return 0;
}

static char *strip(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int set_group(char **dst, const char *value)
{
	char *v = NULL;

	/* An empty value switches the group off. */
	if (*value) {
		v = strdup(value);
		if (!v)
			return -ENOMEM;
	}
	free(*dst);
	*dst = v;
	return 0;
}

/* A directory, absolute: a relative one would depend on where netpold was
 * started from. */
static int set_path(char **dst, const char *value)
{
	if (value[0] != '/' || strlen(value) >= 4096)
		return -EINVAL;
	return set_string(dst, value);
}

static int parse_mode(const char *value, mode_t *ret)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(value, &end, 8);
	if (errno || !*value || *end || m > 0777)
		return -EINVAL;
	*ret = (mode_t)m;
	return 0;
}

static int parse_unsigned(const char *value, unsigned long min, unsigned long max, unsigned *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || !*value || *end || *value == '-' || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* The numeric keys: name, range, and where the value goes. */
struct number_key {
	const char *key;
	unsigned long min, max;
	size_t offset;
	const char *what;
};

static const struct number_key number_keys[] = {
    {"idle_timeout", 1, 3600, offsetof(struct np_config, idle_timeout_sec), "a number of seconds"},
    {"max_clients", 2, 65536, offsetof(struct np_config, max_clients), "a number of connections"},
    {"max_clients_per_uid", 1, 65536, offsetof(struct np_config, max_clients_per_uid),
     "a number of connections"},
    {"writer_clients", 1, 65535, offsetof(struct np_config, writer_clients), "a number of connections"},
};

static const struct number_key *find_number_key(const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(number_keys); i++)
		if (strcmp(number_keys[i].key, key) == 0)
			return &number_keys[i];
	return NULL;
}

__attribute__((format(printf, 3, 4))) static int config_error(struct np_config_error *err, int r,
							      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return r;
}

static int parse_line(struct np_config *c, char *line, struct np_config_error *err)
{
	const struct number_key *nk;
	char *eq, *key, *value;
	int r;

	line[strcspn(line, "#")] = '\0';
	line = strip(line);
	if (!*line)
		return 0;
	eq = strchr(line, '=');
	if (!eq)
		return config_error(err, -EINVAL, "expected 'key = value', got '%s'", line);
	*eq = '\0';
	key = strip(line);
	value = strip(eq + 1);

	if (strcmp(key, "admin_group") == 0)
		r = set_group(&c->admin_group, value);
	else if (strcmp(key, "socket_group") == 0) {
		r = set_group(&c->socket_group, value);
		c->socket_group_set = true;
	} else if (strcmp(key, "socket_mode") == 0) {
		r = parse_mode(value, &c->socket_mode);
		if (r < 0)
			return config_error(err, r, "socket_mode must be an octal mode 0..0777, got '%s'",
					    value);
		c->socket_mode_set = true;
	} else if (strcmp(key, "pin_dir") == 0 || strcmp(key, "attach_cgroup") == 0) {
		r = set_path(key[0] == 'p' ? &c->pin_dir : &c->attach_cgroup, value);
		if (r == -EINVAL)
			return config_error(err, r, "%s must be an absolute path, got '%s'", key, value);
	} else if (strcmp(key, "container_sockets") == 0) {
		r = set_words(&c->container_sockets, value, check_socket, err, key);
		if (r == -EINVAL)
			return r;
	} else if (strcmp(key, "container_cgroup_parents") == 0) {
		r = set_words(&c->container_cgroup_parents, value, check_cgroup_path, err, key);
		if (r == -EINVAL)
			return r;
	} else if (strcmp(key, "container_label") == 0) {
		r = set_label(&c->container_label, value);
		if (r == -EINVAL)
			return config_error(err, r,
					    "container_label must be a label key (lowercase letters, digits, "
					    "'.', '-', '_', '/'; at most 128), got '%s'",
					    value);
	} else if (strcmp(key, "container_default_policy") == 0) {
		/* Checked against the policies when the containers source starts. */
		r = set_group(&c->container_default_policy, value);
	} else if (strcmp(key, "container_image_labels") == 0) {
		if (strcmp(value, "ignore") != 0 && strcmp(value, "follow") != 0)
			return config_error(err, -EINVAL,
					    "container_image_labels must be 'ignore' or 'follow', got '%s'",
					    value);
		c->container_image_labels = strcmp(value, "follow") == 0;
		r = 0;
	} else if ((nk = find_number_key(key))) {
		r = parse_unsigned(value, nk->min, nk->max, (unsigned *)((char *)c + nk->offset));
		if (r < 0)
			return config_error(err, r, "%s must be %s %lu..%lu, got '%s'", key, nk->what,
					    nk->min, nk->max, value);
	} else
		return config_error(
		    err, -EINVAL,
		    "unknown key '%s' (known: admin_group, socket_group, socket_mode, "
		    "idle_timeout, max_clients, max_clients_per_uid, writer_clients, "
		    "container_sockets, container_label, container_default_policy, "
		    "container_cgroup_parents, container_image_labels, pin_dir, attach_cgroup)",
		    key);
	if (r < 0)
		return config_error(err, r, "out of memory");
	return 0;
}

int config_parse(struct np_config *c, const char *text, size_t size, struct np_config_error *err)
{
	const char *p = text, *end;
	unsigned n = 0;
	int r;

	*err = (struct np_config_error){};
	if (size == 0) /* text may be NULL then: no arithmetic on it */
		return 0;
	for (end = text + size; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		_cleanup_free_ char *line = NULL;

		err->line = ++n;
		/* a C string would silently end there: the rest of the line would be lost */
		if (memchr(p, '\0', len))
			return config_error(err, -EINVAL, "contains a NUL byte");
		line = strndup(p, len);
		if (!line)
			return config_error(err, -ENOMEM, "out of memory");
		r = parse_line(c, line, err);
		if (r < 0)
			return r;
		p = nl ? nl + 1 : end;
	}
	err->line = 0;
	if (c->writer_clients >= c->max_clients)
		return config_error(
		    err, -EINVAL,
		    "writer_clients (%u) must be below max_clients (%u): readers need a connection too",
		    c->writer_clients, c->max_clients);
	return 0;
}

/* The whole file, or -EFBIG: a configuration this large is not one. */
static int read_all(FILE *f, char **ret, size_t *ret_size)
{
	_cleanup_free_ char *buf = malloc(CONFIG_MAX_BYTES + 1);
	size_t n;

	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f))
		return -EIO;
	if (n > CONFIG_MAX_BYTES)
		return -EFBIG;
	*ret = TAKE_PTR(buf);
	*ret_size = n;
	return 0;
}

__attribute__((format(printf, 4, 5))) static int read_error(struct np_config_error *err, int r,
							    const char *path, const char *fmt, ...)
{
	char what[sizeof(err->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err->line = 0;
	return config_error(err, r, "%s: %s", path, what);
}

int config_read(struct np_config *c, const char *path, bool required, bool *ret_found,
		struct np_config_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	char what[sizeof(err->message)];
	size_t size;
	int r;

	*err = (struct np_config_error){};
	if (ret_found)
		*ret_found = false;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !required)
			return 0;
		r = -errno;
		return read_error(err, r, path, "cannot open the configuration file: %s", strerror(-r));
	}
	if (ret_found)
		*ret_found = true;
	r = read_all(f, &text, &size);
	if (r == -EFBIG)
		return read_error(err, r, path, "larger than %u KiB, not a configuration file",
				  CONFIG_MAX_BYTES / 1024);
	if (r < 0)
		return read_error(err, r, path, "cannot read the configuration file: %s", strerror(-r));
	r = config_parse(c, text, size, err);
	if (r >= 0)
		return 0;
	memcpy(what, err->message, sizeof(what));
	if (err->line == 0)
		return config_error(err, r, "%s: %s", path, what);
	return config_error(err, r, "%s:%u: %s", path, err->line, what);
}

int config_load(struct np_config *c, const char *path, bool required, bool *ret_found)
{
	struct np_config_error err;
	bool found;
	int r;

	r = config_read(c, path, required, &found, &err);
	if (ret_found)
		*ret_found = found;
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0)
		return log_error_errno(r, "%s", err.message);
	if (!found)
		log_debug("No configuration file '%s', using the defaults.", path);
	return 0;
}
