#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-containers-hostile: what a container that may write its own cgroup, or
# whose name is chosen to mislead, can make netpold do (on a private dockerd,
# engines.sh). The test moves the processes as such a container would:
#   its first process moved into a sub-cgroup: after a resync, the label's
#   binding stays on the container's cgroup, not on the sub-cgroup, and a
#   directory it makes named with another container's id takes nothing;
#   a sub-cgroup named with another container's id: its violations name the
#   container they come from;
#   a container named with another's id: 'container:ID' is the container
#   with that id;
#   a policy label too long to be a name: refused, shown as a problem, the
#   container under the default.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engines.sh"

engine_up docker
cat >>"$IT_CONF" <<EOF2
container_sockets = $DK_SOCK
container_cgroup_parents = $DK_CGROUP
container_default_policy = deny-all
EOF2
netpold_up
MNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)

# binding FIELD NAME: the field of the binding of the container named NAME.
binding() {
	ctl bindings --json | jget "([b for b in j['bindings'] if b.get('container', {}).get('name') == '$2'] or [{}])[0].get('$1')"
}

# wait_for DESCRIPTION COMMAND...: at most 20 s.
wait_for() {
	local desc=$1 i
	shift
	for i in $(seq 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	not_ok "$desc (not within 20 s)"
	return 1
}

synced() {
	ctl status --json | jget "j['containers']['engines'][0]['connected']" | grep -qx true
}

# ---- the first process in a sub-cgroup ----
first_run docker web --label bpf.network.policy=frontend -- connect "$IT_NET_ADDR" 80
first_result docker web >/dev/null
cg=$(container_cgroup docker web)
check_eq "web is bound on its cgroup" "$cg" "$(binding cgroup web)"
pid=$(dk inspect -f '{{.State.Pid}}' web)
mkdir "$MNT$cg/sub"
echo "$pid" >"$MNT$cg/sub/cgroup.procs"
check_eq "web's first process is in a sub-cgroup" "$cg/sub" "$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
stop_netpold
netpold_up "netpold starts again (a resync)"
wait_for "netpold follows dockerd again" synced
check_eq "after the resync, web's binding is still on its cgroup" "$cg" "$(binding cgroup web)"
echo "$pid" >"$MNT$cg/cgroup.procs"
rmdir "$MNT$cg/sub"
web_id=$(dk inspect -f '{{.Id}}' web)

# ---- a sub-cgroup named with another container's id takes nothing ----
# Were the cgroup of evil's first process (a sub-cgroup) taken for evil's,
# evil's own directory would be watched, and a directory made there named
# with web's id would take web's binding off web.
first_run docker evil -- connect "$IT_NET_ADDR" 80
first_result docker evil >/dev/null
pid=$(dk inspect -f '{{.State.Pid}}' evil)
cg=$(container_cgroup docker evil)
mkdir "$MNT$cg/x"
echo "$pid" >"$MNT$cg/x/cgroup.procs"
stop_netpold
netpold_up "netpold starts again (a resync)"
wait_for "netpold follows dockerd again" synced
before=$(binding cgroup web)
mkdir "$MNT$cg/$web_id"
sleep 0.5
check_eq "a directory in evil's cgroup named with web's id leaves web's binding where it was" \
	"$before" "$(binding cgroup web)"
echo "$pid" >"$MNT$cg/cgroup.procs"
rmdir "$MNT$cg/x" "$MNT$cg/$web_id"

# ---- a sub-cgroup named with another container's id ----
first_run docker plain -- -w 3000 connect "$IT_NET_ADDR" 80
pid=$(dk inspect -f '{{.State.Pid}}' plain)
cg=$(container_cgroup docker plain)
mkdir "$MNT$cg/$web_id"
echo "$pid" >"$MNT$cg/$web_id/cgroup.procs"
check_eq "plain's process, in a sub-cgroup named with web's id, is denied by the default" \
	EPERM "$(first_result docker plain)"
check_eq "... and its violation names plain, not web" plain "$(ctl violations --json |
	jget "[v for v in j['violations'] if v.get('container', {}).get('id') in ('$web_id', '$(dk inspect -f '{{.Id}}' plain)')][-1]['container']['name']")"
echo "$pid" >"$MNT$cg/cgroup.procs"
rmdir "$MNT$cg/$web_id"

# ---- a name that is another container's id ----
first_run docker "$web_id" -- connect "$IT_NET_ADDR" 80
# Listed newest first at a resync: the impostor comes before web.
stop_netpold
netpold_up "netpold starts again (a resync)"
wait_for "netpold follows dockerd again" synced
check "apply container:<web's id> worker" ctl apply "container:$web_id" worker
check_eq "... binds web" worker "$(binding policy web)"
check_eq "... not the container named with web's id" null "$(binding policy "$web_id")"

# ---- a label netpold refuses ----
long=$(printf 'p%.0s' $(seq 300))
first_run docker longlabel --label "bpf.network.policy=$long" -- connect "$IT_NET_ADDR" 80
check_eq "a policy label of 300 bytes binds nothing: the default judges" EPERM "$(first_result docker longlabel)"
wait_for "... and bindings show why" sh -c "'$NETPOLCTL' --socket '$IT_SOCK' bindings --json | grep -q 'longer than 255 bytes'" &&
	ok "... and bindings show why"

dk rm -f web evil plain longlabel "$web_id" >/dev/null
it_finish
