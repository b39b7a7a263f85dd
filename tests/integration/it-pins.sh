#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-pins: the pins are what keeps the programs attached once netpold's fds
# close. Pins removed under a running netpold (the whole directory, or
# single ones) are pinned again at once, `status` says so, and after netpold
# stops a denied probe is still denied. Pins that cannot be restored (the
# pin directory hidden under a tmpfs) make netpold refuse changes with
# netpol.PinsMissing until they are back. A second netpold on the same pin
# directory is refused while the first runs.
. "$(dirname "$0")/lib.sh"

netpold_up

# ---- one netpold per pin directory ----
# Another socket and state directory, the same pins: it must not start
# (before anything is bound, where nothing else would stop it).
timeout 20 "$NETPOLD" --foreground --socket "$IT_TMP/second.sock" --state-dir "$IT_TMP/second-state" \
	--bpffs "$IT_PIN" --attach-cgroup "$IT_CG" --config "$IT_CONF" >"$IT_TMP/second.log" 2>&1
rc=$?
check "a second netpold on the same pin directory exits at once with an error" \
	test "$rc" -ne 0 -a "$rc" -ne 124
check "it says another netpold uses the pin directory" \
	grep -q "Another netpold uses the pin directory '$IT_PIN'" "$IT_TMP/second.log"
check "it made no socket" test ! -e "$IT_TMP/second.sock"
check "the first netpold still answers" ctl status

mk_cgroup app
mk_cgroup other
APP=$(target app)
OTHER=$(target other)
policy_applied p "$APP" '{"name": "p", "default": "allow", "rules": [
  {"action": "deny", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'
expect_probe "app: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53

PINS=$(ls "$IT_PIN" | sort | paste -sd' ')
it_log "pins: $PINS"
check "the pins include maps and links" test -n "$(ls "$IT_PIN" | grep '^link_')"
pins_now() { ls "$IT_PIN" 2>/dev/null | sort | paste -sd' '; }
status_field() { ctl --json status | jget "j.get('$1')"; }

# pins_restored DESCRIPTION: every pin is back within 5 s, and status says
# the pins are ok and that some were restored.
pins_restored() {
	local i
	for i in $(seq 50); do
		[ "$(pins_now)" = "$PINS" ] && break
		sleep 0.1
	done
	check_eq "$1: every pin is back" "$PINS" "$(pins_now)"
	check_eq "$1: status says the pins are ok" ok "$(status_field pins)"
	check "$1: status counts restored pins" test "$(status_field pins_restored)" -gt "${2:-0}"
}

# ---- the whole pin directory ----
rm -rf "$IT_PIN" 2>/dev/null
pins_restored "rm -rf of the pin directory"
check "netpold logged the removal, naming the pin directory" \
	grep -qE "warning: .*pin.*'$IT_PIN'.*(removed|pinned them again)" "$IT_LOG"
restored=$(status_field pins_restored)

# A change right after a removal is acknowledged only with the pins back.
rm -rf "$IT_PIN" 2>/dev/null
check "apply p to other right after the pins were removed" ctl apply "$OTHER" p
check_eq "the pins are back when the change is acknowledged" "$PINS" "$(pins_now)"
pins_restored "apply after rm -rf" "$restored"
restored=$(status_field pins_restored)

# ---- single pins ----
rm -f "$IT_PIN/np_bindings" "$IT_PIN/link_np_connect4"
pins_restored "removal of np_bindings and link_np_connect4" "$restored"

# ---- stop: the programs stay attached ----
stop_netpold TERM
expect_probe "netpold stopped: app's udp 198.51.100.5:53 still denied" denied app udp 198.51.100.5 53
expect_probe "netpold stopped: other's udp 198.51.100.5:53 still denied" denied other udp 198.51.100.5 53
check "netpold starts again on the restored pins" start_netpold
check_eq "it adopted them" true "$(status_field adopted)"
check_eq "bindings listed after the restart" "[\"$APP\", \"$OTHER\"]" \
	"$(ctl --json bindings | jget 'sorted(b["target"] for b in j["bindings"])')"

# ---- pins that cannot be restored ----
mount -t tmpfs -o size=64k "netpol-it-pins-$$" "$IT_PIN" || { not_ok "mount a tmpfs over the pin directory"; it_finish; }
it_at_exit "umount -l '$IT_PIN' 2>/dev/null"
out=$(ctl --json apply "$APP" deny-all 2>"$IT_TMP/err")
err=$(cat "$IT_TMP/err")
check_eq "a change without pins fails with netpol.PinsMissing" netpol.PinsMissing \
	"$(printf '%s\n' "$out" | jget 'j["error"]["code"]' 2>/dev/null)"
if printf '%s\n' "$err" | grep -qE "^netpolctl: .*$IT_PIN.*nothing was changed"; then
	ok "the message names the pin directory and says nothing changed: ${err#netpolctl: }"
else
	not_ok "the message names the pin directory and says nothing changed (got: $err)"
fi
check_eq "status says the pins are missing" missing "$(status_field pins)"
check "netpold logged an error naming the pin directory" \
	grep -qE "err: .*'$IT_PIN'.*cannot be restored" "$IT_LOG"
check_eq "the binding is unchanged" p \
	"$(ctl --json bindings | jget "[b['policy'] for b in j['bindings'] if b['target'] == '$APP'][0]")"
expect_probe "app: udp 203.0.113.5:53 still allowed (deny-all not applied)" allowed app udp 203.0.113.5 53
umount "$IT_PIN"
check "with the pins visible again, the change goes through" ctl apply "$APP" deny-all
check_eq "status says the pins are ok again" ok "$(status_field pins)"
expect_probe "app: deny-all applied" denied app udp 203.0.113.5 53

stop_netpold TERM
expect_probe "netpold stopped at the end: app still denied" denied app udp 203.0.113.5 53

it_finish
