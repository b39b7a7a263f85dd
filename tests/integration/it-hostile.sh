#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-hostile: netpold survives malformed and hostile clients (hostile.py):
# bad JSON, wrong types for every field, unknown commands, versions and
# envelope keys, lines over 8 MiB, half-sent lines, binary garbage, deep
# nesting, thousands of connections, silent connections, followers that
# never read. Each gets a clear error or a clean close; silent connections
# are closed after the idle timeout (followers are not); a follower that
# never reads costs a bounded amount of memory, given back when it catches
# up or goes; afterwards netpolctl status works and netpold's memory has
# not exploded.
. "$(dirname "$0")/lib.sh"

HOSTILE=${NETPOL_HOSTILE:-$(dirname "$0")/hostile.py}

# A short idle timeout (netpold.conf's idle_timeout), so that silent
# connections are closed in 3 s rather than the default 10.
echo "idle_timeout = 3" >>"$IT_CONF"
export NETPOL_IDLE_TIMEOUT=3
netpold_up

mk_cgroup app
mk_cgroup flood
check "deny-all on the flood cgroup" ctl apply "$(target flood)" deny-all
rss0=$(netpold_rss)
it_log "netpold RSS at start: ${rss0} KiB"

# The flood for the slow-follower case: 300000 denied UDP connects over
# 60000 ports (distinct events, so that folding does not absorb them).
export HOSTILE_FLOOD="'$NETPOL_PROBE' --cgroup '$IT_CG/flood' --netns '$IT_NETNS' --count 300000 loop udp 198.51.100.50 1-60000 0"
export HOSTILE_TARGET="$IT_CG_REL/app"

out=$IT_TMP/hostile.out
python3 "$HOSTILE" "$IT_SOCK" "$NETPOLD_PID" 2>&1 | tee "$out"
IT_PASSED=$((IT_PASSED + $(grep -c '^ok - ' "$out")))
IT_FAILED=$((IT_FAILED + $(grep -c '^not ok - ' "$out")))
grep -q '^# hostile.py: ' "$out" || not_ok "hostile.py ran to the end"

if kill -0 "$NETPOLD_PID" 2>/dev/null; then ok "netpold is still running"; else not_ok "netpold is still running"; fi
check "netpolctl status still works" ctl status
rss1=$(netpold_rss)
it_log "netpold RSS at the end: ${rss1:-?} KiB (start: ${rss0} KiB)"
check "netpold's RSS did not explode (${rss0} -> ${rss1:-?} KiB, limit +128 MiB)" \
	test "${rss1:-999999999}" -lt $((rss0 + 131072))
lost=$(ctl --json status | jget 'j.get("events_lost")')
it_log "events lost by netpold's ring buffer during the flood: $lost"
expect_probe "still enforcing: deny-all denies" denied flood udp 203.0.113.5 53

it_finish
