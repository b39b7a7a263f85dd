#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The units as an administrator meets them (tests/systemd/lib.sh: systemd as
# PID 1 in a container, this build installed), in a container that has no
# bpffs of its own, as Docker and systemd-nspawn give:
#  - pins: netpol-bpffs.service mounts bpffs where PID 1 lives, so a restart
#    adopts; with it gone from there, netpold refuses to start, naming the
#    fix, and mounts nothing of its own; once it is back, a start that cannot
#    adopt says so loudly, and status says why;
#  - reload: `systemctl reload netpold` with a bad key fails, with file, line
#    and key in the unit's status, and the old configuration stays in force;
#    admin_group set by a reload lets its members in at once; a socket_group
#    that netpold.socket overrides is warned about; no file: the defaults,
#    said so;
#  - the unit: Documentation= names installed files; netpold starts before
#    sysinit.target at boot, with no ordering cycle; the hardening score.
SD_BPFFS=0
. "$(dirname "$0")/lib.sh"

ADM=sdadm
ADMIN=sdadmin
CONF=/etc/netpol/netpold.conf

# as_admin ARGS...: netpolctl as a member of the admin group only.
as_admin() {
	sd setpriv --reuid="$ADMIN" --regid="$ADM" --init-groups netpolctl "$@"
}
# journal_has [-p PRIORITY] REGEX: a line of netpold.service's journal of
# this boot.
journal_has() {
	local prio=()
	[ "$1" = -p ] && prio=(-p "$2") && shift 2
	sd journalctl -b -u netpold.service "${prio[@]}" --no-pager -o cat | grep -qE "$1"
}
# status_has STRING: in `systemctl status netpold`.
status_has() {
	sd systemctl status --no-pager -n 20 netpold.service | grep -qF "$1"
}

sd_up
if sd_install_netpold; then ok "systemctl enable --now: netpold answers"; else
	not_ok "systemctl enable --now: netpold answers"
	it_finish
fi

# ---- the pins live where PID 1 lives ----
check_eq "netpol-bpffs.service mounted bpffs at /sys/fs/bpf (PID 1's namespace)" bpf \
	"$(sd findmnt -n -o FSTYPE /sys/fs/bpf)"
sd systemctl restart netpold.service && sd_wait_answers
check_eq "a restart adopts the pins" true "$(sd_ctl --json status | jget 'j["adopted"]')"

sd mkdir -p /sys/fs/cgroup/sdrl
check "a cgroup is bound" sd_ctl apply cgroup:/sdrl deny-all
sd systemctl stop netpold.service 2>/dev/null
sd umount /sys/fs/bpf
if sd systemctl start netpold.service >/dev/null 2>&1; then
	not_ok "without bpffs where PID 1 lives, netpold refuses to start"
else
	ok "without bpffs where PID 1 lives, netpold refuses to start"
fi
check "... saying why, and the fix" journal_has \
	"is not on a mounted bpf file system.*systemctl start netpol-bpffs.service"
check_eq "... and mounts none of its own" "" "$(sd findmnt -n -o FSTYPE /sys/fs/bpf)"
sd systemctl restart netpol-bpffs.service
sd systemctl reset-failed netpold.service
sd systemctl start netpold.service && sd_wait_answers
check "a start that cannot adopt says so in the journal, as an error" journal_has -p err \
	"Could not adopt the data plane.*enforcement lapsed.*re-applied 1 saved binding"
check_eq "status: adopted no, and why" "false True" \
	"$(sd_ctl --json status | jget '"%s %s" % (json.dumps(j["adopted"]), "were gone" in j["data_plane"])')"

# ---- every verb, under the hardened unit ----
POL='{"name": "sdv", "default": "deny", "rules": [{"action": "allow", "to": ["198.51.100.0/24"]}]}'
sd sh -c "echo '$POL' >/tmp/sdv.json"
verbs=("policy add /tmp/sdv.json" "policy update /tmp/sdv.json" "policy list" "policy show sdv"
	"allow sdv 198.51.100.7:53/udp" "deny sdv 203.0.113.0/24" "remove-rule sdv 2" "apply cgroup:/sdrl sdv"
	"bindings" "test cgroup:/sdrl 203.0.113.9:80" "status")
failed=
for v in "${verbs[@]}"; do
	# shellcheck disable=SC2086
	sd_ctl $v >/dev/null 2>&1 || failed="$failed '$v'"
done
check_eq "every verb works (failed:$failed)" "" "$failed"
rc=0
sd "$SD_TOOLS/probe" --cgroup /sys/fs/cgroup/sdrl tcp 203.0.113.9 80 >/dev/null 2>&1 || rc=$?
check_eq "a denied connect from the bound cgroup is denied" 1 "$rc"
seen=no
for _ in $(seq 50); do
	sd_ctl --json violations | grep -q '203\.0\.113\.9' && seen=yes && break
	sleep 0.1
done
check_eq "violations lists it" yes "$seen"
for v in "stats" "stats --reset" "unbind cgroup:/sdrl" "policy delete sdv"; do
	# shellcheck disable=SC2086
	check "$v" sd_ctl $v
done
check "deny-all is bound again" sd_ctl apply cgroup:/sdrl deny-all

# ---- reload ----
sd sh -ec "groupadd $ADM; useradd --no-create-home -g $ADM $ADMIN"
if as_admin status >/dev/null 2>&1; then not_ok "no admin_group: $ADMIN cannot connect"; else
	ok "no admin_group: $ADMIN cannot connect"
fi
sd sh -c "printf 'admin_group = $ADM\n' >$CONF"
check "systemctl reload with admin_group" sd systemctl reload netpold.service
check "the admin may connect at once" as_admin status
check "the admin may write at once" as_admin apply cgroup:/sdrl allow-all
pid=$(sd_mainpid netpold.service)

sd sh -c "printf 'admin_group = $ADM\nidle_timeout = 5\nbogus_key = 1\n' >$CONF"
if sd systemctl reload netpold.service >/dev/null 2>&1; then
	not_ok "a bad key fails systemctl reload"
else
	ok "a bad key fails systemctl reload"
fi
check "systemctl status shows file, line and key" status_has "$CONF:3: unknown key 'bogus_key'"
check_eq "netpold runs on, the same process" "active $pid" \
	"$(sd_active netpold.service) $(sd_mainpid netpold.service)"
check "the old configuration stays: the admin may still write" as_admin apply cgroup:/sdrl deny-all

sd sh -c "printf 'admin_group = $ADM\nsocket_group = $ADM\n' >$CONF"
check "a socket_group that netpold.socket overrides reloads" sd systemctl reload netpold.service
check "... with a warning naming the fix" journal_has \
	"socket_group = $ADM, but the socket '/run/netpol/netpold.sock' is netpold.socket's.*SocketGroup="

sd rm -f "$CONF"
check "no file: the reload succeeds" sd systemctl reload netpold.service
check "... and says the defaults, not a file" journal_has \
	"No configuration file '$CONF'; reloaded the defaults"
if as_admin status >/dev/null 2>&1; then not_ok "the defaults: $ADMIN is out again"; else
	ok "the defaults: $ADMIN is out again"
fi

# ---- the unit ----
docs=$(sd systemctl show -P Documentation netpold.service)
missing=
for d in $docs; do sd test -f "${d#file://}" || missing="$missing $d"; done
check "Documentation= names files ($docs)" test -n "$docs" -a -z "$missing"
score=$(sd systemd-analyze security netpold.service --no-pager 2>/dev/null |
	sed -n 's/.*Overall exposure level for netpold.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security: $score, at most 2.1 (docs/operations.md)" \
	awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.1) }'

if sd_reboot && sd_wait_answers; then ok "reboot: netpold answers"; else not_ok "reboot: netpold answers"; fi
t_np=$(sd systemctl show -P ActiveEnterTimestampMonotonic netpold.service)
t_si=$(sd systemctl show -P ActiveEnterTimestampMonotonic sysinit.target)
check "at boot netpold is ready before sysinit.target ($t_np < $t_si)" \
	test "${t_np:-0}" -gt 0 -a "${t_np:-0}" -le "${t_si:-0}"
check_eq "no ordering cycle in the journal" 0 \
	"$(sd journalctl -b --no-pager | grep -ci 'ordering cycle')"
check_eq "after the reboot: the first start since boot, not a lost data plane" "True False" \
	"$(sd_ctl --json status | jget '"%s %s" % ("first start since boot" in j["data_plane"], "were gone" in j["data_plane"])')"

# A teardown is on purpose: the start after it is no lost data plane.
lost_before=$(sd journalctl -u netpold.service -p err --no-pager -o cat | grep -c "Could not adopt")
check "netpolctl teardown" sd_ctl teardown --yes
check "a client starts netpold again through the socket" sd_wait_answers
check_eq "... with a fresh data plane, not reported as lost" "False True" \
	"$(sd_ctl --json status | jget '"%s %s" % (j["adopted"], "were gone" not in j["data_plane"])')"
check_eq "... and no error in the journal" "$lost_before" \
	"$(sd journalctl -u netpold.service -p err --no-pager -o cat | grep -c "Could not adopt")"
it_finish
