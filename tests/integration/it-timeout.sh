#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-timeout: netpolctl never hangs on a wedged netpold. With the real
# netpold stopped by SIGSTOP (its socket still there, connections queued
# and never answered), a read and a change each fail after --timeout with
# exit status 124 and one line that says netpold did not answer; after
# SIGCONT it answers again.
. "$(dirname "$0")/lib.sh"

netpold_up
mk_cgroup app
APP=$(target app)

kill -STOP "$NETPOLD_PID"
ok "netpold stopped with SIGSTOP"
# Whatever happens below, netpold must be able to exit at the end.
trap 'rc=$?; [ -z "$NETPOLD_PID" ] || kill -CONT "$NETPOLD_PID" 2>/dev/null; (exit $rc); it_cleanup' EXIT

# ctl_times_out DESCRIPTION ARGS...: netpolctl --timeout 2 ARGS exits 124
# with one line on stderr, "netpolctl: netpold did not answer within 2 s: ...".
ctl_times_out() {
	local desc=$1 err rc
	shift
	err=$(ctl --timeout 2 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 124 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		printf '%s\n' "$err" | grep -q '^netpolctl: netpold did not answer within 2 s: '; then
		ok "$desc"
	else
		not_ok "$desc (exit status $rc, stderr: $err)"
	fi
}
ctl_times_out "status against a stopped netpold gives up with status 124" status
ctl_times_out "a change against a stopped netpold gives up with status 124" apply "$APP" deny-all
ctl_times_out "violations --follow gives up too, before its first reply" violations --follow
check "netpold is still stopped (not killed by anything above)" \
	grep -q '^State:.*T' "/proc/$NETPOLD_PID/status"

kill -CONT "$NETPOLD_PID"
check "after SIGCONT netpold answers again" ctl --timeout 10 status
check "and takes changes" ctl apply "$APP" deny-all
expect_probe "deny-all enforced" denied app udp 203.0.113.5 53

it_finish
