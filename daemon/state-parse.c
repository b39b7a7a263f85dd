/* SPDX-License-Identifier: GPL-2.0-only */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cleanup-util.h"
#include "json-util.h"
#include "state-parse.h"
#include "target.h"

#define NAME_SHOWN 96 /* bytes of a name or target shown in an error */

static int fail(struct np_state_error *err, const char *file, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Text from a hand-edited file goes into one log line: printable ASCII
 * only. */
static void printable(char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			*s = '?';
}

static int fail(struct np_state_error *err, const char *file, const char *entry, const char *fmt, ...)
{
	va_list ap;

	err->file = file;
	snprintf(err->entry, sizeof(err->entry), "%s", entry);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	printable(err->entry);
	printable(err->reason);
	return -EINVAL;
}

/* A name or target from the file, bounded for a message. */
static const char *shown(const char *s, char buf[NAME_SHOWN])
{
	if (strlen(s) < NAME_SHOWN)
		return s;
	snprintf(buf, NAME_SHOWN, "%.*s...", NAME_SHOWN - 4, s);
	return buf;
}

/* Every key of obj must be one of keys: the daemon writes no others, and a
 * misspelt key must not be silently ignored. */
static int check_keys(struct np_state_error *err, const char *file, const char *entry, json_t *obj,
		      const char *const *keys)
{
	char buf[NAME_SHOWN];
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool known = false;

		for (const char *const *k = keys; *k && !known; k++)
			known = strcmp(*k, key) == 0;
		if (!known)
			return fail(err, file, entry, "unknown key \"%s\"", shown(key, buf));
	}
	return 0;
}

/* The root object of a file: "version" and the arrays named in keys. */
static int parse_root(struct np_state_error *err, const char *file, const struct np_state_text *t,
		      const char *const *keys, bool legacy, json_t **ret)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t jerr;
	json_t *v;
	int r;

	root = json_loadb(t->text, t->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, file, "", "is not valid JSON (line %d, column %d: %s)", jerr.line,
			    jerr.column, jerr.text);
	if (!json_is_object(root))
		return fail(err, file, "", "is not a netpold state file (it is %s, not an object)",
			    np_json_type_name(root));
	r = check_keys(err, file, "", root, keys);
	if (r < 0)
		return r;
	v = json_object_get(root, "version");
	if (!json_is_integer(v))
		return fail(err, file, "", "is not a netpold state file (it needs an integer \"version\")");
	/* A version-1 state.json holds both arrays in the shape of today's. */
	if (json_integer_value(v) != NP_STATE_VERSION && !(legacy && json_integer_value(v) == 1))
		return fail(err, file, "", "has version %" JSON_INTEGER_FORMAT "; this netpold reads %d",
			    json_integer_value(v), NP_STATE_VERSION);
	for (const char *const *k = keys; *k; k++) {
		if (strcmp(*k, "version") == 0)
			continue;
		v = json_object_get(root, *k);
		if (!json_is_array(v))
			return fail(err, file, "", "needs \"%s\", an array%s%s", *k, v ? ", not " : "",
				    v ? np_json_type_name(v) : "");
	}
	*ret = TAKE_PTR(root);
	return 0;
}

/* ---- policies ---- */

/* Policies by name, for duplicate names and for the bindings' lookup. */
struct name_index {
	const char *name;
	uint32_t id;
	size_t idx;
};

static int name_index_cmp(const void *a, const void *b)
{
	const struct name_index *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int name_only_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_index *)a)->name, ((const struct name_index *)b)->name);
}

static int parse_policy(struct np_state_error *err, const char *file, json_t *e, size_t i,
			struct np_state_policy *ret)
{
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
	struct np_error perr = {};
	char entry[sizeof(err->entry)];
	json_t *id, *pj;
	int r;

	snprintf(entry, sizeof(entry), "policies[%zu]", i);
	if (!json_is_object(e))
		return fail(err, file, entry, "must be an object, got %s", np_json_type_name(e));
	r = check_keys(err, file, entry, e, (const char *const[]){"id", "policy", NULL});
	if (r < 0)
		return r;
	id = json_object_get(e, "id");
	if (!json_is_integer(id))
		return fail(err, file, entry, "needs an integer \"id\"%s%s", id ? ", got " : "",
			    id ? np_json_type_name(id) : "");
	if (json_integer_value(id) < 1 || json_integer_value(id) >= NP_MAX_POLICIES)
		return fail(err, file, entry, "\"id\" must be 1..%d, got %" JSON_INTEGER_FORMAT,
			    NP_MAX_POLICIES - 1, json_integer_value(id));
	snprintf(entry, sizeof(entry), "policies[%zu] (id %" JSON_INTEGER_FORMAT ")", i,
		 json_integer_value(id));
	pj = json_object_get(e, "policy");
	if (!json_is_object(pj))
		return fail(err, file, entry, "needs \"policy\", an object%s%s", pj ? ", not " : "",
			    pj ? np_json_type_name(pj) : "");
	r = np_policy_from_json(pj, &p, &perr);
	if (r == -ENOMEM)
		return r;
	if (r >= 0)
		r = np_policy_compile(p, &c, &perr);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(err, file, entry, "is not a valid policy: %s%s%s", perr.field,
			    perr.field[0] ? ": " : "", perr.message);
	*ret = (struct np_state_policy){
	    .id = (uint32_t)json_integer_value(id), .policy = TAKE_PTR(p), .compiled = TAKE_PTR(c)};
	return 0;
}

static int parse_policies(struct np_state_error *err, const char *file, json_t *arr, struct np_saved_state *s,
			  struct name_index **ret_index)
{
	_cleanup_free_ struct name_index *index = NULL;
	size_t seen[NP_MAX_POLICIES] = {}; /* by id: 1 + the entry that has it */
	size_t n = json_array_size(arr), i;
	char entry[sizeof(err->entry)], buf[NAME_SHOWN];
	json_t *e;
	int r;

	s->policies = calloc(n ?: 1, sizeof(*s->policies));
	index = calloc(n ?: 1, sizeof(*index));
	if (!s->policies || !index)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		struct np_state_policy *p = &s->policies[s->n_policies];

		r = parse_policy(err, file, e, i, p);
		if (r < 0)
			return r;
		s->n_policies++;
		if (seen[p->id]) {
			snprintf(entry, sizeof(entry), "policies[%zu] (id %u)", i, p->id);
			return fail(err, file, entry, "id %u appears twice (also policies[%zu])", p->id,
				    seen[p->id] - 1);
		}
		seen[p->id] = i + 1;
		index[i] = (struct name_index){.name = p->policy->name, .id = p->id, .idx = i};
	}
	qsort(index, n, sizeof(*index), name_index_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(index[i - 1].name, index[i].name) == 0) {
			snprintf(entry, sizeof(entry), "policies[%zu] (id %u)", index[i].idx, index[i].id);
			return fail(err, file, entry, "the name '%s' appears twice (also policies[%zu])",
				    shown(index[i].name, buf), index[i - 1].idx);
		}
	/* Names are unique now: name_only_cmp() finds them. */
	*ret_index = TAKE_PTR(index);
	return 0;
}

/* ---- bindings ---- */

static const char *const origin_names[NP_ORIGIN_MAX] = {
    [NP_ORIGIN_EXPLICIT] = "explicit",
    [NP_ORIGIN_LABEL] = "label",
    [NP_ORIGIN_DEFAULT] = "default",
};

const char *np_origin_name(enum np_origin o)
{
	return o >= 0 && o < NP_ORIGIN_MAX ? origin_names[o] : NULL;
}

int np_origin_from_name(const char *s, enum np_origin *ret)
{
	for (int o = 0; o < NP_ORIGIN_MAX; o++)
		if (strcmp(s, origin_names[o]) == 0) {
			*ret = o;
			return 0;
		}
	return -EINVAL;
}

/* Absent: explicit (a file from before origins). */
static int parse_origin(struct np_state_error *err, const char *file, const char *entry, json_t *e,
			enum np_origin *ret)
{
	json_t *o = json_object_get(e, "origin");
	char buf[NAME_SHOWN];

	*ret = NP_ORIGIN_EXPLICIT;
	if (!o)
		return 0;
	if (!json_is_string(o))
		return fail(err, file, entry, "\"origin\" must be a string, not %s", np_json_type_name(o));
	if (np_origin_from_name(json_string_value(o), ret) < 0)
		return fail(err, file, entry, "unknown origin '%s' (known: explicit, label, default)",
			    shown(json_string_value(o), buf));
	return 0;
}

/* A container's cgroup, as a cgroup target's path is written. */
static int parse_saved_cgroup(struct np_state_error *err, const char *file, const char *entry, json_t *e,
			      enum target_kind kind, char **ret)
{
	_cleanup_free_ char *normal = NULL;
	json_t *c = json_object_get(e, "cgroup");
	const char *why = "";
	char *path;
	int r;

	if (!c || json_is_null(c))
		return 0;
	if (kind != TARGET_CONTAINER && kind != TARGET_UNIT)
		return fail(err, file, entry, "\"cgroup\" is only for container and unit targets");
	if (!json_is_string(c))
		return fail(err, file, entry, "\"cgroup\" must be a string, not %s", np_json_type_name(c));
	r = asprintf(&path, "cgroup:%s", json_string_value(c));
	if (r < 0)
		return -ENOMEM;
	r = target_normalize(path, &normal, &why);
	free(path);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(err, file, entry, "\"cgroup\": %s", why);
	*ret = strdup(normal + strlen("cgroup:"));
	return *ret ? 0 : -ENOMEM;
}

static int target_cmp(const void *a, const void *b)
{
	const struct np_state_binding *const *x = a, *const *y = b;
	int c = strcmp((*x)->target, (*y)->target);

	/* Equal targets in file order, so that the later one is blamed. */
	return c ? c : (*x > *y) - (*x < *y);
}

static int parse_binding(struct np_state_error *err, const char *file, const char *policies_file, json_t *e,
			 size_t i, const struct name_index *index, size_t n_index,
			 struct np_state_binding *ret)
{
	_cleanup_free_ char *target = NULL, *cgroup = NULL;
	char entry[sizeof(err->entry)], buf[NAME_SHOWN];
	const char *why = "";
	struct name_index key = {}, *found;
	enum target_kind kind;
	enum np_origin origin;
	json_t *t, *p;
	int r;

	snprintf(entry, sizeof(entry), "bindings[%zu]", i);
	if (!json_is_object(e))
		return fail(err, file, entry, "must be an object, got %s", np_json_type_name(e));
	t = json_object_get(e, "target");
	if (!json_is_string(t))
		return fail(err, file, entry, "needs \"target\", a string%s%s", t ? ", not " : "",
			    t ? np_json_type_name(t) : "");
	r = target_parse(json_string_value(t), &kind, &target, &why);
	if (r == -ENOMEM)
		return r;
	snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')", i,
		 shown(target ?: json_string_value(t), buf));
	if (r < 0)
		return fail(err, file, entry, "%s", why);
	if (kind == TARGET_CONTAINER && !target_is_container_id(strchr(target, ':') + 1))
		return fail(err, file, entry, "a saved container target names the container by its full id");
	r = check_keys(err, file, entry, e,
		       (const char *const[]){"target", "policy", "origin", "cgroup", NULL});
	if (r < 0)
		return r;
	r = parse_saved_cgroup(err, file, entry, e, kind, &cgroup);
	if (r < 0)
		return r;
	r = parse_origin(err, file, entry, e, &origin);
	if (r < 0)
		return r;
	p = json_object_get(e, "policy");
	if (!json_is_string(p))
		return fail(err, file, entry, "needs \"policy\", a policy name%s%s", p ? ", not " : "",
			    p ? np_json_type_name(p) : "");
	key.name = json_string_value(p);
	found = bsearch(&key, index, n_index, sizeof(key), name_only_cmp);
	if (!found)
		return fail(err, file, entry, "names policy '%s', which %s does not list",
			    shown(key.name, buf), policies_file);
	*ret = (struct np_state_binding){
	    .target = TAKE_PTR(target), .policy_id = found->id, .origin = origin, .cgroup = TAKE_PTR(cgroup)};
	return 0;
}

static int parse_bindings(struct np_state_error *err, const char *file, const char *policies_file,
			  json_t *arr, const struct name_index *index, size_t n_index,
			  struct np_saved_state *s)
{
	_cleanup_free_ struct np_state_binding **sorted = NULL;
	size_t n = json_array_size(arr), i;
	char entry[sizeof(err->entry)], buf[NAME_SHOWN];
	json_t *e;
	int r;

	if (n > NP_MAX_BINDINGS)
		return fail(err, file, "", "lists %zu bindings; netpol holds at most %d", n, NP_MAX_BINDINGS);
	s->bindings = calloc(n ?: 1, sizeof(*s->bindings));
	sorted = calloc(n ?: 1, sizeof(*sorted));
	if (!s->bindings || !sorted)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		r = parse_binding(err, file, policies_file, e, i, index, n_index, &s->bindings[i]);
		if (r < 0)
			return r;
		s->n_bindings++;
		sorted[i] = &s->bindings[i];
	}
	qsort(sorted, n, sizeof(*sorted), target_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(sorted[i - 1]->target, sorted[i]->target) == 0) {
			snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')",
				 (size_t)(sorted[i] - s->bindings), shown(sorted[i]->target, buf));
			return fail(err, file, entry, "the target is bound twice (also bindings[%zu])",
				    (size_t)(sorted[i - 1] - s->bindings));
		}
	return 0;
}

/* ---- the whole state ---- */

static int parse_files(const struct np_state_files *in, struct np_saved_state *s, struct np_state_error *err)
{
	_cleanup_(json_decrefp) json_t *pols = NULL, *binds = NULL;
	_cleanup_free_ struct name_index *index = NULL;
	const char *pfile = NP_STATE_POLICIES_FILE, *bfile = NP_STATE_BINDINGS_FILE;
	int r;

	if (!in->policies.text && !in->bindings.text) {
		if (!in->legacy.text) {
			s->source = NP_STATE_NONE;
			return 0;
		}
		s->source = NP_STATE_LEGACY;
		pfile = bfile = NP_STATE_LEGACY_FILE;
		r = parse_root(err, pfile, &in->legacy,
			       (const char *const[]){"version", "policies", "bindings", NULL}, true, &pols);
		if (r < 0)
			return r;
		binds = json_incref(pols);
	} else if (!in->policies.text) {
		/* netpold writes policies.json first, bindings.json after. */
		return fail(err, pfile, "",
			    "is missing, but " NP_STATE_BINDINGS_FILE " exists: the state is incomplete");
	} else {
		s->source = in->bindings.text ? NP_STATE_FILES : NP_STATE_POLICIES_ONLY;
		r = parse_root(err, pfile, &in->policies, (const char *const[]){"version", "policies", NULL},
			       false, &pols);
		if (r >= 0 && in->bindings.text)
			r = parse_root(err, bfile, &in->bindings,
				       (const char *const[]){"version", "bindings", NULL}, false, &binds);
		if (r < 0)
			return r;
	}
	r = parse_policies(err, pfile, json_object_get(pols, "policies"), s, &index);
	if (r < 0)
		return r;
	if (!binds)
		return 0;
	return parse_bindings(err, bfile, pfile, json_object_get(binds, "bindings"), index, s->n_policies, s);
}

int np_state_parse(const struct np_state_files *in, struct np_saved_state *ret, struct np_state_error *err)
{
	struct np_saved_state s = {};
	int r;

	*err = (struct np_state_error){};
	r = parse_files(in, &s, err);
	if (r < 0) {
		np_state_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void np_state_done(struct np_saved_state *s)
{
	for (size_t i = 0; i < s->n_policies; i++) {
		np_policy_free(s->policies[i].policy);
		np_compiled_free(s->policies[i].compiled);
	}
	free(s->policies);
	for (size_t i = 0; i < s->n_bindings; i++) {
		free(s->bindings[i].target);
		free(s->bindings[i].cgroup);
	}
	free(s->bindings);
	*s = (struct np_saved_state){};
}

const char *np_state_bindings_file(const struct np_saved_state *s)
{
	return s->source == NP_STATE_LEGACY ? NP_STATE_LEGACY_FILE : NP_STATE_BINDINGS_FILE;
}
