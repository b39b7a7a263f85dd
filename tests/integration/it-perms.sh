#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-perms: who may do what (docs/protocol.md, "Validation order").
#  - a user outside the socket's group cannot even open the socket;
#  - with the socket's file mode opened up, netpold itself refuses him
#    (SO_PEERCRED), with a clear message;
#  - a member of the socket group may read, and is refused every write;
#  - a member of the admin group may write;
#  - readers holding every connection they may open cannot lock root or the
#    admin group out (connections kept for writers), nor can one uid take
#    more than its share.
# Users and groups it creates are removed at the end.
. "$(dirname "$0")/lib.sh"

for p in useradd groupadd setpriv; do command -v "$p" >/dev/null || it_skip "needs $p"; done

SOCK_GRP=netpol-it-grp
ADM_GRP=netpol-it-adm
READER=netpol-it-user
READER2=netpol-it-user2
ADMIN=netpol-it-admin
OUTSIDER=nobody
created_users=()
created_groups=()

ensure_group() {
	getent group "$1" >/dev/null && return 0
	groupadd --system "$1" && created_groups+=("$1")
}
ensure_user() { # NAME GROUP
	if ! getent passwd "$1" >/dev/null; then
		useradd --system --no-create-home --shell /usr/sbin/nologin -G "$2" "$1" && created_users+=("$1")
	else
		usermod -a -G "$2" "$1"
	fi
}
perms_cleanup() {
	local u g
	for u in "${created_users[@]}"; do userdel "$u" 2>/dev/null; done
	for g in "${created_groups[@]}"; do groupdel "$g" 2>/dev/null; done
}
ensure_group "$SOCK_GRP" && ensure_group "$ADM_GRP" && ensure_user "$READER" "$SOCK_GRP" &&
	ensure_user "$READER2" "$SOCK_GRP" && ensure_user "$ADMIN" "$ADM_GRP" ||
	{ perms_cleanup; it_skip "cannot create the test users and groups"; }
getent passwd "$OUTSIDER" >/dev/null || { perms_cleanup; it_skip "no user $OUTSIDER"; }
trap 'rc=$?; perms_cleanup; (exit $rc); it_cleanup' EXIT

# The other users run a copy of netpolctl that they can reach.
CTL=$IT_TMP/netpolctl
cp "$NETPOLCTL" "$CTL"
chmod 0755 "$CTL"

# as USER ARGS...: netpolctl as USER, with USER's groups from /etc/group.
as() {
	local user=$1
	shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all \
		"$CTL" --socket "$IT_SOCK" "$@"
}

# as_fails DESCRIPTION REGEX USER ARGS...: like ctl_fails, as USER, and
# regardless of case.
as_fails() {
	local desc=$1 re=$2
	shift 2
	cmd_fails "$desc" "$re" -iE as "$@"
}

mk_cgroup app
APP=$(target app)
P=$IT_TMP/p.json
write_policy "$P" '{"name": "p", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/24"], "protocol": "udp", "ports": [53]}]}'
chmod 0644 "$P"

# ---- phase 1: socket mode 0660, group netpol-it-grp ----
printf 'socket_group = %s\nadmin_group = %s\nsocket_mode = 0660\n' "$SOCK_GRP" "$ADM_GRP" >"$IT_CONF"
start_netpold || { not_ok "netpold starts with socket_group and admin_group"; it_finish; }
ok "netpold starts with socket_group = $SOCK_GRP, admin_group = $ADM_GRP"

check_eq "socket group and mode" "$SOCK_GRP 660" "$(stat -c '%G %a' "$IT_SOCK")"
check "root adds policy p" ctl policy add "$P"
check "root applies p" ctl apply "$APP" p

as_fails "outsider ($OUTSIDER) cannot connect: permission denied" "permission denied" "$OUTSIDER" status
as_fails "outsider: clear message naming the socket" "$IT_SOCK" "$OUTSIDER" policy list

# Reads by a member of the socket group.
for cmd in "status" "policy list" "policy show p" "bindings" "test p 203.0.113.5:53/udp" \
	"test $APP 198.51.100.1:53/udp" "violations" "violations --since 1h" "stats"; do
	# shellcheck disable=SC2086
	check "reader ($READER) may: $cmd" as "$READER" $cmd
done
check_eq "reader's policy list shows p" true "$(as "$READER" --json policy list | jget 'any(p["name"] == "p" for p in j["policies"])')"

# Every write by the reader is refused, with netpol.PermissionDenied and a
# message that says what is needed, and changes nothing.
WRITES=("policy add $P" "policy update $P" "policy delete p" "apply $APP allow-all" "unbind $APP"
	"allow p 198.51.100.0/24" "deny p 203.0.113.5" "remove-rule p 0" "stats --reset")
refused() { # USER WHEN
	local cmd code
	for cmd in "${WRITES[@]}"; do
		# shellcheck disable=SC2086
		as_fails "$2: $1 may not: $cmd" "root|admin|permission|privilege" "$1" $cmd
		# shellcheck disable=SC2086
		code=$(as "$1" --json $cmd 2>/dev/null | jget 'j["error"]["code"]')
		check_eq "$2: $1 refused $cmd with netpol.PermissionDenied" netpol.PermissionDenied "$code"
	done
}
refused "$READER" "0660"
check_eq "nothing changed: still bound to p" '["p"]' "$(ctl --json bindings | jget '[b["policy"] for b in j["bindings"]]')"
check_eq "nothing changed: p has 1 rule" 1 "$(ctl --json policy show p | jget 'len(j["policy"]["rules"])')"
expect_probe "nothing changed: p still enforced" denied app udp 198.51.100.5 53

# Writes by a member of the admin group (only of that group). The contract
# says the admin group may connect; with the socket file root:SOCKET_GROUP
# 0660, that takes more than the file mode.
admin_writes() { # WHEN
	check "$1: admin ($ADMIN) may: allow" as "$ADMIN" allow p 198.51.100.0/24:53/udp
	expect_probe "$1: admin's rule is in force" allowed app udp 198.51.100.5 53
	check "$1: admin may: remove-rule" as "$ADMIN" remove-rule p 1
	expect_probe "$1: admin's rule removal is in force" denied app udp 198.51.100.5 53
	check "$1: admin may: unbind" as "$ADMIN" unbind "$APP"
	check "$1: admin may: apply" as "$ADMIN" apply "$APP" p
	check "$1: admin may: read" as "$ADMIN" status
}
if as "$ADMIN" status >/dev/null; then
	ok "0660: a member of the admin group only can connect"
	admin_writes "0660"
else
	not_ok "0660: a member of the admin group only can connect (docs/protocol.md: root, admin group and socket group may connect)"
fi
stop_netpold

# ---- phase 2: the socket file open to all; netpold checks the peer ----
printf 'socket_group = %s\nadmin_group = %s\nsocket_mode = 0666\n' "$SOCK_GRP" "$ADM_GRP" >"$IT_CONF"
start_netpold || { not_ok "netpold starts with socket_mode = 0666"; it_finish; }
check_eq "socket mode 0666" 666 "$(stat -c '%a' "$IT_SOCK")"
as_fails "outsider refused by netpold itself (SO_PEERCRED)" "may not|permission|denied|not allowed|refused" "$OUTSIDER" status
code=$(as "$OUTSIDER" --json status 2>/dev/null | jget 'j["error"]["code"]')
check_eq "outsider: code netpol.PermissionDenied" netpol.PermissionDenied "$code"
check "0666: reader still may read" as "$READER" bindings
refused "$READER" "0666"
admin_writes "0666"
check "0666: root may write" ctl unbind "$APP"
stop_netpold

# ---- phase 3: readers holding connections cannot lock root out ----
# Small limits: 8 connections, 4 per uid, the last 2 kept for writers; the
# idle timeout long enough for held connections to stay.
printf 'socket_group = %s\nadmin_group = %s\nsocket_mode = 0666\n' "$SOCK_GRP" "$ADM_GRP" >"$IT_CONF"
printf 'max_clients = 8\nmax_clients_per_uid = 4\nwriter_clients = 2\nidle_timeout = 120\n' >>"$IT_CONF"
start_netpold || { not_ok "netpold starts with max_clients, max_clients_per_uid, writer_clients"; it_finish; }
ok "netpold starts with max_clients = 8, max_clients_per_uid = 4, writer_clients = 2"

# hold USER N: USER opens N connections, asks status on each, prints one
# line per connection ("served" or the error), then "ready", and keeps the
# served ones open until killed.
HOLDER=$IT_TMP/holder.py
cat >"$HOLDER" <<'PY'
import json, socket, sys, time
conns = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall(b'{"version":1,"id":%d,"command":"status"}\n' % i)
    except (BrokenPipeError, ConnectionResetError):
        pass  # a refusal is sent at accept, and the server may close before reading
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    m = json.loads(buf.partition(b"\n")[0]) if buf else {}
    print("served" if m.get("ok") else "refused %s" % json.dumps(m.get("error")), flush=True)
    conns.append(s)
print("ready", flush=True)
time.sleep(600)
PY
chmod 0644 "$HOLDER"
# Debian's python3, not one under root's home that the others cannot run.
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=$(command -v python3)
hold() { # USER N: sets HOLD_OUT
	HOLD_OUT=$IT_TMP/hold-$1.out
	setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --inh-caps=-all \
		"$PY3" "$HOLDER" "$IT_SOCK" "$2" >"$HOLD_OUT" 2>&1 &
	it_track $!
	wait_for_line "$HOLD_OUT" '^ready' 100 || not_ok "$1 holds connections ($(cat "$HOLD_OUT"))"
}

hold "$READER" 5
check_eq "a reader gets 4 connections (its uid's limit)" 4 "$(grep -c '^served' "$HOLD_OUT")"
check "the 5th is refused: TooManyClients, per uid" \
	grep -qE 'refused.*netpol.TooManyClients.*uid [0-9]+ has 4 connections open already .at most 4 per uid' "$HOLD_OUT"
hold "$READER2" 3
check_eq "another reader gets the 2 connections left to readers" 2 "$(grep -c '^served' "$HOLD_OUT")"
check "the next is refused: TooManyClients, the rest is kept for writers" \
	grep -q 'refused.*netpol.TooManyClients.*kept for root and the admin group' "$HOLD_OUT"
check "while readers hold all theirs, the admin group is served" as "$ADMIN" status
check "while readers hold all theirs, root is served" ctl status
check "and root may write" ctl apply "$APP" p
hold root 3
check_eq "root gets the 2 connections kept for writers" 2 "$(grep -c '^served' "$HOLD_OUT")"
check "then the server is full: TooManyClients for root too" \
	grep -q 'refused.*netpol.TooManyClients.*all 8 connections are taken' "$HOLD_OUT"

it_finish
