/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who may use the control socket (docs/protocol.md, "Validation order",
 * step 1): the socket file's owner, group, mode and ACL, and each peer's
 * privilege from its SO_PEERCRED and the configured groups.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"

/* The configured groups, looked up. */
struct ctl_auth {
	gid_t admin_gid, socket_gid;
	bool have_admin_gid, have_socket_gid;
};

/* Looks the configured groups up (again, on SIGHUP); a missing one grants
 * nothing, logged. */
void ctl_auth_set_config(struct ctl_auth *a, const struct np_config *config);
/* 1 write, 0 read, -EPERM none, or another negative errno. */
int ctl_auth_peer_privilege(const struct ctl_auth *a, const struct ucred *uc);

/* Creates the socket file (mode and group from the configuration; 0600 and
 * root only if the group does not exist). Logs. */
int ctl_socket_listen(const char *path, const struct np_config *config, int *ret_fd);
/* Lets the admin group connect to the socket file too (a POSIX ACL entry),
 * when it is not the socket's group; removes the entry when there is no
 * admin group. Logs a failure as a warning. */
int ctl_socket_grant_admin(const char *path, const struct np_config *config);
/* The configuration's socket keys on the socket file at path, at start and
 * on reload: owner and mode if netpold made the socket (owned), else a
 * warning for each key that the socket unit overrides; and the admin
 * group's ACL entry either way. Logs. */
int ctl_socket_apply_config(const char *path, bool owned, const struct np_config *config);
