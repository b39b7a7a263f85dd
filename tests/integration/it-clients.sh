#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-clients: real programs under a policy behave as their users expect.
# Allowed traffic works; denied traffic fails at once with "Operation not
# permitted", never by a timeout, and is reported. iputils ping, whose
# connect() of a UDP socket only picks a source address, must work where
# the policy allows ICMP. Servers run in an unbound cgroup of the test's
# network namespace; nothing leaves it.
. "$(dirname "$0")/lib.sh"

for p in ping curl nc dig socat; do
	command -v "$p" >/dev/null || it_skip "needs $p (scripts/setup installs it)"
done

netpold_up

mk_cgroup app
mk_cgroup srv
mk_cgroup noicmp
nsenter --net="$IT_NETNS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

P=$IT_TMP/clients.json
write_policy "$P" '{"name": "clients", "default": "deny", "rules": [
  {"action": "allow", "to": ["203.0.113.0/25"], "protocol": "tcp", "ports": [8080]},
  {"action": "allow", "to": ["203.0.113.0/25"], "protocol": "udp", "ports": [5353]},
  {"action": "allow", "to": ["203.0.113.0/25", "2001:db8:1::/48"], "protocol": "icmp"}]}'
check "policy add clients" ctl policy add "$P"
check "apply clients" ctl apply "$(target app)" clients
check "apply deny-all to noicmp" ctl apply "$(target noicmp)" deny-all

# run CGROUP TIMEOUT CMD...: CMD in the cgroup and the netns; its output in
# $RUN_OUT, its exit status returned, its duration in $RUN_MS.
run() {
	local cg=$1 t=$2 t0 rc
	shift 2
	t0=$(date +%s%N)
	RUN_OUT=$(timeout "$t" "$NETPOL_PROBE" --cgroup "$IT_CG/$cg" --netns "$IT_NETNS" exec "$@" 2>&1)
	rc=$?
	RUN_MS=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

# allowed DESCRIPTION CGROUP CMD...
allowed() {
	local desc=$1 cg=$2
	shift 2
	if run "$cg" 10 "$@"; then
		ok "$desc"
	else
		not_ok "$desc (exit $?: $(echo "$RUN_OUT" | tail -n 2))"
	fi
}

# denied DESCRIPTION CGROUP CMD...: fails within 2 s saying "not permitted"
# (or, as libuv words EPERM, "permission denied")
# (ping says it at once, then waits out its -w deadline: DENIED_MS).
DENIED_MS=2000
denied() {
	local desc=$1 cg=$2 rc
	shift 2
	run "$cg" 10 "$@"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$RUN_MS" -lt "$DENIED_MS" ] && echo "$RUN_OUT" | grep -qiE "not permitted|permission denied"; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc after $RUN_MS ms: $(echo "$RUN_OUT" | tail -n 2))"
	fi
}

# ---- servers, unpoliced ----
probe_bg "$IT_TMP/http.out" srv exec python3 -m http.server --bind :: 8080
python3 - "$IT_TMP/dns.py" <<'PY'
import sys
open(sys.argv[1], "w").write('''
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 5353))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = q.index(b"\\0", 12) + 5
    answer = struct.pack("!HHHLH4s", 0xC00C, 1, 1, 60, 4, bytes([203, 0, 113, 80]))
    s.sendto(q[:2] + b"\\x81\\x80" + q[4:6] + b"\\x00\\x01\\x00\\x00\\x00\\x00" + q[12:end] + answer, peer)
''')
PY
probe_bg "$IT_TMP/dns.out" srv exec python3 "$IT_TMP/dns.py"
wait_for_line "$IT_TMP/dns.out" '^ready' 50 || not_ok "the DNS responder starts"
for i in $(seq 50); do
	run srv 2 curl -s -o /dev/null http://203.0.113.5:8080/ && break
	sleep 0.1
done

# ---- ICMP ----
allowed "ping 203.0.113.9 (allowed) gets its reply" app ping -c 1 -W 2 203.0.113.9
allowed "ping -6 2001:db8:1::9 (allowed) gets its reply" app ping -6 -c 1 -W 2 2001:db8:1::9
DENIED_MS=3000 denied "ping 198.51.100.7 (denied) says 'not permitted'" app ping -c 1 -w 1 198.51.100.7
# ICMPv6 ping's sendto() reports no drop (docs/threat-model.md): no reply,
# and the violation is reported.
if run app 10 ping -6 -c 1 -W 1 2001:db8:2::9; then
	not_ok "ping -6 2001:db8:2::9 (denied) gets no reply (it got one)"
else
	ok "ping -6 2001:db8:2::9 (denied) gets no reply"
fi
for i in $(seq 20); do
	reported=$(ctl --json violations --target "$(target app)" | jget 'any(v["dest"] == "2001:db8:2::9" for v in j["violations"])')
	[ "$reported" = true ] && break
	sleep 0.1
done
check_eq "the denied ping -6 is reported" true "$reported"

denied "ping under a policy without ICMP fails at once" noicmp ping -c 1 -w 1 203.0.113.9
denied "ping -6 under a policy without ICMP fails at once" noicmp ping -6 -c 1 -w 1 2001:db8:1::9

# ---- TCP ----
allowed "curl http://203.0.113.5:8080/ (allowed)" app curl -sf -o /dev/null http://203.0.113.5:8080/
denied "curl http://198.51.100.5:8080/ (denied) fails at once" app curl -sSv -o /dev/null http://198.51.100.5:8080/
denied "curl http://203.0.113.5:8081/ (denied port) fails at once" app curl -sSv -o /dev/null http://203.0.113.5:8081/
allowed "python3 socket.create_connection (allowed)" app python3 -c \
	'import socket; socket.create_connection(("203.0.113.5", 8080), timeout=5)'
denied "python3 socket.create_connection (denied) fails at once" app python3 -c \
	'import socket; socket.create_connection(("198.51.100.5", 8080), timeout=5)'
denied "nc -z (denied) fails at once" app nc -v -z -w 2 198.51.100.5 8080
denied "socat to a denied address fails at once" app socat -u /dev/null TCP:198.51.100.5:8080

# ---- UDP ----
allowed "dig @203.0.113.5 -p 5353 (allowed) gets its answer" app \
	sh -c 'dig +short +tries=1 +time=2 @203.0.113.5 -p 5353 example.test | grep -qx 203.0.113.80'
denied "dig @198.51.100.5 -p 5353 (denied) fails at once" app \
	dig +tries=1 +time=2 @198.51.100.5 -p 5353 example.test
denied "nc -u (denied) fails at once" app sh -c 'echo x | nc -v -u -w 1 198.51.100.5 5353'
denied "python3 UDP sendto (denied) fails at once" app python3 -c \
	'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("198.51.100.5", 5353))'

it_finish
