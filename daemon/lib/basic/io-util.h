/* SPDX-License-Identifier: GPL-2.0-only */
/* Whole reads and writes on pipes and sockets, retrying EINTR. */
#pragma once

#include <stddef.h>

/* 0, or -errno; -EPIPE when the other end closed before len bytes came. */
int np_read_full(int fd, void *buf, size_t len);
/* 0, or -errno. */
int np_write_full(int fd, const void *buf, size_t len);
