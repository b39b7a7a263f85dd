// SPDX-License-Identifier: GPL-2.0-only
/*
 * Empty programs at netpol's hooks, for the benchmark: what merely running a
 * cgroup program costs (the hook, the program array walk, and with
 * kernel.bpf_stats_enabled the two clock reads of the accounting), to be
 * subtracted from netpol's numbers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup/connect4") int empty_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int empty_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup_skb/egress") int empty_egress(struct __sk_buff *skb) { return 1; }
SEC("cgroup/sock_create") int empty_sock_create(struct bpf_sock *sk) { return 1; }
