/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold.conf: optional `key = value` lines, '#' starts a comment.
 *
 *   admin_group = netpol-admin   # may change state (besides root); default: none
 *   socket_group = netpol        # may read (status, list, test, violations)
 *   socket_mode = 0660           # mode of the socket file netpold creates
 *   idle_timeout = 10            # seconds a client may stay silent (1..3600)
 *   max_clients = 256            # connections at once
 *   max_clients_per_uid = 64     # of them, per uid (root: no limit)
 *   writer_clients = 16          # of them, kept for root and the admin group
 *   pin_dir = /sys/fs/bpf/netpol # where the pins live (--bpffs wins)
 *   attach_cgroup = /sys/fs/cgroup/x  # where the programs attach; default:
 *                                # the cgroup2 mount (--attach-cgroup wins)
 *
 * socket_group and socket_mode apply to a socket netpold creates itself;
 * one passed by systemd has netpold.socket's SocketGroup= and SocketMode=
 * (netpold warns when they differ). pin_dir and attach_cgroup take effect
 * at the next start only.
 *
 * Containers (docs/containers.md):
 *   container_sockets = /var/run/docker.sock /run/podman/podman.sock
 *                                # Engine API sockets followed; empty: none
 *   container_label = bpf.network.policy   # the label that names a policy
 *   container_default_policy = deny-all    # on the parents below; default: none
 *   container_cgroup_parents = /docker /docker.slice /libpod_parent /machine.slice
 *                                # where runtimes make containers' cgroups,
 *                                # below the cgroup root
 *   container_image_labels = ignore        # or follow: a policy label that
 *                                # comes from the image (a LABEL its author
 *                                # wrote) binds too
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct np_config {
	char *admin_group;  /* NULL: only root may change state */
	char *socket_group; /* NULL: only root and the admin group may connect */
	mode_t socket_mode;
	unsigned idle_timeout_sec; /* a silent client (not a follower) is closed after this */
	unsigned max_clients;
	unsigned max_clients_per_uid;
	unsigned writer_clients;
	char **container_sockets;	 /* NULL-terminated; empty: follow none */
	char *container_label;		 /* never NULL */
	char *container_default_policy;	 /* NULL: none */
	char **container_cgroup_parents; /* NULL-terminated, normalized "/a/b" */
	bool container_image_labels;	 /* follow the policy label an image carries */
	char *pin_dir;			 /* NULL: the flag or NP_PIN_DIR_DEFAULT */
	char *attach_cgroup;		 /* NULL: the flag or the cgroup2 mount */
	/* Whether the file said them: a socket from systemd has its own. */
	bool socket_group_set, socket_mode_set;
};

#define NP_CONTAINER_SOCKETS_DEFAULT "/var/run/docker.sock /run/podman/podman.sock"
#define NP_CONTAINER_LABEL_DEFAULT   "bpf.network.policy"
#define NP_CONTAINER_PARENTS_DEFAULT "/docker /docker.slice /libpod_parent /machine.slice"

/* What is wrong with a configuration text, and on which line (1-based; 0:
 * not about one line). */
struct np_config_error {
	unsigned line;
	char message[512];
};

int config_init(struct np_config *c);
/* True if the container keys of a and b are the same. */
bool config_containers_equal(const struct np_config *a, const struct np_config *b);
void config_done(struct np_config *c);
/* Parses the text of a configuration file (size bytes, not NUL-terminated)
 * into *c, over what is there already; does not log. -EINVAL with err
 * filled on a bad line (lines before it are applied), -ENOMEM. */
int config_parse(struct np_config *c, const char *text, size_t size, struct np_config_error *err);
/* Parses path into *c (which config_init() filled with the defaults). A
 * missing file keeps the defaults unless required; *ret_found (may be
 * NULL) says whether there was one. Does not log: err->message says what
 * is wrong for people, starting with "PATH:LINE: " (or "PATH: "). */
int config_read(struct np_config *c, const char *path, bool required, bool *ret_found,
		struct np_config_error *err);
/* config_read(), logging the reason of a failure. */
int config_load(struct np_config *c, const char *path, bool required, bool *ret_found);
