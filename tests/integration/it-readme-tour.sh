#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-readme-tour: README.md's five-minute tour is what a user sees. Its
# marked blocks (readme-tour.py says how) are replayed against a fresh
# netpold whose cgroup root and attach cgroup are the test's cgroup, which
# stands for /sys/fs/cgroup in the commands; each command's output is
# compared with the README's, times, ids and pids masked. The tour must
# also leave things as it found them: no binding, the presets unchanged,
# its cgroup removed.
. "$(dirname "$0")/lib.sh"

README=${README:-$(dirname "$0")/../../README.md}
command -v unshare >/dev/null || it_skip "needs unshare"

start_netpold --cgroup-root "$IT_CG" || { not_ok "netpold starts"; it_finish; }
ok "netpold starts, its cgroup root the test's cgroup"
presets_before=$(ctl --json policy list | jget '[(p["name"], p["rules"], p["entries"]) for p in j["policies"]]')

while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done < <(README=$README TOUR_CGROUP=$IT_CG NETPOL_SOCKET=$IT_SOCK PATH="$(dirname "$NETPOLCTL"):$PATH" \
	python3 "$(dirname "$0")/readme-tour.py" 2>&1)

# ---- the tour leaves nothing behind ----
check_eq "after the tour nothing is bound" 0 "$(ctl --json bindings | jget 'len(j["bindings"])')"
check_eq "after the tour the presets are as they were" "$presets_before" \
	"$(ctl --json policy list | jget '[(p["name"], p["rules"], p["entries"]) for p in j["policies"]]')"
check_eq "after the tour no cgroup is left below the test's" "" "$(find "$IT_CG" -mindepth 1 -type d)"

it_finish
