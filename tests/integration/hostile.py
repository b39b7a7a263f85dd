#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Hostile and malformed clients of netpold's control socket (it-hostile.sh).

Each case sends something wrong and expects a clear error reply (the
documented code, the request's id or null, a message) or a clean close, and
afterwards that netpold still answers. Prints one "ok - ..." or
"not ok - ..." line per check.

usage: hostile.py SOCKET NETPOLD_PID
environment: HOSTILE_FLOOD, a shell command that makes many distinct
denials (for the slow-follower case).
"""
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

SOCK = sys.argv[1]
DAEMON_PID = int(sys.argv[2])
MAX_MSG = 8 * 1024 * 1024
passed = failed = 0
report_lock = threading.Lock()  # some checks run in threads


def report(good, what):
    global passed, failed
    with report_lock:
        if good:
            passed += 1
            print(f"ok - {what}\n", end="", flush=True)
        else:
            failed += 1
            print(f"not ok - {what}\n", end="", flush=True)


def connect(timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(SOCK)
    return s


class Reader:
    """Line reader over a socket: partial reads, long lines, EOF."""

    def __init__(self, s):
        self.s = s
        self.buf = b""

    def line(self, timeout=10.0):
        """The next line as bytes, None on EOF; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                raise TimeoutError
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def msg(self, timeout=10.0):
        line = self.line(timeout)
        return None if line is None else json.loads(line)


def request(command, rid=1, params=None, version=1):
    req = {"version": version, "id": rid, "command": command}
    if params is not None:
        req["params"] = params
    return json.dumps(req, separators=(",", ":")).encode() + b"\n"


def sendall(s, data):
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def status_works(s=None, rid=424242):
    """A status request answered with ok: on s, or on a new connection."""
    own = s is None
    try:
        if own:
            s = connect()
        r = Reader(s)
        if not sendall(s, request("status", rid)):
            return False
        while True:
            m = r.msg(10)
            if m is None:
                return False
            if m.get("id") == rid:
                return m.get("ok") is True
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        if own and s:
            s.close()


def check_error(m, codes, rid):
    """Why m is not the expected error reply, or None when it is."""
    if not isinstance(m, dict):
        return f"not an object: {m!r}"
    if m.get("ok") is not False:
        return f"not an error reply: {json.dumps(m)[:200]}"
    if m.get("version") != 1:
        return f"version {m.get('version')!r}"
    e = m.get("error")
    if not isinstance(e, dict) or not isinstance(e.get("message"), str) or not e["message"]:
        return f"error without a message: {json.dumps(m)[:200]}"
    if e.get("code") not in codes:
        return f"code {e.get('code')!r}, expected {'/'.join(codes)} ({e.get('message')!r})"
    if rid != "any" and m.get("id") != rid:
        return f"id {m.get('id')!r}, expected {rid!r}"
    return None


def case(what, data, codes, rid=1, may_close=False, close_after=False):
    """Sends data on a new connection and expects one error reply with a
    code in codes (or, with may_close, a close without one). Then the same
    connection must still serve (unless close_after: it must be closed)."""
    try:
        s = connect()
    except OSError as e:
        report(False, f"{what}: connect: {e}")
        return
    r = Reader(s)
    try:
        sent = sendall(s, data)
        m = r.msg(15)
        if m is None:
            report(may_close or (close_after and not sent), f"{what}: closed without a reply")
            return
        why = check_error(m, codes, rid)
        if why:
            report(False, f"{what}: {why}")
            return
        if close_after:
            report(r.line(15) is None, f"{what}: {m['error']['code']} and the connection closed")
        elif may_close:
            report(True, f"{what}: {m['error']['code']}")
        else:
            report(status_works(s), f"{what}: {m['error']['code']}, connection still serves")
    except TimeoutError:
        report(False, f"{what}: no reply within 15 s")
    except ValueError as e:
        report(False, f"{what}: reply is not JSON: {e}")
    finally:
        s.close()


BAD_JSON = ["netpol.InvalidJSON"]
BAD_REQ = ["netpol.InvalidRequest"]
BAD_JSON_OR_REQ = ["netpol.InvalidJSON", "netpol.InvalidRequest"]
BAD_PARAM = ["netpol.InvalidParameter"]
BAD_POLICY = ["netpol.InvalidPolicy", "netpol.InvalidParameter"]


def raw(s):
    return s.encode() + b"\n"


def env(command, params, rid=1):
    return request(command, rid, params)


def blank_lines():
    """Lines with nothing but white space: ignored or refused, never fatal."""
    for text in (b"\n", b"   \n", b"\t\r\n"):
        s = connect()
        r = Reader(s)
        sendall(s, text)
        try:
            m = r.msg(1)
            why = check_error(m, BAD_JSON_OR_REQ, None) if m is not None else "closed"
        except TimeoutError:
            why = None  # ignored
        except ValueError as e:
            why = str(e)
        report(not why and status_works(s), f"blank line {text!r}: ignored or refused, connection still serves"
               + (f": {why}" if why else ""))
        s.close()


def malformed_json():
    for i, text in enumerate([
        "{", "}", "{\"version\":1,", "nul", "{'version': 1, 'id': 1, 'command': 'status'}",
        "{\"version\":1,\"id\":1,\"command\":\"status\",}", "{\"version\":1 \"id\":1}",
        "{\"version\":1,\"id\":1,\"command\":\"status\"}{\"x\":1}", "{\"version\":NaN,\"id\":1,\"command\":\"status\"}",
        "{\"version\":1,\"id\":1,\"command\":\"status\"} // comment", "{\"version\":1,\"id\":1,\"command\":\"st\\x\"}",
        "{\"version\":1,\"id\":1,\"command\":\"\\ud800\"}", "\"status\"", "{\"version\":01,\"id\":1,\"command\":\"status\"}",
        "{\"version\":1,\"id\":1,\"command\":\"status\"}]", "[", "{\"a\":tru}",
    ]):
        case(f"bad JSON #{i} {text[:30]!r}", raw(text), BAD_JSON_OR_REQ, rid=None, may_close=True)
    case("invalid UTF-8 in a string", b'{"version":1,"id":1,"command":"\xff\xfe"}\n', BAD_JSON_OR_REQ, rid=None, may_close=True)
    case("a NUL byte in the line", b'{"version":1,"id":1,"command":"status"}\x00junk\n', BAD_JSON_OR_REQ, rid=None,
         may_close=True)
    case("an integer beyond 64 bits", raw('{"version":1,"id":123456789012345678901234567890,"command":"status"}'),
         BAD_JSON_OR_REQ, rid=None, may_close=True)
    for i, text in enumerate(["[1,2,3]", "42", "null", "true", "[{\"version\":1,\"id\":1,\"command\":\"status\"}]"]):
        case(f"not an object #{i} {text[:30]!r}", raw(text), BAD_JSON_OR_REQ, rid=None, may_close=True)


def envelope():
    good = {"version": 1, "id": 1, "command": "status"}
    for key in ("version", "id", "command"):
        m = dict(good)
        del m[key]
        case(f"envelope without {key}", raw(json.dumps(m)), BAD_REQ + (["netpol.UnsupportedVersion"] if key == "version" else []),
             rid="any")
    for v in ["1", 1.0, True, None, [1], {"v": 1}]:
        case(f"version of the wrong type {v!r}", raw(json.dumps(dict(good, version=v))),
             BAD_REQ + ["netpol.UnsupportedVersion"], rid="any")
    for v in [2, 0, -1, 999, 2**62]:
        m = dict(good, version=v)
        try:
            s = connect()
            r = Reader(s)
            sendall(s, raw(json.dumps(m)))
            rep = r.msg(15)
            why = check_error(rep, ["netpol.UnsupportedVersion"], 1)
            if not why and rep["error"].get("supported") != 1:
                why = f"error.supported is {rep['error'].get('supported')!r}, expected 1"
            report(not why, f"version {v}: UnsupportedVersion with supported: 1" + (f": {why}" if why else ""))
            s.close()
        except (OSError, TimeoutError, ValueError) as e:
            report(False, f"version {v}: {e}")
    for v in [1.5, True, None, [1], {"a": 1}]:
        case(f"id of the wrong type {v!r}", raw(json.dumps(dict(good, id=v))), BAD_REQ, rid="any")
    for v in [5, None, [], {}, True]:
        case(f"command of the wrong type {v!r}", raw(json.dumps(dict(good, command=v))), BAD_REQ, rid=1)
    for v in ["nosuch", "", "STATUS", "status ", "policy.LIST", "policy"]:
        case(f"unknown command {v!r}", raw(json.dumps(dict(good, command=v))), ["netpol.UnknownCommand"], rid=1)
    # jansson refuses \u0000 in strings: InvalidJSON is as clear.
    case("command 'status\\u0000'", raw(json.dumps(dict(good, command="status\u0000"))),
         ["netpol.UnknownCommand", "netpol.InvalidJSON"], rid="any")
    for v in ["x", 5, [], True]:
        case(f"params of the wrong type {v!r}", raw(json.dumps(dict(good, params=v))), BAD_REQ + BAD_PARAM, rid=1)
    case("string id is echoed", raw(json.dumps({"version": 1, "id": "abc", "command": "nosuch"})),
         ["netpol.UnknownCommand"], rid="abc")
    # Unknown envelope keys are refused like unknown params, naming the key
    # (after the version check: a later version may add keys).
    for extra in ({"extra": 1}, {"Params": {}}, {"params ": {"x": 1}}, {"ID": 2}):
        what = f"unknown envelope key {next(iter(extra))!r}"
        try:
            s = connect()
            r = Reader(s)
            sendall(s, raw(json.dumps(dict(good, **extra))))
            rep = r.msg(15)
            why = check_error(rep, BAD_REQ, 1)
            key = next(iter(extra))
            if not why and (rep["error"].get("field") != key or key not in rep["error"]["message"]):
                why = f"the error does not name the key: {rep['error']}"
            report(not why and status_works(s), f"{what}: InvalidRequest naming it" + (f": {why}" if why else ""))
            s.close()
        except (OSError, TimeoutError, ValueError) as e:
            report(False, f"{what}: {e}")
    # Quoted in the message, cut to its length: still a valid reply.
    case("unknown command of 300 two-byte characters", raw(json.dumps(dict(good, command="a" + "\u00e9" * 300))),
         ["netpol.UnknownCommand"], rid=1)
    case("unknown envelope key with version 2", raw(json.dumps(dict(good, version=2, extra=1))),
         ["netpol.UnsupportedVersion"], rid=1)
    case("unknown envelope key with an unknown command", raw(json.dumps(dict(good, command="nosuch", extra=1))),
         BAD_REQ, rid=1)


def parameters():
    cg = "cgroup:" + os.environ.get("HOSTILE_TARGET", "/nonexistent")
    pol = {"name": "evil", "default": "deny", "rules": []}
    rule = {"action": "allow", "to": ["any"]}
    cases = [
        ("policy.show", {}, BAD_PARAM),
        ("policy.show", {"name": 5}, BAD_PARAM),
        ("policy.show", {"name": None}, BAD_PARAM),
        ("policy.show", {"name": ""}, BAD_PARAM + ["netpol.NoSuchPolicy"]),
        ("policy.show", {"name": "../../etc/passwd"}, BAD_PARAM + ["netpol.NoSuchPolicy"]),
        ("policy.show", {"name": "x" * 5000}, BAD_PARAM + ["netpol.NoSuchPolicy"]),
        ("policy.show", {"name": "nosuch"}, ["netpol.NoSuchPolicy"]),
        ("policy.add", {}, BAD_PARAM),
        ("policy.add", {"policy": "{}"}, BAD_PARAM + BAD_POLICY),
        ("policy.add", {"policy": []}, BAD_PARAM + BAD_POLICY),
        ("policy.add", {"policy": {}}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, name=5)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, name="bad name")}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, name="x" * 64)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, default="maybe")}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, default=None)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, audit="yes")}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, log=1)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, raw_sockets=True)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules="x")}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[5])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, extra=1)}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, action="permit")])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, action=1)])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, to="any")])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, to=[])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, to=[5])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, to=["10.0.0.1/8"])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, to=["300.0.0.1"])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, ports=[0])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, ports=[70000])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, ports=[80.5])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, ports=["90-80"])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, ports=[])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, protocol=6)])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, protocol="icmp", ports=[1])])}, BAD_POLICY),
        ("policy.add", {"policy": dict(pol, rules=[dict(rule, excpet=["10.0.0.0/8"])])}, BAD_POLICY),
        ("policy.update", {"policy": dict(pol, name="nosuch")}, ["netpol.NoSuchPolicy"]),
        ("policy.update", {"policy": 5}, BAD_PARAM + BAD_POLICY),
        ("policy.delete", {}, BAD_PARAM),
        ("policy.delete", {"name": 5}, BAD_PARAM),
        ("policy.delete", {"name": "nosuch"}, ["netpol.NoSuchPolicy"]),
        ("apply", {}, BAD_PARAM),
        ("apply", {"target": cg}, BAD_PARAM),
        ("apply", {"policy": "deny-all"}, BAD_PARAM),
        ("apply", {"target": 5, "policy": "deny-all"}, BAD_PARAM),
        ("apply", {"target": cg, "policy": 5}, BAD_PARAM),
        ("apply", {"target": cg, "policy": "nosuch"}, ["netpol.NoSuchPolicy"]),
        ("apply", {"target": "cgroup:/../../etc", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "cgroup:relative", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "cgroup:/", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "cgroup:/no/such/cgroup", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "docker:x", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "", "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("apply", {"target": "cgroup:" + "/x" * 3000, "policy": "deny-all"}, BAD_PARAM + ["netpol.NoSuchTarget"]),
        ("unbind", {}, BAD_PARAM),
        ("unbind", {"target": 5}, BAD_PARAM),
        ("unbind", {"target": cg}, ["netpol.NoSuchBinding"]),
        ("rule.add", {}, BAD_PARAM),
        ("rule.add", {"policy": "nosuch", "action": "allow", "dest": "10.0.0.1"}, ["netpol.NoSuchPolicy"]),
        ("rule.add", {"policy": "deny-all", "action": "permit", "dest": "10.0.0.1"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": 1, "dest": "10.0.0.1"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": 5}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": ""}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "1.2.3.4:0"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "1.2.3.4:70000"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "[::1"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "1.2.3.4/33"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "1.2.3.4:80/sctp"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "privat"}, BAD_PARAM),
        ("rule.add", {"policy": "deny-all", "action": "allow", "dest": "1.2.3.4:80/icmp"}, BAD_PARAM),
        ("rule.remove", {}, BAD_PARAM),
        ("rule.remove", {"policy": "deny-all", "index": "0"}, BAD_PARAM),
        ("rule.remove", {"policy": "deny-all", "index": -1}, BAD_PARAM + ["netpol.NoSuchRule"]),
        ("rule.remove", {"policy": "deny-all", "index": 1.5}, BAD_PARAM),
        ("rule.remove", {"policy": "deny-all", "index": 10**12}, BAD_PARAM + ["netpol.NoSuchRule"]),
        ("rule.remove", {"policy": "deny-all", "index": 0}, ["netpol.NoSuchRule"]),
        ("rule.remove", {"policy": "nosuch", "index": 0}, ["netpol.NoSuchPolicy"]),
        ("test", {}, BAD_PARAM),
        ("test", {"policy": "deny-all"}, BAD_PARAM),
        ("test", {"dest": "10.0.0.1"}, BAD_PARAM),
        ("test", {"policy": "deny-all", "dest": 5}, BAD_PARAM),
        ("test", {"policy": "deny-all", "target": cg, "dest": "10.0.0.1:80"}, BAD_PARAM),
        ("test", {"policy": "deny-all", "dest": "10.0.0.0/8:80"}, BAD_PARAM),
        ("test", {"policy": "deny-all", "dest": "10.0.0.1:80-90"}, BAD_PARAM),
        ("test", {"policy": "deny-all", "dest": "any:53/udp"}, BAD_PARAM),
        ("test", {"policy": "deny-all", "dest": "10.0.0.1"}, BAD_PARAM),
        ("test", {"policy": "nosuch", "dest": "10.0.0.1:80"}, ["netpol.NoSuchPolicy"]),
        ("test", {"target": "cgroup:/no/such", "dest": "10.0.0.1:80"}, ["netpol.NoSuchTarget", "netpol.NoSuchBinding"] + BAD_PARAM),
        ("violations", {"since": "yesterday"}, BAD_PARAM),
        ("violations", {"since": -5}, BAD_PARAM),
        ("violations", {"follow": "yes"}, BAD_PARAM),
        ("violations", {"follow": 1}, BAD_PARAM),
        ("violations", {"target": 5}, BAD_PARAM),
        ("stats", {"reset": "true"}, BAD_PARAM),
        ("stats", {"reset": 1}, BAD_PARAM),
        ("stats", {"target": []}, BAD_PARAM),
    ]
    for i, (command, params, codes) in enumerate(cases):
        text = json.dumps(params)
        case(f"{command} {text[:70]}", env(command, params, rid=100 + i), codes, rid=100 + i)


def framing():
    # Several requests in one write: replies in order, each with its id.
    s = connect()
    r = Reader(s)
    sendall(s, request("status", 1) + request("nosuch", 2) + request("policy.list", 3) + request("bindings", 4))
    ids = []
    try:
        for _ in range(4):
            ids.append(r.msg(10).get("id"))
    except (TimeoutError, AttributeError, ValueError):
        pass
    report(ids == [1, 2, 3, 4], f"pipelined requests: replies in order ({ids})")
    s.close()

    # A request sent one byte at a time.
    s = connect()
    r = Reader(s)
    for b in request("status", 7):
        sendall(s, bytes([b]))
        time.sleep(0.0005)
    try:
        m = r.msg(10)
        report(m.get("id") == 7 and m.get("ok") is True, "a request sent byte by byte is answered")
    except (TimeoutError, AttributeError, ValueError):
        report(False, "a request sent byte by byte is answered")
    s.close()

    # Half a line, then disconnect.
    for n in range(20):
        s = connect()
        sendall(s, request("status", 1)[: 5 + n * 2])
        s.close()
    report(status_works(), "20 half-sent lines then disconnects: netpold still serves")

    # Half a line, then disconnect by reset (SO_LINGER 0 means nothing on Unix sockets; shut down writes).
    s = connect()
    sendall(s, b'{"version":1,"id":1,"command":"sta')
    s.shutdown(socket.SHUT_WR)
    r = Reader(s)
    try:
        m = r.line(15)
        report(m is None or b'"ok":false' in m.replace(b" ", b""),
               "half a line then end of stream: closed or an error reply")
    except TimeoutError:
        report(False, "half a line then end of stream: no close within 15 s")
    s.close()

    # Binary garbage, newlines included.
    garbage = os.urandom(256 * 1024)
    case("256 KiB of binary garbage", garbage + b"\n", BAD_JSON_OR_REQ, rid=None, may_close=True)
    report(status_works(), "after the garbage: netpold still serves")

    # Deeply nested JSON, in the envelope and in params.
    case("nested arrays 100000 deep", b"[" * 100000 + b"]" * 100000 + b"\n", BAD_JSON_OR_REQ, rid=None, may_close=True)
    case("nested objects 50000 deep in params",
         b'{"version":1,"id":1,"command":"policy.add","params":{"policy":' + b'{"a":' * 50000 + b"1" + b"}" * 50000 +
         b"}}\n", BAD_JSON_OR_REQ + BAD_POLICY, rid="any", may_close=True)
    case("nested 1000 deep in a policy rule",
         b'{"version":1,"id":1,"command":"policy.add","params":{"policy":{"name":"deep","default":"deny",'
         b'"rules":[{"action":"allow","to":["any"],"ports":' + b"[" * 1000 + b"]" * 1000 + b"}]}}}\n",
         BAD_JSON_OR_REQ + BAD_POLICY, rid="any", may_close=True)


def huge():
    # Just under the limit: not TooLarge (the padding makes it invalid otherwise).
    pad = "x" * (MAX_MSG - 200)
    line = json.dumps({"version": 1, "id": 1, "command": "policy.show", "params": {"name": pad}}).encode() + b"\n"
    case(f"a {len(line)}-byte line (under 8 MiB)", line, BAD_PARAM + ["netpol.NoSuchPolicy"], rid=1, may_close=True)
    # Over the limit, with and without a newline.
    for n, nl in ((MAX_MSG + 1024, True), (MAX_MSG + 1, False), (3 * MAX_MSG, True)):
        line = b'{"version":1,"id":1,"command":"status","params":{"x":"' + b"y" * n + b'"}}' + (b"\n" if nl else b"")
        case(f"a {len(line)}-byte line ({'with' if nl else 'no'} newline)", line, ["netpol.TooLarge"], rid=None,
             close_after=True)
    report(status_works(), "after the huge lines: netpold still serves")


def many_connections(n=3000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 500), max(hard, n + 500)))
    socks, connect_errors = [], 0
    for _ in range(n):
        try:
            socks.append(connect(timeout=5))
        except OSError:
            connect_errors += 1
    served = refused = closed = other = 0
    served_socks = []
    # Every connection asks for status; count who is served.
    for s in socks:
        sendall(s, request("status", 9))
    for s in socks:
        r = Reader(s)
        try:
            m = r.msg(10)
        except (TimeoutError, ValueError):
            other += 1
            continue
        if m is None:
            closed += 1
        elif m.get("ok") is True:
            served += 1
            served_socks.append(s)
        elif m.get("error", {}).get("code") == "netpol.TooManyClients":
            refused += 1
        else:
            other += 1
    print(f"# {n} connections: {served} served, {refused} TooManyClients, {closed} closed, {other} other, "
          f"{connect_errors} connect errors", flush=True)
    report(0 < served <= 256, f"{n} connections at once: between 1 and 256 served ({served})")
    report(refused + closed + connect_errors >= n - 256, f"the others are refused or closed ({refused} + {closed} + "
           f"{connect_errors})")
    report(other == 0, f"no connection hangs or gets garbage ({other})")
    report(bool(served_socks) and status_works(served_socks[0]),
           "a served connection keeps being served while the others are refused")
    for s in socks:
        s.close()
    time.sleep(0.5)
    report(status_works(), "after closing them all: a new connection is served")
    fds = len(os.listdir(f"/proc/{DAEMON_PID}/fd"))
    report(fds < 200, f"netpold closed the connections ({fds} fds open)")


def slow_follower():
    flood = os.environ.get("HOSTILE_FLOOD")
    if not flood:
        report(False, "slow follower: HOSTILE_FLOOD not set")
        return
    slow = connect()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sendall(slow, request("violations", 5, {"follow": True}))
    fast = connect()
    fr = Reader(fast)
    sendall(fast, request("violations", 6, {"follow": True}))
    # The fast follower reads all the time, in a thread.
    got = {"events": 0, "missed": 0}

    def drain():
        while True:
            try:
                m = fr.msg(30)
            except (TimeoutError, ValueError, OSError):
                return
            if m is None:
                return
            if "event" in m:
                got["events"] += 1
            elif "missed" in m:
                got["missed"] += m["missed"]

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    proc = subprocess.Popen(flood, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # Meanwhile others are served promptly.
    worst = 0.0
    while proc.poll() is None:
        t0 = time.monotonic()
        good = status_works()
        worst = max(worst, time.monotonic() - t0)
        if not good:
            worst = 99
            break
        time.sleep(0.05)
    out = proc.communicate()[0].decode(errors="replace").strip()
    print("# flood: " + out.replace("\n", "; "), flush=True)
    # Liveness, not speed: latency is the benchmark's business (bench/), and
    # a loaded CI machine must not fail this. 10 s still catches a daemon
    # that stops serving while it drains the ring buffer.
    report(worst < 10.0, f"during the flood with a follower that never reads, status answers (slowest {worst:.3f} s)")
    time.sleep(1.5)
    report(got["events"] > 1000, f"a reading follower got the flood's events ({got['events']}, missed {got['missed']})")
    # Now the slow one reads: it must learn how many events it missed.
    r = Reader(slow)
    missed = events = 0
    closed = False
    try:
        while True:
            m = r.msg(3)
            if m is None:
                closed = True
                break
            if "missed" in m:
                missed += m["missed"]
            elif "event" in m:
                events += 1
    except (TimeoutError, ValueError):
        pass
    print(f"# slow follower: {events} events, missed {missed}, closed {closed}", flush=True)
    report(missed > 0, f"the slow follower is told it missed events ({missed})")
    slow.close()
    fast.close()
    report(status_works(), "after the flood: netpold still serves")


def sanitized():
    """Whether netpold runs under AddressSanitizer, whose allocator holds on
    to freed memory: its RSS then says nothing about ours."""
    with open(f"/proc/{DAEMON_PID}/maps") as f:
        if "libasan" in f.read():  # gcc: the runtime is a library
            return True
    with open(f"/proc/{DAEMON_PID}/exe", "rb") as f:  # clang: it is linked in
        return b"AddressSanitizer" in f.read()


def rss_kib():
    with open(f"/proc/{DAEMON_PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def flood():
    """Runs HOSTILE_FLOOD to its end; its output."""
    proc = subprocess.run(os.environ["HOSTILE_FLOOD"], shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.stdout.decode(errors="replace").strip().replace("\n", "; ")


def followers_memory(n=16):
    """Followers that never read cost a bounded amount of memory each; a
    follower that catches up is told what it missed and its queue shrinks;
    one that goes gives its memory back."""
    if not os.environ.get("HOSTILE_FLOOD"):
        report(False, "followers' memory: HOSTILE_FLOOD not set")
        return
    # After slow_follower's flood the violation table is full: a steady start.
    rss0 = rss_kib()
    socks = []
    for i in range(n):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sendall(s, request("violations", 100 + i, {"follow": True}))
        socks.append(s)
    print("# flood: " + flood(), flush=True)
    time.sleep(0.5)
    rss1 = rss_kib()
    per = (rss1 - rss0) / n
    print(f"# RSS {rss0} KiB before {n} followers that never read, {rss1} KiB after the flood ({per:.0f} KiB each)",
          flush=True)
    asan = sanitized()
    if asan:
        print("# netpold runs under AddressSanitizer: its RSS is not checked", flush=True)
    report(asan or per < 512, f"a follower that never reads costs less than 512 KiB ({per:.0f} KiB)")
    # Half of them catch up: each reads until it is told what it missed.
    told = 0
    for s in socks[: n // 2]:
        r = Reader(s)
        try:
            while True:
                m = r.msg(5)
                if m is None:
                    break
                if m.get("missed", 0) > 0:
                    told += 1
                    break
        except (TimeoutError, ValueError):
            pass
    report(told == n // 2, f"followers that catch up are told how many events they missed ({told} of {n // 2})")
    time.sleep(0.5)
    rss2 = rss_kib()
    print(f"# RSS {rss2} KiB once {n // 2} of them caught up", flush=True)
    report(asan or rss1 - rss2 >= (n // 2) * (rss1 - rss0) / n / 2,
           f"a follower that caught up gives its queue back ({rss1} -> {rss2} KiB)")
    for s in socks:
        s.close()
    time.sleep(1)
    rss3 = rss_kib()
    print(f"# RSS {rss3} KiB once the followers are gone", flush=True)
    report(asan or rss3 - rss0 < 2048,
           f"their memory is given back when they go ({rss0} -> {rss1} -> {rss3} KiB)")


IDLE_TIMEOUT = int(os.environ.get("NETPOL_IDLE_TIMEOUT", "10"))


def idle_half_line():
    """A half-sent request is dropped after netpold's idle timeout (run in a thread)."""
    s = connect()
    sendall(s, b'{"version":1,"id":1,"comm')
    start = time.monotonic()
    r = Reader(s)
    try:
        m = r.line(IDLE_TIMEOUT + 20)
        took = time.monotonic() - start
        # Not before the timeout; after it, within a margin for a loaded machine.
        report(m is None and IDLE_TIMEOUT - 0.5 <= took <= IDLE_TIMEOUT + 15,
               f"a half-sent request is dropped after the {IDLE_TIMEOUT} s idle timeout ({took:.1f} s)")
    except TimeoutError:
        report(False, f"a half-sent request is not dropped within {IDLE_TIMEOUT + 20} s")
    s.close()


def closed_after_idle(what, s, since):
    """Reports whether s is closed by netpold after IDLE_TIMEOUT s of silence
    counted from since (unread lines before the close are skipped)."""
    r = Reader(s)
    try:
        while r.line(IDLE_TIMEOUT + 20 - (time.monotonic() - since)) is not None:
            pass
        took = time.monotonic() - since
        report(IDLE_TIMEOUT - 0.5 <= took <= IDLE_TIMEOUT + 15,
               f"{what} is closed after the {IDLE_TIMEOUT} s idle timeout ({took:.1f} s)")
    except TimeoutError:
        report(False, f"{what} is not closed within {IDLE_TIMEOUT + 20} s")


def idle_clients():
    """Connections that say nothing hold no slot for long: one that never
    sends, and one that sent a request and was answered, are closed after the
    idle timeout; a follower, idle by design, is not (run in a thread)."""
    silent = connect()
    t_silent = time.monotonic()
    answered = connect()
    follower = connect()
    fr = Reader(follower)
    sendall(follower, request("violations", 31, {"follow": True}))
    got = fr.msg(10)
    report(got.get("result") == {"following": True}, f"a follower follows ({got})")
    sendall(answered, request("status", 32))
    got = Reader(answered).msg(10)
    t_answered = time.monotonic()
    report(got.get("ok") is True, "a status request is answered")
    threads = [threading.Thread(target=closed_after_idle, args=(w, s, t)) for w, s, t in (
        ("a connection that never sends", silent, t_silent),
        ("a connection idle after its reply", answered, t_answered))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(max(0.0, t_answered + IDLE_TIMEOUT + 2 - time.monotonic()))
    report(status_works(follower), f"a follower idle for more than {IDLE_TIMEOUT} s is still served")
    for s in (silent, answered, follower):
        s.close()


def main():
    idle = threading.Thread(target=idle_half_line)
    idle.start()
    idle2 = threading.Thread(target=idle_clients)
    idle2.start()
    for part in (blank_lines, malformed_json, envelope, parameters, framing, huge, many_connections, slow_follower,
                 followers_memory):
        print(f"# {part.__name__}", flush=True)
        part()
    # No hostile request changed anything.
    s = connect()
    r = Reader(s)
    sendall(s, request("policy.list", 1))
    names = [p["name"] for p in r.msg(10)["result"]["policies"]]
    report(not {"evil", "deep"} & set(names), f"no hostile request installed a policy ({names})")
    s.close()
    idle.join()
    idle2.join()
    print(f"# hostile.py: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
