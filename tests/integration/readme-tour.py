#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Replays the tour of README.md and compares what each command prints with
what the README shows. Run by it-readme-tour.sh, which starts netpold; see
there. Prints one "ok - ..." or "not ok - ..." line per check.

The README marks each replayed block with an HTML comment on the line
before its opening fence:
  <!-- tour -->             its commands run in order, each compared
  <!-- tour: background --> its one command runs in the background while the
                            next block runs (violations --follow), then its
                            output is compared
  <!-- tour: policy -->     a policy: netpolctl policy add takes it (a name
                            of its own: not a preset's), then it is deleted
In a block, a line starting with "# " is a command (lines after it that
start with four spaces continue it); the lines up to the next command are
its expected output (stdout and stderr). Before comparing, times, cgroup
ids and pids are masked and runs of spaces made one.

Environment: README (its path), TOUR_CGROUP (the test's cgroup, which
stands for /sys/fs/cgroup), NETPOL_SOCKET, PATH with netpolctl first.
Commands are refused unless they start with one of ALLOWED, and must name
no cgroup2 path but below TOUR_CGROUP.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

ALLOWED = ("netpolctl ", "mkdir ", "rmdir ", "unshare -n ")
CG = "/sys/fs/cgroup"

MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "TIME"),
    (re.compile(r"cgroup id \d+"), "cgroup id N"),
    (re.compile(r"\bpid \d+"), "pid N"),
]


def mask(lines):
    out = []
    for line in lines:
        for rx, repl in MASKS:
            line = rx.sub(repl, line)
        out.append(" ".join(line.split()))
    while out and not out[-1]:
        out.pop()
    return out


def parse(readme):
    """[(mode, [(command, [expected lines])])] for each marked block."""
    blocks, lines, i = [], readme.split("\n"), 0
    while i < len(lines):
        m = re.fullmatch(r"<!-- tour(?:: (\w+))? -->", lines[i].strip())
        i += 1
        if not m:
            continue
        if not lines[i].startswith("```"):
            raise SystemExit(f"README line {i + 1}: a tour marker must stand right before a fence")
        i += 1
        cmds = []
        if m.group(1) == "policy":
            j = i
            while not lines[i].startswith("```"):
                i += 1
            blocks.append(("policy", "\n".join(lines[j:i])))
            continue
        while not lines[i].startswith("```"):
            line = lines[i]
            if line.startswith("# "):
                cmds.append([line[2:], []])
            elif line.startswith("    ") and cmds and not cmds[-1][1]:
                cmds[-1][0] += "\n" + line[4:]
            elif cmds:
                cmds[-1][1].append(line)
            else:
                raise SystemExit(f"README line {i + 1}: output before any command")
            i += 1
        blocks.append((m.group(1) or "run", cmds))
    return blocks


def localize(cmd, cgroup):
    """The command with /sys/fs/cgroup as the test's cgroup; None if unsafe."""
    if not cmd.startswith(ALLOWED):
        return None
    cmd = re.sub(re.escape(CG) + r"(?=/|\s|$)", cgroup, cmd)
    for path in re.findall(r"/sys/fs/cgroup\S*", cmd):
        if not path.startswith(cgroup + "/"):
            return None
    return cmd


def compare(name, expected, got):
    want, have = mask(expected), mask(got.split("\n"))
    if want == have:
        print(f"ok - {name}")
        return True
    print(f"not ok - {name}")
    print("#   README shows (masked):")
    for line in want:
        print(f"#     {line}")
    print("#   the command printed (masked):")
    for line in have:
        print(f"#     {line}")
    return False


def check_policy(text):
    name = json.loads(text)["name"]
    p = subprocess.run(["netpolctl", "policy", "add", "-"], input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    print(f"{'ok' if p.returncode == 0 else 'not ok'} - the example policy {name} installs: {p.stdout.strip()}")
    p = subprocess.run(["netpolctl", "policy", "delete", name], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    print(f"{'ok' if p.returncode == 0 else 'not ok'} - and is deleted {p.stdout.strip()}")


def wait_following():
    """Until netpold counts a follower: the next block's events reach it."""
    for _ in range(100):
        p = subprocess.run(["netpolctl", "--json", "status"], stdout=subprocess.PIPE, text=True)
        if p.returncode == 0 and json.loads(p.stdout).get("followers", 0) > 0:
            return
        time.sleep(0.1)


def main():
    cgroup = os.environ["TOUR_CGROUP"]
    with open(os.environ["README"]) as f:
        blocks = parse(f.read())
    n = sum(len(cmds) for mode, cmds in blocks if mode != "policy")
    print(f"ok - the README marks {len(blocks)} tour blocks with {n} commands"
          if n >= 10 else f"not ok - the README marks only {n} tour commands")
    background = None
    for mode, cmds in blocks:
        if mode == "policy":
            check_policy(cmds)
            continue
        for cmd, expected in cmds:
            local = localize(cmd, cgroup)
            first = cmd.split("\n")[0]
            if local is None:
                print(f"not ok - refused to run '{first}': not one of {ALLOWED}, or a cgroup outside the test's")
                continue
            if mode == "background":
                background = (first, expected, subprocess.Popen(
                    ["bash", "-c", local], stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
                wait_following()
                continue
            try:
                p = subprocess.run(["bash", "-c", local], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=60)
                out = p.stdout
            except subprocess.TimeoutExpired as e:
                out = f"(timed out after 60 s) {e.stdout or ''}"
            compare(first, expected, out)
        if mode != "background" and background:
            first, expected, p = background
            # Its lines come when the folding window closes (about a second).
            fd, text = p.stdout.fileno(), b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                done = len(mask(text.decode(errors="replace").split("\n"))) >= len(mask(expected))
                # once it printed as much as the README shows: half a second for more
                if not select.select([fd], [], [], 0.5 if done else 0.1)[0]:
                    if done:
                        break
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                text += chunk
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
            compare(first, expected, text.decode(errors="replace"))
            background = None


if __name__ == "__main__":
    main()
