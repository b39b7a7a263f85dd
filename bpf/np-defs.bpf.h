/* SPDX-License-Identifier: GPL-2.0-only */
/* The constants of the uapi headers the BPF programs use: vmlinux.h has
 * the kernel's types but not its macros. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Reads a kernel object through BTF: loads fault to zero rather than fail. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#define AF_INET	    2
#define AF_INET6    10
#define SOCK_STREAM 1
#define SOCK_DGRAM  2
#define SOCK_RAW    3

/* Verdicts, as every cgroup hook reads its return value. */
#define NP_PASS 1
#define NP_DROP 0

#define READ_ONCE_U32(x)      (*(volatile __u32 *)&(x))
#define NP_SK_READ(sk, field) (*(volatile __u32 *)&(sk)->field)
