/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Crash-safe files: a reader sees the old content or the new one, never a
 * mixture, and once state_write_atomic() returned, the new content survives
 * a power cut. Library code: returns negative errno, never logs.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Creates dir (mode 0700) if it is missing. */
int state_dir_ensure(const char *dir);
/* Writes dir/name through a temporary file: write, fsync, rename, fsync dir. */
int state_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode);
/* Reads dir/name into a NUL-terminated buffer; -ENOENT if it does not exist,
 * -EFBIG if it is larger than max. */
int state_read(const char *dir, const char *name, size_t max, char **ret, size_t *ret_len);
/* Removes dir/name; 0 also when it did not exist. */
int state_remove(const char *dir, const char *name);
