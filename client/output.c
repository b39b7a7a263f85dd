/* SPDX-License-Identifier: GPL-2.0-only */
/* Results, tables and error lines (see output.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "output.h"

struct output_mode arg_output;

/* A line printed under a row, outside the columns. */
struct table_note {
	size_t row;
	char *text;
};

struct table {
	const char *const *header;
	size_t n_cols;
	char **cells;
	size_t n_cells, cap;
	struct table_note *notes;
	size_t n_notes, notes_cap;
};

int fail(int r, const char *code, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	fprintf(stderr, "netpolctl: %s\n", message);
	if (arg_output.json) {
		json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);

		if (e)
			(void)print_json(e);
		json_decref(e);
	}
	return r;
}

int fail_remote(const json_t *error)
{
	const char *message = json_string_value(json_object_get(error, "message"));
	const char *code = json_string_value(json_object_get(error, "code"));

	if (!message)
		message = code ?: "netpold reported an error without a message";
	fprintf(stderr, "netpolctl: %s\n", message);
	if (arg_output.json) {
		json_t *e = json_pack("{s:O}", "error", error);

		if (e)
			(void)print_json(e);
		json_decref(e);
	}
	if (code && !strcmp(code, "netpol.PermissionDenied"))
		return -EPERM;
	if (code && (!strncmp(code, "netpol.NoSuch", 13)))
		return -ENOENT;
	return -EINVAL;
}

int print_json(const json_t *v)
{
	size_t flags = JSON_ENSURE_ASCII | (arg_output.pretty ? JSON_INDENT(2) : JSON_COMPACT);

	if (json_dumpf(v, stdout, flags) < 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

int flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		return -(errno ?: EIO);
	return 0;
}

char *value_text(const json_t *v)
{
	char *s = NULL;

	if (!v) /* a field the reply lacks */
		return value_text(json_null());
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = strdup(*json_string_value(v) ? json_string_value(v) : "-");
		break;
	case JSON_INTEGER:
		(void)!asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		(void)!asprintf(&s, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		s = strdup("yes");
		break;
	case JSON_FALSE:
		s = strdup("no");
		break;
	case JSON_NULL:
		s = strdup("-");
		break;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
		break;
	}
	if (!s) {
		fputs("netpolctl: out of memory\n", stderr);
		exit(EXIT_FAILURE);
	}
	return s;
}

struct table *table_new(const char *const *header, size_t n_cols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->header = header;
	t->n_cols = n_cols;
	return t;
}

int table_add(struct table *t, char *text)
{
	if (!text)
		return -ENOMEM;
	if (t->n_cells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **p = realloc(t->cells, cap * sizeof(*p));

		if (!p) {
			free(text);
			return -ENOMEM;
		}
		t->cells = p;
		t->cap = cap;
	}
	t->cells[t->n_cells++] = text;
	return 0;
}

int table_addf(struct table *t, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return table_add(t, s);
}

int table_note(struct table *t, char *text)
{
	if (!text)
		return -ENOMEM;
	if (t->n_notes == t->notes_cap) {
		size_t cap = t->notes_cap ? t->notes_cap * 2 : 8;
		struct table_note *p = realloc(t->notes, cap * sizeof(*p));

		if (!p) {
			free(text);
			return -ENOMEM;
		}
		t->notes = p;
		t->notes_cap = cap;
	}
	t->notes[t->n_notes++] = (struct table_note){
	    .row = t->n_cells ? (t->n_cells - 1) / t->n_cols : 0,
	    .text = text,
	};
	return 0;
}

static void print_row(const struct table *t, const char *const *row, const size_t *width, FILE *f)
{
	for (size_t c = 0; c < t->n_cols; c++) {
		if (c + 1 < t->n_cols)
			fprintf(f, "%-*s  ", (int)width[c], row[c]);
		else
			fprintf(f, "%s\n", row[c]);
	}
}

void table_print(const struct table *t, FILE *f)
{
	_cleanup_free_ size_t *width = calloc(t->n_cols, sizeof(*width));

	if (!width)
		return;
	for (size_t c = 0; c < t->n_cols; c++)
		width[c] = strlen(t->header[c]);
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t n = strlen(t->cells[i]);

		if (n > width[i % t->n_cols])
			width[i % t->n_cols] = n;
	}
	print_row(t, t->header, width, f);
	for (size_t i = 0, k = 0; i + t->n_cols <= t->n_cells; i += t->n_cols) {
		print_row(t, (const char *const *)t->cells + i, width, f);
		for (; k < t->n_notes && t->notes[k].row <= i / t->n_cols; k++)
			fprintf(f, "  %s\n", t->notes[k].text);
	}
}

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	for (size_t i = 0; i < t->n_notes; i++)
		free(t->notes[i].text);
	free(t->cells);
	free(t->notes);
	free(t);
	return NULL;
}

char *format_dest(const json_t *dest, const json_t *port, const json_t *protocol)
{
	const char *d = json_string_value(dest) ?: "?";
	const char *proto = json_string_value(protocol);
	bool v6 = strchr(d, ':') != NULL;
	json_int_t p = json_integer_value(port);
	char *s = NULL;

	if (json_is_integer(port) && p > 0)
		(void)!asprintf(&s, "%s%s%s:%" JSON_INTEGER_FORMAT "%s%s", v6 ? "[" : "", d, v6 ? "]" : "", p,
				proto ? "/" : "", proto ?: "");
	else
		(void)!asprintf(&s, "%s%s%s", d, proto ? "/" : "", proto ?: "");
	return s;
}

char *format_program(const json_t *v)
{
	const char *comm = json_string_value(json_object_get(v, "comm"));
	const char *thread = json_string_value(json_object_get(v, "thread"));
	char *s = NULL;

	if (!comm || !*comm)
		return strdup("-");
	if (thread && *thread && strcmp(thread, comm) != 0)
		(void)!asprintf(&s, "%s (thread %s)", comm, thread);
	else
		s = strdup(comm);
	return s;
}

/* The first n bytes of s, control characters as '?': a container chooses
 * its labels, and a terminal must not take them for escape sequences. */
static void put_prefix(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], f);
}

/* At most max bytes of s (cut at a character, "..." added), as above. */
static void put_safe(FILE *f, const char *s, size_t max)
{
	size_t n = strlen(s);
	bool cut = n > max;

	if (cut)
		for (n = max - 3; n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
			;
	put_prefix(f, s, n);
	if (cut)
		fputs("...", f);
}

char *safe_text(const char *s, size_t max)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	put_safe(f, s, max);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

char *format_container(const json_t *c)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *id = json_string_value(json_object_get(c, "id")) ?: "";
	const char *image = json_string_value(json_object_get(c, "image"));
	const char *project = json_string_value(json_object_get(c, "project"));
	const char *service = json_string_value(json_object_get(c, "service"));
	_cleanup_free_ char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	/* ids as docker ps shows them: 12 hex digits */
	if (name && *name)
		put_safe(f, name, 64);
	else
		put_prefix(f, id, 12);
	fputs(" (", f);
	put_prefix(f, id, 12);
	if (image && *image) {
		fputs(", ", f);
		/* an image named by its id: its short id */
		if (!strncmp(image, "sha256:", 7))
			put_prefix(f, image + 7, 12);
		else
			put_safe(f, image, 48);
	}
	if (project && *project && service && *service) {
		fputs(", service ", f);
		put_safe(f, project, 32);
		fputc('/', f);
		put_safe(f, service, 32);
	}
	fputc(')', f);
	if (fclose(f) != 0)
		return NULL;
	return TAKE_PTR(s);
}

/* "unit:web.service (active)", as systemctl names the state. */
static char *format_unit(const json_t *u)
{
	const char *name = json_string_value(json_object_get(u, "unit"));
	const char *state = json_string_value(json_object_get(u, "active_state"));
	_cleanup_free_ char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fputs("unit:", f);
	put_safe(f, name ?: "?", 255);
	if (state && *state) {
		fputs(" (", f);
		put_safe(f, state, 32);
		fputc(')', f);
	}
	if (fclose(f) != 0)
		return NULL;
	return TAKE_PTR(s);
}

char *format_target(const json_t *v)
{
	const json_t *c = json_object_get(v, "container"), *u = json_object_get(v, "unit");

	if (json_is_object(c))
		return format_container(c);
	if (json_is_object(u))
		return format_unit(u);
	return value_text(json_object_get(v, "target"));
}

char *format_violation(const json_t *v)
{
	_cleanup_free_ char *time = value_text(json_object_get(v, "time"));
	_cleanup_free_ char *target = format_target(v);
	_cleanup_free_ char *policy = value_text(json_object_get(v, "policy"));
	_cleanup_free_ char *verdict = value_text(json_object_get(v, "verdict"));
	_cleanup_free_ char *dest = format_dest(json_object_get(v, "dest"), json_object_get(v, "port"),
						json_object_get(v, "protocol"));
	_cleanup_free_ char *program = format_program(v);
	const char *reason = json_string_value(json_object_get(v, "reason"));
	json_int_t pid = json_integer_value(json_object_get(v, "pid"));
	json_int_t count = json_integer_value(json_object_get(v, "count"));
	char pidbuf[32] = "-";
	char *s = NULL;
	bool by_policy = !reason || strcmp(reason, "policy") == 0;

	if (!target)
		return NULL;
	if (pid > 0)
		snprintf(pidbuf, sizeof(pidbuf), "%" JSON_INTEGER_FORMAT, pid);
	/* The usual reason goes unsaid; another (a source route) is shown. */
	(void)!asprintf(&s, "%s  %s  %s  %s%s%s%s  %s  pid %s  %s  x%" JSON_INTEGER_FORMAT, time, target,
			policy, verdict, by_policy ? "" : " (", by_policy ? "" : reason, by_policy ? "" : ")",
			dest ?: "?", pidbuf, program ?: "?", count > 0 ? count : 1);
	return s;
}
