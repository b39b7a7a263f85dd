/* SPDX-License-Identifier: GPL-2.0-only */
/* Scope-bound cleanup and ownership hand-off, after systemd's macros. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Take ownership: return the value and leave NULL / -EBADF behind. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _p_ = (p);     \
		(p) = NULL;                  \
		_p_;                         \
	})
#define TAKE_FD(fd)                          \
	({                                   \
		int _fd_ = (fd);             \
		(fd) = -EBADF;               \
		_fd_;                        \
	})

/* A cleanup function for a type whose destructor takes a pointer and
 * accepts NULL: DEFINE_TRIVIAL_CLEANUP_FUNC(struct foo *, foo_free). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
	static inline void func##p(type *p)     \
	{                                       \
		if (*p)                         \
			func(*p);               \
	}

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
