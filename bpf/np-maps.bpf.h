/* SPDX-License-Identifier: GPL-2.0-only */
/* Every map of the programs: all the kernel state netpol keeps. User space
 * reaches them through the skeleton, by these names; their key and value
 * types are netpol-api.h's. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "netpol-api.h"

/* Sizes, not __type(): clang 14 emits the types of a never-instantiated
 * inner map definition only as forward declarations. */
struct np_policy_lpm {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* each installed trie is sized to its policy */
	__uint(key_size, sizeof(struct np_lpm_key));
	__uint(value_size, sizeof(struct np_lpm_val));
};

/* Policy id -> that policy's trie. Replacing a policy swaps one pointer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NP_MAX_POLICIES);
	__type(key, __u32);
	__array(values, struct np_policy_lpm);
} np_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NP_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct np_policy_meta);
} np_policy_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NP_MAX_BINDINGS);
	__type(key, __u64);
	__type(value, struct np_binding);
} np_bindings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NP_CG_CACHE_ENTRIES);
	__type(key, __u64);
	__type(value, struct np_cg_cache_val);
} np_cg_cache SEC(".maps");

/* Mmapable, so user space bumps gen with one atomic store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct np_state);
} np_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct np_sk_cache);
} np_sk_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct np_sk_creator);
} np_sk_creator SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NP_EVENTS_BYTES);
} np_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NP_STATS_ENTRIES);
	__type(key, struct np_stats_key);
	__type(value, struct np_stats_val);
} np_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} np_counters SEC(".maps");
