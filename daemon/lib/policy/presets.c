/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Built-in policies, kept as the JSON a user would write so that they go
 * through the same parser and checks as any other policy.
 */
#include <string.h>

#include "policy.h"

struct preset {
	const char *name;
	const char *json;
};

static const struct preset presets[] = {
    {
	/*
	 * A web front end. The lab this replaces allowed ports 80/443/53
	 * to every address through one global port list; here each port
	 * is tied to its destinations explicitly. 1.2.3.4 stands for
	 * api.example.com until policies can name DNS names.
	 */
	"frontend",
	"{\n"
	"  \"name\": \"frontend\",\n"
	"  \"default\": \"deny\",\n"
	"  \"rules\": [\n"
	"    { \"action\": \"allow\", \"to\": [\"any\"], \"protocol\": \"tcp\", \"ports\": [80, 443] },\n"
	"    { \"action\": \"allow\", \"to\": [\"any\"], \"protocol\": \"any\", \"ports\": [53] },\n"
	"    { \"action\": \"allow\", \"to\": [\"private\"] },\n"
	"    { \"action\": \"allow\", \"to\": [\"1.2.3.4\"] }\n"
	"  ]\n"
	"}\n",
    },
    {
	/* A database talks to its peers and clients on internal networks only. */
	"database",
	"{\n"
	"  \"name\": \"database\",\n"
	"  \"default\": \"deny\",\n"
	"  \"rules\": [\n"
	"    { \"action\": \"allow\", \"to\": [\"private\", \"loopback\"] }\n"
	"  ]\n"
	"}\n",
    },
    {
	/*
	 * A background worker: its message queue (AMQP on 10.0.1.50:5672),
	 * its object store (MinIO/S3 on 10.0.2.100:9000), DNS from an
	 * internal resolver, and local services.
	 */
	"worker",
	"{\n"
	"  \"name\": \"worker\",\n"
	"  \"default\": \"deny\",\n"
	"  \"rules\": [\n"
	"    { \"action\": \"allow\", \"to\": [\"10.0.1.50\"], \"protocol\": \"tcp\", \"ports\": [5672] },\n"
	"    { \"action\": \"allow\", \"to\": [\"10.0.2.100\"], \"protocol\": \"tcp\", \"ports\": [9000] },\n"
	"    { \"action\": \"allow\", \"to\": [\"private\"], \"protocol\": \"any\", \"ports\": [53] },\n"
	"    { \"action\": \"allow\", \"to\": [\"loopback\"] }\n"
	"  ]\n"
	"}\n",
    },
    {
	"deny-all",
	"{ \"name\": \"deny-all\", \"default\": \"deny\", \"rules\": [] }\n",
    },
    {
	"allow-all",
	"{ \"name\": \"allow-all\", \"default\": \"allow\", \"rules\": [] }\n",
    },
};

static const char *const preset_names[] = {"frontend", "database", "worker", "deny-all", "allow-all", NULL};

_Static_assert(sizeof(presets) / sizeof(presets[0]) + 1 == sizeof(preset_names) / sizeof(preset_names[0]),
	       "every preset needs its name listed");

const char *const *np_preset_names(void)
{
	return preset_names;
}

const char *np_preset_json(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, name) == 0)
			return presets[i].json;
	return NULL;
}
