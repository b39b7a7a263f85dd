/* SPDX-License-Identifier: GPL-2.0-only */
/* test: the verdict of a policy, or of a target's binding, for one destination. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup-util.h"
#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"

struct probe {
	uint8_t addr[16];
	uint8_t proto; /* NP_PROTO_* */
	uint16_t port;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* struct probe: a destination of one address, protocol and port. */
static int param_probe(struct ctl_call *call, const char *field, json_t *v, void *data)
{
	struct dest_param dp;
	struct np_dest_spec d;
	struct probe *ret = data;
	unsigned long port;
	char *end;
	int r;

	r = ctl_param_dest(call, field, v, &dp);
	if (r < 0)
		return r;
	d = dp.spec;
	/* The parser says "any" when no protocol was given; here that means tcp. */
	if (strcmp(d.protocol, "any") == 0 && ends_with(dp.text, "/any"))
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"a test needs one protocol: tcp, udp or icmp");
	if (strcmp(d.protocol, "tcp") == 0 || strcmp(d.protocol, "any") == 0)
		ret->proto = NP_PROTO_TCP;
	else if (strcmp(d.protocol, "udp") == 0)
		ret->proto = NP_PROTO_UDP;
	else if (strcmp(d.protocol, "icmp") == 0)
		ret->proto = NP_PROTO_ICMP;
	else
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"protocol must be tcp, udp or icmp, got '%s'", d.protocol);
	if (np_addr_parse(d.to, ret->addr) < 0)
		return ctl_fail(
		    call, NP_ERR_INVALID_PARAM, field,
		    "'%s' is not one IP address (a test takes an address, not a prefix or an entity)", d.to);
	ret->port = 0;
	if (ret->proto == NP_PROTO_ICMP) {
		if (d.ports[0])
			return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "ICMP has no ports");
		return 0;
	}
	if (!d.ports[0])
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field,
				"a %s test needs one port, as in '%s%s%s:443/%s'", d.protocol,
				strchr(d.to, ':') ? "[" : "", d.to, strchr(d.to, ':') ? "]" : "", d.protocol);
	errno = 0;
	port = strtoul(d.ports, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "needs one port 1..65535, got '%s'",
				d.ports);
	ret->port = (uint16_t)port;
	return 0;
}

static json_t *rule_json(const struct np_pol *pol, unsigned index)
{
	_cleanup_json_ json_t *pj = np_policy_to_json(pol->policy);

	return pj ? json_incref(json_array_get(json_object_get(pj, "rules"), index)) : NULL;
}

static json_t *decide_json(const struct np_pol *pol, const struct probe *pr)
{
	uint16_t cell = np_compiled_decide(pol->compiled, pr->addr, pr->proto, pr->port);
	unsigned rule = cell & NP_CELL_RULE_MASK;
	bool by_default = rule == NP_CELL_RULE_DEFAULT;

	return json_pack("{s:s, s:s, s:o, s:o, s:b}", "verdict", cell & NP_CELL_DENY ? "deny" : "allow",
			 "policy", pol->policy->name, "rule", by_default ? json_null() : rule_json(pol, rule),
			 "rule_index", by_default ? json_null() : json_integer(rule), "audit",
			 pol->policy->audit);
}

struct test_params {
	struct target target;
	struct np_pol *pol;
	struct probe probe;
};

static void test_params_done(struct test_params *p)
{
	target_done(&p->target);
}

int ctl_method_test(struct ctl_call *call, json_t *params)
{
	/* Exactly one of target and policy, checked before the fields. */
	static const struct ctl_param table[] = {
	    {"target", CTL_PARAM_STRING, false, ctl_param_target, offsetof(struct test_params, target)},
	    {"policy", CTL_PARAM_STRING, false, ctl_param_policy, offsetof(struct test_params, pol)},
	    {"dest", CTL_PARAM_STRING, true, param_probe, offsetof(struct test_params, probe)},
	    {},
	};
	struct manager *m = call->userdata;
	_cleanup_(test_params_done) struct test_params p = {};
	_cleanup_json_ json_t *res = NULL;
	struct np_pol *pol;
	struct np_bind *b = NULL;
	int r;

	r = ctl_params_check_known(call, params, table);
	if (r < 0)
		return r;
	if (!!json_object_get(params, "target") == !!json_object_get(params, "policy"))
		return ctl_fail(call, NP_ERR_INVALID_PARAM, "params.target",
				"give either a target or a policy (exactly one)");
	r = ctl_params_parse(call, params, table, &p);
	if (r != 0) /* or suspended: a unit's cgroup is being asked for */
		return r;
	pol = p.pol;
	if (p.target.target) {
		/* A named target without a cgroup now (a stopped unit or
		 * container) is judged by its own binding, else by the nearest
		 * bound ancestor of where its cgroup will be (a unit's slice). */
		const char *path =
		    p.target.path ?: (p.target.match && p.target.match[0] == '/' ? p.target.match : NULL);

		b = manager_binding_by_target(m, p.target.target);
		if (!b && path)
			b = manager_binding_for_path(m, path);
		if (!b)
			return ctl_set_result(
			    call, json_pack("{s:s, s:n, s:n, s:n, s:b, s:s, s:s}", "verdict", "allow",
					    "policy", "rule", "rule_index", "audit", 0, "target",
					    p.target.target, "reason", "no policy bound: allowed"));
		pol = manager_policy_by_id(m, b->policy_id);
		if (!pol)
			return -ENOENT;
	}
	res = decide_json(pol, &p.probe);
	if (!res)
		return -ENOMEM;
	if (b && (json_object_set_new(res, "target", json_string(p.target.target)) < 0 ||
		  json_object_set_new(res, "bound_at", json_string(b->target)) < 0))
		return -ENOMEM;
	return ctl_set_result(call, TAKE_PTR(res));
}
