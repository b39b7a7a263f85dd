/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
/* Our CODE_FILE, CODE_LINE and CODE_FUNC are the caller's: without this,
 * sd_journal_sendv() is a macro that adds a second set naming log.c. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "cleanup-util.h"
#include "log.h"

#define LOG_LINE_MAX 2048

static int max_level = LOG_INFO;
static bool to_journal;

static const char *const level_names[] = {
    [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",	[LOG_CRIT] = "crit", [LOG_ERR] = "err",
    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=dev:ino for a stderr it connected to the
 * journal; a stderr redirected elsewhere by a child does not match. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_target target)
{
	switch (target) {
	case LOG_TARGET_JOURNAL:
		to_journal = true;
		break;
	case LOG_TARGET_STDERR:
		to_journal = false;
		break;
	default:
		to_journal = stderr_is_journal();
	}
}

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s)
{
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno == 0 && *s && !*end && n >= LOG_EMERG && n <= LOG_DEBUG)
		return (int)n;
	return -EINVAL;
}

int log_target_from_string(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return LOG_TARGET_AUTO;
	if (strcmp(s, "stderr") == 0 || strcmp(s, "console") == 0)
		return LOG_TARGET_STDERR;
	if (strcmp(s, "journal") == 0)
		return LOG_TARGET_JOURNAL;
	return -EINVAL;
}

static void write_stderr(int level, const char *msg)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld netpold[%d]: %s%s%s\n", stamp, ts.tv_nsec / 1000000, (int)getpid(),
		level <= LOG_WARNING ? level_names[level] : "", level <= LOG_WARNING ? ": " : "", msg);
}

/* A source file's __FILE__ is the way from the build directory to it
 * ("../daemon/manager.c", "../../src/netpol/daemon/manager.c", or an
 * absolute path), the same for every file of the build: this file's own
 * tells how much to cut. */
const char *log_code_file(const char *file)
{
	static const char self[] = __FILE__;
	size_t n = sizeof(self) - 1 - strlen("daemon/log.c");

	return strncmp(file, self, n) == 0 ? file + n : file;
}

void log_sanitize(char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			*s = '?';
}

void log_entry_done(struct log_entry *e)
{
	free(e->message);
	free(e->copies);
	*e = (struct log_entry){};
}

static void entry_add(struct log_entry *e, const char *field)
{
	e->iov[e->n++] = (struct iovec){(void *)field, strlen(field)};
}

static void entry_printf(struct log_entry *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void entry_printf(struct log_entry *e, const char *fmt, ...)
{
	char *b = e->own[e->n_own++];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(e->own[0]), fmt, ap);
	va_end(ap);
	log_sanitize(b);
	entry_add(e, b);
}

/* The caller's fields, copied into one buffer and made safe: their values
 * may come from a container. */
static int entry_copy_fields(struct log_entry *e, const char *const *fields)
{
	size_t n = 0, len = 0;
	char *p;

	for (; fields && fields[n]; n++)
		len += strlen(fields[n]) + 1;
	if (n > LOG_FIELDS_MAX)
		return -E2BIG;
	if (n == 0)
		return 0;
	e->copies = p = malloc(len);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(fields[i]);

		memcpy(p, fields[i], l + 1);
		log_sanitize(p);
		entry_add(e, p);
		p += l + 1;
	}
	return 0;
}

int log_entry_build(struct log_entry *e, int level, int error, const char *file, int line, const char *func,
		    const char *const *fields, const char *msg)
{
	int r;

	*e = (struct log_entry){};
	if (asprintf(&e->message, "MESSAGE=%s", msg) < 0) {
		e->message = NULL;
		return -ENOMEM;
	}
	log_sanitize(e->message);
	entry_add(e, e->message);
	entry_printf(e, "PRIORITY=%d", level);
	entry_printf(e, "SYSLOG_IDENTIFIER=netpold");
	if (error)
		entry_printf(e, "ERRNO=%d", error);
	/* The only CODE_* fields: log.c defines SD_JOURNAL_SUPPRESS_LOCATION,
	 * or sd_journal_sendv() would add its own, naming this file. */
	if (file) {
		entry_printf(e, "CODE_FILE=%s", log_code_file(file));
		entry_printf(e, "CODE_LINE=%d", line);
		entry_printf(e, "CODE_FUNC=%s", func);
	}
	r = entry_copy_fields(e, fields);
	if (r < 0)
		log_entry_done(e);
	return r;
}

static void write_journal(int level, int error, const char *file, int line, const char *func,
			  const char *const *fields, const char *msg)
{
	struct log_entry e;

	if (log_entry_build(&e, level, error, file, line, func, fields, msg) < 0)
		return;
	(void)sd_journal_sendv(e.iov, (int)e.n);
	log_entry_done(&e);
}

static int log_dispatch(int level, int error, const char *file, int line, const char *func,
			const char *const *fields, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	if (error < 0)
		error = -error;
	if (level > max_level)
		return -error;
	/* %m is about this error, not whatever errno happens to hold. */
	errno = error;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Names in messages may come from a container: one entry, one line. */
	log_sanitize(msg);
	if (to_journal)
		write_journal(level, error, file, line, func, fields, msg);
	else
		write_stderr(level, msg);
	errno = saved;
	return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, error, file, line, func, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
			const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, error, file, line, func, fields, fmt, ap);
	va_end(ap);
	return r;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	size_t n;

	if (max_level < LOG_DEBUG)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("libbpf: %s", msg);
	return 0;
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
