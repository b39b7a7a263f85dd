#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-compose: the Compose example of docs/examples/compose, run with
# docker-compose on a private dockerd. Its services keep their labels and
# capabilities as written; only what cannot run here is replaced (the image,
# the networks: a bridge on the host). Each service is bound by its label,
# named by its compose project and service, judged by its own policy (web
# reaches port 80 under frontend; the default deny-all and database would
# refuse it), and unbound by docker-compose down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engines.sh"

EXAMPLE=$(dirname "$0")/../../docs/examples/compose/docker-compose.yml
PROJECT=netpolit$$
OUT=$IT_TMP/out-docker

command -v docker-compose >/dev/null || it_skip "docker-compose is not installed"
[ -x /bin/busybox ] || it_skip "busybox-static is not installed (the services wait in sh)"

engine_up docker
cat >"$IT_CONF" <<EOF
container_sockets = $DK_SOCK
container_cgroup_parents = $DK_CGROUP
container_default_policy = deny-all
EOF
netpold_up

# The example as compose reads it, made runnable here: the image, the
# network container's namespace, the test's output directory, and an
# entrypoint that waits for its go file before its connects.
dc -f "$EXAMPLE" config >"$IT_TMP/example.yml" || {
	not_ok "docker-compose config reads the example"
	it_finish
}
python3 - "$IT_TMP/example.yml" "$IT_TMP/compose.yml" "$IT_IMAGE" "$IT_NET_NAME" "$OUT" \
	"$IT_NET_ADDR" "$IT_NET_PORT" <<'EOF' || not_ok "the example's services can be rewritten"
import sys, yaml
src, dst, image, net, out, addr, port = sys.argv[1:]
c = yaml.safe_load(open(src))
for key in ("networks", "volumes"):
    c.pop(key, None)
for name, s in c["services"].items():
    for key in ("ports", "networks", "volumes", "depends_on"):
        s.pop(key, None)
    s["image"] = image
    s["network_mode"] = "container:" + net
    s["volumes"] = [out + ":/out"]
    s["entrypoint"] = ["/bin/sh", "-c", "while [ ! -e /out/go-%s ]; do sleep 0.1; done; exec /bin/first "
                       "-o /out/%s -s -1 connect %s %s %s 22" % (name, name, addr, port, addr)]
yaml.safe_dump(c, open(dst, "w"))
EOF
mkdir -p "$OUT"
check "docker-compose up the example" dc -p "$PROJECT" -f "$IT_TMP/compose.yml" up -d

# bound_by SERVICE: "policy origin" of the service's container binding,
# once it has a cgroup (at most 10 s).
bound_by() {
	local i b
	for i in $(seq 100); do
		b=$(ctl --json bindings | jget "next(('%s %s' % (b['policy'], b['origin'])
			for b in j['bindings'] if (b.get('container') or {}).get('service') == '$1'
			and (b.get('container') or {}).get('project') == '$PROJECT' and b.get('cgroup_id')), '')")
		[ -n "$b" ] && break
		sleep 0.1
	done
	echo "${b:-unbound}"
}
check_eq "web is bound by its label to frontend" "frontend label" "$(bound_by web)"
check_eq "db is bound by its label to database" "database label" "$(bound_by db)"
check_eq "no warning for the two services, which drop NET_RAW" "2 bindings, 0 warnings" \
	"$(ctl --json bindings | jget "'%d bindings, %d warnings' % (lambda bs: (len(bs),
		sum(len(b.get('warnings') or []) for b in bs)))([b for b in j['bindings']
		if (b.get('container') or {}).get('project') == '$PROJECT'])")"

human=$(ctl bindings)
echo "$human" | grep -qE "^${PROJECT}_web_1 \([0-9a-f]{12}, $IT_IMAGE, service $PROJECT/web\) +frontend +[0-9]+ +label\$" &&
	ok "bindings names web by its compose service" || not_ok "bindings names web by its compose service: $human"

touch "$OUT/go-web" "$OUT/go-db"
check_eq "web reaches port $IT_NET_PORT (frontend; deny-all would refuse)" OK "$(first_result docker web 1)"
check_eq "web is refused port 22 (frontend)" EPERM "$(first_result docker web 2)"
check_eq "db is refused port $IT_NET_PORT (database: private only)" EPERM "$(first_result docker db 1)"

v=$(ctl --json violations --target "${PROJECT}_web_1" --since 5m)
check_eq "the violation of web names its service" "$PROJECT/web" "$(echo "$v" | jget "next(('%s/%s' % (x['container']['project'],
	x['container']['service']) for x in j['violations'] if x['port'] == 22 and 'container' in x), 'none')")"

check "docker-compose down" dc -p "$PROJECT" -f "$IT_TMP/compose.yml" down -t 0
for i in $(seq 100); do
	n=$(ctl --json bindings | jget "len([b for b in j['bindings'] if (b.get('container') or {}).get('project') == '$PROJECT'])")
	[ "$n" = 0 ] && break
	sleep 0.1
done
check_eq "down removes both bindings" 0 "$n"

it_finish
