#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The systemd phase's measurements, run by bench/systemd/run inside the
# container, where systemd is PID 1 and the network namespace has only lo:
#
#   inside.sh BIN OUT REPS ROUNDS CHUNK_S STREAM_CHUNK_S DENY_CAP_S
#
# BIN holds sd-load; netpold and netpolctl are the build installed in the
# container. OUT gets the results: systemd-results.tsv (config, rep,
# round, then sd-load run's columns), systemd-kernel.tsv (the programs' run
# time around chunks, statistics on), systemd-denywait.tsv, systemd-kv.tsv.
# Three transient units run `sd-load run` side by side, the same program
# and traffic, on CPU 1, one per configuration:
#   sdb-none.service     no filter, in system.slice
#   sdb-systemd.service  IPAddressDeny=any IPAddressAllow=203.0.113.0/24,
#                        in system.slice
#   sdb-netpol.service   in sdbnp.slice, netpold's attach cgroup (netpol's
#                        programs run for this unit only), bound by name
#                        (unit:sdb-netpol.service) to a policy that allows
#                        203.0.113.0/24 and denies everything else
# Their far end is sdb-srv.service (system.slice, no filter, CPU 0). A
# round runs a chunk of each workload in the three units, one after
# another, in an order reversed every time (as netpol-bench interleaves its
# variants); a rep is ROUNDS rounds. A unit makes its sockets only when
# told to, after the binding.
set -euo pipefail

bin=$1 out=$2 reps=$3 rounds=$4 chunk=$5 stream_chunk=$6 cap=$7
run=/run/sdb
sock=$run/netpold.sock
ALLOWED=203.0.113.7 DENIED=198.51.100.7 ALLOW_NET=203.0.113.0/24
SD_PROPS=(-p IPAddressDeny=any -p "IPAddressAllow=$ALLOW_NET")
NP_TARGET=unit:sdb-netpol.service

die() {
	echo "inside.sh: $*" >&2
	exit 1
}

kv() {
	printf '%s\t%s\n' "$1" "$2" >>"$out/systemd-kv.tsv"
}

ctl() {
	netpolctl --socket "$sock" "$@"
}

# until CMD... : at most 10 s.
until_ok() {
	for _ in $(seq 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

mkdir -p "$run" "$out"
printf 'key\tvalue\n' >"$out/systemd-kv.tsv"
kv systemd_version "$(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')"
kv tcp_syn_retries "$(cat /proc/sys/net/ipv4/tcp_syn_retries)"

# The test ranges local on lo (the harness may have made them so already):
# nothing here reaches a network.
ip link set lo up
ip route replace local 203.0.113.0/24 dev lo
ip route replace local 198.51.100.0/24 dev lo
[ "$(ip -o link show | grep -vc ': lo:')" = 0 ] || die "an interface other than lo"
! ip route show default | grep -q . || die "a default route"

# The image's own netpold (enabled, attached at the container's root) would
# police all three units: stop it, and remove its pins, which detaches its
# programs (a stopped netpold keeps enforcing through them).
systemctl stop netpold.socket netpold.service 2>/dev/null || true
rm -rf /sys/fs/bpf/netpol
# No program in effect for a unit of system.slice, then.
read -r -a k <<<"$(echo "kstats 1" | systemd-run -q -G --wait --pipe "$bin/sd-load" run "$ALLOWED" "$DENIED")"
[ "${k[3]:-}" = 0 ] || die "a unit of system.slice has socket or packet programs in effect: ${k[*]}"

systemd-run -q --unit sdb-srv -p CPUAffinity=0 "$bin/sd-load" serve "$run"
until_ok test -e "$run/ready" || die "sdb-srv.service did not start"

# netpold: its own socket, state and pins, attached at a slice only the
# netpol configuration uses.
systemctl start sdbnp.slice
systemd-run -q --unit sdb-netpold --service-type=notify "$(command -v netpold)" --socket "$sock" \
	--state-dir "$run/state" --bpffs /sys/fs/bpf/sdb --attach-cgroup /sys/fs/cgroup/sdbnp.slice \
	--config /dev/null || die "netpold did not start (journalctl -u sdb-netpold)"
cat >"$run/policy.json" <<EOF
{ "name": "sdb", "default": "deny", "rules": [ { "action": "allow", "to": ["$ALLOW_NET"] } ] }
EOF
ctl policy add "$run/policy.json" >/dev/null || die "netpolctl policy add failed"

# A denied TCP connect under systemd's filter, waited for to the end (the
# SYN is dropped at egress; the kernel retries it), beside the reps.
systemd-run -q -G --wait --pipe --unit sdb-denywait "${SD_PROPS[@]}" "$bin/sd-load" deny-wait "$cap" "$DENIED" \
	>"$out/systemd-denywait.tsv" 2>"$run/denywait.err" &
denywait=$!

# The three units, started once each; each runs the commands it is sent.
declare -A W R P
start_unit() {
	local c=$1 slice=system.slice props=()
	case $c in
	systemd) props=("${SD_PROPS[@]}") ;;
	netpol) slice=sdbnp.slice ;;
	esac
	mkfifo "$run/$c.in" "$run/$c.out"
	# Without the other units' pipes: each must see its own end of file.
	(
		for x in "${!W[@]}"; do eval "exec ${W[$x]}>&- ${R[$x]}<&-"; done
		exec systemd-run -q -G --wait --pipe --unit "sdb-$c" --slice "$slice" -p CPUAffinity=1 \
			"${props[@]}" "$bin/sd-load" run "$ALLOWED" "$DENIED" <"$run/$c.in" >"$run/$c.out" \
			2>"$run/$c.err"
	) &
	P[$c]=$!
	local w r
	exec {w}>"$run/$c.in"
	exec {r}<"$run/$c.out"
	W[$c]=$w R[$c]=$r
	until_ok test -d "/sys/fs/cgroup/$slice/sdb-$c.service" || die "sdb-$c.service did not start"
}

# cmd CONFIG REP ROUND WORKLOAD SECS: one chunk, its line into the results.
cmd() {
	local line
	echo "$4 $5" >&"${W[$1]}"
	read -r line <&"${R[$1]}" || die "sdb-$1.service did not answer: $(cat "$run/$1.err")"
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$line" >>"$out/systemd-results.tsv"
}

for c in none systemd netpol; do start_unit "$c"; done
ctl apply "$NP_TARGET" sdb >/dev/null || die "netpolctl apply $NP_TARGET failed"
kv netpol_binding "$(ctl bindings | grep -F sdb-netpol.service | tr -s ' \t' ' ')"

printf 'config\trep\tround\top\tns_per_op\tops\tfails\tfirst_err\tbytes\telapsed_ns\n' >"$out/systemd-results.tsv"
# The three units' chunks of one workload follow each other, so that a
# round's figures are measured under the same load.
order=(none systemd netpol)
kv loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$reps"); do
	for round in $(seq "$rounds"); do
		for w in tcp_crr:$chunk udp_sendto:$chunk stream:$stream_chunk; do
			for c in "${order[@]}"; do cmd "$c" "$rep" "$round" "${w%%:*}" "${w#*:}"; done
			order=("${order[2]}" "${order[1]}" "${order[0]}")
		done
	done
done
kv loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# In-kernel cost, with the run-time statistics on (a kernel-wide switch,
# so not during the rounds above: it adds two clock reads to every run):
# the programs in effect for each unit, their run time and runs summed
# around each chunk. Only the unit's own sockets run them (the far end is
# unfiltered).
systemd-run -q --unit sdb-stats "$bin/sd-load" stats-on "$run/stats-on"
until_ok test -e "$run/stats-on" || die "sdb-stats.service could not turn BPF statistics on"
# kcmd CONFIG ROUND WORKLOAD SECS
kcmd() {
	local a b line
	echo "kstats 1" >&"${W[$1]}"
	read -r -a a <&"${R[$1]}" || die "sdb-$1.service did not answer"
	echo "$3 $4" >&"${W[$1]}"
	read -r -a line <&"${R[$1]}" || die "sdb-$1.service did not answer"
	echo "kstats 1" >&"${W[$1]}"
	read -r -a b <&"${R[$1]}" || die "sdb-$1.service did not answer"
	[ "${a[4]}" = - ] || die "sdb-$1.service cannot read its programs' statistics: ${a[*]:4}"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${line[2]}" "${line[5]}" \
		$((b[1] - a[1])) $((b[2] - a[2])) "${b[3]}" >>"$out/systemd-kernel.tsv"
}
printf 'config\tround\top\tops\tbytes\trun_ns\trun_cnt\tprogs\n' >"$out/systemd-kernel.tsv"
for round in $(seq $((rounds > 6 ? rounds / 3 : 2))); do
	for w in tcp_crr:$chunk udp_sendto:$chunk stream:$stream_chunk; do
		for c in "${order[@]}"; do kcmd "$c" "$round" "${w%%:*}" "${w#*:}"; done
		order=("${order[2]}" "${order[1]}" "${order[0]}")
	done
done
systemctl stop sdb-stats
# What a denied destination does to the application, once each.
for c in none systemd netpol; do
	cmd "$c" 0 0 deny_udp 0.1
	cmd "$c" 0 0 deny_tcp 0.1
done
for c in none systemd netpol; do
	eval "exec ${W[$c]}>&- ${R[$c]}<&-"
	wait "${P[$c]}" || die "sdb-$c.service failed: $(cat "$run/$c.err")"
done
kv netpol_violations "$(ctl violations --json | grep -o '"count": *[0-9]*' | awk -F: '{ n += $2 } END { print n + 0 }')"

wait "$denywait" || die "sdb-denywait.service failed: $(cat "$run/denywait.err")"
systemctl stop sdb-srv sdb-netpold
