# SPDX-License-Identifier: GPL-2.0-only
# Shared set-up of the integration tests: sourced, never run.
#
# Each test gets, all named after its pid and removed on exit:
#   IT_TMP    a temporary directory (socket, state, config, logs)
#   IT_CG     <cgroup2>/netpol-it-PID, netpold's --attach-cgroup
#   IT_PIN    /sys/fs/bpf/netpol-it-PID, netpold's pin directory
#   IT_NS     network namespace netpol-it-PID: only lo, no route out, with
#             203.0.113.0/24, 198.51.100.0/24 and 2001:db8::/32 local on lo
# Every probe runs in a cgroup below IT_CG and inside IT_NS, so that no
# packet ever leaves the machine.
#
# Environment: NETPOLD, NETPOLCTL, NETPOL_PROBE (paths of the built
# programs; meson sets them); IT_PREFIX (netpol-it by default: the start
# of those names, so that bench/containers, which sources this file too,
# names its own netpol-bench-ctr-PID).

set -u

IT_NAME=$(basename "$0" .sh)
IT_PASSED=0
IT_FAILED=0
IT_PIDS=()
IT_AT_EXIT=()
NETPOLD_PID=
IT_KEEP=${IT_KEEP:-}

it_skip() {
	echo "$IT_NAME: SKIP: $*"
	exit 77
}

it_log() {
	echo "# $*"
}

ok() {
	echo "ok - $*"
	IT_PASSED=$((IT_PASSED + 1))
}

not_ok() {
	echo "not ok - $*"
	IT_FAILED=$((IT_FAILED + 1))
}

# check DESCRIPTION COMMAND...: ok if the command succeeds (its stdout is
# dropped, its stderr shown).
check() {
	local desc=$1
	shift
	if "$@" >/dev/null; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1 (expected '$2', got '$3')"
	fi
}

it_finish() {
	echo "$IT_NAME: $IT_PASSED passed, $IT_FAILED failed"
	[ "$IT_FAILED" -eq 0 ]
	exit $?
}

# ---- environment ----

[ "$(id -u)" -eq 0 ] || it_skip "needs root (loads BPF programs, creates cgroups and network namespaces)"

NETPOLD=${NETPOLD:-}
NETPOLCTL=${NETPOLCTL:-}
NETPOL_PROBE=${NETPOL_PROBE:-}
for v in NETPOLD NETPOLCTL NETPOL_PROBE; do
	[ -n "${!v}" ] && [ -x "${!v}" ] || it_skip "$v='${!v}' is not an executable (is it built?)"
done
for p in ip nsenter python3; do
	command -v "$p" >/dev/null || it_skip "needs $p"
done

# The cgroup2 mount, from mountinfo (field 5 is the mount point; the file
# system type follows the "-" separator).
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)
[ -n "$CG2" ] || it_skip "no cgroup2 mount"
[ -d /sys/fs/bpf ] || it_skip "no /sys/fs/bpf"

IT_PREFIX=${IT_PREFIX:-netpol-it}
IT_TMP=$(mktemp -d "/tmp/$IT_PREFIX.XXXXXX")
# Reachable by the unprivileged user of it-perms (the socket's own mode and
# the daemon's credential check are what is tested).
chmod 0755 "$IT_TMP"
IT_CG=$CG2/$IT_PREFIX-$$
IT_CG_REL=/$IT_PREFIX-$$
IT_PIN=/sys/fs/bpf/$IT_PREFIX-$$
IT_NS=$IT_PREFIX-$$
IT_NETNS=/run/netns/$IT_NS
IT_SOCK=$IT_TMP/netpold.sock
IT_STATE=$IT_TMP/state
IT_LOG=$IT_TMP/netpold.log
IT_CONF=$IT_TMP/netpold.conf
: >"$IT_CONF"

# ---- clean-up ----

# Moves every process out of a cgroup tree (to the root), then removes it.
it_remove_cgroup() {
	local dir=$1 d pid
	[ -d "$dir" ] || return 0
	# Deepest first.
	find "$dir" -depth -type d 2>/dev/null | while read -r d; do
		while read -r pid; do
			echo "$pid" >"$CG2/cgroup.procs" 2>/dev/null || true
		done <"$d/cgroup.procs"
		rmdir "$d" 2>/dev/null || true
	done
}

it_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${IT_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	# SIGTERM, as systemd stops it, so that its exit path runs too (with
	# the leak check of the sanitized build); SIGKILL if it hangs.
	stop_netpold TERM
	for pid in "${IT_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for pid in "${IT_AT_EXIT[@]}"; do
		eval "$pid" || true
	done
	it_remove_cgroup "$IT_CG"
	rm -rf "$IT_PIN"
	ip netns del "$IT_NS" 2>/dev/null || true
	if [ "$IT_FAILED" -gt 0 ] && [ -s "$IT_LOG" ]; then
		echo "# last lines of netpold's log:"
		tail -n 30 "$IT_LOG" | sed 's/^/#   /'
	fi
	if [ -n "$IT_KEEP" ]; then echo "# kept $IT_TMP"; else rm -rf "$IT_TMP"; fi
	exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

# it_at_exit COMMAND: run (eval) at exit, once netpold and the background
# processes are gone, before the cgroups, pins and IT_TMP are removed.
it_at_exit() {
	IT_AT_EXIT+=("$1")
}

# Remembers a background process to kill at exit.
it_track() {
	IT_PIDS+=("$1")
}

# ---- cgroups and the network namespace ----

mkdir "$IT_CG" || it_skip "cannot create $IT_CG"

# mk_cgroup NAME: a cgroup below IT_CG; its target is $(target NAME).
mk_cgroup() {
	mkdir -p "$IT_CG/$1"
}

target() {
	echo "cgroup:$IT_CG_REL/$1"
}

# it_local_ranges NSENTER-ARGS...: in that network namespace, lo up with the
# test ranges local on it (a network container's too: engines.sh).
it_local_ranges() {
	nsenter "$@" sh -ec '
		echo 0 >/proc/sys/net/ipv6/conf/lo/disable_ipv6
		ip link set lo up
		ip addr add 203.0.113.1/32 dev lo
		ip route add local 203.0.113.0/24 dev lo
		ip addr add 198.51.100.1/32 dev lo
		ip route add local 198.51.100.0/24 dev lo
		ip -6 addr add 2001:db8::1/128 dev lo nodad
		ip -6 route add local 2001:db8::/32 dev lo
	'
}

it_setup_netns() {
	ip netns add "$IT_NS" || return 1
	it_local_ranges --net="$IT_NETNS"
}
it_setup_netns || it_skip "cannot set up network namespace $IT_NS"

# probe CGROUP-NAME ARGS...: the probe program in that cgroup and the netns.
probe() {
	local cg=$1
	shift
	"$NETPOL_PROBE" --cgroup "$IT_CG/$cg" --netns "$IT_NETNS" "$@"
}

# expect_probe DESCRIPTION allowed|denied CGROUP-NAME PROTO ADDR PORT
expect_probe() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$(probe "$@" 2>&1)
	rc=$?
	case "$want:$rc" in
	allowed:0 | denied:1) ok "$desc" ;;
	*) not_ok "$desc (wanted $want; $out)" ;;
	esac
}

# ---- netpold ----

ctl() {
	"$NETPOLCTL" --socket "$IT_SOCK" "$@"
}

# JSON field extraction: jget EXPR < json (EXPR is Python on `j`).
jget() {
	python3 -c 'import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$@"
}

# start_netpold [ARGS...]: runs netpold in the foreground (in the
# background of this shell) and waits, at most 20 s, until it answers.
start_netpold() {
	local i
	rm -f "$IT_SOCK"
	"$NETPOLD" --foreground --socket "$IT_SOCK" --state-dir "$IT_STATE" --bpffs "$IT_PIN" \
		--attach-cgroup "$IT_CG" --config "$IT_CONF" "$@" >>"$IT_LOG" 2>&1 &
	NETPOLD_PID=$!
	for i in $(seq 200); do
		if ! kill -0 "$NETPOLD_PID" 2>/dev/null; then
			wait "$NETPOLD_PID" 2>/dev/null
			echo "# netpold exited at start:"
			tail -n 20 "$IT_LOG" | sed 's/^/#   /'
			NETPOLD_PID=
			return 1
		fi
		if [ -S "$IT_SOCK" ] && ctl status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "# netpold did not answer within 20 s"
	return 1
}

# netpold_up [WHAT]: start_netpold as a test point, "netpold starts" or
# WHAT; the script cannot go on without it.
netpold_up() {
	local what=${1:-netpold starts}
	start_netpold || { not_ok "$what"; it_finish; }
	ok "$what"
}

# stop_netpold [SIGNAL]: SIGTERM by default; waits at most 20 s.
stop_netpold() {
	local sig=${1:-TERM} i
	[ -n "$NETPOLD_PID" ] || return 0
	kill "-$sig" "$NETPOLD_PID" 2>/dev/null
	for i in $(seq 200); do
		kill -0 "$NETPOLD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$NETPOLD_PID" 2>/dev/null; then
		echo "# netpold did not exit within 20 s of SIG$sig"
		kill -9 "$NETPOLD_PID"
	fi
	wait "$NETPOLD_PID" 2>/dev/null
	NETPOLD_PID=
}

# The resident set of netpold, in KiB.
netpold_rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$NETPOLD_PID/status" 2>/dev/null
}

# write_policy FILE JSON
write_policy() {
	printf '%s\n' "$2" >"$1"
}

# policy_applied NAME TARGET JSON: the policy (written to $IT_TMP/NAME.json)
# added and applied to TARGET, each a test point.
policy_applied() {
	write_policy "$IT_TMP/$1.json" "$3"
	check "policy add $1" ctl policy add "$IT_TMP/$1.json"
	check "apply $1 to $2" ctl apply "$2" "$1"
}

# cmd_fails DESCRIPTION REGEX GREP-FLAGS COMMAND...: COMMAND (a netpolctl run)
# must fail with exactly one line on stderr, "netpolctl: ...", matching REGEX
# (grep GREP-FLAGS, e.g. -E or -iE).
cmd_fails() {
	local desc=$1 re=$2 flags=$3 err rc
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		not_ok "$desc ($* succeeded)"
	elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! printf '%s\n' "$err" | grep -q "$flags" "^netpolctl: .*($re)"; then
		not_ok "$desc (stderr: $err)"
	else
		ok "$desc"
	fi
}

# ctl_fails DESCRIPTION REGEX ARGS...: netpolctl ARGS must fail so (grep -E).
ctl_fails() {
	local desc=$1 re=$2
	shift 2
	cmd_fails "$desc" "$re" -E ctl "$@"
}

# wait_for_line FILE REGEX [TENTHS]: until FILE has a matching line.
wait_for_line() {
	local i
	for i in $(seq "${3:-100}"); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# probe_bg OUTPUT CGROUP-NAME ARGS...: the probe in the background (not in
# a subshell: IT_BG_PID is the probe's own pid, for kill -TERM), tracked.
probe_bg() {
	local out=$1 cg=$2
	shift 2
	"$NETPOL_PROBE" --cgroup "$IT_CG/$cg" --netns "$IT_NETNS" "$@" >"$out" 2>&1 &
	IT_BG_PID=$!
	it_track "$IT_BG_PID"
}

# start_listener CGROUP-NAME PORT: a TCP listener on [::]:PORT in the netns.
start_listener() {
	local out=$IT_TMP/listen-$2.out
	probe_bg "$out" "$1" listen :: "$2"
	wait_for_line "$out" '^ready' 50
}
