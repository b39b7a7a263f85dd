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
#   container under the default;
#   an image whose author wrote LABEL bpf.network.policy=allow-all: its
#   containers stay under the default (deny-all) and a problem says why; the
#   same label set on the container (--label) binds; an explicit apply wins;
#   a resync asks again (by the image's id); with container_image_labels =
#   follow, the image's label binds.
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

# ---- a policy label from the image, written by its author ----
# first_run_image ENGINE NAME IMAGE [RUN-OPTS...] -- FIRST-ARGS...
first_run_image() {
	local e=$1 name=$2 img=$3
	shift 3
	IT_IMAGE=$img first_run "$e" "$name" "$@"
}
# has_problem TEXT NAME: a problem of the container named NAME says TEXT.
has_problem() {
	ctl bindings --json |
		jget "any('$1' in p['message'] and p.get('container', {}).get('name') == '$2' for p in j['problems'])" |
		grep -qx true
}
no_problem() {
	! has_problem "$@"
}
bound_to() {
	[ "$(binding policy "$1")" = "$2" ]
}
LABELLED=netpol-it-labelled:1
check "an image with LABEL bpf.network.policy=allow-all" \
	dk import --change 'LABEL bpf.network.policy=allow-all' "$IT_TMP/rootfs.tar" "$LABELLED"
first_run_image docker imgpick "$LABELLED" -- connect "$IT_NET_ADDR" 80
check_eq "... a container from it carries the label" allow-all \
	"$(dk inspect -f '{{index .Config.Labels "bpf.network.policy"}}' imgpick)"
check_eq "a container whose policy label comes from its image is judged by the default (deny-all)" \
	EPERM "$(first_result docker imgpick)"
wait_for "... and bindings say its label is the image's" has_problem "comes from its image" imgpick &&
	ok "... and bindings say its label is the image's"
check "... naming the image" has_problem "$LABELLED" imgpick
check_eq "... and it is not bound" null "$(binding policy imgpick)"
check_eq "... and the log says so once" 1 "$(grep -c "Container 'imgpick'.*comes from its image" "$IT_LOG")"
first_run_image docker imgover "$LABELLED" --label bpf.network.policy=frontend -- connect "$IT_NET_ADDR" 80 \
	"$IT_NET_ADDR" 22
check_eq "the same image with --label bpf.network.policy=frontend: frontend allows TCP 80" \
	OK "$(first_result docker imgover 1)"
check_eq "... and denies TCP 22" EPERM "$(first_result docker imgover 2)"
check_eq "... bound to frontend by its label" "frontend label" "$(binding policy imgover) $(binding origin imgover)"
check "... and has no problem" no_problem "comes from its image" imgover
check "apply imgpick worker (explicit wins)" ctl apply imgpick worker
check_eq "... imgpick is bound to worker" "worker explicit" "$(binding policy imgpick) $(binding origin imgpick)"
check "unbind imgpick" ctl unbind imgpick
check_eq "... the image's label does not bind then" null "$(binding policy imgpick)"
# At a resync netpold asks by the image's id (from the list), not its name.
stop_netpold
netpold_up "netpold starts again (a resync)"
wait_for "netpold follows dockerd again" synced
wait_for "after the resync, imgpick's label is still the image's" has_problem "comes from its image" imgpick &&
	ok "after the resync, imgpick's label is still the image's"
check_eq "... and it is not bound" null "$(binding policy imgpick)"
check_eq "... imgover is still bound to frontend" "frontend label" "$(binding policy imgover) $(binding origin imgover)"

echo "container_image_labels = follow" >>"$IT_CONF"
stop_netpold
netpold_up "netpold starts with container_image_labels = follow"
wait_for "netpold follows dockerd again" synced
wait_for "imgpick is bound by its image's label" bound_to imgpick allow-all &&
	ok "imgpick is bound by its image's label"
first_run_image docker imgfollow "$LABELLED" -- connect "$IT_NET_ADDR" 80
check_eq "a new container from the image is judged by allow-all" OK "$(first_result docker imgfollow)"
check "... and has no problem" no_problem "comes from its image" imgfollow

dk rm -f web evil plain longlabel "$web_id" imgpick imgover imgfollow >/dev/null
it_finish
