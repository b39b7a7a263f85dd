#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-state: bad state never unpolices a cgroup. The state files are edited
# by hand between a stop and a start of netpold (a binding that names a
# missing policy, a malformed entry, a lost file, a wiped directory, ...):
# netpold must refuse to start, with one error line naming the file and the
# entry, and the kernel must go on enforcing the binding it had.
. "$(dirname "$0")/lib.sh"

netpold_up

mk_cgroup app
APP=$(target app)
policy_applied p "$APP" '{"name": "p", "default": "allow", "rules": [
  {"action": "deny", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'
expect_probe "running: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53
expect_probe "running: udp 203.0.113.5:53 allowed" allowed app udp 203.0.113.5 53
stop_netpold TERM
expect_probe "stopped: udp 198.51.100.5:53 still denied" denied app udp 198.51.100.5 53

GOOD=$IT_TMP/good-state
cp -a "$IT_STATE" "$GOOD"
restore_good() {
	rm -rf "$IT_STATE"
	cp -a "$GOOD" "$IT_STATE"
}

# edit FILE PYTHON: runs PYTHON with `j` the parsed FILE (in the state
# directory), then writes `j` back.
edit() {
	python3 - "$IT_STATE/$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
j = json.load(open(path))
exec(code)
json.dump(j, open(path, "w"), indent=1)
PY
}

# refused DESCRIPTION REGEX: netpold must exit with status 1 at start, and
# its only error line must match REGEX (grep -E); the kernel still denies.
refused() {
	local desc=$1 re=$2 out=$IT_TMP/refused.log rc errs
	timeout 20 "$NETPOLD" --foreground --socket "$IT_SOCK" --state-dir "$IT_STATE" --bpffs "$IT_PIN" \
		--attach-cgroup "$IT_CG" --config "$IT_CONF" >"$out" 2>&1
	rc=$?
	cat "$out" >>"$IT_LOG"
	errs=$(grep -E 'netpold\[[0-9]+\]: err: ' "$out")
	if [ "$rc" -ne 1 ]; then
		not_ok "$desc: netpold refuses to start (exit status $rc, wanted 1)"
	elif [ "$(printf '%s\n' "$errs" | grep -c .)" -ne 1 ]; then
		not_ok "$desc: exactly one error line (got: $errs)"
	elif ! printf '%s\n' "$errs" | grep -qE "$re"; then
		not_ok "$desc: the error names the file and the entry (got: $errs)"
	else
		ok "$desc: refused with '${errs#*err: }'"
	fi
	expect_probe "$desc: udp 198.51.100.5:53 still denied" denied app udp 198.51.100.5 53
	expect_probe "$desc: udp 203.0.113.5:53 still allowed" allowed app udp 203.0.113.5 53
	restore_good
}

S=$IT_STATE

edit bindings.json 'j["bindings"][0]["policy"] = "gone"'
refused "binding names a missing policy" \
	"$S/bindings.json: bindings\[0\] \(target '$APP'\): .*policy 'gone'.*policies.json"

edit policies.json 'j["policies"] = [e for e in j["policies"] if e["policy"]["name"] != "p"]'
refused "bound policy removed from policies.json" \
	"$S/bindings.json: bindings\[0\] \(target '$APP'\): .*policy 'p'.*policies.json"

edit bindings.json 'del j["bindings"][0]["target"]'
refused "binding without a target" "$S/bindings.json: bindings\[0\]: .*\"target\""

edit bindings.json 'j["bindings"][0]["policy"] = 7'
refused "binding whose policy is not a string" "$S/bindings.json: bindings\[0\]( \(target '$APP'\))?: .*\"policy\""

edit bindings.json 'j["bindings"].append(7)'
refused "binding that is not an object" "$S/bindings.json: bindings\[1\]: .*object"

edit bindings.json 'j["bindings"][0]["target"] = "cgroup:relative/path"'
refused "binding with a malformed target" "$S/bindings.json: bindings\[0\] \(target 'cgroup:relative/path'\): "

edit bindings.json 'j["bindings"].append({"target": j["bindings"][0]["target"] + "/", "policy": "deny-all"})'
refused "the same target bound twice" "$S/bindings.json: bindings\[1\] \(target '$APP'\): .*twice"

edit bindings.json 'j["bindings"][0]["polcy"] = "p"'
refused "binding with an unknown key" "$S/bindings.json: bindings\[0\] \(target '$APP'\): .*\"polcy\""

edit bindings.json 'j["bindings"][0]["origin"] = "kubelet"'
refused "binding of an unknown origin" "$S/bindings.json: bindings\[0\] \(target '$APP'\): .*origin 'kubelet'"

edit bindings.json 'j["bindings"][0]["origin"] = 1'
refused "binding whose origin is not a string" "$S/bindings.json: bindings\[0\] \(target '$APP'\): .*\"origin\""

edit bindings.json 'j["version"] = 3'
refused "bindings.json of another version" "$S/bindings.json: .*version 3"

edit policies.json 'j["policies"].append(dict(j["policies"][0]))'
refused "a policy id twice" "$S/policies.json: policies\[[0-9]+\].*(twice|again)"

rm "$S/bindings.json"
refused "bindings.json lost" "$S/bindings.json.*(missing|does not exist)"

rm "$S/policies.json"
refused "policies.json lost" "$S/policies.json.*(missing|does not exist)"

rm -f "$S"/*.json
refused "state directory wiped" "$S.*(no state|missing).*$IT_PIN"

# Who asked for a binding is saved with it and survives a restart; a
# bindings.json from before origins holds explicit bindings.
origins() { ctl --json bindings | jget '[(b["target"], b["origin"]) for b in j["bindings"]]'; }
check_eq "bindings.json records the origin" '["explicit"]' \
	"$(jget '[b.get("origin") for b in j["bindings"]]' <"$S/bindings.json")"
check "netpold starts on the good state (origins)" start_netpold
check_eq "after a restart the binding is still explicit" "[[\"$APP\", \"explicit\"]]" "$(origins)"
check "netpolctl bindings shows the ORIGIN column" sh -c "'$NETPOLCTL' --socket '$IT_SOCK' bindings | grep -E '^TARGET .*ORIGIN\$'"
stop_netpold TERM
edit bindings.json 'for b in j["bindings"]: del b["origin"]'
check "netpold starts on a bindings.json without origins" start_netpold
check_eq "a binding without an origin loads as explicit" "[[\"$APP\", \"explicit\"]]" "$(origins)"
stop_netpold TERM
check_eq "and is saved with it" '["explicit"]' \
	"$(jget '[b.get("origin") for b in j["bindings"]]' <"$S/bindings.json")"
restore_good

# What may be dropped: a binding whose cgroup is gone polices nothing.
mk_cgroup gone
check "netpold starts on the good state" start_netpold
check "apply deny-all to a cgroup that will go" ctl apply "$(target gone)" deny-all
stop_netpold TERM
rmdir "$IT_CG/gone"
check "netpold starts when a bound cgroup was removed meanwhile" start_netpold
check_eq "the removed cgroup's binding is dropped, app's kept" "[\"$APP\"]" \
	"$(ctl --json bindings | jget '[b["target"] for b in j["bindings"]]')"
expect_probe "after restart: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53
stop_netpold TERM

# A version-1 state.json with the same mistake is refused too.
restore_good
python3 - "$S" <<'PY'
import json, sys
d = sys.argv[1]
pols = json.load(open(d + "/policies.json"))["policies"]
binds = json.load(open(d + "/bindings.json"))["bindings"]
binds[0]["policy"] = "gone"
json.dump({"version": 1, "policies": pols, "bindings": binds}, open(d + "/state.json", "w"))
PY
rm -f "$S/policies.json" "$S/bindings.json"
refused "version-1 state.json whose binding names a missing policy" \
	"$S/state.json: bindings\[0\] \(target '$APP'\): .*policy 'gone'"

check "netpold starts on the good state again" start_netpold
check_eq "binding still listed" "[[\"$APP\", \"p\"]]" \
	"$(ctl --json bindings | jget '[(b["target"], b["policy"]) for b in j["bindings"]]')"
expect_probe "finally: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53

it_finish
