#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# run-fuzz.sh FUZZER SEEDS ARTIFACTS SECONDS [LIBFUZZER-FLAGS...]
#
# Runs a libFuzzer harness for SECONDS on a temporary copy of the seed
# corpus SEEDS (the source tree is never written). Fails on a crash, a leak,
# a timeout, an out-of-memory or a sanitizer report; the input that caused
# it is kept in ARTIFACTS and printed as base64, to reproduce with
# `FUZZER FILE`.
set -euo pipefail

fuzzer=$1 seeds=$2 artifacts=$3 seconds=$4
shift 4
name=$(basename "$fuzzer")

[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "$name: no seed corpus in $seeds" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/netpol-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$seeds" "$work/corpus"
mkdir -p "$artifacts"
# This run's findings only, so that an old one does not fail it.
rm -f "$artifacts/$name-"*

# Reports on stderr, into the test's log, whatever a caller set for the
# other tests (e.g. log_path); the later value of a flag wins.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=stderr:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=stderr:halt_on_error=1:print_stacktrace=1"

rc=0
# libFuzzer's own exit code for a finding is 77, which meson reads as
# "skipped": -error_exitcode makes it a failure.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
	-timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$@" \
	"$work/corpus" || rc=$?

found=$(ls "$artifacts/$name-"* 2>/dev/null || true)
for f in $found; do
	echo "$name: finding $f (base64 follows):"
	base64 "$f"
done
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
	echo "$name: FAILED (exit $rc)"
	exit 1
fi
echo "$name: no finding in ${seconds} s"
