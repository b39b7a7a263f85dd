# SPDX-License-Identifier: GPL-2.0-only
"""bench/render's part for the systemd phase: reads what bench/systemd/run wrote (systemd-*.tsv) and gives section 6,
netpol against systemd's IPAddressDeny=/IPAddressAllow= on the same unit and traffic. A comparison, not a target:
docs/benchmarks.md ("netpol vs systemd IPAddressDeny") says how it is measured and how to read it."""
import math
import os

from containers_report import _tsv, pct  # bench/render puts bench/ on sys.path

CONFIGS = ("none", "systemd", "netpol")
# workload: (title, unit, rate): a rate is per ns of bytes (MB/s = bytes / ns * 1e3), the others ns per operation.
ALLOWED = {
    "tcp_crr": ("TCP connect + close (RST) to an allowed address", "ns per connection", False),
    "udp_sendto": ("unconnected UDP sendto(), 1 byte, to an allowed address", "ns per datagram", False),
    "stream": ("established TCP stream to an allowed address, 64 KiB writes", "MB/s", True),
}


def paired(v, base, f):
    """The median over rounds of f(v, base) in the same round."""
    return median([f(v[k], base[k]) for k in v if k in base])


def median(v):
    t, n = sorted(v), len(v)
    return math.nan if n == 0 else t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2


class Systemd:
    def __init__(self, d, num):
        self.num = num  # bench/render's number format
        run = _tsv(os.path.join(d, "systemd-run.tsv"))
        self.run = {r["key"]: r["value"] for r in run} if run is not None else None
        self.rows = _tsv(os.path.join(d, "systemd-results.tsv")) or []
        self.kernel = _tsv(os.path.join(d, "systemd-kernel.tsv")) or []
        wait = _tsv(os.path.join(d, "systemd-denywait.tsv")) or []
        self.wait = wait[0] if wait else None

    def skipped(self):
        if self.run is None:
            return "no systemd phase in this run (systemd-run.tsv missing)"
        return self.run.get("skipped")

    def rounds(self, config, op):
        """Per round (rep, round): the figure of its chunk (ns per operation, or MB/s); and the failures."""
        rate, v, fails = ALLOWED[op][2], {}, 0
        for r in self.rows:
            if r["config"] == config and r["op"] == op and r["rep"] != "0":
                e, o, b = int(r["elapsed_ns"]), int(r["ops"]), int(r["bytes"])
                fails += int(r["fails"])
                if e and (b if rate else o):
                    v[(r["rep"], r["round"])] = b / e * 1e3 if rate else e / o
        return v, fails

    def deny(self, config, op):
        return next((r for r in self.rows if r["config"] == config and r["op"] == op and r["rep"] == "0"), None)

    def cell(self, v, base):
        """median (p25..p75) over rounds, and the paired change against base in the same round (median)."""
        num, vals = self.num, list(v.values())
        s = "%s (%s..%s)" % (num(median(vals)), num(pct(vals, 25)), num(pct(vals, 75)))
        if base is None:
            return s
        return "%s, **%+.1f%%**" % (s, 100 * paired(v, base, lambda a, b: a / b - 1))

    def body(self, rep):
        num = self.num
        rep.w("## 6. netpol against systemd's IPAddressDeny=\n")
        if self.skipped():
            rep.w("Not measured: %s.\n" % self.skipped())
            return
        r = self.run
        rep.w("Measured on %s by `bench/systemd/run`%s: systemd %s as PID 1 in a container (Docker %s, `--network "
              "none`, only lo, with 203.0.113.0/24 and 198.51.100.0/24 local). Three transient units run the same "
              "program side by side on CPU 1: `none` (no filter), `systemd` (`IPAddressDeny=any`, "
              "`IPAddressAllow=203.0.113.0/24`) and `netpol` (netpold attached at its slice, the unit bound by name, "
              "`unit:sdb-netpol.service`, to `{\"default\": \"deny\", \"rules\": [{\"action\": \"allow\", \"to\": "
              "[\"203.0.113.0/24\"]}]}`); the far end is an unfiltered unit on CPU 0. %s reps of %s rounds; a "
              "round runs %s s of each workload (the stream: %s s) in the three units one after another, in an "
              "order reversed every time. Load average (1, 5, 15 min) at the start: %s, at the end: %s. "
              "Median over the rounds (p25..p75); the percentages are paired: each round against `none` in the "
              "same round, the median over rounds.\n" % (
                  r.get("date", "?"), " (**quick: numbers not meaningful**)" if r.get("quick") == "1" else "",
                  r.get("systemd_version", "?"), r.get("docker_version", "?"), r.get("reps", "?"),
                  r.get("rounds", "?"), r.get("chunk_s", "?"), r.get("stream_chunk_s", "?"),
                  r.get("loadavg_start", "?"), r.get("loadavg_end", "?")))
        rows, fails = [], 0
        for op, (title, unit, rate) in ALLOWED.items():
            base, f0 = self.rounds("none", op)
            sd, f1 = self.rounds("systemd", op)
            np_, f2 = self.rounds("netpol", op)
            fails += f0 + f1 + f2
            vs = "%+.1f%%" % (100 * paired(np_, sd, lambda a, b: a / b - 1))
            if not rate:
                delta = lambda a, b: a - b  # noqa: E731
                vs = "netpol %s ns, systemd %s ns; netpol against systemd %s" % (
                    num(paired(np_, base, delta)), num(paired(sd, base, delta)), vs)
            rows.append(("%s (%s)" % (title, unit), self.cell(base, None), self.cell(sd, base),
                         self.cell(np_, base), vs))
        rep.table("Allowed traffic: what each filter costs", [
            "workload", "none", "systemd IPAddressDeny", "netpol", "added per operation (vs none); netpol against "
            "systemd (paired)"], rows)
        rep.w()
        if fails:
            rep.w("**%d allowed operations failed**: the figures above are not comparable.\n" % fails)
        self.kernel_table(rep)
        rows = []
        for c in CONFIGS:
            u, t = self.deny(c, "deny_udp"), self.deny(c, "deny_tcp")
            if not u or not t:
                continue
            udp = "%s, %s ns per sendto()" % (self.seen(u), num(float(u["ns_per_op"])))
            if t["first_err"] == "pending":
                tcp = "connect() still blocked after %s s (the SYN is dropped at egress; the kernel retries it)" % (
                    num(float(t["elapsed_ns"]) / 1e9))
            else:
                tcp = "%s, %s us per connect()" % (self.seen(t), num(float(t["ns_per_op"]) / 1e3))
            rows.append((c, udp, tcp, self.wait_cell() if c == "systemd" else "-"))
        rep.table("Denied traffic (198.51.100.7): what the application sees", [
            "configuration", "UDP sendto()", "TCP connect()", "a denied TCP connect() waited for to the end"], rows)
        rep.w()
        rep.w("netpol took %s denials in all (`netpolctl violations`, counts summed); systemd keeps no record of "
              "them. systemd's program runs for every packet of the unit in both directions (ingress and egress "
              "cgroup_skb); netpol decides at connect() and sendmsg() and checks egress packets.\n" %
              r.get("netpol_violations", "?"))

    def ksum(self, config, op):
        """In-kernel totals of a unit's chunks of one workload: operations, bytes, run time, runs, programs."""
        rows = [r for r in self.kernel if r["config"] == config and r["op"] == op]
        t = [sum(int(r[k]) for r in rows) for k in ("ops", "bytes", "run_ns", "run_cnt")]
        return t + [max((int(r["progs"]) for r in rows), default=0)]

    def kernel_table(self, rep):
        if not self.kernel:
            return
        num, rows = self.num, []
        for op, (title, unit, rate) in ALLOWED.items():
            per = "MB" if rate else unit.split(" per ")[1]
            cost = {}
            for c in CONFIGS:
                ops, b, ns, cnt, progs = self.ksum(c, op)
                n = b / 1e6 if rate else ops
                cost[c] = ns / n if n else math.nan
                rows.append((title if c == "none" else "", c, "%d" % progs,
                             "%s per %s" % (num(cnt / n), per) if n else "-",
                             num(ns / cnt) if cnt else "-", "%s per %s" % (num(cost[c]), per) if n else "-"))
            rows[-1] = rows[-1] + ("%.2f" % (cost["netpol"] / cost["systemd"]) if cost["systemd"] else "-",)
        rep.table("In-kernel: the programs in effect for each unit (run-time statistics on; %d rounds)" % len(
            {r["round"] for r in self.kernel}), ["workload", "unit", "programs", "runs", "ns per run",
                                                 "in-kernel time", "netpol / systemd"],
            [r if len(r) == 7 else r + ("",) for r in rows])
        rep.w()
        rep.w("The statistics are BPF_ENABLE_STATS's `run_time_ns` and `run_cnt` of every program in effect for "
              "the unit's cgroup at the socket and packet hooks, read around each chunk; they include the "
              "statistics' own two clock reads per run. systemd's are its `sd_fw_egress` and `sd_fw_ingress`; "
              "netpol's run at socket creation, connect(), sendmsg() and egress.\n")

    def seen(self, row):
        """What the loop saw: OK, or the errno of its failures (all, or how many)."""
        ops, fails = int(row["ops"]), int(row["fails"])
        if not fails:
            return "OK (not denied)"
        return row["first_err"] if fails == ops else "%s (%d of %d)" % (row["first_err"], fails, ops)

    def wait_cell(self):
        w = self.wait
        if not w:
            return "-"
        if w["result"] == "pending":
            return "still blocked when given up, after %s s (the cap)" % self.num(float(w["seconds"]))
        return "**%s after %s s**" % (w["result"], self.num(float(w["seconds"])))
