/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers of the benchmark harness: time, files, child processes,
 * summary statistics. Functions return negative errno on failure. */
#pragma once

#include "io-util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cleanup-util.h"
#include "sandbox.h"

/* CLOCK_MONOTONIC in nanoseconds. */
#define bench_now_ns() np_sb_now_ns()

/* Abort the whole run with a message: the environment is not what the
 * harness needs (cleanup still runs, from atexit). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bench_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int bench_write_file(const char *path, const char *text);
/* Whole file into a NUL-terminated heap buffer. */
int bench_read_file(const char *path, char **ret);

/* Pin the calling thread to one CPU (modulo the CPUs online). */
int bench_pin_cpu(int cpu);
int bench_ncpus(void);

/* Run a command to completion (np_sb_spawn, not tracked): its exit status
 * (0..255), or negative errno (-ETIMEDOUT, -ECHILD on death by signal). */
int bench_spawn_wait(struct np_sb_spawn *s);
/* The same, for a command line given as a few strings (NULL-terminated),
 * with stdout discarded. */
int bench_run_in(int netns_fd, const char *arg0, ...) __attribute__((sentinel));

/* ---- statistics over a small array (reps) ---- */
double bench_median(const double *v, size_t n);
double bench_min(const double *v, size_t n);
double bench_max(const double *v, size_t n);
