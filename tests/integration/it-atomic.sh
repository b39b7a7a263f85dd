#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-atomic: `netpolctl policy update` replaces a bound policy atomically.
# While probes connect, in a tight loop, to destinations that both versions
# allow, the policy flips 50 times between two very different shapes (other
# default, other prefixes, other port segments): not one attempt may fail.
. "$(dirname "$0")/lib.sh"

FLIPS=50

netpold_up

mk_cgroup app
mk_cgroup srv
start_listener srv 8080 || not_ok "TCP listener in the netns"

# Shape A: default deny, two narrow allows.
A=$IT_TMP/a.json
write_policy "$A" '{"name": "flip", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/24"], "protocol": "udp", "ports": [53]},
  {"action": "allow", "to": ["203.0.113.5"], "protocol": "tcp", "ports": [8080]}]}'
# Shape B: default allow, denies around the same destinations.
B=$IT_TMP/b.json
write_policy "$B" '{"name": "flip", "default": "allow", "rules": [
  {"action": "deny", "to": ["203.0.113.0/24"], "except": ["203.0.113.5"]},
  {"action": "deny", "to": ["198.51.100.0/24", "2001:db8::/32"]},
  {"action": "deny", "to": ["any"], "protocol": "udp", "ports": ["1-52", "54-65535"]},
  {"action": "allow", "to": ["203.0.113.0/25"], "protocol": "tcp", "ports": ["8000-8100"]}]}'

check "policy add flip (shape A)" ctl policy add "$A"
check "apply flip" ctl apply "$(target app)" flip

# Each shape really is in force when installed: 203.0.113.6:53/udp tells them apart.
expect_probe "shape A: udp 203.0.113.6:53 allowed" allowed app udp 203.0.113.6 53
check "policy update to shape B" ctl policy update "$B"
expect_probe "shape B: udp 203.0.113.6:53 denied" denied app udp 203.0.113.6 53
expect_probe "shape B: udp 203.0.113.5:53 allowed" allowed app udp 203.0.113.5 53
expect_probe "shape B: tcp 203.0.113.5:8080 connects" allowed app tcp 203.0.113.5 8080
check "policy update to shape A" ctl policy update "$A"

# The probe loops: UDP connect (the required one), UDP sendto, TCP connect.
loops=()
start_loop() {
	local out=$IT_TMP/loop-$1.out
	probe_bg "$out" app loop "$1" 203.0.113.5 "$2" "$3"
	loops+=("$IT_BG_PID:$out:$1")
	wait_for_line "$out" '^ready' 50 || not_ok "probe loop $1 starts"
}
start_loop udp 53 0
start_loop udp-sendto 53 0
start_loop tcp 8080 200
sleep 0.2

failed_updates=0
t0=$(date +%s%N)
for i in $(seq "$FLIPS"); do
	if [ $((i % 2)) -eq 1 ]; then f=$B; else f=$A; fi
	ctl policy update "$f" >/dev/null || failed_updates=$((failed_updates + 1))
done
t1=$(date +%s%N)
check_eq "$FLIPS policy updates succeed" 0 "$failed_updates"
it_log "$FLIPS updates took $(((t1 - t0) / 1000000)) ms"
sleep 0.2

for l in "${loops[@]}"; do
	pid=${l%%:*}
	rest=${l#*:}
	out=${rest%:*}
	mode=${rest##*:}
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	res=$(grep '^ok=' "$out")
	it_log "$mode loop: $res"
	ok_n=$(echo "$res" | sed -n 's/^ok=\([0-9]*\).*/\1/p')
	eperm=$(echo "$res" | sed -n 's/.*eperm=\([0-9]*\).*/\1/p')
	other=$(echo "$res" | sed -n 's/.*other=\([0-9]*\).*/\1/p')
	check_eq "$mode loop across $FLIPS flips: zero denials" 0 "${eperm:-missing}"
	check_eq "$mode loop across $FLIPS flips: zero other errors" 0 "${other:-missing}"
	check "$mode loop made attempts during the flips (${ok_n:-0})" test "${ok_n:-0}" -gt "$FLIPS"
done

# The last update (A, FLIPS even) is the one in force.
expect_probe "after the flips: shape A in force (udp 203.0.113.6:53 allowed)" allowed app udp 203.0.113.6 53
expect_probe "after the flips: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53

it_finish
