#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-violations: denials reach `netpolctl violations --follow` quickly (the
# requirement is 100 ms; the measured time is printed), with the right
# fields; repeats are folded with a count; --since and --target filter the
# history; `netpolctl stats` counts allowed and denied decisions exactly.
. "$(dirname "$0")/lib.sh"

netpold_up

mk_cgroup app
mk_cgroup other
APP=$(target app)

policy_applied vio "$APP" '{"name": "vio", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/24"], "protocol": "udp", "ports": [53]}]}'
check "apply deny-all to another cgroup" ctl apply "$(target other)" deny-all

# The follower: each line stamped with its arrival time (microseconds).
FOLLOW=$IT_TMP/follow.out
(ctl violations --follow --json | while IFS= read -r line; do
	printf '%s %s\n' "${EPOCHREALTIME/./}" "$line"
done) >"$FOLLOW" 2>"$IT_TMP/follow.err" &
it_track $!
if wait_for_line "$FOLLOW" '"following": *true' 50; then
	ok "violations --follow --json starts with {\"following\": true}"
else
	not_ok "violations --follow --json starts ($(cat "$IT_TMP/follow.err"))"
fi
# A follower of the other cgroup only.
FOLLOW_OTHER=$IT_TMP/follow-other.out
ctl violations --follow --json --target "$(target other)" >"$FOLLOW_OTHER" 2>"$IT_TMP/follow-other.err" &
it_track $!
wait_for_line "$FOLLOW_OTHER" '"following": *true' 50 ||
	not_ok "violations --follow --target starts ($(cat "$IT_TMP/follow-other.err"))"

# ---- latency and fields ----
T_START=$(date +%s)
out=$(probe app udp 198.51.100.7 4242)
rc=$?
check_eq "the denied connect gets EPERM" 1 "$rc"
pid=$(echo "$out" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
t_ns=$(echo "$out" | sed -n 's/.* t=\([0-9]*\).*/\1/p')
if wait_for_line "$FOLLOW" '"dest": *"198\.51\.100\.7"' 20; then
	line=$(grep -m1 '"dest": *"198\.51\.100\.7"' "$FOLLOW")
	t_us=${line%% *}
	ev=${line#* }
	latency_us=$((t_us - t_ns / 1000))
	it_log "denial to follower: $((latency_us / 1000)).$(printf '%03d' $((latency_us % 1000))) ms"
	if [ "$latency_us" -le 100000 ]; then
		ok "the follower gets the denial within 100 ms ($latency_us us)"
	else
		not_ok "the follower gets the denial within 100 ms (took $latency_us us)"
	fi
	fields=$(echo "$ev" | jget '"|".join(str(j["event"].get(k)) for k in
		("target", "policy", "dest", "port", "protocol", "pid", "comm", "verdict", "count"))')
	check_eq "event fields: target, policy, dest, port, protocol, pid, comm, verdict, count" \
		"$APP|vio|198.51.100.7|4242|udp|$pid|probe|deny|1" "$fields"
	check "event has time, cgroup_id, rule_index, hook" test "$(echo "$ev" | jget \
		'all(k in j["event"] for k in ("time", "cgroup_id", "rule_index", "hook"))')" = true
else
	not_ok "the follower gets the denial ($(tail -n 3 "$FOLLOW"))"
fi

# An allowed connect is not a violation (log: deny).
probe app udp 203.0.113.9 53 >/dev/null
# A denial in IPv6 and by the other cgroup's preset.
probe app tcp 2001:db8::77 443 >/dev/null
probe other udp 203.0.113.5 53 >/dev/null
wait_for_line "$FOLLOW" '"2001:db8::77"' 20 && ok "IPv6 denial followed" || not_ok "IPv6 denial followed"
wait_for_line "$FOLLOW" "\"target\": *\"$(target other)\"" 20 && ok "denial of the other cgroup followed" ||
	not_ok "denial of the other cgroup followed"
if grep -q '"203\.0\.113\.9"' "$FOLLOW"; then not_ok "allowed connect reported"; else ok "allowed connect not reported"; fi
wait_for_line "$FOLLOW_OTHER" "\"target\": *\"$(target other)\"" 20 && ok "--follow --target other: its denial followed" ||
	not_ok "--follow --target other: its denial followed ($(tail -n 3 "$FOLLOW_OTHER"))"
if grep -q "\"target\": *\"$APP\"" "$FOLLOW_OTHER"; then
	not_ok "--follow --target other: app's denials are not"
else
	ok "--follow --target other: app's denials are not"
fi

# ---- folding ----
# 7 denied connects from one process to one destination within well under a second.
probe app --count 7 loop udp 198.51.100.8 4243 0 >/dev/null
# The same denied attempt by two processes, one after the other (well within
# a second): folding must not hide the second behind the first.
pids_two=""
for i in 1 2; do
	out=$(probe app udp 198.51.100.10 4245)
	pids_two="$pids_two $(echo "$out" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')"
done
# A thread that renamed itself, as resolvers name theirs: the record names
# the program, and the thread beside it.
out=$(probe app --thread isc-net-0000 udp 198.51.100.9 4244)
check_eq "the thread's denied connect gets EPERM" 1 "$?"
thread_pid=$(echo "$out" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
sleep 2.5
sum_follow=$(sed 's/^[0-9]* //' "$FOLLOW" | python3 -c 'import json, sys
n = e = 0
for l in sys.stdin:
    m = json.loads(l).get("event")
    if m and m["dest"] == "198.51.100.8" and m["port"] == 4243:
        n += m["count"]; e += 1
print(n, e)')
check_eq "follow: 7 repeats add up to count 7" 7 "${sum_follow% *}"
check "follow: 7 repeats are folded (${sum_follow#* } events)" test "${sum_follow#* }" -lt 7

hist=$(ctl --json violations --since 1m)
sum_hist=$(echo "$hist" | jget '(sum(v["count"] for v in j["violations"] if v["dest"] == "198.51.100.8"),
	len([v for v in j["violations"] if v["dest"] == "198.51.100.8"]))')
check_eq "history: the repeats add up to count 7" 7 "$(echo "$sum_hist" | tr -d '(),' | cut -d' ' -f1)"
check_eq "history: lost is a number" true "$(echo "$hist" | jget 'isinstance(j["lost"], int)')"

two=$(echo "$hist" | jget '" ".join(sorted("%d:%d" % (v["pid"], v["count"]) for v in j["violations"]
	if v["dest"] == "198.51.100.10"))')
want_two=$(for p in $pids_two; do echo "$p:1"; done | sort | tr '\n' ' ')
check_eq "history: two processes' same attempt are two violations, one each" "${want_two% }" "$two"
follow_two=$(sed 's/^[0-9]* //' "$FOLLOW" | python3 -c 'import json, sys
print(" ".join(sorted(set(str(m["pid"]) for m in (json.loads(l).get("event") for l in sys.stdin)
	if m and m["dest"] == "198.51.100.10"))))')
check_eq "follow: both processes' attempts are shown" "$(echo $pids_two | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" \
	"$follow_two"
check_eq "a thread's attempt: pid, program (not the thread's name), thread" \
	"$thread_pid|probe|isc-net-0000" "$(echo "$hist" | jget '"|".join(str(v.get(k)) for v in j["violations"]
		if v["dest"] == "198.51.100.9" for k in ("pid", "comm", "thread"))')"
human=$(ctl violations --since 1m)
echo "$human" | grep '198\.51\.100\.9:4244/udp' | grep -q " $thread_pid  *probe (thread isc-net-0000) " &&
	ok "human violations: the program and its thread" ||
	not_ok "human violations: the program and its thread ($(echo "$human" | grep '198\.51\.100\.9:'))"
check_eq "human violations: one line per process" 2 "$(echo "$human" | grep -c '198\.51\.100\.10:4245/udp')"

# ---- --since and --target ----
has() { echo "$1" | jget "any(v['dest'] == '$2' for v in j['violations'])"; }
check_eq "--since 1m lists the first denial" true "$(has "$(ctl --json violations --since 1m)" 198.51.100.7)"
check_eq "--since 30s lists it" true "$(has "$(ctl --json violations --since 30s)" 198.51.100.7)"
check_eq "--since EPOCH (test start) lists it" true "$(has "$(ctl --json violations --since $((T_START - 1)))" 198.51.100.7)"
rfc=$(date -u -d "@$((T_START - 5))" +%Y-%m-%dT%H:%M:%SZ)
check_eq "--since $rfc (RFC 3339) lists it" true "$(has "$(ctl --json violations --since "$rfc")" 198.51.100.7)"
check_eq "--since a future time lists nothing" 0 \
	"$(ctl --json violations --since $(($(date +%s) + 3600)) | jget 'len(j["violations"])')"
check_eq "--target other: only the other cgroup's" "$(target other)" \
	"$(ctl --json violations --since 1m --target "$(target other)" | jget '",".join(sorted(set(v["target"] for v in j["violations"])))')"
check_eq "--target app: not the other cgroup's" false \
	"$(ctl --json violations --since 1m --target "$APP" | jget "any(v['target'] != '$APP' for v in j['violations'])")"
human=$(ctl violations --since 1m)
echo "$human" | head -n 1 | grep -q '^TIME ' && ok "human violations: a header" || not_ok "human violations header: $human"
echo "$human" | grep -q '198\.51\.100\.7:4242/udp' && ok "human violations: dest:port/proto" ||
	not_ok "human violations lack 198.51.100.7:4242/udp"

# ---- stats ----
for i in 1 2 3; do probe app udp 203.0.113.20 53 >/dev/null; done
stat() { # DEST PORT PROTO FIELD
	ctl --json stats --target "$APP" | jget "sum(s['$4'] for s in j['stats']
		if s['dest'] == '$1' and s['port'] == $2 and s['protocol'] == '$3')"
}
check_eq "stats: 3 allowed connects to 203.0.113.20:53/udp" 3 "$(stat 203.0.113.20 53 udp allowed)"
check_eq "stats: 0 denied to 203.0.113.20:53/udp" 0 "$(stat 203.0.113.20 53 udp denied)"
check_eq "stats: 7 denied to 198.51.100.8:4243/udp" 7 "$(stat 198.51.100.8 4243 udp denied)"
check_eq "stats: 1 denied to 198.51.100.7:4242/udp" 1 "$(stat 198.51.100.7 4242 udp denied)"
check_eq "stats --target: only that target" "$APP" \
	"$(ctl --json stats --target "$APP" | jget '",".join(sorted(set(s["target"] for s in j["stats"])))')"
human=$(ctl stats --target "$APP")
echo "$human" | head -n 1 | grep -qE '^TARGET +DESTINATION +PORT +PROTO +ALLOWED +DENIED' &&
	ok "human stats: the table header" || not_ok "human stats header: $(echo "$human" | head -n 1)"
OTHER=$(target other)
total() { # TARGET: allowed + denied counted for it
	ctl --json stats --target "$1" | jget 'sum(s["denied"] + s["allowed"] for s in j["stats"])'
}
app_before=$(total "$APP")
[ "$(total "$OTHER")" -gt 0 ] && ok "the other cgroup has counters" || not_ok "the other cgroup has no counters"
check "stats --reset --target $OTHER" ctl stats --reset --target "$OTHER"
check_eq "after a targeted reset: the other cgroup has none" 0 "$(total "$OTHER")"
check_eq "after a targeted reset: $APP keeps its counters" "$app_before" "$(total "$APP")"
check "stats --reset" ctl stats --reset
check_eq "after reset: nothing counted" 0 \
	"$(ctl --json stats | jget 'sum(s["denied"] + s["allowed"] for s in j["stats"])')"

it_finish
