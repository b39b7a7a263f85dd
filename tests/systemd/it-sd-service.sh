#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# netpold as systemd runs it (tests/systemd/lib.sh: a container whose PID 1
# is systemd, with this build installed): the install step reaches READY,
# socket activation, and enforcement that never lapses — a 1 ms prober in a
# bound service has none of its denied connects get through while netpold is
# upgraded from an older build (other BPF programs), restarted 20 times,
# SIGKILLed 5 times and killed once by the watchdog — and a reboot that
# brings netpold back with its policies.
#
# Environment: NETPOL_SD_UPGRADE_FROM, the commit whose netpold is installed
# first (git must have it; by default the last one before the BPF programs
# changed for issue 11).
. "$(dirname "$0")/lib.sh"

UPGRADE_FROM=${NETPOL_SD_UPGRADE_FROM:-48ada42}
SRC=$(cd "$SD_DIR/../.." && pwd)
DENIED=203.0.113.9
PORT=80
POLICY='{"name": "sdtest", "default": "deny", "rules": [{"action": "allow", "to": ["198.51.100.0/24"]}]}'

# netpold of UPGRADE_FROM, built from `git archive` (the checkout is left alone).
build_old() {
	local d=$IT_TMP/old
	command -v git >/dev/null || return 1
	mkdir -p "$d/src" || return 1
	git -C "$SRC" archive "$UPGRADE_FROM" | tar -x -C "$d/src" || return 1
	meson setup "$d/build" "$d/src" >"$d/log" 2>&1 && ninja -C "$d/build" daemon/netpold >>"$d/log" 2>&1 || {
		tail -n 20 "$d/log" | sed 's/^/#   /'
		return 1
	}
}

nrestarts() {
	sd systemctl show -P NRestarts netpold.service
}

# wait_restarted N: until NRestarts > N and netpold answers again.
wait_restarted() {
	local i
	for i in $(seq 300); do
		[ "$(nrestarts)" -gt "$1" ] && sd_wait_answers && return 0
		sleep 0.1
	done
	return 1
}

sd_up
if build_old; then
	ok "netpold of $UPGRADE_FROM is built, to upgrade from"
else
	not_ok "netpold of $UPGRADE_FROM is built, to upgrade from"
	it_finish
fi
dk cp "$IT_TMP/old/build/daemon/netpold" "$SD_NAME:$SD_TOOLS/netpold.old" &&
	sd sh -ec "cp /usr/local/sbin/netpold $SD_TOOLS/netpold.new; cp $SD_TOOLS/netpold.old /usr/local/sbin/netpold"

# ---- install, READY, socket activation ----
if sd_install_netpold; then ok "systemctl enable --now: netpold answers"; else not_ok "systemctl enable --now: netpold answers"; fi
check_eq "Type=notify: active (running) once READY" "active running" \
	"$(sd systemctl show -P ActiveState netpold.service) $(sd systemctl show -P SubState netpold.service)"
sd systemctl stop netpold.service
check_eq "systemctl stop leaves the socket listening" "inactive active" \
	"$(sd_active netpold.service) $(sd_active netpold.socket)"
check "a client starts netpold through its socket" sd_ctl status
check_eq "... and netpold.service is active" active "$(sd_active netpold.service)"
bpftool cgroup show "$(sd_host_cgroup)" >"$IT_TMP/progs" 2>&1
check "its programs are attached at the container's cgroup root" grep -q connect4 "$IT_TMP/progs"

# ---- a bound service probed every 1 ms while netpold goes up and down ----
sd_policy sdtest "$POLICY"
sd systemd-run --unit netpol-listener "$SD_TOOLS/probe" listen "$DENIED" "$PORT" >/dev/null
sd systemd-run --unit netpol-prober -p StandardOutput=file:/tmp/prober.out sh -c \
	"while [ ! -e /run/prober-go ]; do sleep 0.05; done; exec $SD_TOOLS/probe loop tcp $DENIED $PORT 1000" \
	>/dev/null
check "the prober's service is bound" sd_ctl apply cgroup:/system.slice/netpol-prober.service sdtest
sd touch /run/prober-go

sd sh -ec "cp $SD_TOOLS/netpold.new /usr/local/sbin/netpold.tmp; mv /usr/local/sbin/netpold.tmp /usr/local/sbin/netpold"
sd systemctl restart netpold.service && sd_wait_answers
check_eq "upgraded: the new netpold adopted the old one's pins" true \
	"$(sd_ctl --json status | jget 'j["adopted"]')"

fails=0
for i in $(seq 20); do
	sd systemctl restart netpold.service && sd_wait_answers || fails=$((fails + 1))
done
check_eq "20 restarts, each answering again" 0 "$fails"

fails=0
for i in $(seq 5); do
	n=$(nrestarts)
	sd systemctl kill -s KILL netpold.service
	wait_restarted "$n" || fails=$((fails + 1))
done
check_eq "5 SIGKILLs, each restarted by Restart=on-failure" 0 "$fails"

sd sh -ec 'mkdir -p /run/systemd/system/netpold.service.d
	printf "[Service]\nWatchdogSec=2s\nTimeoutAbortSec=1s\n" >/run/systemd/system/netpold.service.d/watchdog.conf
	systemctl daemon-reload; systemctl restart netpold.service'
sd_wait_answers
n=$(nrestarts)
sd kill -STOP "$(sd_mainpid netpold.service)"
if wait_restarted "$n"; then ok "a wedged netpold is killed by the watchdog and restarted"; else not_ok "a wedged netpold is killed by the watchdog and restarted"; fi
sd journalctl -u netpold.service --no-pager -o cat >"$IT_TMP/journal" 2>&1
check "the journal says it was the watchdog" grep -qi "watchdog timeout" "$IT_TMP/journal"
sd sh -c 'rm -r /run/systemd/system/netpold.service.d; systemctl daemon-reload'

sd systemctl stop netpol-prober.service
sleep 0.2
out=$(sd cat /tmp/prober.out)
it_log "prober: $out"
eperm=$(echo "$out" | sed -n 's/.*eperm=\([0-9]*\).*/\1/p')
check_eq "no denied connect got through (ok, other errors)" "ok=0 other=0" \
	"$(echo "$out" | grep -o 'ok=[0-9]*') $(echo "$out" | grep -o 'other=[0-9]*')"
check "... out of thousands of attempts" test "${eperm:-0}" -ge 2000

# ---- a reboot ----
if sd_reboot; then ok "the container reboots"; else not_ok "the container reboots"; it_finish; fi
check "netpold is up after the reboot" sd_wait_answers
check "its policies are kept" sd_ctl policy show sdtest

it_finish
