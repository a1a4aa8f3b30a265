#!/usr/bin/env python3
"""Turn bench/run.sh's raw results into tables and a chart.

    report.py [results/latest.json]

Reads the JSON that run.sh writes (meta + one record per correctness check
and per wrk run), takes the median of the timed runs, and writes next to it:

  latest.md   Markdown: rows = scenarios, columns = servers, plus the ratios
              "barehttp / best peer" and "barehttp / nginx"; CPU µs/request
              and idle-connection memory rows; notes on failed checks.
  latest.svg  grouped bars of every throughput scenario, normalised to
              nginx = 1.0 (higher is better).

and prints the same table as plain text on stdout. Standard library only.
"""

import json
import math
import os
import statistics
import sys
from html import escape

SCENARIOS = {
    # id: (title, unit of the headline number)
    "plaintext": ("plaintext keep-alive `GET /`", "req/s"),
    "pipeline": ("pipelined ×{depth} `GET /`", "req/s"),
    "echo": ("echo `GET /echo/…`", "req/s"),
    "static-1k": ("static 1 KiB `/files/1k.bin`", "req/s"),
    "static-1m": ("static 1 MiB `/files/1m.bin`", "MiB/s"),
    "gzip-64k": ("gzip 64 KiB text `/files/64k.txt`", "req/s"),
    "idle": ("plaintext with {idle} idle conns held", "req/s"),
    "close": ("`Connection: close` `GET /`", "req/s"),
}
SHORT = {
    "plaintext": "plaintext",
    "pipeline": "pipelined ×{depth}",
    "echo": "echo",
    "static-1k": "static 1 KiB",
    "static-1m": "static 1 MiB (MiB/s)",
    "gzip-64k": "gzip 64 KiB",
    "idle": "with {idle} idle",
    "close": "Connection: close",
}
COLORS = {"barehttp": "#e8590c", "nginx": "#2f9e44", "hyper": "#1971c2"}
PEER_ORDER = ["nginx", "hyper"]
FIRST_RUN_ONLY = ("rss_before", "rss_idle", "kib_per_conn")
RANK = {"ok": 0, "no gzip": 1, "FAIL": 2}


class Cell:
    """One table cell: a number, or a word such as FAIL / no gzip / —."""

    def __init__(self, value=None, word=None, flag=""):
        self.value, self.word, self.flag = value, word, flag

    def text(self, fmt):
        if self.value is None:
            return self.word or "—"
        return fmt(self.value) + self.flag


def load(path):
    with open(path) as f:
        return json.load(f)


def analyse(data):
    meta = data["meta"]
    checks, runs, info = {}, {}, {}
    for rec in data["records"]:
        key = (rec["scenario"], rec["server"])
        if rec["type"] == "check":
            st, detail = checks.get(key, ("ok", []))
            if RANK.get(rec["status"], 2) > RANK.get(st, 2):
                st = rec["status"]
            if rec.get("detail") and rec["status"] != "ok":
                detail = detail + [rec["detail"]]
            elif rec.get("detail"):
                info.setdefault(key, []).append(rec["detail"])
            checks[key] = (st, detail)
        elif rec["type"] == "run" and not rec["warmup"] and rec.get("wrk"):
            runs.setdefault(key, []).append(rec)
    meta["_info"] = info
    return meta, checks, runs


def per_run(rec):
    w = rec["wrk"]
    secs = w["duration_us"] / 1e6
    n = max(w["requests"], 1)
    out = {
        "rps": w["requests"] / secs,
        "mibps": w["bytes"] / secs / 2**20,
        "cpu_us": rec["cpu_ticks"] / rec["clk_tck"] * 1e6 / n,
        "errors": {k: v for k, v in w["errors"].items() if v},
        "requests": w["requests"],
    }
    if rec.get("rss_kib"):
        rss, idle = rec["rss_kib"], rec.get("idle") or {}
        out["rss_before"] = rss["before"] / 1024
        out["rss_idle"] = rss["idle"] / 1024
        out["rss_after"] = rss["after"] / 1024
        answered = idle.get("answered") or 0
        if answered:
            out["kib_per_conn"] = (rss["idle"] - rss["before"]) / answered
        if "held_at_end" in idle:
            out["held_at_end"] = idle["held_at_end"]
    return out


def build_rows(meta, scenarios, servers, checks, runs):
    """Rows: (label, unit, higher_is_better, {server: Cell}, scenario id)."""
    fmt_args = {"depth": meta.get("pipeline_depth", 16), "idle": meta.get("idle_conns", 5000)}
    notes = []
    headline, cpu, idle_rows = [], [], []

    def cells_for(sc, field):
        cells = {}
        for sv in servers:
            st, detail = checks.get((sc, sv), ("ok", []))
            if st != "ok":
                cells[sv] = Cell(word=st)
                continue
            recs = sorted(runs.get((sc, sv), []), key=lambda r: r["run"])
            rs = [per_run(r) for r in recs]
            vals = [r[field] for r in rs if field in r]
            if field in FIRST_RUN_ONLY:
                # Memory: the first timed run is the first time the process
                # holds the idle connections; later runs start from whatever
                # the allocator kept from it, so their deltas understate.
                vals = vals[:1]
            elif field == "held_at_end" and vals:
                vals = [min(vals)]
            if not vals:
                cells[sv] = Cell(word="—")
                continue
            flag = ""
            errs = {}
            for r in rs:
                for k, v in r["errors"].items():
                    errs[k] = errs.get(k, 0) + v
            # A read error per closed connection is how wrk counts some
            # servers' closes in the Connection: close scenario; report them
            # but flag only the errors that can make a number wrong.
            serious = {k: v for k, v in errs.items() if k in ("status", "timeout", "connect", "write")
                       or (k == "read" and sc != "close")}
            if serious:
                flag = " ⚠"
            cells[sv] = Cell(value=statistics.median(vals), flag=flag)
            if errs and field in ("rps", "mibps"):
                notes.append("%s on %s: wrk errors over the timed runs %s%s" % (
                    sc, sv, errs, "" if serious else " (read errors on closed connections; numbers are valid)"))
        return cells

    for sc in scenarios:
        title, unit = SCENARIOS.get(sc, (sc, "req/s"))
        title = title.format(**fmt_args)
        field = "mibps" if unit == "MiB/s" else "rps"
        headline.append((title, unit, True, cells_for(sc, field), sc))
        cpu.append(("CPU per request: " + SHORT.get(sc, sc).format(**fmt_args).replace(" (MiB/s)", ""),
                    "µs/req", False, cells_for(sc, "cpu_us"), sc))
        if sc == "idle":
            n = fmt_args["idle"]
            idle_rows += [
                ("idle: server RSS before", "MiB", False, cells_for(sc, "rss_before"), sc),
                ("idle: server RSS with %d idle conns" % n, "MiB", False, cells_for(sc, "rss_idle"), sc),
                ("idle: RSS per idle connection", "KiB", False, cells_for(sc, "kib_per_conn"), sc),
                ("idle: connections still open after the run", "conns", True, cells_for(sc, "held_at_end"), sc),
            ]
    for (sc, sv), (st, detail) in sorted(checks.items(), reverse=True):
        if st != "ok" and sv in servers and sc in scenarios:
            notes.insert(0, "**%s** in %s on %s: %s" % (st, sc, sv, "; ".join(detail) or st))
    for (sc, sv), details in sorted(meta.get("_info", {}).items()):
        if checks.get((sc, sv), ("ok",))[0] == "ok" and sv in servers and sc in scenarios:
            notes.append("%s on %s: %s" % (sc, sv, "; ".join(details)))
    try:
        load = float(str(meta.get("loadavg_start", "0")).split()[0])
    except ValueError:
        load = 0.0
    if load > 0.5:
        notes.insert(0, "**Warning:** the machine was busy when the run started (load average %s); "
                        "other processes compete with the pinned cores, so these numbers are noisy."
                     % meta.get("loadavg_start"))
    return headline + idle_rows + cpu, notes


def fmt_for(unit):
    if unit == "req/s":
        return lambda v: "{:,.0f}".format(v)
    if unit == "µs/req":
        return lambda v: "{:.2f}".format(v)
    if unit == "conns":
        return lambda v: "{:.0f}".format(v)
    if unit == "KiB":
        return lambda v: "{:.2f}".format(v)
    return lambda v: "{:.1f}".format(v)


def ratios(cells, higher, servers):
    """(barehttp / best peer, barehttp / nginx) as text."""
    bare = cells.get("barehttp")
    if bare is None or bare.value is None:
        return "—", "—"
    peers = [cells[p].value for p in PEER_ORDER if p in cells and cells[p].value is not None]
    best = (max(peers) if higher else min(peers)) if peers else None

    def r(x):
        if x is None or x == 0:
            return "—"
        return "{:.2f}×".format(bare.value / x)

    ng = cells.get("nginx")
    return r(best), r(ng.value if ng else None)


def table(meta, servers, rows):
    header = ["scenario", "unit"] + servers + ["barehttp / best peer", "barehttp / nginx"]
    body = []
    for label, unit, higher, cells, _ in rows:
        f = fmt_for(unit)
        best, ng = ratios(cells, higher, servers)
        if "barehttp" not in servers:
            best = ng = "—"
        body.append([label, unit] + [cells[s].text(f) for s in servers] + [best, ng])
    return header, body


def markdown(meta, header, body, notes):
    v = meta.get("versions", {})
    out = ["# barehttp benchmark", ""]
    out.append("Run %s → %s on %s (%s cores, %s), commit `%s`%s. Load average %s at the start, %s at the end." % (
        meta.get("started"), meta.get("finished"), meta.get("cpu") or "?", meta.get("nproc"),
        meta.get("kernel"), meta.get("git_commit"), " (src dirty)" if meta.get("git_dirty") else "",
        meta.get("loadavg_start"), meta.get("loadavg_end")))
    out.append("")
    out.append("Each server alone on core %s (`taskset`), wrk on core %s: `wrk -t1 -c%s -d%ss`, "
               "median of %s run(s) after one %ss warm-up, servers alternated run by run. "
               "barehttp `--threads 1`; nginx `worker_processes 1`; hyper on a current-thread runtime." % (
                   meta.get("server_cpu"), meta.get("client_cpu"), meta.get("conns"),
                   meta.get("duration_s"), meta.get("runs"), meta.get("warmup_s")))
    out.append("")
    out.append("Versions: %s." % "; ".join("%s: %s" % (k, v[k]) for k in v if v[k]))
    out.append("")
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    for row in body:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    out.append("")
    out.append("Ratios compare barehttp with the best peer (nginx or hyper) in that row. "
               "For req/s, MiB/s and connections higher is better (ratio > 1 favours barehttp); "
               "for µs/req, MiB and KiB lower is better (ratio < 1 favours barehttp). "
               "MiB/s is wrk's Transfer/sec (2^20 bytes, headers included). "
               "CPU per request is the server's utime + stime over a run divided by the requests wrk counted. "
               "Idle memory rows come from the first timed run (VmRSS of the server process; nginx: master + worker). "
               "FAIL: the server failed the correctness check (see notes); no gzip: it answered "
               "`Accept-Encoding: gzip` with the file uncompressed, so it is not timed; ⚠: wrk saw errors.")
    if notes:
        out.append("")
        out.append("## Notes")
        out.append("")
        out += ["- " + n for n in notes]
    out.append("")
    return "\n".join(out)


def plain(header, body):
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = []
    for n, row in enumerate([header] + body):
        cells = [row[0].replace("`", "").ljust(widths[0] if n else widths[0])] + \
                [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def svg(meta, servers, rows):
    """Grouped bars for the throughput rows, normalised to nginx = 1.0."""
    fmt_args = {"depth": meta.get("pipeline_depth", 16), "idle": meta.get("idle_conns", 5000)}
    groups = []
    for label, unit, higher, cells, sc in rows:
        if unit not in ("req/s", "MiB/s"):
            continue
        base_name = "nginx"
        base = cells.get("nginx")
        base = base.value if base is not None else None
        if not base:
            vals = [c.value for c in cells.values() if c.value]
            base = max(vals) if vals else None
            base_name = "best"
        bars = []
        for s in servers:
            c = cells[s]
            if c.value is not None and base:
                bars.append((s, c.value / base, None))
            else:
                bars.append((s, None, c.word or "—"))
        groups.append((SHORT.get(sc, sc).format(**fmt_args), base_name, bars))

    bar_w, bar_gap, group_gap = 26, 4, 34
    left, right, top, bottom = 64, 20, 78, 92
    plot_h = 300
    group_w = len(servers) * (bar_w + bar_gap) - bar_gap
    width = max(left + right + len(groups) * (group_w + group_gap) + group_gap, 520)
    height = top + plot_h + bottom
    raw = max([1.0] + [b[1] for g in groups for b in g[2] if b[1] is not None]) * 1.08
    steps = [0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 250, 500, 1000]
    step = next((st for st in steps if raw / st <= 8), steps[-1])
    ymax = step * math.ceil(raw / step)

    def y(v):
        return top + plot_h - v / ymax * plot_h

    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height))
    o.append('<rect width="100%" height="100%" fill="white"/>')
    o.append('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>' % (
        left, escape("barehttp vs peers: throughput relative to nginx (= 1.0), higher is better")))
    o.append('<text x="%d" y="44" fill="#555">%s</text>' % (left, escape(
        "wrk -t1 -c%s, %s x %ss (median), server on core %s, wrk on core %s; commit %s, %s" % (
            meta.get("conns"), meta.get("runs"), meta.get("duration_s"), meta.get("server_cpu"),
            meta.get("client_cpu"), meta.get("git_commit"), meta.get("started")))))
    # grid
    v = 0.0
    while v <= ymax + 1e-9:
        yy = y(v)
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>' % (
            left, width - right, yy, yy, "#999" if v == 0 else "#e5e5e5"))
        o.append('<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>' % (left - 6, yy + 4, ("%.2f" % v) if step < 1 else ("%g" % v)))
        v += step
    o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2f9e44" stroke-dasharray="5,4"/>' % (
        left, width - right, y(1.0), y(1.0)))
    o.append('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle" fill="#555">'
             'relative to nginx</text>' % (top + plot_h // 2))
    # bars
    x = left + group_gap
    for label, base_name, bars in groups:
        for i, (s, val, word) in enumerate(bars):
            bx = x + i * (bar_w + bar_gap)
            color = COLORS.get(s, "#868e96")
            if val is not None:
                o.append('<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s: %.2f</title></rect>' % (
                    bx, y(val), bar_w, top + plot_h - y(val), color, escape(s), val))
                o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>' % (
                    bx + bar_w / 2, y(val) - 4, val))
            else:
                o.append('<text transform="translate(%.1f,%.1f) rotate(-90)" font-size="10" fill="%s">%s</text>' % (
                    bx + bar_w / 2 + 3, top + plot_h - 4, color, escape(word)))
        cx = x + group_w / 2
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (cx, top + plot_h + 18, escape(label)))
        if base_name != "nginx":
            o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">(vs best: no nginx)</text>' % (
                cx, top + plot_h + 32))
        x += group_w + group_gap
    # legend
    lx = left
    ly = height - 30
    for s in servers:
        o.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (lx, ly - 11, COLORS.get(s, "#868e96")))
        o.append('<text x="%d" y="%d">%s</text>' % (lx + 20, ly, escape(s)))
        lx += 40 + 8 * len(s)
    o.append('</svg>')
    return "\n".join(o) + "\n"


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "results", "latest.json")
    data = load(path)
    scenarios, servers = data["scenarios"], data["servers"]
    meta, checks, runs = analyse(data)
    rows, notes = build_rows(meta, scenarios, servers, checks, runs)
    header, body = table(meta, servers, rows)
    base = os.path.splitext(path)[0]
    with open(base + ".md", "w") as f:
        f.write(markdown(meta, header, body, notes))
    with open(base + ".svg", "w") as f:
        f.write(svg(meta, servers, rows))
    print(plain(header, body))
    if notes:
        print()
        for n in notes:
            print("note: " + n.replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
