/* SPDX-License-Identifier: GPL-2.0-only */
/* Policy JSON: presets, defaults, canonical round trip, and every refusal
 * pointing at the right field with a useful message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "policy.h"
#include "ref-eval.h"

#include "unit-check.h"

static struct np_policy *parse(const char *file, int line, const char *json)
{
	struct np_policy *p = NULL;
	struct np_error err = {};
	int r;

	r = np_policy_from_string(json, &p, &err);
	check(r == 0 && p, file, line, "parse: %d %s: %s", r, err.field, err.message);
	return r == 0 ? p : NULL;
}
#define PARSE(json) parse(__FILE__, __LINE__, json)

/* parse(to_json(p)) must give p back, and to_json must be a fixed point. */
static void check_round_trip(const char *file, int line, const struct np_policy *p)
{
	_cleanup_(np_policy_freep) struct np_policy *q = NULL;
	_cleanup_free_ char *text = NULL, *again = NULL;
	json_t *j = np_policy_to_json(p), *j2;
	struct np_error err = {};
	int r;

	if (!check(j != NULL, file, line, "to_json failed"))
		return;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!check(text != NULL, file, line, "json_dumps failed"))
		return;
	r = np_policy_from_string(text, &q, &err);
	if (!check(r == 0, file, line, "canonical form does not parse: %s: %s\n%s", err.field, err.message,
		   text))
		return;
	check(np_ref_policy_equal(p, q), file, line, "round trip changed the policy:\n%s", text);
	j2 = np_policy_to_json(q);
	again = j2 ? json_dumps(j2, JSON_COMPACT) : NULL;
	json_decref(j2);
	check(again && strcmp(text, again) == 0, file, line, "canonical form not stable");
}
#define CHECK_ROUND_TRIP(p) check_round_trip(__FILE__, __LINE__, p)

static void test_presets(void)
{
	const char *const *names = np_preset_names();
	size_t i;

	for (i = 0; names[i]; i++) {
		_cleanup_(np_policy_freep) struct np_policy *p = PARSE(np_preset_json(names[i]));

		if (!p)
			continue;
		CHECKF(strcmp(p->name, names[i]) == 0, "preset %s is named %s", names[i], p->name);
		CHECK_ROUND_TRIP(p);
	}
	CHECK(i == 5);
	CHECK(np_preset_json("nope") == NULL);
	CHECK(np_preset_json(NULL) == NULL);
}

static void test_defaults(void)
{
	_cleanup_(np_policy_freep) struct np_policy *deny = PARSE("{\"name\":\"a\",\"default\":\"deny\"}");
	_cleanup_(np_policy_freep) struct np_policy *allow = PARSE("{\"name\":\"b\",\"default\":\"allow\"}");
	_cleanup_(np_policy_freep) struct np_policy *full = PARSE(
	    "{\"name\":\"Full-1.x_y\",\"default\":\"allow\",\"audit\":true,\"log\":\"all\","
	    "\"raw_sockets\":\"deny\",\"rules\":["
	    "{\"action\":\"deny\",\"to\":[\"private\",\"1.2.3.4\",\"2001:db8::/32\",\"1.2.3.4\"],"
	    "\"except\":[\"loopback\",\"10.1.0.0/16\"],\"ports\":[80,\"443\",\"8000-8100\",80],"
	    "\"protocol\":\"udp\"},"
	    "{\"action\":\"allow\",\"to\":[\"::ffff:1.2.3.0/120\"],\"except\":[],\"protocol\":\"icmp\"}]}");

	if (deny) {
		CHECK(deny->default_action == NP_ACTION_DENY);
		CHECK(!deny->audit && deny->log == NP_LOG_DENY && !deny->raw_sockets && deny->n_rules == 0);
		CHECK_ROUND_TRIP(deny);
	}
	if (allow) {
		CHECK(allow->default_action == NP_ACTION_ALLOW && allow->raw_sockets);
		CHECK_ROUND_TRIP(allow);
	}
	if (full) {
		CHECK(full->audit && full->log == NP_LOG_ALL && !full->raw_sockets && full->n_rules == 2);
		CHECK(full->rules[0].action == NP_ACTION_DENY && full->rules[0].proto == NP_RULE_PROTO_UDP);
		/* private expands to 4, duplicates are kept */
		CHECK(full->rules[0].n_to == 7 && full->rules[0].n_except == 3 &&
		      full->rules[0].n_ports == 4);
		CHECK(full->rules[0].ports[2].first == 8000 && full->rules[0].ports[2].last == 8100);
		CHECK(full->rules[1].n_to == 1 && full->rules[1].to[0].plen == 120);
		CHECK(full->rules[1].n_except == 0 && full->rules[1].n_ports == 0);
		CHECK_ROUND_TRIP(full);
	}
}

static void test_canonical_text(void)
{
	_cleanup_(np_policy_freep) struct np_policy *p =
	    PARSE("{\"rules\":[{\"to\":[\"::ffff:10.0.0.0/104\",\"any\"],"
		  "\"ports\":[\"53\",\"1-2\"],\"action\":\"allow\"}],"
		  "\"default\":\"deny\",\"name\":\"c\"}");
	_cleanup_free_ char *text = NULL;
	json_t *j;

	if (!p)
		return;
	j = np_policy_to_json(p);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	CHECKF(text && strcmp(text, "{\"name\":\"c\",\"default\":\"deny\",\"audit\":false,\"log\":\"deny\","
				    "\"raw_sockets\":\"deny\",\"rules\":[{\"action\":\"allow\","
				    "\"to\":[\"10.0.0.0/8\",\"::/0\"],\"except\":[],\"ports\":[53,\"1-2\"],"
				    "\"protocol\":\"any\"}]}") == 0,
	       "canonical text: %s", text ? text : "(null)");
}

static void test_random_round_trip(void)
{
	uint64_t rng = 7;
	unsigned i;

	for (i = 0; i < 200; i++) {
		_cleanup_(np_policy_freep) struct np_policy *p = np_ref_random_policy(&rng, 0);

		if (CHECK(p != NULL))
			CHECK_ROUND_TRIP(p);
	}
}

struct bad {
	int line;
	const char *json;
	const char *field;
	const char *message; /* a substring of the expected message */
};

#define P(rest) "{\"name\":\"t\",\"default\":\"deny\"" rest "}"
#define R(rule) P(",\"rules\":[{\"action\":\"allow\",\"to\":[\"any\"]}," rule "]")

static const struct bad bad_policies[] = {
    {__LINE__, "", "", "invalid JSON"},
    {__LINE__, "{\"name\":\"t\",", "", "invalid JSON at line 1"},
    {__LINE__, "[]", "", "must be a JSON object, got an array"},
    {__LINE__, "42", "", "must be a JSON object, got 42"},
    {__LINE__, "\"policy\"", "", "must be a JSON object"},
    {__LINE__, "null", "", "must be a JSON object, got null"},
    {__LINE__, "{\"name\":\"t\",\"name\":\"u\",\"default\":\"deny\"}", "", "duplicate"},
    {__LINE__, "{\"default\":\"deny\"}", "name", "is required"},
    {__LINE__, "{\"name\":42,\"default\":\"deny\"}", "name", "must be a string, got 42"},
    {__LINE__, "{\"name\":\"\",\"default\":\"deny\"}", "name", "invalid name"},
    {__LINE__, "{\"name\":\"web server\",\"default\":\"deny\"}", "name", "invalid name \"web server\""},
    {__LINE__, "{\"name\":\"-web\",\"default\":\"deny\"}", "name", "starting with a letter or digit"},
    {__LINE__, "{\"name\":\"caf\\u00e9\",\"default\":\"deny\"}", "name", "invalid name"},
    {__LINE__,
     "{\"name\":\"a234567890123456789012345678901234567890123456789012345678901234\",\"default\":\"deny\"}",
     "name", "is 64 characters long; at most 63"},
    {__LINE__, "{\"name\":\"t\"}", "default", "is required; must be \"allow\" or \"deny\""},
    {__LINE__, "{\"name\":\"t\",\"default\":\"maybe\"}", "default",
     "must be \"allow\" or \"deny\", got \"maybe\""},
    {__LINE__, "{\"name\":\"t\",\"default\":42}", "default", "got 42"},
    {__LINE__, "{\"name\":\"t\",\"default\":\"Deny\"}", "default", "got \"Deny\""},
    {__LINE__, P(",\"audit\":\"yes\""), "audit", "must be true or false, got \"yes\""},
    {__LINE__, P(",\"audit\":1"), "audit", "must be true or false, got 1"},
    {__LINE__, P(",\"log\":\"verbose\""), "log", "must be \"deny\" or \"all\", got \"verbose\""},
    {__LINE__, P(",\"log\":true"), "log", "got true"},
    {__LINE__, P(",\"raw_sockets\":\"maybe\""), "raw_sockets",
     "must be \"allow\" or \"deny\", got \"maybe\""},
    {__LINE__, P(",\"raw_sockets\":false"), "raw_sockets", "got false"},
    {__LINE__, P(",\"defualt\":\"deny\""), "defualt", "unknown key \"defualt\"; did you mean \"default\"?"},
    {__LINE__, P(",\"comment\":\"x\""), "comment",
     "allowed keys: name, default, audit, log, raw_sockets, rules"},
    {__LINE__, P(",\"rules\":{}"), "rules", "must be an array of rule objects, got an object"},
    {__LINE__, P(",\"rules\":\"allow\""), "rules", "must be an array"},
    {__LINE__, P(",\"rules\":[42]"), "rules[0]", "must be an object"},
    {__LINE__, P(",\"rules\":[[]]"), "rules[0]", "got an array"},
    {__LINE__, R("{\"to\":[\"any\"]}"), "rules[1].action", "is required"},
    {__LINE__, R("{\"action\":\"permit\",\"to\":[\"any\"]}"), "rules[1].action",
     "must be \"allow\" or \"deny\", got \"permit\""},
    {__LINE__, R("{\"action\":true,\"to\":[\"any\"]}"), "rules[1].action", "got true"},
    {__LINE__, R("{\"action\":\"allow\"}"), "rules[1].to", "is required"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[]}"), "rules[1].to", "must not be empty"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":\"any\"}"), "rules[1].to", "must be an array"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\",10]}"), "rules[1].to[1]", "must be a string"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"\"]}"), "rules[1].to[0]", "must not be empty"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"10.0.0.300/32\"]}"), "rules[1].to[0]",
     "is not an IPv4 or IPv6 address"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"10.0.0.1/8\"]}"), "rules[1].to[0]", "host bits"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"10.0.0.0/40\"]}"), "rules[1].to[0]", "at most /32"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"privat\"]}"), "rules[1].to[0]",
     "unknown entity \"privat\"; did you mean \"private\"?"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"internet\"]}"), "rules[1].to[0]",
     "unknown entity \"internet\"; use a CIDR"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"except\":\"10.0.0.0/8\"}"), "rules[1].except",
     "must be an array"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"except\":[\"10.0.0.0/8\",\"10.1.1.1/16\"]}"),
     "rules[1].except[1]", "did you mean \"10.1.0.0/16\""},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"except\":[null]}"), "rules[1].except[0]",
     "must be a string"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"excpet\":[\"10.0.0.0/8\"]}"), "rules[1].excpet",
     "unknown key \"excpet\"; did you mean \"except\"?"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"port\":[80]}"), "rules[1].port",
     "did you mean \"ports\"?"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[]}"), "rules[1].ports",
     "must not be empty"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":80}"), "rules[1].ports",
     "must be an array"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80,0]}"), "rules[1].ports[1]",
     "port 0 is out of range; ports are 1..65535"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[65536]}"), "rules[1].ports[0]",
     "port 65536 is out of range"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[-1]}"), "rules[1].ports[0]",
     "port -1 is out of range"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[\"10-5\"]}"), "rules[1].ports[0]",
     "first port is greater than the last"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[\"abc\"]}"), "rules[1].ports[0]",
     "is not a port"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[\"0\"]}"), "rules[1].ports[0]",
     "port 0 is out of range; ports are 1..65535"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80.5]}"), "rules[1].ports[0]",
     "must be a port number 1..65535 or a string \"N\" or \"N-M\", got 80.5"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80.0]}"), "rules[1].ports[0]", "got 80"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[[80,90]]}"), "rules[1].ports[0]",
     "got an array"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"ports\":[80],\"protocol\":\"icmp\"}"),
     "rules[1].ports", "ICMP has no ports"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"protocol\":\"sctp\"}"), "rules[1].protocol",
     "must be \"tcp\", \"udp\", \"icmp\" or \"any\", got \"sctp\""},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"protocol\":6}"), "rules[1].protocol", "got 6"},
    {__LINE__, R("{\"action\":\"allow\",\"to\":[\"any\"],\"protocol\":\"TCP\"}"), "rules[1].protocol",
     "got \"TCP\""},
};

static void test_bad_policies(void)
{
	size_t i;

	CHECKF(ELEMENTSOF(bad_policies) >= 35, "only %zu malformed policies", ELEMENTSOF(bad_policies));
	for (i = 0; i < ELEMENTSOF(bad_policies); i++) {
		const struct bad *b = &bad_policies[i];
		struct np_policy *p = NULL, *sentinel = (struct np_policy *)&p;
		struct np_error err = {};
		int r;

		r = np_policy_from_string(b->json, &p, &err);
		check(r < 0, __FILE__, b->line, "accepted: %s", b->json);
		check(p == NULL, __FILE__, b->line, "policy returned on failure");
		check(strcmp(err.field, b->field) == 0, __FILE__, b->line, "field \"%s\", want \"%s\" (%s)",
		      err.field, b->field, err.message);
		check(strstr(err.message, b->message) != NULL, __FILE__, b->line,
		      "message \"%s\" lacks \"%s\"", err.message, b->message);
		/* and it changes nothing the caller had */
		p = sentinel;
		r = np_policy_from_string(b->json, &p, NULL);
		check(r < 0 && p == sentinel, __FILE__, b->line, "output touched on failure");
		if (p != sentinel)
			np_policy_free(p);
	}
}

static void test_too_many_rules(void)
{
	json_t *obj = json_pack("{s:s, s:s}", "name", "t", "default", "deny"), *rules = json_array();
	struct np_policy *p = NULL;
	struct np_error err = {};
	size_t i;
	int r;

	if (!CHECK(obj && rules))
		return;
	for (i = 0; i < NP_MAX_RULES + 1; i++)
		json_array_append_new(rules, json_pack("{s:s, s:[s]}", "action", "allow", "to", "any"));
	json_object_set_new(obj, "rules", rules);
	r = np_policy_from_json(obj, &p, &err);
	CHECKF(r == -E2BIG, "returned %d", r);
	CHECK(p == NULL);
	CHECKF(strcmp(err.field, "rules") == 0, "field %s", err.field);
	CHECKF(strstr(err.message, "has 32767 rules; at most 32766") != NULL, "message %s", err.message);
	/* exactly the maximum is fine */
	json_array_remove(rules, 0);
	r = np_policy_from_json(obj, &p, &err);
	CHECKF(r == 0, "%s: %s", err.field, err.message);
	CHECK(r < 0 || p->n_rules == NP_MAX_RULES);
	np_policy_free(p);
	json_decref(obj);
	CHECK(np_policy_from_json(NULL, &p, &err) == -EINVAL);
}

static void test_names(void)
{
	CHECK(np_policy_name_valid("a"));
	CHECK(np_policy_name_valid("0"));
	CHECK(np_policy_name_valid("web-1.prod_eu"));
	CHECK(np_policy_name_valid("a23456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!np_policy_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!np_policy_name_valid(""));
	CHECK(!np_policy_name_valid(NULL));
	CHECK(!np_policy_name_valid(".hidden"));
	CHECK(!np_policy_name_valid("_x"));
	CHECK(!np_policy_name_valid("a/b"));
	CHECK(!np_policy_name_valid("a b"));
	CHECK(!np_policy_name_valid("a\n"));
}

int main(void)
{
	test_presets();
	test_defaults();
	test_canonical_text();
	test_random_round_trip();
	test_bad_policies();
	test_too_many_rules();
	test_names();
	printf("test-policy-parse: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
