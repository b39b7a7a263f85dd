# SPDX-License-Identifier: GPL-2.0-only
# Private Docker and Podman engines for the integration tests: sourced after
# lib.sh, never run. Never the machine's own: each test starts its own
# dockerd and podman service, named after its pid, and stops them on exit.
#
#   engine_up docker|podman   a test point: the engine started, the image
#                             imported, the network container running
#   dk ARGS...                docker against the private dockerd
#   pm ARGS...                podman on the private store (run and create
#                             get the cgroup parent below IT_CG)
#   dc ARGS...                docker-compose against the private dockerd
#   first_run ENGINE NAME [RUN-OPTS...] -- FIRST-ARGS...
#                             a detached container NAME whose entrypoint is
#                             tests/integration/first.c with FIRST-ARGS
#   first_result ENGINE NAME [N]
#                             the result (OK, EPERM, ECONNREFUSED...) of its
#                             Nth attempt (1st by default), once written
#   first_line ENGINE NAME [N]
#                             the whole line, with the entrypoint's start time
#   container_cgroup ENGINE NAME
#                             a running container's cgroup (for cgroup:...)
#
# Where things are:
#   DK_SOCK, PM_SOCK          the engines' API sockets (for netpold's
#                             container_sockets)
#   DK_CGROUP, PM_CGROUP      the containers' parent cgroups, below IT_CG
#                             (relative to the cgroup2 mount: a target is
#                             cgroup:$DK_CGROUP)
#   IT_IMAGE                  the image: busybox-static and /bin/first
#   IT_NET_ADDR, IT_NET_PORT  an address of the containers' network
#                             namespace with a listener on that port
#
# Containers never reach the real network: each engine has one network
# container (--network none) whose namespace has 203.0.113.0/24,
# 198.51.100.0/24 and 2001:db8::/32 local on lo and a listener on
# IT_NET_PORT; first_run's containers join it (--network container:...),
# so the routes are in place before their entrypoint runs.
#
# Each engine runs in a mount namespace of its own (the podman CLI joins the
# service's): their overlay and shm mounts never show on the host and go
# with them. There, tmpfs mounts hide what they would share with the
# machine's engines: /run/containerd (dockerd then starts a containerd of
# its own, never uses the machine's) and /var/lib/containers (podman's image
# cache). Their mount points are made, empty, where missing.
#
# Environment: NETPOL_FIRST (the static entrypoint; meson sets it).

IT_IMAGE=netpol-it-bb:1
IT_NET_ADDR=203.0.113.7
IT_NET_PORT=80
IT_NET_NAME=netpol-it-net
# Debian's docker.io; /usr/local/bin may hold an unrelated client.
DK=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
DK_SOCK=$IT_TMP/d.sock
DK_CGROUP=$IT_CG_REL/docker
DK_PID=
PM_DIR=$IT_TMP/pm
PM_SOCK=$IT_TMP/p.sock
PM_CGROUP=$IT_CG_REL/podman
PM_PID=

NETPOL_FIRST=${NETPOL_FIRST:-}
[ -n "$NETPOL_FIRST" ] && [ -x "$NETPOL_FIRST" ] || it_skip "NETPOL_FIRST='$NETPOL_FIRST' is not an executable (is it built?)"

# The storage driver: overlay mounts on overlayfs fail (a CI container's
# root); vfs copies but works anywhere.
if [ "$(stat -f -c %T "$IT_TMP")" = overlayfs ]; then
	DK_DRIVER=vfs PM_DRIVER=vfs
else
	DK_DRIVER=overlay2 PM_DRIVER=overlay
fi

dk() {
	"$DK" -H "unix://$DK_SOCK" "$@"
}

# docker-compose (1.29) against the private dockerd. A compose file must
# give every service network_mode "container:$IT_NET_NAME" (or "none"):
# compose's default network is a bridge on the host.
dc() {
	DOCKER_HOST=unix://$DK_SOCK docker-compose "$@"
}

# The CLI joins the service's mount namespace, where the store's mounts are.
# Podman has no engine-wide cgroup parent for cgroupfs (its default is
# /libpod_parent, outside the test's cgroup): run and create get one here;
# API clients must set HostConfig.CgroupParent themselves (compose:
# cgroup_parent).
pm() {
	local sub=$1
	shift
	case $sub in
	run | create) set -- "$sub" --cgroup-parent "$PM_CGROUP" "$@" ;;
	*) set -- "$sub" "$@" ;;
	esac
	CONTAINERS_CONF=$PM_DIR/containers.conf nsenter -t "$PM_PID" -m -- \
		podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" \
		--storage-driver "$PM_DRIVER" "$@"
}

# Every v1 hierarchy gets the engines' cgroups too (hybrid set-up, cgroup
# "v1" as Docker and runc see it): removed like IT_CG.
it_remove_v1_cgroups() {
	local root d pid
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") print $5; break } }' \
		/proc/self/mountinfo | while read -r root; do
		[ -d "$root$IT_CG_REL" ] || continue
		find "$root$IT_CG_REL" -depth -type d 2>/dev/null | while read -r d; do
			while read -r pid; do
				echo "$pid" >"$root/cgroup.procs" 2>/dev/null || true
			done <"$d/cgroup.procs"
			rmdir "$d" 2>/dev/null || true
		done
	done
}

# Containers first, then the engines, then their cgroups.
engines_cleanup() {
	stop_dockerd
	stop_podman
	it_remove_v1_cgroups
}
it_at_exit engines_cleanup

# wait_api SOCKET PID: until the engine answers /_ping (at most 30 s), or
# its process is gone.
wait_api() {
	local i
	for i in $(seq 300); do
		kill -0 "$2" 2>/dev/null || return 1
		curl -sf --max-time 2 --unix-socket "$1" http://engine/_ping 2>/dev/null | grep -qx OK && return 0
		sleep 0.1
	done
	return 1
}

# stop_pid PID: SIGTERM, at most 30 s, then SIGKILL.
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for i in $(seq 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "# pid $1 did not exit within 30 s of SIGTERM"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# The image's root: busybox-static (its applets for sh -c and the like)
# and the entrypoint.
make_rootfs_tar() {
	local root=$IT_TMP/rootfs a
	[ -f "$IT_TMP/rootfs.tar" ] && return 0
	mkdir -p "$root"/{bin,dev,etc,out,proc,sys,tmp} || return 1
	cp "$NETPOL_FIRST" "$root/bin/first" || return 1
	if [ -x /bin/busybox ]; then
		cp /bin/busybox "$root/bin/" || return 1
		for a in sh sleep cat ls echo; do ln -s busybox "$root/bin/$a"; done
	fi
	tar -C "$root" -cf "$IT_TMP/rootfs.tar" . || return 1
}

# The addresses local in the network container's namespace, as IT_NS has them.
net_setup() {
	it_local_ranges -t "$1" -n
}

# ---- Docker ----

# dockerd with all its state in IT_TMP and its containers below IT_CG.
start_dockerd() {
	local d=$IT_TMP/dk
	mkdir -p "$d" || return 1
	mkdir -p /run/containerd || return 1
	unshare --mount --propagation slave sh -c '
		mount -t tmpfs -o mode=0711 netpol-it /run/containerd && exec "$@"' sh \
		"$DOCKERD" --data-root "$d/data" --exec-root "$d/x" --pidfile "$d/pid" \
		-H "unix://$DK_SOCK" --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
		--userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$DK_CGROUP" \
		--storage-driver "$DK_DRIVER" >>"$IT_TMP/dockerd.log" 2>&1 &
	DK_PID=$!
	wait_api "$DK_SOCK" "$DK_PID"
}

stop_dockerd() {
	local ids ctd
	[ -n "$DK_PID" ] || return 0
	ids=$(dk ps -aq 2>/dev/null)
	[ -z "$ids" ] || dk rm -f $ids >/dev/null 2>&1
	dk ps -aq 2>/dev/null | grep -q . && echo "# docker containers left: $(dk ps -aq | tr '\n' ' ')"
	ctd=$(cat "$IT_TMP/dk/x/containerd/containerd.pid" 2>/dev/null)
	stop_pid "$DK_PID"
	# dockerd stops its containerd; not when it had to be killed.
	[ -z "$ctd" ] || ! kill -0 "$ctd" 2>/dev/null || stop_pid "$ctd"
	DK_PID=
	rm -rf "$IT_TMP/dk"
}

# ---- Podman ----

# The service and the CLI read the same containers.conf (CONTAINERS_CONF:
# the machine's files are not read), so they share the events log: events of
# containers the CLI runs reach the service's /events.
start_podman() {
	mkdir -p "$PM_DIR/tmp" "$PM_DIR/net" || return 1
	cat >"$PM_DIR/containers.conf" <<-EOF || return 1
		[containers]
		# runc's setrlimit fails above the hard limits of this machine.
		default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		tmp_dir = "$PM_DIR/tmp"
		[network]
		network_config_dir = "$PM_DIR/net"
	EOF
	# import writes a cache beside the machine's store, whatever --root
	# says: a tmpfs hides it (the mount point is made, empty, if missing).
	mkdir -p /var/lib/containers || return 1
	CONTAINERS_CONF=$PM_DIR/containers.conf unshare --mount --propagation slave sh -c '
		mount -t tmpfs -o mode=0700 netpol-it /var/lib/containers && exec "$@"' sh \
		podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --storage-driver "$PM_DRIVER" \
		system service --time=0 "unix://$PM_SOCK" >>"$IT_TMP/podman.log" 2>&1 &
	PM_PID=$!
	wait_api "$PM_SOCK" "$PM_PID"
}

stop_podman() {
	[ -n "$PM_PID" ] || return 0
	# The network container last: podman refuses to remove it while
	# others join its namespace.
	if kill -0 "$PM_PID" 2>/dev/null; then
		pm rm -af -t 0 >/dev/null 2>&1
		pm rm -f -t 0 "$IT_NET_NAME" >/dev/null 2>&1
		pm ps -aq 2>/dev/null | grep -q . && echo "# podman containers left: $(pm ps -aq | tr '\n' ' ')"
	fi
	stop_pid "$PM_PID"
	PM_PID=
	rm -rf "$PM_DIR"
}

# ---- both ----

# engine ENGINE ARGS...: dk or pm.
engine() {
	local e=$1
	shift
	case $e in
	docker) dk "$@" ;;
	podman) pm "$@" ;;
	*)
		echo "engine: unknown engine '$e'" >&2
		return 2
		;;
	esac
}

# engine_start ENGINE: the engine answering, the image imported, the
# network container running; on failure, says why.
engine_start() {
	local e=$1 pid log=$IT_TMP/$1.log
	[ "$e" = docker ] && log=$IT_TMP/dockerd.log
	make_rootfs_tar || return 1
	case $e in
	docker) start_dockerd ;;
	podman) start_podman ;;
	esac || {
		echo "# $e did not answer on its socket; its log:"
		tail -n 20 "$log" | sed 's/^/#   /'
		return 1
	}
	engine "$e" import "$IT_TMP/rootfs.tar" "$IT_IMAGE" >/dev/null 2>>"$IT_TMP/import.log" || {
		echo "# $e import failed:"
		sed 's/^/#   /' "$IT_TMP/import.log"
		return 1
	}
	mkdir -p "$IT_TMP/out-$e"
	engine "$e" run -d --name "$IT_NET_NAME" --network none "$IT_IMAGE" \
		/bin/first listen "$IT_NET_PORT" >/dev/null || return 1
	pid=$(engine "$e" inspect -f '{{.State.Pid}}' "$IT_NET_NAME") || return 1
	net_setup "$pid"
}

# engine_up ENGINE: engine_start as a test point; the script cannot go on
# without it.
engine_up() {
	local t0=$EPOCHREALTIME p
	case $1 in
	docker) p="$DK $DOCKERD" ;;
	podman) p=podman ;;
	esac
	for p in $p unshare curl; do
		command -v "$p" >/dev/null || it_skip "needs $p (scripts/setup installs it)"
	done
	engine_start "$1" || { not_ok "$1 starts"; it_finish; }
	ok "$1 starts ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f s", b - a }'))"
}

# first_run ENGINE NAME [RUN-OPTS...] -- FIRST-ARGS...: FIRST-ARGS may
# start with -s to override the default (keep running until stopped).
first_run() {
	local e=$1 name=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" = -- ] || {
		echo "first_run: no -- before the entrypoint's arguments" >&2
		return 2
	}
	shift
	rm -f "$IT_TMP/out-$e/$name"
	engine "$e" run -d --name "$name" --network "container:$IT_NET_NAME" -v "$IT_TMP/out-$e:/out" \
		"${opts[@]}" "$IT_IMAGE" /bin/first -o "/out/$name" -s -1 "$@" >/dev/null
}

# first_line ENGINE NAME [N]: waits at most 20 s for the container's
# results; prints the Nth line, "RESULT ADDR PORT T0" (T0: the entrypoint's
# CLOCK_REALTIME at entry), or "none" if it never wrote them.
first_line() {
	local f=$IT_TMP/out-$1/$2 i
	for i in $(seq 200); do
		[ -f "$f" ] && break
		sleep 0.1
	done
	if [ -f "$f" ]; then
		sed -n "${3:-1}p" "$f"
	else
		echo none
	fi
}

# first_result ENGINE NAME [N]: the RESULT of that line.
first_result() {
	first_line "$@" | awk '{ print $1 }'
}

# container_cgroup ENGINE NAME: the running container's cgroup2 path,
# relative to the mount (as a cgroup: target names it).
container_cgroup() {
	local pid
	pid=$(engine "$1" inspect -f '{{.State.Pid}}' "$2") || return 1
	sed -n 's/^0:://p' "/proc/$pid/cgroup"
}
