/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "config.h"
#include "log.h"
#include "netpol-proto.h"

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

static int parse_line(struct np_config *c, const char *path, unsigned n, char *line)
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
		return log_error_errno(-EINVAL, "%s:%u: expected 'key = value', got '%s'", path, n, line);
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
			return log_error_errno(
			    r, "%s:%u: socket_mode must be an octal mode 0..0777, got '%s'", path, n, value);
	} else if ((nk = find_number_key(key))) {
		r = parse_unsigned(value, nk->min, nk->max, (unsigned *)((char *)c + nk->offset));
		if (r < 0)
			return log_error_errno(r, "%s:%u: %s must be %s %lu..%lu, got '%s'", path, n, key,
					       nk->what, nk->min, nk->max, value);
	} else
		return log_error_errno(
		    -EINVAL,
		    "%s:%u: unknown key '%s' (known: admin_group, socket_group, socket_mode, "
		    "idle_timeout, max_clients, max_clients_per_uid, writer_clients)",
		    path, n, key);
	if (r < 0)
		return log_oom();
	return 0;
}

int config_load(struct np_config *c, const char *path, bool required)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	unsigned n = 0;
	int r;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !required) {
			log_debug("No configuration file '%s', using the defaults.", path);
			return 0;
		}
		return log_error_errno(-errno, "Failed to open configuration file '%s': %m", path);
	}
	while (getline(&line, &size, f) >= 0) {
		n++;
		r = parse_line(c, path, n, line);
		if (r < 0)
			return r;
	}
	if (ferror(f))
		return log_error_errno(-EIO, "Failed to read configuration file '%s': %m", path);
	if (c->writer_clients >= c->max_clients)
		return log_error_errno(
		    -EINVAL,
		    "%s: writer_clients (%u) must be below max_clients (%u): readers need a "
		    "connection too",
		    path, c->writer_clients, c->max_clients);
	return 0;
}
