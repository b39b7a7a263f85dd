#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-containers: Docker and Podman containers policed by their label and by
# name, on private engines (engines.sh), with the container default
# (deny-all) on the engines' parents:
#   the seed lab's three scenarios (frontend, database, worker) and stats;
#   the label's policy judges the first instruction's connect, every time;
#   explicit apply by name and by short id wins over the label, and a
#   restart keeps it; unbind gives the label back; rename and removal;
#   an unknown policy in a label stays under the default, and says so;
#   CAP_NET_RAW warned of, and not with --cap-drop NET_RAW;
#   a container started while netpold is down: the default meanwhile, its
#   own policy once netpold is back; dockerd restarted: enforcement stays,
#   netpold follows the new dockerd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engines.sh"

FIRST_RUNS=${IT_FIRST_RUNS:-50}
ENGINES=${IT_ENGINES:-docker podman}

for e in $ENGINES; do engine_up "$e"; done
cat >>"$IT_CONF" <<EOF
container_sockets = $DK_SOCK $PM_SOCK
container_cgroup_parents = $DK_CGROUP $PM_CGROUP
container_default_policy = deny-all
EOF
netpold_up

# wait_until DESCRIPTION COMMAND...: at most 20 s for the command to succeed.
wait_until() {
	local desc=$1 i
	shift
	for i in $(seq 200); do
		if "$@" >/dev/null 2>&1; then
			ok "$desc"
			return 0
		fi
		sleep 0.1
	done
	not_ok "$desc (not within 20 s)"
	return 1
}

engines_connected() {
	[ "$(ctl status --json | jget "sum(1 for x in j['containers']['engines'] if x['connected'])")" = \
		"$(echo $ENGINES | wc -w)" ]
}

# binding FIELD NAME: the field of the binding of the container named NAME.
binding() {
	ctl bindings --json | jget "([b for b in j['bindings'] if b.get('container', {}).get('name') == '$2'] or [{}])[0].get('$1')"
}

# bound_to NAME POLICY: the container named NAME is bound to POLICY.
bound_to() {
	[ "$(binding policy "$1")" = "$2" ]
}

has_problem() {
	ctl bindings --json | jget "any('$1' in p['message'] for p in j['problems'])" | grep -qx true
}

wait_until "netpold follows the engines" engines_connected

# The Engine API is parsed in helpers without capabilities, never in
# netpold (docs/threat-model.md).
helpers=$(pgrep -P "$NETPOLD_PID" -x netpol-engine | tr '\n' ' ')
check_eq "one engine helper per socket" 2 "$(echo $helpers | wc -w)"
for h in $helpers; do
	check_eq "engine helper $h: no capability, no new privileges" "0000000000000000 1" \
		"$(awk '/^CapEff:/ { c = $2 } /^NoNewPrivs:/ { n = $2 } END { print c, n }' "/proc/$h/status")"
done
check "netpold itself maps no HTTP or TLS library" sh -c "! grep -q -e libcurl -e libssl '/proc/$NETPOLD_PID/maps'"
helpers_back() {
	[ "$(pgrep -P "$NETPOLD_PID" -x netpol-engine | wc -l)" = 2 ] && engines_connected
}
kill -9 ${helpers%% *}
wait_until "a killed engine helper is started again, and netpold follows the engines again" helpers_back
check_eq "the container default is bound on the engines' parents" \
	"$(printf '%s\n' "cgroup:$DK_CGROUP" "cgroup:$PM_CGROUP" | sort | tr '\n' ' ')" \
	"$(ctl bindings --json | jget "' '.join(sorted(b['target'] for b in j['bindings'] if b['origin'] == 'default')) + ' '")"

for e in $ENGINES; do
	# Podman's events come a second late, and its API takes tens of ms to
	# inspect the container whose cgroup appeared: its label may bind a few
	# ms after the first instruction (the default judges meanwhile; the
	# OCI hook closes that gap, it-oci-hook). What a policy allows is
	# tested after that.
	W=()
	[ "$e" = podman ] && W=(-w 500)
	# ---- the seed lab's scenarios, by label ----
	first_run "$e" web --label bpf.network.policy=frontend -- "${W[@]}" \
		connect "$IT_NET_ADDR" 80 "$IT_NET_ADDR" 22 10.0.1.50 22
	check_eq "$e: frontend allows TCP 80" OK "$(first_result "$e" web 1)"
	check_eq "$e: frontend denies TCP 22 elsewhere" EPERM "$(first_result "$e" web 2)"
	check_eq "$e: frontend allows private addresses" ENETUNREACH "$(first_result "$e" web 3)"
	first_run "$e" db --label bpf.network.policy=database -- "${W[@]}" connect "$IT_NET_ADDR" 80 10.0.1.50 5432
	check_eq "$e: database denies the outside" EPERM "$(first_result "$e" db 1)"
	check_eq "$e: database allows private addresses" ENETUNREACH "$(first_result "$e" db 2)"
	first_run "$e" wk --label bpf.network.policy=worker -- "${W[@]}" \
		connect 10.0.1.50 5672 "$IT_NET_ADDR" 80 10.0.1.50 80
	check_eq "$e: worker reaches its queue" ENETUNREACH "$(first_result "$e" wk 1)"
	check_eq "$e: worker denies the web" EPERM "$(first_result "$e" wk 2)"
	check_eq "$e: worker denies other ports of the queue's host" EPERM "$(first_result "$e" wk 3)"
	check_eq "$e: bindings name web's policy" frontend "$(binding policy web)"
	check_eq "$e: ... from its label" label "$(binding origin web)"
	check_eq "$e: ... and its image" "$(engine "$e" inspect -f '{{.Config.Image}}' web)" "$(ctl bindings --json |
		jget "[b for b in j['bindings'] if b.get('container', {}).get('name') == 'web'][0]['container']['image']")"
	check "$e: stats --target db counts its denial" \
		test "$(ctl stats --target db --json | jget "sum(x.get('denied', 0) for x in j['stats'])")" -ge 1
	check_eq "$e: violations name the container" db "$(ctl violations --target db --json |
		jget "j['violations'][-1]['container']['name']")"

	# ---- by name, by id; explicit wins and outlives a restart ----
	check "$e: apply web worker (by name)" ctl apply web worker
	check_eq "$e: web is bound to worker" worker "$(binding policy web)"
	check_eq "$e: ... explicitly" explicit "$(binding origin web)"
	rm -f "$IT_TMP/out-$e/web"
	engine "$e" restart -t 0 web >/dev/null
	check_eq "$e: after a restart (a new cgroup), web's connect is judged by worker" \
		EPERM "$(first_result "$e" web 1)"
	check_eq "$e: the binding follows the new cgroup" \
		"$(sed -n 's/^0:://p' "/proc/$(engine "$e" inspect -f '{{.State.Pid}}' web)/cgroup")" "$(binding cgroup web)"
	check "$e: unbind web" ctl unbind web
	check_eq "$e: its label applies again" frontend "$(binding policy web)"
	id=$(engine "$e" inspect -f '{{.Id}}' db)
	check "$e: apply container:${id:0:12} worker (short id)" ctl apply "container:${id:0:12}" worker
	check_eq "$e: db is bound to worker" worker "$(binding policy db)"
	check_eq "$e: ... by its full id" "container:$id" "$(binding target db)"

	# ---- rename, removal ----
	engine "$e" rename db db2 >/dev/null
	wait_until "$e: a rename shows in bindings" bound_to db2 worker
	engine "$e" rm -f db2 >/dev/null
	wait_until "$e: a removed container's binding goes" \
		sh -c "! '$NETPOLCTL' --socket '$IT_SOCK' bindings --json | grep -q '$id'"

	# ---- an unknown policy in a label ----
	first_run "$e" typo --label bpf.network.policy=fronted -- connect "$IT_NET_ADDR" 80
	check_eq "$e: a label naming no policy leaves the container under the default" \
		EPERM "$(first_result "$e" typo 1)"
	wait_until "$e: ... and bindings say why" has_problem fronted
	check "$e: ... as status does" sh -c "'$NETPOLCTL' --socket '$IT_SOCK' status --json | grep -q fronted"

	# ---- CAP_NET_RAW ----
	first_run "$e" raw --label bpf.network.policy=frontend --cap-add NET_RAW -- connect "$IT_NET_ADDR" 80
	first_result "$e" raw >/dev/null
	check "$e: a policed container that keeps CAP_NET_RAW is warned of" \
		sh -c "'$NETPOLCTL' --socket '$IT_SOCK' bindings --json | grep -q CAP_NET_RAW"
	first_run "$e" noraw --label bpf.network.policy=frontend --cap-drop NET_RAW -- connect "$IT_NET_ADDR" 80
	first_result "$e" noraw >/dev/null
	check_eq "$e: ... not one started with --cap-drop NET_RAW" null "$(binding warnings noraw)"
	engine "$e" rm -f web wk typo raw noraw >/dev/null
done

# ---- the first instruction, every time ----
# The label's policy (database) denies 203.0.113.7; the default would too,
# so a start whose binding lost the race is still denied (never open), and
# the violation says which policy judged it.
for e in $ENGINES; do
	n=$FIRST_RUNS denied=0 by_label=0 named=0
	[ "$e" = podman ] && n=$((FIRST_RUNS / 2))
	for i in $(seq "$n"); do
		first_run "$e" "f$i" --label bpf.network.policy=database -- -s 0 connect "$IT_NET_ADDR" 80
	done
	for i in $(seq "$n"); do
		[ "$(first_result "$e" "f$i")" = EPERM ] && denied=$((denied + 1))
		pol=$(ctl violations --target "f$i" --json | jget "(j['violations'] or [{}])[0].get('policy')")
		[ "$pol" = database ] && by_label=$((by_label + 1))
		[ "$pol" = None ] || named=$((named + 1))
	done
	check_eq "$e: $n starts, each first instruction's connect denied" "$n" "$denied"
	check_eq "$e: ... each violation found by the container's name" "$n" "$named"
	if [ "$e" = docker ]; then
		check_eq "$e: ... each by the label's own policy" "$n" "$by_label"
	else
		it_log "$e: $by_label of $n first instructions judged by the label's own policy, the rest by the default"
	fi
	for i in $(seq "$n"); do engine "$e" rm -f "f$i" >/dev/null; done
done

# ---- netpold down while a container starts ----
if [[ " $ENGINES " == *" docker "* ]]; then
	first_run docker pinned --label bpf.network.policy=frontend -- connect "$IT_NET_ADDR" 80
	first_result docker pinned >/dev/null
	check "apply pinned worker, over its label" ctl apply pinned worker
	stop_netpold
	first_run docker late --label bpf.network.policy=frontend -- -s 0.3 connect "$IT_NET_ADDR" 80
	check_eq "netpold down: a new container is under the default meanwhile" EPERM "$(first_result docker late)"
	netpold_up "netpold starts again"
	wait_until "an explicit binding outlives netpold's restart" bound_to pinned worker
	check_eq "... and stays explicit" explicit "$(binding origin pinned)"
	wait_until "... and binds it by its label at the catch-up" bound_to late frontend
	rm -f "$IT_TMP/out-docker/late"
	dk restart -t 0 late >/dev/null
	check_eq "... whose policy judges it from then on" OK "$(first_result docker late)"
	dk rm -f late >/dev/null

	# ---- dockerd restarts ----
	first_run docker keep --label bpf.network.policy=database -- connect "$IT_NET_ADDR" 80
	check_eq "before dockerd restarts: database judges" EPERM "$(first_result docker keep)"
	kill -TERM "$DK_PID"
	wait "$DK_PID" 2>/dev/null
	check "dockerd stopped: netpold is still running" kill -0 "$NETPOLD_PID"
	check_eq "... and keeps the bindings of its containers" database "$(binding policy keep)"
	start_dockerd || not_ok "dockerd starts again"
	wait_until "netpold follows the new dockerd" engines_connected
	dk start "$IT_NET_NAME" >/dev/null && net_setup "$(dk inspect -f '{{.State.Pid}}' "$IT_NET_NAME")"
	rm -f "$IT_TMP/out-docker/keep"
	dk start keep >/dev/null
	check_eq "after dockerd restarted: keep's label still judges it" EPERM "$(first_result docker keep)"
	first_run docker late2 --label bpf.network.policy=frontend -- connect "$IT_NET_ADDR" 80 "$IT_NET_ADDR" 22
	check_eq "... and a new container's label applies" OK "$(first_result docker late2 1)"
	check_eq "... and judges it" EPERM "$(first_result docker late2 2)"
fi

it_finish
