#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# test-units: the systemd units as `meson install` puts them, checked by
# systemd itself (systemd-analyze verify, in the installed tree: bad
# settings, missing programs, units systemd refuses), with Documentation=
# naming installed files. No PID 1 needed: tests/systemd/ boots them.
#   test-units.sh BUILD-DIR
set -u
build=$1
command -v systemd-analyze >/dev/null || { echo "test-units: SKIP: no systemd-analyze"; exit 77; }
root=$(mktemp -d /tmp/netpol-test-units.XXXXXX)
trap 'rm -rf "$root"' EXIT
failed=0
fail() {
	echo "not ok - $*"
	failed=1
}

DESTDIR=$root meson install -C "$build" --no-rebuild --quiet >"$root.log" 2>&1 || {
	cat "$root.log"
	rm -f "$root.log"
	fail "meson install --destdir"
	exit 1
}
rm -f "$root.log"
# What the units run from outside netpol (netpol-bpffs.service's mount).
mkdir -p "$root/bin" && cp /bin/mount "$root/bin/"

units=$(cd "$root" && find . -path '*/lib/systemd/system/*' -type f | sed 's/^\.//' | sort)
[ "$(echo "$units" | sed 's|.*/||' | tr '\n' ' ')" = "netpol-bpffs.service netpold.service netpold.socket " ] ||
	fail "the installed units are netpol-bpffs.service netpold.service netpold.socket (got: $units)"
# shellcheck disable=SC2086
if out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --root="$root" $units 2>&1) && [ -z "$out" ]; then
	echo "ok - systemd-analyze verify: no complaint"
else
	fail "systemd-analyze verify: $out"
fi
for u in $units; do
	for d in $(sed -n 's/^Documentation=//p' "$root$u"); do
		case $d in
		file://*) [ -f "$root${d#file://}" ] || fail "$u: Documentation=$d is not installed" ;;
		*) fail "$u: Documentation=$d is not a file:// of the install" ;;
		esac
	done
done
grep -q '^ExecReload=.*/netpolctl reload$' "$root$(echo "$units" | grep /netpold.service)" ||
	fail "netpold.service: ExecReload= is netpolctl reload"
[ "$failed" = 0 ] && echo "ok - Documentation= of every unit is installed"
exit $failed
