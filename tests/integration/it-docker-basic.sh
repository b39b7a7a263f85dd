#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-docker-basic: the container test set-up (engines.sh) works, on a
# private dockerd and a private podman: their containers land below the
# test's cgroup, and a policy bound to the engine's cgroup parent judges a
# container's connect() at its first instruction; the same container
# unbound gets through, so the check can fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engines.sh"

engine_up docker
engine_up podman
netpold_up

for e in docker podman; do
	case $e in
	docker) parent=$DK_CGROUP ;;
	podman) parent=$PM_CGROUP ;;
	esac

	# Before any binding: the listener answers, another port refuses.
	first_run "$e" open -- -s 0 connect "$IT_NET_ADDR" "$IT_NET_PORT" 198.51.100.9 "$IT_NET_PORT" \
		2001:db8::7 "$IT_NET_PORT" 203.0.113.7 1 || not_ok "$e: container 'open' runs"
	check_eq "$e: unbound, first connect to the listener goes through" OK "$(first_result "$e" open 1)"
	check_eq "$e: unbound, 198.51.100.9 is local too" OK "$(first_result "$e" open 2)"
	check_eq "$e: unbound, 2001:db8::7 too" OK "$(first_result "$e" open 3)"
	check_eq "$e: unbound, a closed port refuses" ECONNREFUSED "$(first_result "$e" open 4)"

	# deny-all on the engine's cgroup parent (an explicit binding).
	check "$e: apply deny-all to cgroup:$parent" ctl apply "cgroup:$parent" deny-all
	first_run "$e" denied -- connect "$IT_NET_ADDR" "$IT_NET_PORT" 2001:db8::7 "$IT_NET_PORT" ||
		not_ok "$e: container 'denied' runs"
	check_eq "$e: bound, the first instruction's connect is denied" EPERM "$(first_result "$e" denied 1)"
	check_eq "$e: bound, IPv6 too" EPERM "$(first_result "$e" denied 2)"

	cg=$(container_cgroup "$e" denied)
	case $cg in
	"$parent"/*) ok "$e: the container's cgroup is below the test's ($cg)" ;;
	*) not_ok "$e: the container's cgroup is below $parent (it is '$cg')" ;;
	esac

	check "$e: unbind cgroup:$parent" ctl unbind "cgroup:$parent"
	first_run "$e" again -- -s 0 connect "$IT_NET_ADDR" "$IT_NET_PORT" || not_ok "$e: container 'again' runs"
	check_eq "$e: unbound again, the connect goes through" OK "$(first_result "$e" again)"
done

it_finish
