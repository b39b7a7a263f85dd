/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold's logging: to the journal with structured fields when run under
 * it, else to stderr. Every log_*_errno() returns the negative errno it was
 * given, so that logging and failing are one statement:
 *
 *     return log_error_errno(r, "Failed to open '%s': %m", path);
 *
 * %m expands to the description of that errno, not of the global errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO, /* journal if stderr is connected to it, else stderr */
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

void log_setup(enum log_target target);
void log_set_max_level(int level);
int log_get_max_level(void);
/* "debug", "info", ... "err", or a number 0..7; -EINVAL otherwise. */
int log_level_from_string(const char *s);
int log_target_from_string(const char *s);
/* Routes libbpf's output into ours, at debug level. */
void log_setup_libbpf(void);

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* fields: "KEY=value" strings for the journal, NULL-terminated, at most
 * LOG_FIELDS_MAX; dropped on stderr. Their values are made safe like the
 * message's (log_sanitize()). */
int log_struct_internal(int level, int error, const char *file, int line, const char *func,
			const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
#define log_struct(level, fields, ...)                                                                       \
	log_struct_internal(level, 0, __FILE__, __LINE__, __func__, fields, __VA_ARGS__)

/* ---- for the tests: what is sent, without sending it ---- */

#define LOG_FIELDS_MAX 24

/* One journal entry, its fields in iov (each "KEY=value", no newline). */
struct log_entry {
	struct iovec iov[LOG_FIELDS_MAX + 8];
	size_t n;
	char own[8][256]; /* the fields made here but MESSAGE */
	size_t n_own;
	char *message; /* "MESSAGE=...", malloc()ed */
	char *copies;  /* the caller's fields, made safe, one buffer */
};
/* Builds the entry of one message: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
 * ERRNO (if error), CODE_FILE, CODE_LINE and CODE_FUNC once each (if file),
 * then fields. -ENOMEM, or -E2BIG beyond LOG_FIELDS_MAX fields. */
int log_entry_build(struct log_entry *e, int level, int error, const char *file, int line, const char *func,
		    const char *const *fields, const char *msg);
void log_entry_done(struct log_entry *e);
/* The source file as the project names it ("daemon/log.c"), without the
 * build directory's way there. */
const char *log_code_file(const char *file);
/* Control characters (a newline would start a forged log line) become
 * '?', in place; a tab is kept. */
void log_sanitize(char *s);

#define log_full_errno(level, error, ...)                                                                    \
	log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...)	 log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	 log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	 log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)	 log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, error, __VA_ARGS__)

/* Out of memory is logged where it happens, always the same way. */
#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
