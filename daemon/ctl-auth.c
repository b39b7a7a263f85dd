/* SPDX-License-Identifier: GPL-2.0-only */
#include <endian.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "ctl-auth.h"
#include "log.h"

#define GROUPS_MAX 65536

/* ---- groups and credentials ---- */

static int lookup_group(const char *name, gid_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	struct group grp, *res = NULL;
	size_t size = 4096;
	int r;

	for (;;) {
		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		r = getgrnam_r(name, &grp, buf, size, &res);
		if (r != ERANGE)
			break;
		free(TAKE_PTR(buf));
		size *= 2;
	}
	if (r > 0)
		return -r;
	if (!res)
		return -ENOENT;
	*ret = grp.gr_gid;
	return 0;
}

void ctl_auth_set_config(struct ctl_auth *a, const struct np_config *c)
{
	int r;

	a->have_admin_gid = false;
	if (c->admin_group) {
		r = lookup_group(c->admin_group, &a->admin_gid);
		if (r < 0)
			log_warning_errno(r, "Admin group '%s' does not exist; only root may change state.",
					  c->admin_group);
		a->have_admin_gid = r >= 0;
	}
	a->have_socket_gid = false;
	if (c->socket_group) {
		r = lookup_group(c->socket_group, &a->socket_gid);
		if (r < 0)
			log_debug_errno(r, "Socket group '%s' does not exist; it grants no access.",
					c->socket_group);
		a->have_socket_gid = r >= 0;
	}
}

/* The peer uid's groups from the user database (getgrouplist), plus the
 * peer's gid: never /proc/PID, which races with PID reuse. */
static int peer_in_group(const struct ucred *uc, gid_t gid)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	struct passwd pw, *res = NULL;
	int n = 64, r;

	if (uc->gid == gid)
		return 1;
	buf = malloc(16384);
	if (!buf)
		return -ENOMEM;
	r = getpwuid_r(uc->uid, &pw, buf, 16384, &res);
	if (r > 0)
		return -r;
	if (!res)
		return 0;
	for (;;) {
		int want = n;

		groups = calloc((size_t)n, sizeof(gid_t));
		if (!groups)
			return -ENOMEM;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0)
			break;
		free(TAKE_PTR(groups));
		if (n <= want)
			n = want * 2;
		if (n > GROUPS_MAX)
			return -E2BIG;
	}
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int ctl_auth_peer_privilege(const struct ctl_auth *a, const struct ucred *uc)
{
	int r;

	if (uc->uid == 0)
		return 1;
	if (a->have_admin_gid) {
		r = peer_in_group(uc, a->admin_gid);
		if (r < 0)
			return r;
		if (r > 0)
			return 1;
	}
	if (a->have_socket_gid) {
		r = peer_in_group(uc, a->socket_gid);
		if (r < 0)
			return r;
		if (r > 0)
			return 0;
	}
	return -EPERM;
}

/* ---- the socket file ---- */

static int make_parent_dir(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file left by a crashed daemon is removed; one that answers
 * belongs to a running daemon. */
static int clear_stale_socket(const char *path, const struct sockaddr_un *sa, socklen_t salen)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0)
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The on-disk form of a POSIX ACL (linux/posix_acl_xattr.h), so that no
 * libacl is needed for one entry. */
#define ACL_XATTR_VERSION 2
enum {
	ACL_TAG_USER_OBJ = 0x01,
	ACL_TAG_GROUP_OBJ = 0x04,
	ACL_TAG_GROUP = 0x08,
	ACL_TAG_MASK = 0x10,
	ACL_TAG_OTHER = 0x20
};

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

static struct acl_entry acl_entry(uint16_t tag, unsigned perm, uint32_t id)
{
	return (struct acl_entry){htole16(tag), htole16((uint16_t)perm), htole32(id)};
}

/* The group entry's permissions: those of the ACL if the file has one (its
 * mode's group bits are then the ACL's mask), else the mode's. */
static unsigned group_obj_perm(const char *path, mode_t mode)
{
	struct {
		uint32_t version;
		struct acl_entry e[32];
	} __attribute__((packed)) acl;
	ssize_t n = getxattr(path, "system.posix_acl_access", &acl, sizeof(acl));

	if (n > (ssize_t)sizeof(uint32_t))
		for (size_t i = 0; i < ((size_t)n - sizeof(uint32_t)) / sizeof(struct acl_entry); i++)
			if (le16toh(acl.e[i].tag) == ACL_TAG_GROUP_OBJ)
				return le16toh(acl.e[i].perm) & 7;
	return (mode >> 3) & 7;
}

/* Whom the ACL entry is for: the admin group, unless it is none, does not
 * exist or is the socket's group already. */
static bool admin_acl_wanted(const struct np_config *config, gid_t *ret_admin)
{
	gid_t sock;

	if (!config->admin_group || lookup_group(config->admin_group, ret_admin) < 0)
		return false;
	return !(config->socket_group && lookup_group(config->socket_group, &sock) >= 0 &&
		 sock == *ret_admin);
}

/* Admins need not be in the socket group: an ACL entry lets the admin
 * group connect too (netpold still checks every peer itself). Without an
 * admin group the entry goes, and the group bits are the group's again. */
int ctl_socket_grant_admin(const char *path, const struct np_config *config)
{
	struct {
		uint32_t version;
		struct acl_entry e[5];
	} __attribute__((packed)) acl;
	gid_t admin;
	struct stat st;
	unsigned group;

	if (stat(path, &st) < 0)
		return log_warning_errno(-errno, "Failed to stat '%s': %m", path);
	group = group_obj_perm(path, st.st_mode);
	if (!admin_acl_wanted(config, &admin)) {
		if (removexattr(path, "system.posix_acl_access") < 0)
			return errno == ENODATA || errno == EOPNOTSUPP
				   ? 0
				   : log_warning_errno(-errno, "Failed to remove the ACL of '%s': %m", path);
		if (chmod(path, (st.st_mode & 07707) | (group << 3)) < 0)
			return log_warning_errno(-errno, "Failed to set the mode of '%s': %m", path);
		return 0;
	}
	acl.version = htole32(ACL_XATTR_VERSION);
	/* Sorted by tag, as the kernel wants them. */
	acl.e[0] = acl_entry(ACL_TAG_USER_OBJ, (st.st_mode >> 6) & 7, (uint32_t)-1);
	acl.e[1] = acl_entry(ACL_TAG_GROUP_OBJ, group, (uint32_t)-1);
	acl.e[2] = acl_entry(ACL_TAG_GROUP, 6, admin);
	acl.e[3] = acl_entry(ACL_TAG_MASK, group | 6, (uint32_t)-1);
	acl.e[4] = acl_entry(ACL_TAG_OTHER, st.st_mode & 7, (uint32_t)-1);
	if (setxattr(path, "system.posix_acl_access", &acl, sizeof(acl), 0) < 0)
		return log_warning_errno(-errno,
					 "Failed to let admin group '%s' reach '%s' (%m); its members "
					 "must also be in the socket group.",
					 config->admin_group, path);
	return 0;
}

/* The group and mode netpold gives a socket it makes: root only (0600) if
 * the group does not exist. */
static void socket_owner(const struct np_config *config, gid_t *ret_gid, mode_t *ret_mode, bool warn)
{
	*ret_gid = 0;
	*ret_mode = config->socket_mode;
	if (config->socket_group && lookup_group(config->socket_group, ret_gid) >= 0)
		return;
	if (config->socket_group && warn)
		log_warning("Socket group '%s' does not exist; the socket is for root only (mode 0600).",
			    config->socket_group);
	*ret_gid = 0;
	*ret_mode = 0600;
}

static void group_name(gid_t gid, char *buf, size_t size)
{
	struct group grp, *res = NULL;
	char tmp[4096];

	if (getgrgid_r(gid, &grp, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, size, "%s", grp.gr_name);
	else
		snprintf(buf, size, "%u", (unsigned)gid);
}

/* A socket passed by systemd has netpold.socket's group and mode: the
 * keys that would say otherwise do nothing, and a socket_group that differs
 * from the file's keeps its members out while netpold refuses the file
 * group's, which leaves root alone. Said, with the fix. */
static void check_systemd_socket(const char *path, const struct np_config *config)
{
	char file_group[64];
	struct stat st;
	mode_t mode;
	gid_t gid;

	if (stat(path, &st) < 0)
		return;
	group_name(st.st_gid, file_group, sizeof(file_group));
	if (config->socket_group_set &&
	    (!config->socket_group || lookup_group(config->socket_group, &gid) < 0 || gid != st.st_gid))
		log_warning("netpold.conf says socket_group = %s, but the socket '%s' is netpold.socket's, "
			    "of group '%s': members of '%s' cannot open it, and netpold grants members of "
			    "'%s' nothing. Set both to the same group: SocketGroup= in a drop-in for "
			    "netpold.socket (systemctl edit netpold.socket; then restart it and netpold), "
			    "or socket_group = %s.",
			    config->socket_group ?: "(none)", path, file_group,
			    config->socket_group ?: "(none)", file_group, file_group);
	if (!config->socket_mode_set)
		return;
	/* The group bits of a file with an ACL are its mask: compare its own. */
	mode = (st.st_mode & 0707) | (group_obj_perm(path, st.st_mode) << 3);
	if (mode != config->socket_mode)
		log_warning("netpold.conf says socket_mode = %04o, but the socket '%s' is netpold.socket's, "
			    "of mode %04o: set SocketMode= in a drop-in for netpold.socket instead "
			    "(systemctl edit netpold.socket).",
			    (unsigned)config->socket_mode, path, (unsigned)mode);
}

int ctl_socket_apply_config(const char *path, bool owned, const struct np_config *config)
{
	gid_t gid;
	mode_t mode;

	if (!owned)
		check_systemd_socket(path, config);
	else {
		/* Afresh: with an ACL, chmod() would set its mask, not the group's bits. */
		if (removexattr(path, "system.posix_acl_access") < 0 && errno != ENODATA &&
		    errno != EOPNOTSUPP)
			return log_error_errno(-errno, "Failed to remove the ACL of '%s': %m", path);
		socket_owner(config, &gid, &mode, true);
		if (chown(path, 0, gid) < 0 || chmod(path, mode) < 0)
			return log_error_errno(-errno, "Failed to set the owner and mode of '%s': %m", path);
	}
	return ctl_socket_grant_admin(path, config);
}

int ctl_socket_listen(const char *path, const struct np_config *config, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	socklen_t salen;
	mode_t old_umask, mode;
	gid_t gid;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "Socket path '%s' is too long.", path);
	strcpy(sa.sun_path, path);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

	socket_owner(config, &gid, &mode, true);
	r = make_parent_dir(path);
	if (r < 0)
		return log_error_errno(r, "Failed to create the directory of '%s': %m", path);
	r = clear_stale_socket(path, &sa, salen);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "Another netpold already listens on '%s'.", path);
	if (r < 0)
		return log_error_errno(r, "Cannot use '%s' for the socket: %m", path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Failed to create the control socket: %m");
	/* Born root-only; widened once owner and group are right. */
	old_umask = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, salen) < 0 ? -errno : 0;
	umask(old_umask);
	if (r < 0)
		return log_error_errno(r, "Failed to bind the control socket to '%s': %m", path);
	if (chown(path, 0, gid) < 0 || chmod(path, mode) < 0)
		return log_error_errno(-errno, "Failed to set the owner and mode of '%s': %m", path);
	if (config->admin_group)
		(void)ctl_socket_grant_admin(path, config);
	if (listen(fd, SOMAXCONN) < 0)
		return log_error_errno(-errno, "Failed to listen on '%s': %m", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}
