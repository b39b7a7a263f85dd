/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold's state files as text: policies.json and bindings.json, or a
 * version-1 state.json that holds both. Parsing, and every check that needs
 * neither the kernel nor the file system, in one pure function, so that
 * netpold validates all of the state before it touches the kernel (and a
 * fuzzer can run it). Library code: never logs; an error names the file,
 * the entry and the reason.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define NP_STATE_POLICIES_FILE "policies.json"
#define NP_STATE_BINDINGS_FILE "bindings.json"
#define NP_STATE_LEGACY_FILE   "state.json" /* version 1: both in one file */
#define NP_STATE_VERSION       2

/* One file's content; text NULL: the file does not exist. */
struct np_state_text {
	const char *text;
	size_t len;
};

struct np_state_files {
	struct np_state_text policies, bindings, legacy;
};

enum np_state_source {
	NP_STATE_NONE,		/* no file: a first start */
	NP_STATE_FILES,		/* policies.json and bindings.json */
	NP_STATE_POLICIES_ONLY, /* bindings.json is missing: the bindings are unknown */
	NP_STATE_LEGACY,	/* state.json */
};

struct np_state_policy {
	uint32_t id;
	struct np_policy *policy;
	struct np_compiled *compiled;
};

/* Who asked for a binding, kept so that a source (a watcher of container
 * labels, say) changes only its own bindings. A file without it is from
 * before origins: every binding there was explicit. */
enum np_origin {
	NP_ORIGIN_EXPLICIT, /* a client's apply */
	NP_ORIGIN_LABEL,    /* a container's label (the container source) */
	NP_ORIGIN_DEFAULT,  /* the container default, on the runtimes' parent cgroups */
	NP_ORIGIN_MAX,
};

struct np_state_binding {
	char *target; /* normalized; a container's by its full id */
	uint32_t policy_id;
	enum np_origin origin;
	/* A container's cgroup when it was saved (below the cgroup root, as
	 * "/docker/ID"); NULL: it had none. */
	char *cgroup;
};

/* Bindings keep the order of the file: bindings[i] is the file's entry i. */
struct np_saved_state {
	enum np_state_source source;
	struct np_state_policy *policies;
	size_t n_policies;
	struct np_state_binding *bindings;
	size_t n_bindings;
};

struct np_state_error {
	const char *file; /* NP_STATE_*_FILE */
	char entry[160];  /* "bindings[2] (target 'cgroup:/a')", or "" for the whole file */
	char reason[320];
};

/* "explicit"; NULL when out of range. */
const char *np_origin_name(enum np_origin o);
/* -EINVAL for a name that is none of them. */
int np_origin_from_name(const char *s, enum np_origin *ret);

/* 0; -EINVAL with *err filled; -ENOMEM. */
int np_state_parse(const struct np_state_files *in, struct np_saved_state *ret, struct np_state_error *err);
void np_state_done(struct np_saved_state *s);
/* The file that bindings are read from (for messages about a binding). */
const char *np_state_bindings_file(const struct np_saved_state *s);
