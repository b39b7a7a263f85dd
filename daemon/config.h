/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold.conf: optional `key = value` lines, '#' starts a comment.
 *
 *   admin_group = netpol-admin   # may change state (besides root); default: none
 *   socket_group = netpol        # may read (status, list, test, violations)
 *   socket_mode = 0660           # mode of the socket file netpold creates
 *   idle_timeout = 60            # seconds a half-sent request may wait (1..3600)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct np_config {
	char *admin_group;  /* NULL: only root may change state */
	char *socket_group; /* NULL: only root and the admin group may connect */
	mode_t socket_mode;
	unsigned idle_timeout_sec; /* a client's unfinished line is dropped after this */
};

/* What is wrong with a configuration text, and on which line (1-based; 0:
 * not about one line). */
struct np_config_error {
	unsigned line;
	char message[256];
};

int config_init(struct np_config *c);
void config_done(struct np_config *c);
/* Parses the text of a configuration file (size bytes, not NUL-terminated)
 * into *c, over what is there already; does not log. -EINVAL with err
 * filled on a bad line (lines before it are applied), -ENOMEM. */
int config_parse(struct np_config *c, const char *text, size_t size, struct np_config_error *err);
/* Parses path into *c (which config_init() filled with the defaults). A
 * missing file keeps the defaults unless required. Logs the reason of a
 * failure, naming the line. */
int config_load(struct np_config *c, const char *path, bool required);
