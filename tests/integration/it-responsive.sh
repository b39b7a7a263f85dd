#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# it-responsive: netpold keeps answering while it handles a huge policy.
# A 480,000-CIDR policy (a ~6.5 MB request line) is added, then updated,
# while another connection asks for `status` every 10 ms: every status must
# be answered within 100 ms (400 ms when netpold runs under AddressSanitizer,
# which slows every malloc and free of the event loop). Then the
# policy must really be installed, enforced, and saved (it survives a
# restart); replies on one connection stay in request order; of two
# concurrent adds of one name, exactly one succeeds.
. "$(dirname "$0")/lib.sh"

N=480000
netpold_up

mk_cgroup app
mk_cgroup srv
start_listener srv 8080 || not_ok "TCP listener in the netns"

# The client: sends one big request on its own connection and, meanwhile,
# times status round trips on another. Prints "ok - ..." / "not ok - ...".
big_request() { # COMMAND N EXTRA-RULE-CIDR
	python3 - "$IT_SOCK" "$1" "$2" "$3" "$NETPOLD_PID" <<'PY'
import json, random, socket, sys, threading, time

path, command, n, extra, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def sanitized():
    """AddressSanitizer makes every malloc and free of the event loop slower:
    the issue's 100 ms is a bound for the real build."""
    with open(f"/proc/{pid}/maps") as f:
        if "libasan" in f.read():
            return True
    with open(f"/proc/{pid}/exe", "rb") as f:
        return b"AddressSanitizer" in f.read()

bound = 0.4 if sanitized() else 0.1
random.seed(n)
seen, cidrs = set(), [extra]
while len(cidrs) < n:
    a = (random.randrange(11, 100), random.randrange(100), random.randrange(100), random.randrange(100))
    if a not in seen:
        seen.add(a)
        cidrs.append("%d.%d.%d.%d" % a)
pol = {"name": "big", "default": "deny", "rules": [{"action": "allow", "to": cidrs}]}
line = json.dumps({"version": 1, "id": 1, "command": command, "params": {"policy": pol}},
                  separators=(",", ":")).encode() + b"\n"
# Pipelined on the same connection: answered after the big one.
line += b'{"version":1,"id":2,"command":"status"}\n'
print(f"# {command}: {len(line)} bytes, {n} CIDRs", flush=True)

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(path)
    return s

def lines(s):
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = s.recv(1 << 16)
            if not chunk:
                return
            buf += chunk
        l, _, buf = buf.partition(b"\n")
        yield json.loads(l)

done = threading.Event()
replies = []

def big():
    try:
        s = connect()
        s.sendall(line)
        for m in lines(s):
            replies.append(m)
            if len(replies) == 2:
                break
    except Exception as e:
        replies.append({"exception": str(e)})
    done.set()

st = connect()
rd = lines(st)
t0 = time.monotonic()
th = threading.Thread(target=big)
th.start()
rtts, i = [], 0
while not done.is_set():
    i += 1
    a = time.monotonic()
    st.sendall(b'{"version":1,"id":%d,"command":"status"}\n' % i)
    m = next(rd)
    rtts.append(time.monotonic() - a)
    if m.get("id") != i or m.get("ok") is not True:
        print(f"not ok - status reply {i}: {m}")
    time.sleep(0.01)
th.join()
took = time.monotonic() - t0
worst = max(rtts)
print(f"# {command} took {took:.2f} s; {len(rtts)} status round trips meanwhile, slowest {worst * 1000:.1f} ms, "
      f"median {sorted(rtts)[len(rtts) // 2] * 1000:.2f} ms", flush=True)
r1 = replies[0] if replies else {}
ok1 = r1.get("id") == 1 and r1.get("ok") is True
print(("ok" if ok1 else "not ok") + f" - {command} of {n} CIDRs succeeds ({json.dumps(r1)[:300]})")
ok2 = len(replies) == 2 and replies[1].get("id") == 2 and replies[1].get("ok") is True
print(("ok" if ok2 else "not ok") + " - the status pipelined behind it on the same connection is answered after it")
# The request must take long enough for the status loop to have sampled it.
print(("ok" if len(rtts) >= 5 else "not ok") + f" - status was asked {len(rtts)} times during the {command}")
print(("ok" if worst < bound else "not ok") + f" - every status answered within {bound * 1000:.0f} ms during the "
      f"{command} (slowest {worst * 1000:.1f} ms){' (AddressSanitizer)' if bound > 0.1 else ''}")
PY
}

# run_py COMMAND...: runs a python check and counts its ok / not ok lines.
run_py() {
	local out=$IT_TMP/py.out
	"$@" 2>&1 | tee "$out"
	IT_PASSED=$((IT_PASSED + $(grep -c '^ok - ' "$out")))
	IT_FAILED=$((IT_FAILED + $(grep -c '^not ok - ' "$out")))
	grep -q '^ok - ' "$out" || not_ok "the python check ran"
}

run_py big_request policy.add "$N" 203.0.113.0/24
entries=$(ctl --json policy list | jget '[p["entries"] for p in j["policies"] if p["name"] == "big"][0]')
it_log "big has $entries LPM entries"
check "big is installed with more than $N entries" test "${entries:-0}" -gt "$N"
check_eq "netpolctl test: 203.0.113.5:8080/tcp allowed by big" allow \
	"$(ctl --json test big 203.0.113.5:8080/tcp | jget 'j["verdict"]')"
check_eq "netpolctl test: 198.51.100.5:8080/tcp denied by big" deny \
	"$(ctl --json test big 198.51.100.5:8080/tcp | jget 'j["verdict"]')"
check "apply big" ctl apply "$(target app)" big
expect_probe "big enforced: tcp 203.0.113.5:8080 connects" allowed app tcp 203.0.113.5 8080
expect_probe "big enforced: tcp 198.51.100.5:8080 denied" denied app tcp 198.51.100.5 8080

# An update of the bound policy: the same bound, and the new version is in force.
run_py big_request policy.update "$N" 198.51.100.0/24
expect_probe "updated big enforced: tcp 198.51.100.5:8080 connects" allowed app tcp 198.51.100.5 8080
expect_probe "updated big enforced: tcp 203.0.113.5:8080 denied" denied app tcp 203.0.113.5 8080

# Acknowledged means saved: it survives a restart.
stop_netpold
start_netpold || not_ok "netpold restarts"
check_eq "after a restart big is still there, bound" big \
	"$(ctl --json bindings | jget '[b["policy"] for b in j["bindings"]][0]')"
expect_probe "after a restart: tcp 198.51.100.5:8080 connects" allowed app tcp 198.51.100.5 8080

# Two writers adding one name at once: exactly one wins, the other is told.
dup_adds() {
	python3 - "$IT_SOCK" <<'PY'
import json, socket, sys, threading
cidrs = ["%d.%d.%d.0/24" % (a, b, c) for a in range(11, 14) for b in range(100) for c in range(100)]
pol = {"name": "dup", "default": "deny", "rules": [{"action": "allow", "to": cidrs}]}
line = json.dumps({"version": 1, "id": 1, "command": "policy.add", "params": {"policy": pol}}).encode() + b"\n"
res = []
def add():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(sys.argv[1])
    s.sendall(line)
    buf = b""
    while b"\n" not in buf:
        buf += s.recv(65536)
    res.append(json.loads(buf.partition(b"\n")[0]))
ts = [threading.Thread(target=add) for _ in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
oks = sum(r.get("ok") is True for r in res)
codes = [r["error"]["code"] for r in res if r.get("ok") is False]
good = oks == 1 and codes == ["netpol.PolicyExists"]
print(("ok" if good else "not ok") + f" - two concurrent adds of one name: one succeeds, one PolicyExists ({oks}, {codes})")
PY
}
run_py dup_adds

it_finish
