#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-teardown: the one way to switch netpol off. `netpolctl teardown`
# without --yes (and not on a terminal) changes nothing; a reader may not;
# with --yes the running netpold removes its pins, detaches its programs
# from the attach cgroup (bpftool sees none) and exits with status 0, and
# a denied connect goes through. The saved bindings are kept: a new
# netpold applies them again. `netpold --teardown` does the same with
# netpold stopped (and refuses while one runs), --forget drops the saved
# bindings, and netpolctl teardown against a stopped netpold says to use it.
. "$(dirname "$0")/lib.sh"

command -v bpftool >/dev/null || it_skip "needs bpftool"
command -v setpriv >/dev/null || it_skip "needs setpriv"
getent group nogroup >/dev/null && getent passwd nobody >/dev/null || it_skip "needs user nobody, group nogroup"

# nobody (group nogroup) may read, not write.
echo "socket_group = nogroup" >"$IT_CONF"
netpolctl_as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$IT_TMP/netpolctl" --socket "$IT_SOCK" "$@"
}
cp "$NETPOLCTL" "$IT_TMP/netpolctl" && chmod 0755 "$IT_TMP/netpolctl"

# How many programs are attached at the test's attach cgroup, as bpftool
# sees them (it prints an empty line for none).
attached() {
	local out
	out=$(bpftool -j cgroup show "$IT_CG") || { echo "bpftool failed"; return; }
	if [ -z "$out" ]; then echo 0; else jget 'len(j)' <<<"$out"; fi
}
pins() {
	ls "$IT_PIN" 2>/dev/null | wc -l
}

# tty_teardown ANSWER: netpolctl teardown on a terminal (a pty), ANSWER typed
# at its prompt; its output, and its exit status.
tty_teardown() {
	python3 - "$NETPOLCTL" "$IT_SOCK" "$1" <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--socket", sys.argv[2], "teardown"])
out, answered = b"", False
while True:
    if not select.select([fd], [], [], 10)[0]:
        out += b"(nothing for 10 s)"
        os.kill(pid, 9)
        break
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not answered and b"Type 'yes'" in out:
        os.write(fd, sys.argv[3].encode() + b"\n")
        answered = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

netpold_up
mk_cgroup app
APP=$(target app)
policy_applied p "$APP" '{"name": "p", "default": "allow", "rules": [
  {"action": "deny", "to": ["198.51.100.0/24"], "protocol": "udp", "ports": [53]}]}'
expect_probe "app: udp 198.51.100.5:53 denied" denied app udp 198.51.100.5 53
n_attached=$(attached)
n_pins=$(pins)
check "programs are attached at the attach cgroup ($n_attached)" test "$n_attached" -gt 0
check "pins exist ($n_pins)" test "$n_pins" -gt 0

# ---- not confirmed, or not allowed: nothing changes ----
ctl_fails "teardown without --yes, not on a terminal, is refused" "confirm with --yes \(nothing was changed\)" \
	teardown </dev/null
out=$(tty_teardown no)
rc=$?
check "on a terminal, it asks: $(head -n 1 <<<"$out")" grep -q "no policy is enforced until netpold starts again" <<<"$out"
check "answered 'no', it is refused (status $rc)" test "$rc" -eq 1
check "and says nothing was changed" grep -q "teardown not confirmed: nothing was changed" <<<"$out"
cmd_fails "a reader may not tear down" "needs root or the admin group|permission" -iE \
	netpolctl_as_nobody teardown --yes
check "netpold still answers" ctl status
check_eq "the programs are still attached" "$n_attached" "$(attached)"
check_eq "the pins are still there" "$n_pins" "$(pins)"
expect_probe "still denied" denied app udp 198.51.100.5 53

# ---- netpold --teardown refuses while netpold runs ----
"$NETPOLD" --teardown --bpffs "$IT_PIN" --state-dir "$IT_STATE" >"$IT_TMP/td.log" 2>&1
check "netpold --teardown fails while netpold runs" test $? -ne 0
check "it says to ask the running netpold" grep -q "A running netpold holds '$IT_PIN'.*netpolctl teardown" "$IT_TMP/td.log"
check_eq "the pins are untouched" "$n_pins" "$(pins)"

# ---- netpolctl teardown, 'yes' typed on a terminal ----
out=$(tty_teardown yes)
rc=$?
check_eq "teardown confirmed on a terminal succeeds" 0 "$rc"
check "it says no policy is enforced now: $(printf '%s' "$out" | head -n 2 | tr '\n' ' ')" \
	grep -q "No policy is enforced now" <<<"$out"
check "it says the saved bindings are kept" grep -q "bindings in $IT_STATE are kept" <<<"$out"
wait "$NETPOLD_PID"
rc=$?
NETPOLD_PID=
check_eq "netpold exited with status 0 (Restart=on-failure does not restart it)" 0 "$rc"
check_eq "no program is attached at the attach cgroup" 0 "$(attached)"
check "the pin directory is gone" test ! -e "$IT_PIN"
expect_probe "after teardown: udp 198.51.100.5:53 goes through" allowed app udp 198.51.100.5 53
check "bindings.json is kept" grep -q "$APP" "$IT_STATE/bindings.json"
check "netpold logged the teardown" grep -q "Torn down" "$IT_LOG"
ctl_fails "netpolctl teardown with netpold stopped points to netpold --teardown" \
	"netpold --teardown" teardown --yes

# ---- a new start applies the saved bindings again ----
check "netpold starts again" start_netpold
expect_probe "restarted: denied again" denied app udp 198.51.100.5 53

# ---- netpold --teardown, with netpold stopped ----
stop_netpold TERM
expect_probe "netpold stopped: still denied (stop is not teardown)" denied app udp 198.51.100.5 53
"$NETPOLD" --teardown --forget --bpffs "$IT_PIN" --state-dir "$IT_STATE" --log-target stderr >"$IT_TMP/td.log" 2>&1
check_eq "netpold --teardown --forget succeeds" 0 "$?"
check_eq "no program is attached at the attach cgroup" 0 "$(attached)"
check "the pin directory is gone" test ! -e "$IT_PIN"
expect_probe "after netpold --teardown: udp 198.51.100.5:53 goes through" allowed app udp 198.51.100.5 53
check "--forget removed bindings.json" test ! -e "$IT_STATE/bindings.json"
"$NETPOLD" --teardown --bpffs "$IT_PIN" --state-dir "$IT_STATE" >"$IT_TMP/td.log" 2>&1
check_eq "netpold --teardown again: nothing to do, status 0" 0 "$?"
"$NETPOLD" --forget --bpffs "$IT_PIN" >"$IT_TMP/td.log" 2>&1
check "--forget alone is refused" test $? -ne 0

check "netpold starts after --forget" start_netpold
check_eq "nothing is bound" 0 "$(ctl --json bindings | jget 'len(j["bindings"])')"
check "policy p is kept" ctl policy show p
expect_probe "nothing bound: goes through" allowed app udp 198.51.100.5 53

# ---- teardown --forget through the running netpold ----
check "apply p again" ctl apply "$APP" p
out=$(ctl teardown --yes --forget 2>&1)
check "teardown --yes --forget says the bindings are removed" grep -q "saved bindings are removed" <<<"$out"
wait "$NETPOLD_PID"
check_eq "netpold exited with status 0" 0 "$?"
NETPOLD_PID=
check "bindings.json is removed" test ! -e "$IT_STATE/bindings.json"
check_eq "no program is attached" 0 "$(attached)"

it_finish
