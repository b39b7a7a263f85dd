#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-restart: enforcement never depends on netpold running. After kill -9
# the pinned programs keep denying; a new netpold on the same paths lists
# and enforces the same policies and bindings; and a prober hitting a
# denied destination every millisecond across a graceful restart (SIGTERM,
# then start) and across a crash and restart never gets through.
. "$(dirname "$0")/lib.sh"

netpold_up

mk_cgroup app
APP=$(target app)
P=$IT_TMP/r.json
write_policy "$P" '{"name": "r", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/24"], "protocol": "udp", "ports": [53]}]}'
check "policy add r" ctl policy add "$P"
check "apply r" ctl apply "$APP" r
check "allow a rule with netpolctl (must survive restarts)" ctl allow r '198.51.100.9:53/udp'

check_enforced() { # WHEN
	expect_probe "$1: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53
	expect_probe "$1: udp-sendto 198.51.100.5:53 denied" denied app udp-sendto 198.51.100.5 53
	expect_probe "$1: udp 203.0.113.5:53 allowed" allowed app udp 203.0.113.5 53
	expect_probe "$1: udp 198.51.100.9:53 allowed (rule added by netpolctl)" allowed app udp 198.51.100.9 53
}
check_listed() { # WHEN
	local pols binds
	pols=$(ctl --json policy list | jget '",".join(sorted(p["name"] for p in j["policies"]))')
	case ",$pols," in *,r,*) ok "$1: policy r listed" ;; *) not_ok "$1: policy r listed (got $pols)" ;; esac
	check_eq "$1: policy r has its 2 rules" 2 "$(ctl --json policy show r | jget 'len(j["policy"]["rules"])')"
	binds=$(ctl --json bindings | jget '[(b["target"], b["policy"]) for b in j["bindings"]]')
	check_eq "$1: binding listed" "[[\"$APP\", \"r\"]]" "$binds"
}
check_enforced "running"

# ---- kill -9 ----
stop_netpold KILL
ok "netpold killed with SIGKILL"
check_enforced "netpold down"
[ -d "$IT_PIN" ] && ok "pins kept while netpold is down" || not_ok "pins kept while netpold is down"

start_netpold || { not_ok "netpold restarts after SIGKILL"; it_finish; }
ok "netpold restarts after SIGKILL on the same paths"
check_listed "after SIGKILL + start"
check_enforced "after SIGKILL + start"
check_eq "status says the data plane was adopted" true "$(ctl --json status | jget 'j.get("adopted")')"

# ---- a 1 ms prober across restarts ----
PROBER=$IT_TMP/prober.out
probe_bg "$PROBER" app loop udp 198.51.100.5 53 1000
prober=$IT_BG_PID
wait_for_line "$PROBER" '^ready' 50 || not_ok "prober starts"
sleep 0.3

stop_netpold TERM
ok "netpold stopped with SIGTERM"
sleep 0.5
start_netpold || { not_ok "netpold starts after SIGTERM"; it_finish; }
ok "netpold starts again after SIGTERM"
sleep 0.3
stop_netpold KILL
sleep 0.3
start_netpold || { not_ok "netpold starts after the second SIGKILL"; it_finish; }
sleep 0.3

kill -TERM "$prober"
wait "$prober" 2>/dev/null
res=$(grep '^ok=' "$PROBER")
it_log "prober: $res"
check_eq "prober across SIGTERM/start and SIGKILL/start: zero successes" 0 \
	"$(echo "$res" | sed -n 's/^ok=\([0-9]*\).*/\1/p')"
eperm=$(echo "$res" | sed -n 's/.*eperm=\([0-9]*\).*/\1/p')
check "prober was denied all along (${eperm:-0} EPERM)" test "${eperm:-0}" -gt 500
check_eq "prober saw no other error" 0 "$(echo "$res" | sed -n 's/.*other=\([0-9]*\).*/\1/p')"

check_listed "after SIGTERM + start"
check_enforced "after SIGTERM + start"

# The state is two files: binding a cgroup rewrites only bindings.json.
check "policies.json and bindings.json exist" test -s "$IT_STATE/policies.json" -a -s "$IT_STATE/bindings.json"
pol_before=$(stat -c %Y.%i "$IT_STATE/policies.json")
sleep 1.1 # mtime granularity
mk_cgroup spare
check "apply to another cgroup" ctl apply "$(target spare)" deny-all
check_eq "apply left policies.json untouched" "$pol_before" "$(stat -c %Y.%i "$IT_STATE/policies.json")"
check "bindings.json lists the new binding" grep -q "\"$(target spare)\"" "$IT_STATE/bindings.json"
check "unbind the other cgroup" ctl unbind "$(target spare)"

# A version-1 state (one state.json) is read once, then saved as two files.
stop_netpold TERM
python3 - "$IT_STATE" <<'PY'
import json, sys
d = sys.argv[1]
pols = json.load(open(d + "/policies.json"))["policies"]
binds = json.load(open(d + "/bindings.json"))["bindings"]
json.dump({"version": 1, "policies": pols, "bindings": binds}, open(d + "/state.json", "w"))
PY
rm -f "$IT_STATE/policies.json" "$IT_STATE/bindings.json"
netpold_up "netpold starts from a version-1 state.json"
check_listed "after reading state.json"
check_enforced "after reading state.json"
check "state.json is gone, the two files are back" \
	test ! -e "$IT_STATE/state.json" -a -s "$IT_STATE/policies.json" -a -s "$IT_STATE/bindings.json"

# The restarted daemon still changes things.
check "policy update after the restarts" ctl policy update "$P"
expect_probe "after update: 198.51.100.9 no longer allowed (rule not in the file)" denied app udp 198.51.100.9 53
check "unbind after the restarts" ctl unbind "$APP"
expect_probe "after unbind: udp 198.51.100.5:53 allowed" allowed app udp 198.51.100.5 53

it_finish
