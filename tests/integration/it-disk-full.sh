#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-disk-full: a change whose state cannot be saved (here: a full state
# disk) is refused as exactly that: the reply says the state could not be
# saved and why, nothing was changed (the kernel change is rolled back: the
# probe sees no new binding, the lists show none), and once there is room
# again the same change goes through.
. "$(dirname "$0")/lib.sh"

command -v bpftool >/dev/null || it_skip "needs bpftool"
SMALL=$IT_TMP/small
mkdir "$SMALL"
mount -t tmpfs -o size=64k,mode=0700 "netpol-it-$$" "$SMALL" || it_skip "cannot mount a tmpfs on $SMALL"
it_at_exit "umount -l '$SMALL'"
IT_STATE=$SMALL/state

netpold_up "netpold starts with its state on a 64 KiB tmpfs"

mk_cgroup app
mk_cgroup spare
APP=$(target app)
SPARE=$(target spare)
P=$IT_TMP/p.json
Q=$IT_TMP/q.json
P2=$IT_TMP/p2.json
write_policy "$P" '{"name": "p", "default": "allow", "rules": [
  {"action": "deny", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'
write_policy "$Q" '{"name": "q", "default": "deny", "rules": []}'
write_policy "$P2" '{"name": "p", "default": "allow", "rules": [
  {"action": "allow", "to": ["198.51.100.7"], "protocol": "udp", "ports": [53]},
  {"action": "deny", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'
check "policy add p" ctl policy add "$P"
check "apply p to spare" ctl apply "$SPARE" p
expect_probe "spare: udp 198.51.100.7:53 denied" denied spare udp 198.51.100.7 53

dd if=/dev/zero of="$SMALL/fill" bs=4k >/dev/null 2>&1
check_eq "the state disk is full" 0 "$(df --output=avail "$SMALL" | tail -n 1 | tr -d ' ')"

# not_saved DESCRIPTION FILE ARGS...: netpolctl ARGS fails with
# netpol.StateNotSaved, saying that FILE could not be saved, why, and that
# nothing changed.
not_saved() {
	local desc=$1 file=$2 out err code
	shift 2
	out=$(ctl --json "$@" 2>"$IT_TMP/err")
	err=$(cat "$IT_TMP/err")
	code=$(printf '%s\n' "$out" | jget 'j["error"]["code"]' 2>/dev/null)
	if [ "$code" != netpol.StateNotSaved ]; then
		not_ok "$desc: fails with netpol.StateNotSaved (got '$code'; $err)"
	elif ! printf '%s\n' "$err" | grep -qE "^netpolctl: .*$SMALL/state/$file.*No space left on device.*nothing was changed"; then
		not_ok "$desc: the message names the file, the reason, and that nothing changed (got: $err)"
	else
		ok "$desc: ${err#netpolctl: }"
	fi
}

policies() { ctl --json policy list | jget '",".join(sorted(p["name"] for p in j["policies"]))'; }
bindings() { ctl --json bindings | jget '",".join(sorted(b["target"] + "=" + b["policy"] for b in j["bindings"]))'; }
# The policies in the kernel, counted in the pinned map.
kernel_policies() {
	bpftool -j map dump pinned "$IT_PIN/np_policies" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
pols_before=$(policies)
binds_before=$(bindings)
kpols_before=$(kernel_policies)

not_saved "policy add with a full disk" policies.json policy add "$Q"
not_saved "apply with a full disk" bindings.json apply "$APP" p
expect_probe "after the failed apply: app is not bound (udp 198.51.100.5:53 allowed)" allowed app udp 198.51.100.5 53
not_saved "re-apply with a full disk" bindings.json apply "$SPARE" deny-all
expect_probe "after the failed re-apply: spare keeps p (udp 203.0.113.5:53 allowed)" allowed spare udp 203.0.113.5 53
not_saved "unbind with a full disk" bindings.json unbind "$SPARE"
expect_probe "after the failed unbind: spare still denied" denied spare udp 198.51.100.7 53
not_saved "policy update with a full disk" policies.json policy update "$P2"
expect_probe "after the failed update: spare's 198.51.100.7 still denied" denied spare udp 198.51.100.7 53
not_saved "policy delete with a full disk" policies.json policy delete worker
not_saved "rule add with a full disk" policies.json allow p '198.51.100.7:53/udp'
expect_probe "after the failed rule add: spare's 198.51.100.7 still denied" denied spare udp 198.51.100.7 53
check_eq "policies unchanged" "$pols_before" "$(policies)"
check_eq "bindings unchanged" "$binds_before" "$(bindings)"
check_eq "the kernel holds the same policies" "$kpols_before" "$(kernel_policies)"

rm -f "$SMALL/fill"
check "with room again: policy add q" ctl policy add "$Q"
check "with room again: apply p to app" ctl apply "$APP" p
expect_probe "app now denied" denied app udp 198.51.100.5 53

stop_netpold TERM
check "netpold restarts on the state written after the disk was full" start_netpold
check_eq "policies after restart" "$(echo "$pols_before,q" | tr , '\n' | sort | paste -sd,)" "$(policies)"
check_eq "bindings after restart" "$APP=p,$SPARE=p" "$(bindings)"

it_finish
