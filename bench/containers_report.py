# SPDX-License-Identifier: GPL-2.0-only
"""bench/render's part for the container phase: reads what bench/containers wrote (containers-*.tsv) and gives the
targets of issue 10 and the tables of section 5. docs/benchmarks.md ("Containers") says how it is measured."""
import math
import os

OWN, DEFAULT = "database", "deny-all"  # the label's policy and the container default of bench/containers
RUNS, BURST = 50, 200  # what the targets ask for


def _tsv(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    return [dict(zip(lines[0], row)) for row in lines[1:]] if lines else []


def _f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def pct(v, p):
    """The p-th percentile, nearest rank; NAN for no values."""
    t = sorted(v)
    return t[max(math.ceil(p / 100 * len(t)) - 1, 0)] if t else math.nan


def ms(v, fmt):
    return "-" if math.isnan(v) else fmt(v)


class Starts:
    """Containers of one engine and phase: each a line of containers-first.tsv or containers-burst.tsv."""

    def __init__(self, rows):
        self.rows = rows
        self.n = len(rows)
        self.denied = sum(r["result"] == "EPERM" for r in rows)
        self.opened = sum(r["result"] == "OK" for r in rows)
        self.own = sum(r["violation_policy"] == OWN for r in rows)
        # Denied, and not by its own policy: by the container default, the only other binding above it. Its
        # record names deny-all, or, filed before netpold knew the cgroup as the container's, not the container.
        self.default = sum(r["result"] == "EPERM" and r["violation_policy"] != OWN for r in rows)
        self.unnamed = sum(r["result"] == "EPERM" and r["violation_policy"] == "-" for r in rows)
        # The log's stamp is truncated to the ms and written after the binding: the binding was in the kernel
        # before stamp + 1 ms, so this margin is a lower bound.
        self.margins = [(_f(r["t0_s"]) - _f(r["bound_s"]) - 0.001) * 1e3 for r in rows
                        if not math.isnan(_f(r["t0_s"]) - _f(r["bound_s"]))]
        self.run_to_t0 = [(_f(r["t0_s"]) - _f(r["run_s"])) * 1e3 for r in rows
                          if not math.isnan(_f(r["t0_s"]) - _f(r["run_s"]))]
        self.unbound = self.n - len(self.margins)

    def margin_cell(self, num):
        m = self.margins
        return "min %s, p50 %s, p90 %s ms" % (num(min(m, default=math.nan)), num(pct(m, 50)), num(pct(m, 90)))

    def summary(self, num):
        return "**%d/%d** first connects denied (%d open), **%d/%d** by its own policy (%d by the default); margin " \
               "from the binding of its own policy to the first instruction: %s" % (
                   self.denied, self.n, self.opened, self.own, self.n, self.default, self.margin_cell(num))

    def unnamed_note(self):
        return "" if not self.unnamed else " %d of those by the default have no violation record under the " \
            "container's name (filed under its cgroup, before netpold knew it as the container's)." % self.unnamed


class Containers:
    def __init__(self, d, num):
        self.num = num  # bench/render's number format
        run = _tsv(os.path.join(d, "containers-run.tsv"))
        self.run = {r["key"]: r["value"] for r in run} if run is not None else None
        self.first = _tsv(os.path.join(d, "containers-first.tsv")) or []
        self.burst = _tsv(os.path.join(d, "containers-burst.tsv")) or []
        self.events = _tsv(os.path.join(d, "containers-events.tsv")) or []

    def skipped(self):
        if self.run is None:
            return "no container phase in this run (containers-run.tsv missing)"
        return self.run.get("skipped")

    def engines(self):
        return [e for e in ("docker", "podman") if any(r["engine"] == e for r in self.first)]

    def starts(self, engine):
        return Starts([r for r in self.first if r["engine"] == engine])

    def r(self, key):
        return _f(self.run.get(key)) if self.run else math.nan

    def burst_stats(self):
        """The burst's figures: containers, events of theirs netpold took, rate, CPU."""
        s = Starts(self.burst)
        ids = {r["id"] for r in self.burst}
        ev = [e for e in self.events if e["id"] in ids]
        seen = {a: {e["id"] for e in ev if e["action"] == a} for a in ("create", "start")}
        times = [_f(e["time_s"]) for e in ev]
        span = max(times) - min(times) if len(times) > 1 else math.nan
        wall = self.r("burst_bound_s") - self.r("burst_start_s")
        cpu = self.r("burst_cpu_ticks") / self.r("clk_tck")
        return {
            "s": s, "n": s.n, "bound": sum(r["binding_policy"] == OWN for r in self.burst),
            "created": len(seen["create"] & ids), "started": len(seen["start"] & ids), "events": len(ev),
            "span": span, "rate": len(ev) / span if span > 0 else math.nan,
            "started_in": self.r("burst_started_s") - self.r("burst_start_s"),
            "start_rate": s.n / (self.r("burst_started_s") - self.r("burst_start_s")),
            "wall": wall, "cpu": cpu, "cpu_per_event_ms": cpu * 1e3 / len(ev) if ev else math.nan,
        }

    # ---- targets ----

    def target_first(self, rep, engine):
        t = "its own policy in force before the first instruction, every start, the container default behind it " \
            "(%s, %d starts one after another)" % (engine.capitalize(), RUNS)
        s = self.starts(engine)
        if not s.n:
            return rep.target(t, why=self.skipped() or "%s not measured" % engine)
        met = s.own == s.n and s.denied == s.n if s.n >= RUNS else rep.UNMEASURED
        why = "`%s run` to the first instruction: p50 %s ms." % (engine, self.num(pct(s.run_to_t0, 50)))
        if s.n < RUNS:
            why = "only %d starts (quick run). " % s.n + why
        elif s.own < s.n:
            why = "%d starts judged by the container default (deny-all) instead: denied all the same, never " \
                  "open.%s " % (s.default, s.unnamed_note()) + why
        rep.target(t, s.summary(self.num), met, why)

    def target_burst(self, rep):
        t = "%d containers started at once: every one seen, bound and its first connect denied (nothing missed)" \
            % BURST
        if not self.burst:
            return rep.target(t, why=self.skipped() or "no burst measured")
        b, num = self.burst_stats(), self.num
        s = b["s"]
        complete = b["bound"] == b["n"] and s.denied == b["n"] and b["created"] == b["n"] and b["started"] == b["n"]
        met = complete if b["n"] >= BURST else rep.UNMEASURED
        rep.target(t, "%d containers (%s started/s): **%d/%d** bound to their label's policy, create and start "
                      "events of **%d/%d** and **%d/%d** taken, **%d/%d** first connects denied (%d by the label's "
                      "policy); **%s events/s** handled, every label bound within %s s of the last `docker run -d` returning; netpold CPU %s ms, %s ms per event (one core: "
                      "about %s events/s)" % (
                          b["n"], num(b["start_rate"]), b["bound"], b["n"], b["created"], b["n"], b["started"],
                          b["n"], s.denied, b["n"], s.own, num(b["rate"]), num(b["wall"] - b["started_in"]),
                          num(b["cpu"] * 1e3), num(b["cpu_per_event_ms"]), num(1e3 / b["cpu_per_event_ms"])), met,
                   ("only %d containers (quick run). " % b["n"] if b["n"] < BURST else "") +
                   "The engine's start rate sets the event rate. The CPU includes everything netpold did meanwhile "
                   "(inspecting each container, binding its cgroup, the denials' records, debug logging).")

    def target_issue4(self, rep):
        """Issue 4's row: a new container under its own policy within 50 ms (median) of its start."""
        t = "a new container under its own policy within 50 ms (median) of its start"
        s = self.starts("docker")
        if not s.margins:
            return rep.target(t, why=self.skipped() or "not measured")
        late = -pct(s.margins, 50)
        rep.target(t, "Docker: own policy bound a median %s ms **before** the entrypoint's first instruction (%d "
                      "starts)" % (self.num(-late), s.n) if late <= 0 else
                   "Docker: own policy bound a median %s ms after the entrypoint started" % self.num(late),
                   late <= 50 if s.n >= RUNS else rep.UNMEASURED,
                   "See the targets of issue 10." if s.n >= RUNS else "only %d starts (quick run)." % s.n)

    def targets(self, rep):
        rep.w("## Targets (issue 10): containers\n\n| target | measured | verdict | why |\n|---|---|---|---|")
        for e in self.engines() or ["docker"]:
            self.target_first(rep, e)
        self.target_burst(rep)
        rep.w()

    # ---- section 5 ----

    def body(self, rep):
        num = self.num
        rep.w("## 5. Containers\n")
        if self.skipped():
            rep.w("Not measured: %s.\n" % self.skipped())
            return
        r = self.run
        rep.w("Measured on %s by `bench/containers`%s: private engines (Docker %s%s, storage driver %s), netpold "
              "following their sockets with `--log-level debug`, label `bpf.network.policy=database`, "
              "`container_default_policy = deny-all`. Every entrypoint's first action is connect(203.0.113.7:80), "
              "which both deny. Margin: the entrypoint's first clock read minus netpold's log line binding the "
              "container's cgroup to its own policy (plus the 1 ms the stamp truncates): at least that long "
              "before.%s\n" % (
                  r.get("date", "?"), " (**quick: a few containers, numbers not meaningful**)"
                  if r.get("quick") == "1" else "", r.get("docker_version", "?"),
                  ", Podman %s" % r["podman_version"] if "podman_version" in r else "", r.get("storage_driver", "?"),
                  "" if r.get("quick") == "1" else " Podman's events come about 1 s late: its containers are "
                  "inspected when their cgroup appears, and that answer races the entrypoint."))
        rows = []
        for e in self.engines():
            s = self.starts(e)
            rows.append((e, s.n, "%d (%d open)" % (s.denied, s.opened), s.own, s.default,
                         "%s / %s / %s" % (num(min(s.margins, default=math.nan)), num(pct(s.margins, 50)),
                                           num(pct(s.margins, 90))), num(max(s.margins, default=math.nan)),
                         sum(m < 0 for m in s.margins), "%s (%s..%s)" % (num(pct(s.run_to_t0, 50)), num(min(s.run_to_t0, default=0)),
                                                       num(max(s.run_to_t0, default=0)))))
        rep.table("The first instruction: containers started one after another",
                  ["engine", "starts", "first connect denied", "by its own policy", "by the default",
                   "margin ms, min / p50 / p90", "max", "own policy bound after the first instruction",
                   "`run` to first instruction, ms, p50 (min..max)"], rows)
        rep.w()
        for e in self.engines():
            if self.starts(e).unnamed_note():
                rep.w("%s:%s\n" % (e, self.starts(e).unnamed_note()))
        if not self.burst:
            return
        b = self.burst_stats()
        s = b["s"]
        rep.table("A burst: containers started at once (Docker, %s `docker run -d` in parallel)" % r.get(
            "burst_parallel", "?"), ["", ""], [
            ("containers started", "%d in %s s (%s/s)" % (b["n"], num(b["started_in"]),
                                                          num(b["start_rate"]))),
            ("bound to their label's policy (`netpolctl bindings`)", "%d" % b["bound"]),
            ("their create / start events netpold took", "%d / %d (%d events in all)" % (
                b["created"], b["started"], b["events"])),
            ("events handled, first to last", "%s s: %s events/s" % (num(b["span"]), num(b["rate"]))),
            ("netpold CPU, first start to last binding", "%s ms over %s s (%s cores; %s ms per event)" % (
                num(b["cpu"] * 1e3), num(b["wall"]), num(b["cpu"] / b["wall"]), num(b["cpu_per_event_ms"]))),
            ("first connects denied", "%d (%d open)" % (s.denied, s.opened)),
            ("... by the label's policy / the default", "%d / %d" % (s.own, s.default)),
            ("margin ms, min / p50 / p90", "%s / %s / %s" % (num(min(s.margins, default=math.nan)),
                                                            num(pct(s.margins, 50)), num(pct(s.margins, 90)))),
            ("`run` to first instruction, ms, p50 (max)", "%s (%s)" % (num(pct(s.run_to_t0, 50)),
                                                                       num(max(s.run_to_t0, default=0))))])
        rep.w()

