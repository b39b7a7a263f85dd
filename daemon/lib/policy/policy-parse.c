/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policy JSON to struct np_policy and back. Validation is strict on purpose:
 * a firewall rule that silently means something else than its author thought
 * (a typo in a key, "80" meant as 80.5, host bits in a prefix) is worse than
 * a refused policy. The first problem found is reported, with its JSON path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy-internal.h"

#define ENTITY_MAX_CIDRS 4
#define ENTITY_LIST	 "any, private, loopback, link-local, multicast"

static const char *const action_names[] = {[NP_ACTION_DENY] = "deny", [NP_ACTION_ALLOW] = "allow", NULL};
static const char *const proto_names[] = {
    [NP_RULE_PROTO_ANY] = "any",
    [NP_RULE_PROTO_TCP] = "tcp",
    [NP_RULE_PROTO_UDP] = "udp",
    [NP_RULE_PROTO_ICMP] = "icmp",
    NULL,
};
static const char *const log_names[] = {[NP_LOG_DENY] = "deny", [NP_LOG_ALL] = "all", NULL};
static const char *const raw_names[] = {"deny", "allow", NULL};

/* Accepted spellings, in the order error messages list them. */
struct choice {
	const char *name;
	int value;
};

static const struct choice action_choices[] = {{"allow", NP_ACTION_ALLOW}, {"deny", NP_ACTION_DENY}, {}};
static const struct choice proto_choices[] = {
    {"tcp", NP_RULE_PROTO_TCP},
    {"udp", NP_RULE_PROTO_UDP},
    {"icmp", NP_RULE_PROTO_ICMP},
    {"any", NP_RULE_PROTO_ANY},
    {},
};
static const struct choice log_choices[] = {{"deny", NP_LOG_DENY}, {"all", NP_LOG_ALL}, {}};
static const struct choice raw_choices[] = {{"allow", 1}, {"deny", 0}, {}};

static const char *const policy_keys[] = {"name", "default", "audit", "log", "raw_sockets", "rules", NULL};
static const char *const rule_keys[] = {"action", "to", "except", "ports", "protocol", NULL};
static const char *const entity_names[] = {"any", "private", "loopback", "link-local", "multicast", NULL};

struct np_policy *np_policy_free(struct np_policy *p)
{
	size_t i;

	if (!p)
		return NULL;
	for (i = 0; i < p->n_rules; i++) {
		free(p->rules[i].to);
		free(p->rules[i].except);
		free(p->rules[i].ports);
	}
	free(p->rules);
	free(p);
	return NULL;
}

bool np_policy_name_valid(const char *name)
{
	size_t i, len;

	if (!name)
		return false;
	len = strlen(name);
	if (len < 1 || len >= NP_POLICY_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* "got ..." part of messages: the offending value, or its type. */
static void describe(const json_t *j, char *buf, size_t size)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		snprintf(buf, size, "\"%.40s\"", json_string_value(j));
		break;
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		snprintf(buf, size, "%g", json_real_value(j));
		break;
	case JSON_TRUE:
		snprintf(buf, size, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, size, "false");
		break;
	case JSON_NULL:
		snprintf(buf, size, "null");
		break;
	case JSON_ARRAY:
		snprintf(buf, size, "an array");
		break;
	default:
		snprintf(buf, size, "an object");
		break;
	}
}

/* "a", "b" or "c" */
static void choices_text(const struct choice *choices, char *buf, size_t size)
{
	size_t n, i, off = 0;

	for (n = 0; choices[n].name; n++)
		;
	buf[0] = '\0';
	for (i = 0; i < n && off < size; i++) {
		const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
		int w = snprintf(buf + off, size - off, "%s\"%s\"", sep, choices[i].name);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[32];

	if (la >= ELEMENTSOF(row) || lb >= ELEMENTSOF(row))
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* A near miss among choices (for "did you mean"), or NULL. */
static const char *closest(const char *s, const char *const *choices)
{
	const char *best = NULL;
	size_t i, best_d = 3;

	for (i = 0; choices[i]; i++) {
		size_t d = edit_distance(s, choices[i]);

		if (d < best_d) {
			best_d = d;
			best = choices[i];
		}
	}
	return best;
}

static void join_path(char *buf, size_t size, const char *path, const char *key)
{
	if (path[0])
		snprintf(buf, size, "%s.%s", path, key);
	else
		snprintf(buf, size, "%s", key);
}

static int check_keys(json_t *obj, const char *path, const char *const *allowed, struct np_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		char field[128], list[128] = "", hint[64] = "";
		const char *near;
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
				 allowed[i]);
		near = closest(key, allowed);
		if (near)
			snprintf(hint, sizeof(hint), "did you mean \"%s\"? ", near);
		join_path(field, sizeof(field), path, key);
		np_error_set(err, field, "unknown key \"%.40s\"; %sallowed keys: %s", key, hint, list);
		return -EINVAL;
	}
	return 0;
}

/* A string member that must be one of choices; *ret is left alone if the
 * member is absent and optional. */
static int get_choice(json_t *obj, const char *path, const char *key, const struct choice *choices,
		      bool required, int *ret, struct np_error *err)
{
	char field[128], list[96], got[64];
	json_t *v = json_object_get(obj, key);
	size_t i;

	join_path(field, sizeof(field), path, key);
	choices_text(choices, list, sizeof(list));
	if (!v) {
		if (!required)
			return 0;
		np_error_set(err, field, "is required; must be %s", list);
		return -EINVAL;
	}
	if (json_is_string(v))
		for (i = 0; choices[i].name; i++)
			if (strcmp(json_string_value(v), choices[i].name) == 0) {
				*ret = choices[i].value;
				return 0;
			}
	describe(v, got, sizeof(got));
	np_error_set(err, field, "must be %s, got %s", list, got);
	return -EINVAL;
}

static int get_bool(json_t *obj, const char *key, bool *ret, struct np_error *err)
{
	json_t *v = json_object_get(obj, key);
	char got[64];

	if (!v)
		return 0;
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	describe(v, got, sizeof(got));
	np_error_set(err, key, "must be true or false, got %s", got);
	return -EINVAL;
}

static int parse_name(json_t *obj, struct np_policy *p, struct np_error *err)
{
	json_t *v = json_object_get(obj, "name");
	const char *s;
	char got[64];

	if (!v) {
		np_error_set(err, "name", "is required: a string of 1..%d characters",
			     NP_POLICY_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		describe(v, got, sizeof(got));
		np_error_set(err, "name", "must be a string, got %s", got);
		return -EINVAL;
	}
	s = json_string_value(v);
	if (strlen(s) >= NP_POLICY_NAME_MAX) {
		np_error_set(err, "name", "is %zu characters long; at most %d are allowed", strlen(s),
			     NP_POLICY_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!np_policy_name_valid(s)) {
		np_error_set(
		    err, "name",
		    "invalid name \"%s\": use 1..%d of A-Z a-z 0-9 _ . - starting with a letter or digit", s,
		    NP_POLICY_NAME_MAX - 1);
		return -EINVAL;
	}
	snprintf(p->name, sizeof(p->name), "%s", s);
	return 0;
}

static int push_cidr(struct np_cidr **v, size_t *n, size_t *cap, const struct np_cidr *c)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct np_cidr *nv = reallocarray(*v, ncap, sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = *c;
	return 0;
}

static bool looks_like_entity(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-'))
			return false;
	return true;
}

static int unknown_entity(const char *s, const char *field, struct np_error *err)
{
	const char *near = closest(s, entity_names);

	if (near)
		np_error_set(err, field,
			     "unknown entity \"%.40s\"; did you mean \"%s\"? Entities: " ENTITY_LIST, s,
			     near);
	else
		np_error_set(err, field,
			     "unknown entity \"%.40s\"; use a CIDR, an address or one of: " ENTITY_LIST, s);
	return -EINVAL;
}

/* One element of "to" or "except": a CIDR, an address or an entity. */
static int parse_target(json_t *v, const char *field, struct np_cidr **out, size_t *n, size_t *cap,
			struct np_error *err)
{
	struct np_cidr c[ENTITY_MAX_CIDRS];
	const char *s;
	char got[64];
	int r, k, i;

	if (!json_is_string(v)) {
		describe(v, got, sizeof(got));
		np_error_set(err, field, "must be a string (a CIDR, an address or an entity), got %s", got);
		return -EINVAL;
	}
	s = json_string_value(v);
	if (!*s) {
		np_error_set(err, field, "must not be empty; use a CIDR, an address or one of: " ENTITY_LIST);
		return -EINVAL;
	}
	if (looks_like_entity(s)) {
		k = np_entity_expand(s, c, ELEMENTSOF(c));
		if (k == -ENOENT)
			return unknown_entity(s, field, err);
		if (k < 0) {
			np_error_set(err, field, "internal error expanding entity \"%s\"", s);
			return k;
		}
	} else {
		r = np_cidr_parse(s, &c[0], err);
		if (r < 0) {
			np_error_set_field(err, field);
			return r;
		}
		k = 1;
	}
	for (i = 0; i < k; i++) {
		r = push_cidr(out, n, cap, &c[i]);
		if (r < 0) {
			np_error_set(err, field, "out of memory");
			return r;
		}
	}
	return 0;
}

static int parse_targets(json_t *rule, const char *path, const char *key, bool required, struct np_cidr **ret,
			 size_t *ret_n, struct np_error *err)
{
	_cleanup_free_ struct np_cidr *v = NULL;
	json_t *arr = json_object_get(rule, key), *e;
	char field[96], got[64];
	size_t n = 0, cap = 0, i;
	int r;

	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (!arr) {
		if (!required)
			return 0;
		np_error_set(err, field,
			     "is required: a non-empty array of CIDRs, addresses or entities (" ENTITY_LIST
			     ")");
		return -EINVAL;
	}
	if (!json_is_array(arr)) {
		describe(arr, got, sizeof(got));
		np_error_set(err, field, "must be an array of CIDRs, addresses or entities, got %s", got);
		return -EINVAL;
	}
	if (required && json_array_size(arr) == 0) {
		np_error_set(err, field, "must not be empty; to match every address use [\"any\"]");
		return -EINVAL;
	}
	json_array_foreach(arr, i, e)
	{
		char efield[128];

		snprintf(efield, sizeof(efield), "%s[%zu]", field, i);
		r = parse_target(e, efield, &v, &n, &cap, err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int parse_port(json_t *e, const char *field, struct np_port_range *ret, struct np_error *err)
{
	char got[64];
	int r;

	if (json_is_integer(e)) {
		json_int_t n = json_integer_value(e);

		if (n < 1 || n > 65535) {
			np_error_set(err, field,
				     "port %" JSON_INTEGER_FORMAT " is out of range; ports are 1..65535", n);
			return -EINVAL;
		}
		ret->first = ret->last = (uint16_t)n;
		return 0;
	}
	if (json_is_string(e)) {
		r = np_port_range_parse(json_string_value(e), ret, err);
		if (r < 0)
			np_error_set_field(err, field);
		return r;
	}
	describe(e, got, sizeof(got));
	np_error_set(err, field, "must be a port number 1..65535 or a string \"N\" or \"N-M\", got %s", got);
	return -EINVAL;
}

static int parse_ports(json_t *rule, const char *path, struct np_rule *out, struct np_error *err)
{
	json_t *arr = json_object_get(rule, "ports"), *e;
	char field[96], got[64];
	size_t i;
	int r;

	if (!arr)
		return 0;
	snprintf(field, sizeof(field), "%s.ports", path);
	if (!json_is_array(arr)) {
		describe(arr, got, sizeof(got));
		np_error_set(err, field,
			     "must be an array of ports (80) and port ranges (\"8000-8100\"), got %s", got);
		return -EINVAL;
	}
	if (json_array_size(arr) == 0) {
		np_error_set(err, field, "must not be empty; leave \"ports\" out to match every port");
		return -EINVAL;
	}
	if (out->proto == NP_RULE_PROTO_ICMP) {
		np_error_set(
		    err, field,
		    "ICMP has no ports; remove \"ports\" or use protocol \"tcp\", \"udp\" or \"any\"");
		return -EINVAL;
	}
	out->ports = calloc(json_array_size(arr), sizeof(*out->ports));
	if (!out->ports) {
		np_error_set(err, field, "out of memory");
		return -ENOMEM;
	}
	json_array_foreach(arr, i, e)
	{
		char efield[128];

		snprintf(efield, sizeof(efield), "%s[%zu]", field, i);
		r = parse_port(e, efield, &out->ports[i], err);
		if (r < 0)
			return r;
		out->n_ports = i + 1;
	}
	return 0;
}

static int parse_rule(json_t *j, size_t idx, struct np_rule *out, struct np_error *err)
{
	char path[64], got[64];
	int r, action = 0, proto = NP_RULE_PROTO_ANY;

	snprintf(path, sizeof(path), "rules[%zu]", idx);
	if (!json_is_object(j)) {
		describe(j, got, sizeof(got));
		np_error_set(err, path, "must be an object with \"action\" and \"to\", got %s", got);
		return -EINVAL;
	}
	r = check_keys(j, path, rule_keys, err);
	if (r < 0)
		return r;
	r = get_choice(j, path, "action", action_choices, true, &action, err);
	if (r < 0)
		return r;
	out->action = (enum np_action)action;
	r = parse_targets(j, path, "to", true, &out->to, &out->n_to, err);
	if (r < 0)
		return r;
	r = parse_targets(j, path, "except", false, &out->except, &out->n_except, err);
	if (r < 0)
		return r;
	r = get_choice(j, path, "protocol", proto_choices, false, &proto, err);
	if (r < 0)
		return r;
	out->proto = (enum np_rule_proto)proto;
	return parse_ports(j, path, out, err);
}

static int parse_rules(json_t *obj, struct np_policy *p, struct np_error *err)
{
	json_t *arr = json_object_get(obj, "rules"), *e;
	char got[64];
	size_t i;
	int r;

	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		describe(arr, got, sizeof(got));
		np_error_set(err, "rules", "must be an array of rule objects, got %s", got);
		return -EINVAL;
	}
	if (json_array_size(arr) > NP_MAX_RULES) {
		np_error_set(err, "rules", "has %zu rules; at most %d are allowed", json_array_size(arr),
			     NP_MAX_RULES);
		return -E2BIG;
	}
	if (json_array_size(arr) == 0)
		return 0;
	p->rules = calloc(json_array_size(arr), sizeof(*p->rules));
	if (!p->rules) {
		np_error_set(err, "rules", "out of memory");
		return -ENOMEM;
	}
	/* all zeroed, so np_policy_free() copes with a half-parsed array */
	p->n_rules = json_array_size(arr);
	json_array_foreach(arr, i, e)
	{
		r = parse_rule(e, i, &p->rules[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_policy(json_t *obj, struct np_policy *p, struct np_error *err)
{
	int r, dflt = 0, log = NP_LOG_DENY, raw;

	r = check_keys(obj, "", policy_keys, err);
	if (r < 0)
		return r;
	r = parse_name(obj, p, err);
	if (r < 0)
		return r;
	r = get_choice(obj, "", "default", action_choices, true, &dflt, err);
	if (r < 0)
		return r;
	p->default_action = (enum np_action)dflt;
	r = get_bool(obj, "audit", &p->audit, err);
	if (r < 0)
		return r;
	r = get_choice(obj, "", "log", log_choices, false, &log, err);
	if (r < 0)
		return r;
	p->log = (enum np_log_level)log;
	/* a deny-by-default policy should not be bypassable with a raw socket */
	raw = p->default_action == NP_ACTION_ALLOW;
	r = get_choice(obj, "", "raw_sockets", raw_choices, false, &raw, err);
	if (r < 0)
		return r;
	p->raw_sockets = raw;
	return parse_rules(obj, p, err);
}

int np_policy_from_json(json_t *obj, struct np_policy **ret, struct np_error *err)
{
	_cleanup_(np_policy_freep) struct np_policy *p = NULL;
	char got[64];
	int r;

	if (!obj || !json_is_object(obj)) {
		if (obj)
			describe(obj, got, sizeof(got));
		np_error_set(err, NULL, "a policy must be a JSON object, got %s", obj ? got : "nothing");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		np_error_set(err, NULL, "out of memory");
		return -ENOMEM;
	}
	r = parse_policy(obj, p, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int np_policy_from_string(const char *text, struct np_policy **ret, struct np_error *err)
{
	_cleanup_json_ json_t *obj = NULL;
	json_error_t jerr;

	if (!text) {
		np_error_set(err, NULL, "no policy text");
		return -EINVAL;
	}
	/* DECODE_ANY so that "42" gets our "must be an object" message;
	 * duplicate keys would silently drop one of the two values */
	obj = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		np_error_set(err, NULL, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
			     jerr.text);
		return -EINVAL;
	}
	return np_policy_from_json(obj, ret, err);
}

/* ---- canonical output ---- */

static int set_new(json_t *obj, const char *key, json_t *v)
{
	/* json_object_set_new() takes v even on failure, and rejects NULL */
	return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

static json_t *cidrs_to_json(const struct np_cidr *c, size_t n)
{
	_cleanup_json_ json_t *arr = json_array();
	char buf[64];
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < n; i++) {
		np_cidr_format(&c[i], buf, sizeof(buf));
		if (json_array_append_new(arr, json_string(buf)) < 0)
			return NULL;
	}
	return TAKE_PTR(arr);
}

static json_t *ports_to_json(const struct np_port_range *ports, size_t n)
{
	_cleanup_json_ json_t *arr = json_array();
	char buf[16];
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < n; i++) {
		json_t *e;

		if (ports[i].first == ports[i].last)
			e = json_integer(ports[i].first);
		else {
			snprintf(buf, sizeof(buf), "%u-%u", ports[i].first, ports[i].last);
			e = json_string(buf);
		}
		if (json_array_append_new(arr, e) < 0)
			return NULL;
	}
	return TAKE_PTR(arr);
}

static json_t *rule_to_json(const struct np_rule *r)
{
	_cleanup_json_ json_t *obj = json_object();

	if (!obj || set_new(obj, "action", json_string(action_names[r->action])) < 0 ||
	    set_new(obj, "to", cidrs_to_json(r->to, r->n_to)) < 0 ||
	    set_new(obj, "except", cidrs_to_json(r->except, r->n_except)) < 0)
		return NULL;
	/* no "ports" means every port; an empty array is not accepted */
	if (r->n_ports > 0 && set_new(obj, "ports", ports_to_json(r->ports, r->n_ports)) < 0)
		return NULL;
	if (set_new(obj, "protocol", json_string(proto_names[r->proto])) < 0)
		return NULL;
	return TAKE_PTR(obj);
}

json_t *np_policy_to_json(const struct np_policy *p)
{
	_cleanup_json_ json_t *obj = json_object(), *rules = json_array();
	size_t i;

	if (!obj || !rules)
		return NULL;
	for (i = 0; i < p->n_rules; i++)
		if (json_array_append_new(rules, rule_to_json(&p->rules[i])) < 0)
			return NULL;
	if (set_new(obj, "name", json_string(p->name)) < 0 ||
	    set_new(obj, "default", json_string(action_names[p->default_action])) < 0 ||
	    set_new(obj, "audit", json_boolean(p->audit)) < 0 ||
	    set_new(obj, "log", json_string(log_names[p->log])) < 0 ||
	    set_new(obj, "raw_sockets", json_string(raw_names[p->raw_sockets])) < 0 ||
	    set_new(obj, "rules", TAKE_PTR(rules)) < 0)
		return NULL;
	return TAKE_PTR(obj);
}
