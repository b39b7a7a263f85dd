# SPDX-License-Identifier: GPL-2.0-only
# Tests under a real systemd: sourced by tests/systemd/it-sd-*.sh, never run.
# It sources tests/integration/lib.sh and engines.sh (a private dockerd below
# IT_CG), then gives each test one container whose PID 1 is systemd, with
# this build installed as `meson install` puts it (/usr/local), booted as
# shared/research/systemd-in-container.md describes:
#   - --cgroupns=private and a cgroup2 mounted afresh inside: the container's
#     cgroup root is its own cgroup (below IT_CG on the machine), so netpold
#     attaches there and never at the machine's root;
#   - --network none: its only interface is lo, with the test ranges local on
#     it; nothing it sends can leave the machine;
#   - its own bpffs at /sys/fs/bpf (SD_BPFFS=0: none, as systemd-nspawn and
#     Docker give), gone with the container, as pins are gone at a reboot.
#
#   sd_up                     a test point: image made, container booted
#   sd CMD...                 runs CMD in the container (docker exec -i)
#   sd_ctl ARGS...            netpolctl in the container
#   sd_wait_booted            until systemd says running or degraded (60 s)
#   sd_reboot                 systemctl poweroff, then docker start: a reboot
#   sd_active UNIT            the unit's ActiveState
#   sd_mainpid UNIT           its MainPID
#   sd_policy NAME JSON       installs (add or update) a policy
#   sd_local_ranges           the test ranges local on the container's lo
#   sd_install_netpold        enables and starts netpold.socket and .service
#   sd_wait_answers           until netpolctl status answers (20 s)
#   sd_host_cgroup            the container's cgroup on the machine
#
# In the container: /usr/local/lib/netpol-tests holds the probe and first
# (tests/integration/), SD_TOOLS is that directory.
#
# Environment: NETPOL_BUILD_DIR (the build to install; meson sets it),
# NETPOL_SD_CACHE (sd-base's cache).

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../integration/engines.sh"

SD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SD_NAME=$IT_PREFIX-sd-$$
SD_IMAGE=$IT_PREFIX-sd:$$
SD_TOOLS=/usr/local/lib/netpol-tests
SD_BPFFS=${SD_BPFFS:-1}
NETPOL_BUILD_DIR=${NETPOL_BUILD_DIR:-}
[ -n "$NETPOL_BUILD_DIR" ] && [ -f "$NETPOL_BUILD_DIR/build.ninja" ] ||
	it_skip "NETPOL_BUILD_DIR='$NETPOL_BUILD_DIR' is not a meson build directory"

sd() {
	dk exec -i "$SD_NAME" "$@"
}

sd_ctl() {
	dk exec -i "$SD_NAME" netpolctl "$@"
}

# The image: sd-base, then this build installed, the test programs and the
# init that mounts cgroup2 and bpffs the way a host has them.
sd_image() {
	local base ctx=$IT_TMP/sd-ctx
	base=$("$SD_DIR/sd-base") || return 1
	dk image inspect "$IT_PREFIX-sd-base:1" >/dev/null 2>&1 ||
		dk import "$base" "$IT_PREFIX-sd-base:1" >/dev/null || return 1
	rm -rf "$ctx"
	mkdir -p "$ctx/root$SD_TOOLS" || return 1
	DESTDIR=$ctx/root meson install -C "$NETPOL_BUILD_DIR" --no-rebuild --quiet >/dev/null || return 1
	# The image's /lib, /bin... are links into /usr (merged /usr); COPY
	# would replace them by directories.
	for d in bin sbin lib lib64; do
		[ -d "$ctx/root/$d" ] || continue
		mkdir -p "$ctx/root/usr/$d" && cp -a "$ctx/root/$d/." "$ctx/root/usr/$d/" && rm -r "${ctx:?}/root/$d" ||
			return 1
	done
	cp "$NETPOL_PROBE" "$NETPOL_FIRST" "$ctx/root$SD_TOOLS/" || return 1
	cat >"$ctx/root/sd-init" <<'EOS'
#!/bin/sh
# The test container's init: its own cgroup2 (its root is the container's
# cgroup), bpffs as on a host unless SD_BPFFS=0, then systemd.
umount -R /sys/fs/cgroup 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1
[ "${SD_BPFFS:-1}" = 1 ] && mount -t bpf -o mode=700 bpf /sys/fs/bpf
exec /lib/systemd/systemd
EOS
	chmod 755 "$ctx/root/sd-init"
	printf 'FROM %s\nCOPY root/ /\n' "$IT_PREFIX-sd-base:1" >"$ctx/Dockerfile"
	DOCKER_BUILDKIT=0 dk build -q -t "$SD_IMAGE" "$ctx" >/dev/null
}

sd_run() {
	dk run -d --name "$SD_NAME" --hostname sd --cap-add SYS_ADMIN --cap-add NET_ADMIN \
		--cap-add DAC_READ_SEARCH --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
		--cgroupns=private --tmpfs /run --tmpfs /tmp:exec --network none -e container=docker \
		-e SD_BPFFS="$SD_BPFFS" "$SD_IMAGE" /sd-init >/dev/null
}

sd_wait_booted() {
	local state i
	# Until PID 1 listens, systemctl fails at once: ask again.
	for i in $(seq 120); do
		state=$(sd timeout 60 systemctl is-system-running --wait 2>&1)
		case $state in
		running | degraded) return 0 ;;
		starting | initializing) ;;
		*) [ "$(dk inspect -f '{{.State.Running}}' "$SD_NAME")" = true ] || break ;;
		esac
		sleep 0.5
	done
	echo "# systemd in the container did not finish booting: '$state'"
	sd systemctl --failed --no-pager --no-legend 2>/dev/null | sed 's/^/#   /'
	return 1
}

# The test ranges local on the container's lo, as IT_NS has them; again
# after each boot (a new network namespace).
sd_local_ranges() {
	it_local_ranges -t "$(dk inspect -f '{{.State.Pid}}' "$SD_NAME")" -n
}

sd_up() {
	local t0=$EPOCHREALTIME
	command -v debootstrap >/dev/null || it_skip "needs debootstrap (scripts/setup installs it)"
	start_dockerd || {
		tail -n 20 "$IT_TMP/dockerd.log" | sed 's/^/#   /'
		not_ok "dockerd starts"
		it_finish
	}
	sd_image || { not_ok "the systemd image is made"; it_finish; }
	sd_run && sd_wait_booted && sd_local_ranges || { not_ok "systemd boots in the container"; it_finish; }
	ok "systemd boots in the container ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'))"
}

# The container's cgroup on the machine (below IT_CG).
sd_host_cgroup() {
	echo "$CG2$DK_CGROUP/$(dk inspect -f '{{.Id}}' "$SD_NAME")"
}

sd_reboot() {
	local i
	sd systemctl poweroff >/dev/null 2>&1
	for i in $(seq 300); do
		[ "$(dk inspect -f '{{.State.Running}}' "$SD_NAME")" = false ] && break
		sleep 0.1
	done
	[ "$(dk inspect -f '{{.State.Running}}' "$SD_NAME")" = false ] || {
		echo "# the container did not power off within 30 s"
		return 1
	}
	dk start "$SD_NAME" >/dev/null && sd_wait_booted && sd_local_ranges
}

sd_active() {
	sd systemctl show -P ActiveState "$1"
}

sd_mainpid() {
	sd systemctl show -P MainPID "$1"
}

# The install step of scripts/setup's start-netpold, in the container.
sd_install_netpold() {
	sd sh -ec 'systemd-sysusers; systemctl daemon-reload
		systemctl enable --now netpold.socket netpold.service' >/dev/null &&
		sd_wait_answers
}

# until netpolctl status answers (20 s)
sd_wait_answers() {
	local i
	for i in $(seq 200); do
		sd_ctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

sd_policy() {
	local name=$1 json=$2
	if sd_ctl policy show "$name" >/dev/null 2>&1; then
		echo "$json" | sd_ctl policy update - >/dev/null
	else
		echo "$json" | sd_ctl policy add - >/dev/null
	fi
}

sd_cleanup() {
	[ -n "$IT_KEEP" ] && return 0
	dk rm -f "$SD_NAME" >/dev/null 2>&1
	dk rmi -f "$SD_IMAGE" >/dev/null 2>&1
	return 0
}
it_at_exit sd_cleanup
