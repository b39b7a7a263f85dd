#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-reload: `netpolctl reload` (systemctl reload's ExecReload) and SIGHUP.
#  - a bad key fails the reload, naming file, line and key, and the
#    previous configuration stays (and is still in force);
#  - admin_group set by a reload takes effect at once: its members may
#    connect (the socket's ACL) and write; removed, they may not connect;
#  - socket_mode of a socket netpold made follows a reload.
# The users and groups it creates are removed at the end.
. "$(dirname "$0")/lib.sh"

for p in useradd groupadd setpriv; do command -v "$p" >/dev/null || it_skip "needs $p"; done

SOCK_GRP=netpol-it-rl-grp
ADM_GRP=netpol-it-rl-adm
ADMIN=netpol-it-rl-admin
created_users=()
created_groups=()
ensure_group() {
	getent group "$1" >/dev/null && return 0
	groupadd --system "$1" && created_groups+=("$1")
}
reload_cleanup() {
	local u g
	for u in "${created_users[@]}"; do userdel "$u" 2>/dev/null; done
	for g in "${created_groups[@]}"; do groupdel "$g" 2>/dev/null; done
}
ensure_group "$SOCK_GRP" && ensure_group "$ADM_GRP" &&
	{ getent passwd "$ADMIN" >/dev/null ||
		{ useradd --system --no-create-home --shell /usr/sbin/nologin -G "$ADM_GRP" "$ADMIN" &&
			created_users+=("$ADMIN"); }; } ||
	{ reload_cleanup; it_skip "cannot create the test user and groups"; }
trap 'rc=$?; reload_cleanup; (exit $rc); it_cleanup' EXIT

CTL=$IT_TMP/netpolctl
cp "$NETPOLCTL" "$CTL"
chmod 0755 "$CTL"
chmod 0755 "$IT_TMP"
as_admin() {
	setpriv --reuid="$ADMIN" --regid="$(id -g "$ADMIN")" --init-groups --inh-caps=-all \
		"$CTL" --socket "$IT_SOCK" "$@"
}

mk_cgroup app
APP=$(target app)

printf 'socket_group = %s\nsocket_mode = 0660\n' "$SOCK_GRP" >"$IT_CONF"
netpold_up
check_eq "reload says where from" "Reloaded the configuration from $IT_CONF." "$(ctl reload)"
if as_admin status >/dev/null 2>&1; then
	not_ok "without admin_group, $ADMIN cannot connect"
else
	ok "without admin_group, $ADMIN cannot connect"
fi

# ---- admin_group, at once ----
printf 'socket_group = %s\nsocket_mode = 0660\nadmin_group = %s\n' "$SOCK_GRP" "$ADM_GRP" >"$IT_CONF"
check "reload with admin_group" ctl reload
check "the admin may connect at once" as_admin status
check "the admin may write at once" as_admin apply "$APP" allow-all
check_eq "the admin's binding is in place" '["allow-all"]' \
	"$(ctl --json bindings | jget '[b["policy"] for b in j["bindings"]]')"

# ---- a bad key: refused, named, and the old configuration stays ----
printf 'socket_group = %s\nsocket_mode = 0660\nadmin_group = %s\nidle_timeout = 5\nbogus_key = 1\n' \
	"$SOCK_GRP" "$ADM_GRP" >"$IT_CONF"
out=$(ctl reload 2>&1)
rc=$?
check "a bad key fails the reload" test "$rc" -ne 0
check "the message names file, line and key" \
	grep -q "$IT_CONF:5: unknown key 'bogus_key'" <<<"$out"
check "the message says the previous configuration stays" grep -q "previous configuration stays" <<<"$out"
check "netpold's log names it too" grep -q "$IT_CONF:5: unknown key 'bogus_key'" "$IT_LOG"
check "netpold still runs" kill -0 "$NETPOLD_PID"
check "the admin may still write (the old configuration is in force)" as_admin unbind "$APP"
code=$(ctl --json reload 2>/dev/null | jget 'j["error"]["code"]')
check_eq "the error code" netpol.InvalidConfig "$code"

# SIGHUP: the same check, told in the log only.
before=$(grep -c "unknown key 'bogus_key'" "$IT_LOG")
kill -HUP "$NETPOLD_PID"
wait_for_line "$IT_LOG" "keeping the previous configuration" 50 >/dev/null
check "SIGHUP logs the bad key too" test "$(grep -c "unknown key 'bogus_key'" "$IT_LOG")" -gt "$before"
check "netpold runs on after SIGHUP" ctl status

# ---- admin_group removed: no more ACL; socket_mode follows ----
printf 'socket_group = %s\nsocket_mode = 0640\n' "$SOCK_GRP" >"$IT_CONF"
check "reload without admin_group" ctl reload
if as_admin status >/dev/null 2>&1; then
	not_ok "admin_group removed: $ADMIN can no longer connect"
else
	ok "admin_group removed: $ADMIN can no longer connect"
fi
check_eq "socket_mode = 0640 applied by the reload" "$SOCK_GRP 640" "$(stat -c '%G %a' "$IT_SOCK")"
it_finish
