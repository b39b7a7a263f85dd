#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-oci-hook: the strict mode (docs/oci-hook.md) on a private dockerd (the
# netpol runtime, netpol-runc, from daemon.json) and a private podman (the
# hook from a hooks.d directory), with no container default configured:
# - every container whose first instruction connects to an address its
#   label's policy denies gets EPERM (and its second connect, allowed, OK);
# - the hook holds the container until netpold answers: with netpold
#   stopped (SIGSTOP), the container's first instruction has not run; once
#   netpold goes on, it runs under its own policy. Without the hook it
#   would have run meanwhile, so this fails if the hook does nothing;
# - with netpold gone, containers still start (fail open), unpoliced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engines.sh"

N=${IT_OCI_N:-20}
HOOK=${NETPOL_OCI_HOOK:-}
WRAPPER=${NETPOL_RUNC_WRAPPER:-}
HOOK_JSON=${NETPOL_OCI_HOOK_JSON:-}
for v in HOOK WRAPPER HOOK_JSON; do
	[ -n "${!v}" ] && [ -e "${!v}" ] || it_skip "$v='${!v}' is missing (is it built?)"
done
RUNC=$(command -v runc || echo /usr/sbin/runc)
[ -x "$RUNC" ] || it_skip "needs runc"

# dockerd reads a daemon.json of the test's, as a user's: the netpol
# runtime, and a second whose hook waits long enough for the held test.
# Its --config-file is given by a wrapper in place of the dockerd binary.
DK_REAL=$DOCKERD
DOCKERD=$IT_TMP/dockerd
cat >"$IT_TMP/daemon.json" <<EOF
{"runtimes": {
  "netpol": {"path": "$WRAPPER", "runtimeArgs": ["--runc", "$RUNC", "--hook", "$HOOK", "--socket", "$IT_SOCK"]},
  "netpol-held": {"path": "$WRAPPER",
                  "runtimeArgs": ["--runc", "$RUNC", "--hook", "$HOOK", "--socket", "$IT_SOCK", "--timeout", "20"]}
}}
EOF
printf '#!/bin/sh\nexec %s --config-file %s "$@"\n' "$DK_REAL" "$IT_TMP/daemon.json" >"$DOCKERD"
chmod 0755 "$DOCKERD"

engine_up docker
engine_up podman

# podman's CLI reads hooks_dir from the test's containers.conf (engines.sh
# writes it; the CLI reads it on every run): the installed hooks.d file,
# its path made the built hook's and netpold's socket added.
HOOKS_DIR=$IT_TMP/hooks.d
mkdir -p "$HOOKS_DIR"
sed -i "/^\[engine\]/a hooks_dir = [\"$HOOKS_DIR\"]" "$PM_DIR/containers.conf"
# podman_hook [ARGS...]: the hooks.d file, with these options added.
podman_hook() {
	python3 - "$HOOK_JSON" "$HOOK" "$HOOKS_DIR/netpol-oci-hook.json" "$IT_SOCK" "$@" <<-'EOF'
		import json, sys
		src, hook, dst, sock = sys.argv[1:5]
		j = json.load(open(src))
		j["hook"]["path"] = hook
		j["hook"]["args"] += ["--socket", sock] + sys.argv[5:]
		json.dump(j, open(dst, "w"))
	EOF
}
check "podman: the hooks.d file, from the installed one" podman_hook

# No container_default_policy: the label's policy alone polices them.
cat >"$IT_CONF" <<EOF
container_sockets = $DK_SOCK $PM_SOCK
container_cgroup_parents = $DK_CGROUP $PM_CGROUP
EOF
netpold_up
write_policy "$IT_TMP/oci-deny.json" "{\"name\": \"oci-deny\", \"default\": \"allow\", \"rules\": [
  {\"action\": \"deny\", \"to\": [\"$IT_NET_ADDR\"], \"protocol\": \"tcp\", \"ports\": [$IT_NET_PORT]}]}"
check "policy add oci-deny" ctl policy add "$IT_TMP/oci-deny.json"

# hooked ENGINE NAME [RUN-OPTS...] -- FIRST-ARGS...: first_run with the
# hook (Docker: the runtime, RUNTIME or netpol; podman: always, hooks.d).
RUNTIME=netpol
hooked() {
	local e=$1 name=$2
	shift 2
	case $e in
	docker) first_run docker "$name" --runtime "$RUNTIME" "$@" ;;
	podman) first_run podman "$name" "$@" ;;
	esac
}

LABEL=(--label bpf.network.policy=oci-deny)
FIRST=(-s 0 connect "$IT_NET_ADDR" "$IT_NET_PORT" 198.51.100.9 "$IT_NET_PORT")

# ---- the label's policy from the first instruction ----

for e in docker podman; do
	denied=0 bad=
	for i in $(seq "$N"); do
		name=oci-$i
		hooked "$e" "$name" "${LABEL[@]}" -- "${FIRST[@]}" || { bad+=" $name:run-failed"; continue; }
		r1=$(first_result "$e" "$name" 1)
		r2=$(first_result "$e" "$name" 2)
		if [ "$r1 $r2" = "EPERM OK" ]; then
			denied=$((denied + 1))
		else
			bad+=" $name:$r1/$r2"
		fi
		engine "$e" rm -f "$name" >/dev/null 2>&1
	done
	check_eq "$e: $N of $N first connects denied by the label's policy (then an allowed one OK)${bad:+;$bad}" \
		"$N" "$denied"
done

# ---- the hook holds the container until netpold answers ----

RUNTIME=netpol-held
podman_hook --timeout 20
for e in docker podman; do
	name=held-$e
	kill -STOP "$NETPOLD_PID"
	hooked "$e" "$name" "${LABEL[@]}" -- "${FIRST[@]}" &
	run_pid=$!
	it_track "$run_pid"
	# The entrypoint needs some 0.2 s to start here; 2 s is for a loaded machine.
	sleep 2
	if [ -e "$IT_TMP/out-$e/$name" ]; then
		not_ok "$e: with netpold stopped, the first instruction waits for the hook (it ran: $(first_line "$e" "$name"))"
	else
		ok "$e: with netpold stopped, the first instruction waits for the hook"
	fi
	kill -CONT "$NETPOLD_PID"
	wait "$run_pid" || not_ok "$e: '$name' runs once netpold goes on"
	check_eq "$e: once netpold answers, its own policy judges the first connect" EPERM \
		"$(first_result "$e" "$name" 1)"
	engine "$e" rm -f "$name" >/dev/null 2>&1
done
RUNTIME=netpol
podman_hook

# ---- fail open: netpold gone ----

stop_netpold KILL
check "netpold killed: its socket file left behind" test -S "$IT_SOCK"
for e in docker podman; do
	for how in refused missing; do
		[ "$how" = missing ] && rm -f "$IT_SOCK"
		name=open-$e-$how
		if hooked "$e" "$name" "${LABEL[@]}" -- "${FIRST[@]}"; then
			ok "$e: netpold gone (socket $how), the container starts"
		else
			not_ok "$e: netpold gone (socket $how), the container starts"
		fi
		# no netpold to bind it and no default: unpoliced
		check_eq "$e: unpoliced meanwhile, its first connect goes through" OK \
			"$(first_result "$e" "$name" 1)"
		engine "$e" rm -f "$name" >/dev/null 2>&1
	done
done

it_finish
