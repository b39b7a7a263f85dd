/* SPDX-License-Identifier: GPL-2.0-only */
/* The unit tests' checks: count, and on failure print file:line and why.
 * Each test is one translation unit, so the counters are static here. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static unsigned n_pass, n_fail;

__attribute__((format(printf, 4, 5))) static bool check(bool ok, const char *file, int line, const char *fmt,
							...)
{
	va_list ap;

	if (ok) {
		n_pass++;
		return true;
	}
	n_fail++;
	printf("%s:%d: check failed: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return false;
}
#define CHECK(cond)	  check((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECKF(cond, ...) check((cond), __FILE__, __LINE__, __VA_ARGS__)
