#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-units: unit targets (docs/units.md) where PID 1 is not systemd, as on
# this machine (tests/systemd/ has the rest, under a real systemd):
#  - apply unit:NAME fails with "systemd is not reachable", changes nothing,
#    and netpold otherwise runs; status says the units source is unavailable;
#  - bad unit names and netpold's own units are refused, saying why;
#  - a unit binding as bindings.json saves it (its cgroup's path) is kept
#    while the unit has no cgroup, and bound the moment the cgroup appears;
#  - the gate (netpol-unit-gate, the unit's ExecCondition=), run in the
#    unit's cgroup, has netpold put the binding on it before it exits 0; run
#    from any other cgroup, it is refused and exits 255; for a unit that is
#    not bound it exits 0;
#  - a violation in the unit's cgroup names the unit; unbind works.
. "$(dirname "$0")/lib.sh"

GATE=${NETPOL_UNIT_GATE:-}
[ -x "$GATE" ] || it_skip "NETPOL_UNIT_GATE='$GATE' is not an executable"
[ -e /run/systemd/private ] || [ -e /run/dbus/system_bus_socket ] && it_skip "systemd is reachable here"

netpold_up

P=$IT_TMP/deny.json
write_policy "$P" '{"name": "deny", "default": "deny", "rules": []}'
check "policy add deny" ctl policy add "$P"

# ---- no systemd ----
ctl_fails "apply unit:web.service: systemd is not reachable" \
	"'unit:web.service': systemd is not reachable: .*private socket" apply unit:web.service deny
check_eq "nothing was bound" 0 "$(ctl --json bindings | jget 'len(j["bindings"])')"
check_eq "status: units source unavailable" unavailable "$(ctl --json status | jget 'j["units"]["systemd"]')"
ctl_fails "a unit name needs its type" "ends in '.service', '.scope' or '.slice'" apply unit:web deny
ctl_fails "a template is refused" "a template" apply unit:getty@.service deny
ctl_fails "netpold's own unit is refused" "netpold's own units are never bound" apply unit:netpold.service deny
check "netpold still answers" ctl status

# ---- a saved unit binding, restored by its cgroup path ----
stop_netpold TERM
python3 - "$IT_STATE/bindings.json" "$IT_CG_REL/web.service" <<'PY'
import json, sys
path, cgroup = sys.argv[1], sys.argv[2]
with open(path) as f:
    j = json.load(f)
j["bindings"].append({"target": "unit:web.service", "policy": "deny", "origin": "explicit", "cgroup": cgroup})
with open(path, "w") as f:
    json.dump(j, f)
PY
start_netpold || { not_ok "netpold starts with a unit binding in bindings.json"; it_finish; }
ok "netpold starts with a unit binding in bindings.json"
binds=$(ctl --json bindings | jget '[(b["target"], b["policy"], b["cgroup"]) for b in j["bindings"]]')
check_eq "the unit is bound, without a cgroup now" '[["unit:web.service", "deny", null]]' "$binds"

mk_cgroup web.service
for i in $(seq 50); do
	[ "$(ctl --json bindings | jget 'j["bindings"][0]["cgroup"]')" = "$IT_CG_REL/web.service" ] && break
	sleep 0.1
done
check_eq "bound the moment its cgroup appears" "$IT_CG_REL/web.service" \
	"$(ctl --json bindings | jget 'j["bindings"][0]["cgroup"]')"
expect_probe "the unit's cgroup is policed" denied web.service udp 198.51.100.5 53
saved=$(jget '[b.get("cgroup") for b in j["bindings"] if b["target"] == "unit:web.service"]' <"$IT_STATE/bindings.json")
check_eq "bindings.json keeps the unit's cgroup path" "[\"$IT_CG_REL/web.service\"]" "$saved"

# ---- the gate ----
# run_in CGROUP-NAME COMMAND...: COMMAND as a process of that cgroup.
run_in() {
	local cg=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$IT_CG/$cg" "$@"
}
rmdir "$IT_CG/web.service"
for i in $(seq 50); do
	[ "$(ctl --json bindings | jget 'j["bindings"][0]["cgroup"]')" = null ] && break
	sleep 0.1
done
check_eq "its binding waits when the cgroup goes" null "$(ctl --json bindings | jget 'j["bindings"][0]["cgroup"]')"
mk_cgroup web.service
err=$(run_in web.service "$GATE" --socket "$IT_SOCK" --timeout 5 web.service 2>&1)
check_eq "gate in the unit's cgroup exits 0 (stderr: $err)" 0 $?
check_eq "the binding is on the new cgroup once the gate exits" "$IT_CG_REL/web.service" \
	"$(ctl --json bindings | jget 'j["bindings"][0]["cgroup"]')"
expect_probe "the new cgroup is policed" denied web.service udp 198.51.100.5 53

mk_cgroup other
err=$(run_in other "$GATE" --socket "$IT_SOCK" --timeout 5 web.service 2>&1)
rc=$?
check_eq "gate from another cgroup exits 255" 255 "$rc"
case "$err" in
*"not starting it"*"runs in cgroup $IT_CG_REL/other, not in $IT_CG_REL/web.service"*) ok "and says why" ;;
*) not_ok "and says why (got: $err)" ;;
esac
run_in other "$GATE" --socket "$IT_SOCK" --timeout 5 db.service
check_eq "gate of a unit that is not bound exits 0" 0 $?
run_in other "$GATE" --socket "$IT_SOCK.none" --timeout 5 web.service 2>/dev/null
check_eq "gate without netpold exits 255" 255 $?

# ---- naming, unbind ----
viol=$(ctl --json violations --target unit:web.service | jget '[v["target"] for v in j["violations"]][:1]')
check_eq "a violation in the unit's cgroup names the unit" '["unit:web.service"]' "$viol"
check "unbind unit:web.service" ctl unbind unit:web.service
check_eq "no binding left" 0 "$(ctl --json bindings | jget 'len(j["bindings"])')"
expect_probe "the unit's cgroup is not policed after unbind" allowed web.service udp 198.51.100.5 53

it_finish
