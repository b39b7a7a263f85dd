/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * reload: netpold reads its configuration again and answers with the
 * outcome, so that `systemctl reload netpold` (ExecReload=netpolctl
 * reload) fails when the file is wrong, naming file, line and key, where
 * a signal could only be sent. The previous configuration stays then.
 */
#include <errno.h>

#include "ctl-methods.h"
#include "ctl-params.h"
#include "manager.h"

int ctl_method_reload(struct ctl_call *call, json_t *params)
{
	struct manager *m = call->userdata;
	struct np_config_error err;
	bool found = false;
	int r;

	r = ctl_params_dispatch(call, params, ctl_no_params, NULL);
	if (r < 0)
		return r;
	if (!m->reload)
		return -EOPNOTSUPP;
	r = m->reload(m->reload_userdata, &err, &found);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ctl_fail(call, NP_ERR_INVALID_CONFIG, NULL, "%s; the previous configuration stays",
				err.message);
	return ctl_set_result(call, json_pack("{s:s, s:b}", "config", m->config_path, "found", found));
}
