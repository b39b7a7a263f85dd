#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-sd-units: systemd units bound by name (docs/units.md), under a real
# systemd (tests/systemd/lib.sh):
#  - apply unit:NAME.service writes the gate's drop-in; 50 `systemctl
#    restart`s of a service whose ExecStart's first action is a denied
#    connect (first, tests/integration/first.c): every one denied (EPERM);
#  - a slice's binding covers a service in it, and its violation names the
#    service; unknown, masked and netpold's own units are refused;
#  - netpold cannot start (masked): the bound service fails to start (its
#    gate exits 255) and never runs unpoliced; with netpold stopped but its
#    socket listening, the gate starts netpold and the start is policed;
#  - a reboot keeps the binding: the service, enabled at boot, is denied at
#    its first instruction;
#  - unbind removes the drop-in: the service then runs unpoliced;
#  - apply logs "Bound" once, though it waits for systemd's reload;
#  - teardown --forget, by netpolctl (netpold running) and by netpold
#    --teardown (netpold stopped), removes the gate's drop-in (never a file
#    of that name that is not netpold's) and has systemd reload: with
#    netpold stopped and its socket disabled, the formerly bound service
#    starts, unpoliced, as the administrator asked.
. "$(dirname "$0")/lib.sh"

DENIED=203.0.113.9
PORT=80
DROPIN=/etc/systemd/system/netpol-probe.service.d/50-netpol.conf

sd_up
if sd_install_netpold; then ok "netpold installed and answering"; else not_ok "netpold installed and answering"; it_finish; fi

# A oneshot whose first instruction is the connect a policy must judge,
# started as often as the test likes (no start rate limit).
sd sh -ec "cat >/etc/systemd/system/netpol-probe.service <<EOS
[Unit]
StartLimitIntervalSec=0
[Service]
Type=oneshot
ExecStart=$SD_TOOLS/first -o /run/probe-out connect $DENIED $PORT
[Install]
WantedBy=multi-user.target
EOS
cat >/etc/systemd/system/netpol-probe2.service <<EOS
[Unit]
StartLimitIntervalSec=0
[Service]
Type=oneshot
Slice=netpol-test.slice
ExecStart=$SD_TOOLS/first -o /run/probe2-out connect $DENIED $PORT
EOS
mkdir -p /usr/local/lib/systemd/system
printf '[Service]\nExecStart=/bin/true\n' >/usr/local/lib/systemd/system/netpol-masked.service
systemctl daemon-reload"

# first_results N UNIT OUT: starts UNIT N times, prints how many first
# attempts were denied (EPERM), got through, and starts failed.
first_results() {
	sd bash -c 'n=$1 unit=$2 out=$3 denied=0 through=0 failed=0
		for i in $(seq "$n"); do
			rm -f "$out"
			if ! systemctl restart "$unit" 2>/dev/null; then failed=$((failed + 1)); continue; fi
			case $(head -n1 "$out" 2>/dev/null) in
			EPERM*) denied=$((denied + 1)) ;;
			*) through=$((through + 1)) ;;
			esac
		done
		echo "$denied $through $failed"' sh "$@"
}

check_eq "unbound, the probe's connect is not denied" "0 1 0" "$(first_results 1 netpol-probe.service /run/probe-out)"

# ---- apply, the gate, 50 restarts ----
check "apply unit:netpol-probe.service deny-all" sd_ctl apply unit:netpol-probe.service deny-all
check "the gate's drop-in is written" sd grep -q "^ExecCondition=+/usr/local/libexec/netpol/netpol-unit-gate netpol-probe.service$" "$DROPIN"
check "systemd loaded it" sd sh -c 'systemctl show -P DropInPaths netpol-probe.service | grep -q 50-netpol.conf'
check_eq "netpold logged the binding once" 1 \
	"$(sd journalctl -u netpold.service --no-pager -o cat | grep -c "^Bound 'unit:netpol-probe.service'")"
check_eq "50 restarts: every first instruction denied" "50 0 0" "$(first_results 50 netpol-probe.service /run/probe-out)"
check_eq "bindings names the unit" "unit:netpol-probe.service" \
	"$(sd_ctl --json bindings | jget '[b["target"] for b in j["bindings"]][0]')"
check_eq "test unit:netpol-probe.service (stopped): deny" deny \
	"$(sd_ctl --json test unit:netpol-probe.service "$DENIED:$PORT/tcp" | jget 'j["verdict"]')"

# ---- refusals ----
ctl_sd_fails() { # DESCRIPTION REGEX ARGS...: as lib.sh's ctl_fails, in the container
	local desc=$1 re=$2
	shift 2
	cmd_fails "$desc" "$re" -E sd_ctl "$@"
}
ctl_sd_fails "an unknown unit is refused" "no such unit" apply unit:netpol-nonexistent.service deny-all
sd systemctl mask --runtime netpol-masked.service >/dev/null 2>&1
ctl_sd_fails "a masked unit is refused" "the unit is masked" apply unit:netpol-masked.service deny-all
ctl_sd_fails "netpold's own unit is refused" "netpold's own units are never bound" apply unit:netpold.service deny-all

# ---- a slice ----
check "apply unit:netpol-test.slice deny-all" sd_ctl apply unit:netpol-test.slice deny-all
check_eq "a service in the bound slice is denied from its first instruction" "3 0 0" \
	"$(first_results 3 netpol-probe2.service /run/probe2-out)"
# The record follows the denial once netpold has read its event: at most 5 s.
violation_target() {
	local i t=
	for i in $(seq 50); do
		t=$(sd_ctl --json violations --target "$1" | jget '([v["target"] for v in j["violations"]] or [""])[-1]')
		[ -n "$t" ] && break
		sleep 0.1
	done
	echo "$t"
}
check_eq "its violation names the service" "unit:netpol-probe2.service" \
	"$(violation_target unit:netpol-probe2.service)"
check "unbind unit:netpol-test.slice" sd_ctl unbind unit:netpol-test.slice

# ---- netpold down ----
sd systemctl stop netpold.service
check_eq "netpold stopped, its socket listening: the gate starts it, the start is policed" "1 0 0" \
	"$(first_results 1 netpol-probe.service /run/probe-out)"
sd sh -c 'systemctl stop netpold.socket netpold.service; systemctl mask --runtime netpold.service' >/dev/null 2>&1
check_eq "netpold cannot start: the bound service fails to start, never runs unpoliced" "0 0 3" \
	"$(first_results 3 netpol-probe.service /run/probe-out)"
check "and its journal says why" sd sh -c \
	'journalctl -u netpol-probe.service --no-pager | grep -q "netpol-unit-gate: netpol-probe.service: not starting it: netpold is not reachable"'
sd sh -c 'systemctl unmask --runtime netpold.service; systemctl start netpold.socket netpold.service' >/dev/null 2>&1
sd_wait_answers

# ---- a reboot ----
sd systemctl enable netpol-probe.service >/dev/null 2>&1
if sd_reboot; then ok "the container reboots"; else not_ok "the container reboots"; it_finish; fi
for i in $(seq 100); do sd test -e /run/probe-out && break; sleep 0.1; done
check_eq "after the reboot, the service started at boot is denied at its first instruction" EPERM \
	"$(sd head -n1 /run/probe-out | cut -d' ' -f1)"
check_eq "... and again at each restart" "5 0 0" "$(first_results 5 netpol-probe.service /run/probe-out)"

# ---- unbind ----
check "unbind unit:netpol-probe.service" sd_ctl unbind unit:netpol-probe.service
check "the drop-in is removed" sd sh -c "! test -e $DROPIN"
check_eq "unbound, the service runs unpoliced again" "0 1 0" "$(first_results 1 netpol-probe.service /run/probe-out)"

# ---- teardown --forget: the gates go with the bindings ----
OTHER=/etc/systemd/system/netpol-probe2.service.d/50-netpol.conf
sd sh -c "mkdir -p ${OTHER%/*} && printf '[Service]\nEnvironment=OWN=1\n' >$OTHER"

# bind_again: netpold running, the probe bound and gated.
bind_again() {
	sd sh -c 'systemctl enable --now netpold.socket netpold.service' >/dev/null 2>&1
	sd_wait_answers
	sd_ctl apply unit:netpol-probe.service deny-all >/dev/null && sd test -e "$DROPIN"
}

# probe_once: the probe started once: "ran" (its connect not denied),
# "denied", "start failed" or "did not run" (a failed ExecCondition= can
# skip a start).
probe_once() {
	sd bash -c 'rm -f /run/probe-out
		systemctl restart netpol-probe.service 2>/dev/null || { echo "start failed"; exit; }
		case $(head -n1 /run/probe-out 2>/dev/null | cut -d" " -f1) in
		"") echo "did not run" ;; EPERM) echo denied ;; *) echo ran ;; esac'
}

# forgotten HOW: the gate is gone and systemd let go of it; with netpold's
# units stopped, disabled and masked (as uninstalled), the service runs,
# unpoliced, and netpold stays off.
forgotten() {
	check "$1: the drop-in is removed" sd sh -c "! test -e $DROPIN"
	check "$1: systemd has no gate for the service" \
		sd sh -c '! systemctl cat netpol-probe.service | grep -q ExecCondition=; ! systemctl show -P DropInPaths netpol-probe.service | grep -q 50-netpol.conf'
	check "$1: a drop-in of that name that is not netpold's stays" sd grep -q OWN=1 "$OTHER"
	sd sh -c 'systemctl disable --now netpold.socket netpold.service
		systemctl mask --runtime netpold.socket netpold.service' >/dev/null 2>&1
	check_eq "$1: netpold gone, the service runs, unpoliced" ran "$(probe_once)"
	check_eq "$1: ... and netpold stays off" inactive "$(sd_active netpold.service)"
	sd systemctl unmask --runtime netpold.socket netpold.service >/dev/null 2>&1
}

check "bound again, for netpolctl teardown --forget" bind_again
out=$(sd_ctl teardown --yes --forget 2>&1)
check "netpolctl teardown --forget says the gate is removed" \
	grep -q "Removed the gates .* of 1 service(s) that were bound: they start unpoliced" <<<"$out"
forgotten "netpolctl teardown --forget"

check "bound again, for netpold --teardown --forget" bind_again
sd sh -c 'systemctl stop netpold.socket netpold.service' >/dev/null 2>&1
out=$(sd netpold --teardown --forget 2>&1)
check "netpold --teardown --forget says the gate is removed" \
	grep -q "Removed the gates of 1 formerly bound service(s) .* and systemd reloaded" <<<"$out"
forgotten "netpold --teardown --forget"

it_finish
