#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-pidns: netpold in a pid namespace of its own (as in a systemd
# container) names the processes of its violations by their pids in that
# namespace, the ones its administrator sees: a process of its namespace,
# and one of a namespace below it (a container's), also for a raw socket's
# packet, named by the socket's maker; one outside it is pid 0,
# and the violation says it is hidden. A netpold in the initial namespace
# that adopts the pins then names them by the initial namespace's pids.
. "$(dirname "$0")/lib.sh"

for p in unshare nsenter pgrep; do
	command -v "$p" >/dev/null || it_skip "needs $p"
done

# start_netpold_pidns: netpold as PID 1 of a new pid namespace with its own
# /proc. unshare's parent ignores SIGTERM: NETPOLD_PID is netpold's own
# pid (in ours), which stop_netpold signals; unshare ends with it.
start_netpold_pidns() {
	local i u
	rm -f "$IT_SOCK"
	unshare --pid --fork --mount-proc --kill-child "$NETPOLD" --foreground --socket "$IT_SOCK" \
		--state-dir "$IT_STATE" --bpffs "$IT_PIN" --attach-cgroup "$IT_CG" --config "$IT_CONF" \
		>>"$IT_LOG" 2>&1 &
	u=$!
	it_track "$u"
	NETPOLD_PID=
	for i in $(seq 200); do
		[ -n "$NETPOLD_PID" ] || NETPOLD_PID=$(pgrep -P "$u")
		if ! kill -0 "$u" 2>/dev/null; then
			echo "# netpold exited at start:"
			tail -n 20 "$IT_LOG" | sed 's/^/#   /'
			NETPOLD_PID=
			return 1
		fi
		if [ -n "$NETPOLD_PID" ] && [ -S "$IT_SOCK" ] && ctl status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "# netpold did not answer within 20 s"
	return 1
}

start_netpold_pidns || {
	not_ok "netpold starts in a pid namespace of its own"
	it_finish
}
ok "netpold starts in a pid namespace of its own"
check_eq "netpold is PID 1 there" 1 "$(awk '/^NSpid:/ { print $NF }' "/proc/$NETPOLD_PID/status")"

mk_cgroup app
APP=$(target app)
policy_applied pidns "$APP" '{"name": "pidns", "default": "deny", "rules": []}'

# The pid of a denial to DEST PORT, and whether it is hidden: "PID HIDDEN".
violation_pid() {
	ctl violations --json --target "$APP" | jget "' '.join(str(v['pid']) + ' ' + str(v['pid_hidden']).lower()
		for v in j['violations'] if v['dest'] == '$1' and v['port'] == $2) or 'none'"
}

# wait_violation DEST PORT: until `violations` has it (the window is 1 s).
wait_violation() {
	local i
	for i in $(seq 50); do
		[ "$(violation_pid "$1" "$2")" != none ] && return 0
		sleep 0.1
	done
	return 1
}

# sh -c "$PROBE_SH" OUT _ PROBE ARGS...: the probe, exec()ed by a shell that
# first writes its NSpid line (its pids, from ours down to its own) to OUT;
# the shell reads /proc/self itself, so that self is the probe-to-be.
PROBE_SH='while read -r l; do case $l in NSpid:*) echo "$l" >"$0" ;; esac; done </proc/self/status
shift; exec "$@"'

# ---- a process of netpold's namespace ----
out=$(nsenter --target "$NETPOLD_PID" --pid -- sh -c "$PROBE_SH" "$IT_TMP/inner.nspid" _ \
	"$NETPOL_PROBE" --cgroup "$IT_CG/app" --netns "$IT_NETNS" udp 198.51.100.7 4242 2>&1)
check_eq "the probe in netpold's namespace is denied" 1 "$?"
read -r _ host_pid ns_pid rest <"$IT_TMP/inner.nspid"
it_log "in netpold's namespace: pid $ns_pid (ours: $host_pid); the probe said: $out"
check "the probe has a pid of its own there (not ours)" test -n "$ns_pid" -a -z "$rest" -a "$ns_pid" != "$host_pid"
check_eq "the probe prints that pid" "$ns_pid" "$(echo "$out" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')"
if wait_violation 198.51.100.7 4242; then
	check_eq "violations --json: its pid in netpold's namespace" "$ns_pid false" "$(violation_pid 198.51.100.7 4242)"
else
	not_ok "violations --json has the denial to 198.51.100.7:4242"
fi

# ---- a process of a namespace below netpold's: the walk, not the helper ----
nsenter --target "$NETPOLD_PID" --pid -- unshare --pid --fork -- sh -c "$PROBE_SH" "$IT_TMP/nested.nspid" _ \
	"$NETPOL_PROBE" --cgroup "$IT_CG/app" --netns "$IT_NETNS" udp 198.51.100.8 4243 >/dev/null 2>&1
check_eq "the probe in a namespace below netpold's is denied" 1 "$?"
read -r _ host_pid ns_pid own_pid rest <"$IT_TMP/nested.nspid"
it_log "below: pid $ns_pid in netpold's namespace, $own_pid in its own (ours: $host_pid)"
check "the probe there has three pids" test -n "$own_pid" -a -z "$rest" -a "$ns_pid" != "$own_pid"
if wait_violation 198.51.100.8 4243; then
	check_eq "violations --json: its pid in netpold's namespace" "$ns_pid false" "$(violation_pid 198.51.100.8 4243)"
else
	not_ok "violations --json has the denial to 198.51.100.8:4243"
fi

# ---- a raw socket's packet, judged where no task is at hand: the process
# that made the socket, as sock_create recorded it (np_sk_creator) ----
if command -v ping >/dev/null; then
	mk_cgroup raw
	# ping connect()s a UDP socket first (port 1025, no packet), to learn
	# its source address; without ping sockets for its group, it sends
	# from a raw socket.
	policy_applied pidraw "$(target raw)" '{"name": "pidraw", "default": "deny", "raw_sockets": "allow",
		"rules": [{"action": "allow", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [1025]}]}'
	nsenter --target "$NETPOLD_PID" --pid -- sh -c "$PROBE_SH" "$IT_TMP/raw.nspid" _ "$NETPOL_PROBE" \
		--cgroup "$IT_CG/raw" --netns "$IT_NETNS" exec ping -c 1 -W 1 198.51.100.20 >/dev/null 2>&1
	read -r _ host_pid ns_pid rest <"$IT_TMP/raw.nspid"
	for i in $(seq 50); do
		v=$(ctl violations --json --target "$(target raw)" | jget "' '.join(str(v['pid']) + ' ' + v['comm']
			+ ' ' + v['hook'] for v in j['violations'] if v['dest'] == '198.51.100.20') or 'none'")
		[ "$v" != none ] && break
		sleep 0.1
	done
	check_eq "a ping's raw packet from netpold's namespace: its pid there" "$ns_pid ping egress" "$v"
fi

# ---- a process outside netpold's namespace: no pid it could see ----
probe app udp 198.51.100.9 4244 >/dev/null 2>&1
check_eq "the probe outside netpold's namespace is denied" 1 "$?"
if wait_violation 198.51.100.9 4244; then
	check_eq "violations --json: pid 0, hidden" "0 true" "$(violation_pid 198.51.100.9 4244)"
	check_eq "... its program is still named" probe "$(ctl violations --json --target "$APP" |
		jget "[v['comm'] for v in j['violations'] if v['port'] == 4244][0]")"
else
	not_ok "violations --json has the denial to 198.51.100.9:4244"
fi
if wait_for_line "$IT_LOG" "deny 198\.51\.100\.9:4244/udp .*outside netpold's pid namespace" 30; then
	ok "the log says the process is outside netpold's pid namespace"
else
	not_ok "the log says the process is outside netpold's pid namespace"
fi

# ---- adopted by a netpold in the initial namespace ----
stop_netpold TERM
netpold_up "netpold in our namespace adopts the pins"
if wait_for_line "$IT_LOG" "pinned programs were loaded by a netpold in another pid namespace" 30; then
	ok "it says the pins were loaded in another pid namespace"
else
	not_ok "it says the pins were loaded in another pid namespace"
fi
out=$(probe app udp 198.51.100.10 4245 2>&1)
if wait_violation 198.51.100.10 4245; then
	check_eq "violations --json: the initial namespace's pid" \
		"$(echo "$out" | sed -n 's/.* pid=\([0-9]*\).*/\1/p') false" "$(violation_pid 198.51.100.10 4245)"
else
	not_ok "violations --json has the denial to 198.51.100.10:4245"
fi

it_finish
