/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Targets: what a binding names, as "KIND:REST". The grammar lives here
 * alone, one parser entry per kind in target.c's table: "cgroup:/path"
 * (below the cgroup root) names a cgroup; "container:ID" names a container,
 * whose cgroup comes and goes with its runs (netpold's container source
 * knows it; a name or short id is resolved there, not here); "unit:NAME"
 * names a systemd unit (netpold's units source asks PID 1 for its cgroup).
 * Adding one (pod:) is one entry there, and its case in target_resolve(). The text
 * functions (target.c) touch no file system: the state parser, the fuzzers
 * and the unit tests share them. target_resolve() (target-resolve.c, in
 * netpold) looks at the cgroup tree. Never logs: on failure *why says what
 * is wrong, for the caller's message.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum target_kind {
	TARGET_CGROUP,	  /* "cgroup:/a/b" */
	TARGET_CONTAINER, /* "container:<64 hex>", or a name or short id to resolve */
	TARGET_UNIT,	  /* "unit:NAME.service", ".scope" or ".slice": a systemd unit */
};

/* systemd's limits on a unit name (unit_name_is_valid()), '@' aside. */
#define TARGET_UNIT_NAME_MAX   255
#define TARGET_UNIT_NAME_CHARS "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:-_.\\"

#define TARGET_CONTAINER_ID_LEN 64

/* Where targets resolve: canonical paths, attach_cgroup below cgroup_root. */
struct target_root {
	const char *cgroup_root;
	const char *attach_cgroup; /* netpol's programs run here and below */
};

/* A target resolved to the cgroup it names now. */
struct target {
	char *target; /* normalized: "cgroup:/a/b" */
	char *path;   /* the cgroup directory; NULL: none now (a stopped container) */
	uint64_t cgroup_id;
	/* Set for a target whose binding outlives its cgroups: how a new cgroup
	 * of it is recognised. "/..." the cgroup directory's own path; else an
	 * id that the directory's name carries (target_cgroup_name_is()). */
	char *match;
};

/* s's kind, and s normalized ("cgroup:/a//b/./c/" -> "cgroup:/a/b/c").
 * -EINVAL with *why; -ENOMEM. */
int target_parse(const char *s, enum target_kind *ret_kind, char **ret, const char **why);
int target_normalize(const char *s, char **ret, const char **why);
/* True if target (as named by manager_cgroup_target) is filter or lies below it. */
bool target_matches(const char *target, const char *filter);
/* True if s is a full container id (64 lowercase hex digits). */
bool target_is_container_id(const char *s);
/* True if a cgroup directory named name is the one a runtime makes for
 * container id: "ID", "PREFIX-ID" or either with ".scope" (docker-ID.scope,
 * libpod-ID, cri-containerd-ID.scope), never podman's conmon cgroup. */
bool target_cgroup_name_is(const char *name, const char *id);
/* The container id a runtime's cgroup directory is named by (as above),
 * into id; false if it is named by none. */
bool target_cgroup_name_id(const char *name, char id[TARGET_CONTAINER_ID_LEN + 1]);
/* root and a path below it ("/a/b", as after "cgroup:") as one path.
 * malloc()ed in *ret; -ENOMEM. */
int target_join_root(const char *root, const char *rel, char **ret);
/* path below root as a cgroup target writes it ("/a/b", "/"), pointing
 * into path; NULL if path is not below root. */
const char *target_path_rel(const char *path, const char *root);
/* True if path is dir or below it (both canonical). */
bool target_path_below(const char *path, const char *dir);
void target_done(struct target *t);
/* Where what a source tells about target goes in a reply: "unit" for a
 * unit, else "container". */
const char *target_info_key(const char *target);

/* Parses s and checks it against the cgroup tree. On failure *why says
 * what is wrong: -EINVAL malformed, -ENOENT no such cgroup, -EXDEV outside
 * the attach cgroup (or not on cgroup2); -ENOMEM. */
int target_resolve(const struct target_root *root, const char *s, struct target *ret, const char **why);
