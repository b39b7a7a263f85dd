/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "config.h"
#include "log.h"
#include "netpol-proto.h"

#define CONFIG_MAX_BYTES (1024u * 1024u)

int config_init(struct np_config *c)
{
	*c = (struct np_config){
	    .socket_group = strdup(NP_SOCKET_GROUP_DEFAULT),
	    .socket_mode = 0660,
	    .idle_timeout_sec = NP_PROTO_IDLE_TIMEOUT_SEC,
	    .max_clients = NP_PROTO_MAX_CLIENTS,
	    .max_clients_per_uid = NP_PROTO_MAX_CLIENTS_PER_UID,
	    .writer_clients = NP_PROTO_WRITER_CLIENTS,
	};
	return c->socket_group ? 0 : -ENOMEM;
}

void config_done(struct np_config *c)
{
	free(c->admin_group);
	free(c->socket_group);
	*c = (struct np_config){};
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
	else if (strcmp(key, "socket_group") == 0)
		r = set_group(&c->socket_group, value);
	else if (strcmp(key, "socket_mode") == 0) {
		r = parse_mode(value, &c->socket_mode);
		if (r < 0)
			return config_error(err, r, "socket_mode must be an octal mode 0..0777, got '%s'",
					    value);
	} else if ((nk = find_number_key(key))) {
		r = parse_unsigned(value, nk->min, nk->max, (unsigned *)((char *)c + nk->offset));
		if (r < 0)
			return config_error(err, r, "%s must be %s %lu..%lu, got '%s'", key, nk->what, nk->min,
					    nk->max, value);
	} else
		return config_error(err, -EINVAL,
				    "unknown key '%s' (known: admin_group, socket_group, socket_mode, "
				    "idle_timeout, max_clients, max_clients_per_uid, writer_clients)",
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
		return config_error(err, -EINVAL,
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

int config_load(struct np_config *c, const char *path, bool required)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	struct np_config_error err;
	size_t size;
	int r;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !required) {
			log_debug("No configuration file '%s', using the defaults.", path);
			return 0;
		}
		return log_error_errno(-errno, "Failed to open configuration file '%s': %m", path);
	}
	r = read_all(f, &text, &size);
	if (r == -ENOMEM)
		return log_oom();
	if (r == -EFBIG)
		return log_error_errno(r, "Configuration file '%s' is larger than %u KiB.", path,
				       CONFIG_MAX_BYTES / 1024);
	if (r < 0)
		return log_error_errno(r, "Failed to read configuration file '%s': %m", path);
	r = config_parse(c, text, size, &err);
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0 && err.line == 0)
		return log_error_errno(r, "%s: %s", path, err.message);
	if (r < 0)
		return log_error_errno(r, "%s:%u: %s", path, err.line, err.message);
	return 0;
}
