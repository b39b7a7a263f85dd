/* SPDX-License-Identifier: GPL-2.0-only */
#include <stdio.h>
#include <string.h>

#include "ctl-params.h"
#include "json-util.h"
#include "netpol-proto.h"

#define FIELD_MAX CTL_PARAM_FIELD_MAX

/* What a value of the type is said to be, or NULL if v is one. */
static const char *wrong_type(enum ctl_param_type type, const json_t *v)
{
	switch (type) {
	case CTL_PARAM_STRING:
		return json_is_string(v) ? NULL : "a string";
	case CTL_PARAM_BOOL:
		return json_is_boolean(v) ? NULL : "true or false";
	case CTL_PARAM_INTEGER:
		return json_is_integer(v) ? NULL : "an integer";
	case CTL_PARAM_TIME:
		return json_is_number(v) ? NULL : "a number of seconds since the epoch";
	case CTL_PARAM_OBJECT:
		return json_is_object(v) ? NULL : "an object";
	}
	return "";
}

int ctl_params_check_known(struct ctl_call *call, json_t *params, const struct ctl_param *table)
{
	const char *key;
	json_t *v;

	json_object_foreach(params, key, v)
	{
		char field[FIELD_MAX];
		const struct ctl_param *p = table;

		while (p->name && strcmp(p->name, key) != 0)
			p++;
		if (p->name)
			continue;
		snprintf(field, sizeof(field), "params.%s", key);
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "unknown parameter");
	}
	return 0;
}

int ctl_params_parse(struct ctl_call *call, json_t *params, const struct ctl_param *table, void *ret)
{
	for (const struct ctl_param *p = table; p->name; p++) {
		json_t *v = json_object_get(params, p->name);
		char field[FIELD_MAX];
		const char *want;
		int r;

		snprintf(field, sizeof(field), "params.%s", p->name);
		if (!v) {
			if (p->required)
				return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "is required");
			continue;
		}
		want = wrong_type(p->type, v);
		if (want)
			return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "must be %s, got %s", want,
					np_json_type_name(v));
		r = p->parse(call, field, v, (char *)ret + p->offset);
		if (r != 0) /* failed, or suspended (ctl_call_suspend()) */
			return r;
	}
	return 0;
}

int ctl_params_dispatch(struct ctl_call *call, json_t *params, const struct ctl_param *table, void *ret)
{
	int r = ctl_params_check_known(call, params, table);

	return r < 0 ? r : ctl_params_parse(call, params, table, ret);
}

int ctl_param_string(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	*(const char **)ret = json_string_value(v);
	return 0;
}

int ctl_param_bool(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	*(bool *)ret = json_is_true(v);
	return 0;
}

int ctl_param_json(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	*(json_t **)ret = v;
	return 0;
}

int ctl_param_time(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	double s = json_number_value(v);

	if (s < 0 || s > 1e11)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "must be seconds since the epoch");
	*(uint64_t *)ret = (uint64_t)(s * 1e9);
	return 0;
}
