#!/usr/bin/env python3
"""Turn bench/run.sh's raw results into tables and a chart.

    report.py [results/latest.json]

Reads the JSON that run.sh writes (meta + one record per correctness check
and per wrk run), takes the median of the timed runs, and writes next to it:

  latest.md   Markdown: rows = scenarios, columns = servers, plus the ratio
              "barehttp / best peer"; CPU µs/request and idle-connection
              memory rows; a second table with barehttp / each peer; notes
              on failed checks and unsupported scenarios.
  latest.svg  one group of bars per throughput scenario, every server's
              number divided by barehttp's (barehttp = 1.0).

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
COLORS = {
    "barehttp": "#e8590c",
    "nginx": "#2f9e44",
    "hyper": "#1971c2",
    "lighttpd": "#9c36b5",
    "may_minihttp": "#c2255c",
    "epoll": "#495057",
    "h2o": "#0c8599",
    "python": "#e6a700",
}
# How each server runs, for the text above the table.
SETUP = {
    "barehttp": "barehttp `--threads 1`",
    "nginx": "nginx `worker_processes 1`",
    "hyper": "hyper on a current-thread tokio runtime",
    "lighttpd": "lighttpd one process (`server.max-worker = 0`)",
    "may_minihttp": "may_minihttp on one may worker",
    "epoll": "epoll: one-thread C floor answering `GET /` only",
    "h2o": "h2o `num-threads: 1`",
    "python": "python `-m http.server` (HTTP/1.0: a new connection and thread for every request)",
}
FIRST_RUN_ONLY = ("rss_before", "rss_idle", "kib_per_conn")
# Check outcomes, worst last. Anything but "ok" is not timed.
RANK = {"ok": 0, "unsupported": 1, "no gzip": 1, "ignores close": 1, "FAIL": 2}
UNSUPPORTED = "—"


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
                cells[sv] = Cell(word=UNSUPPORTED if st == "unsupported" else st)
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
    unsupported = {}  # (server, reason) → scenarios
    for (sc, sv), (st, detail) in sorted(checks.items(), reverse=True):
        if sv not in servers or sc not in scenarios:
            continue
        if st == "unsupported":
            reason = "; ".join(detail) or "not supported"
            unsupported.setdefault((sv, reason), []).append(sc)
        elif st != "ok":
            notes.insert(0, "**%s** in %s on %s: %s" % (st, sc, sv, "; ".join(detail) or st))
    for (sv, reason), scs in sorted(unsupported.items(), key=lambda kv: servers.index(kv[0][0])):
        scs = [sc for sc in scenarios if sc in scs]
        notes.append("%s %s on %s: not supported (%s)" % (UNSUPPORTED, ", ".join(scs), sv, reason))
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


def ratio(cells, peer):
    """barehttp / peer as text, or — when either has no number."""
    bare, other = cells.get("barehttp"), cells.get(peer)
    if bare is None or bare.value is None or other is None or not other.value:
        return "—"
    return "{:.2f}×".format(bare.value / other.value)


def best_peer(cells, higher, peers):
    """The peer with the best number in a row (only peers that ran it)."""
    ran = [p for p in peers if p in cells and cells[p].value is not None]
    if not ran:
        return None
    return (max if higher else min)(ran, key=lambda p: cells[p].value)


def tables(servers, rows):
    """The main table (numbers + barehttp / best peer) and the ratio table."""
    peers = [s for s in servers if s != "barehttp"]
    with_ratios = "barehttp" in servers and peers
    header = ["scenario", "unit"] + servers + (["barehttp / best peer"] if with_ratios else [])
    rheader = ["scenario", "unit"] + ["barehttp / %s" % p for p in peers]
    body, rbody = [], []
    for label, unit, higher, cells, _ in rows:
        f = fmt_for(unit)
        row = [label, unit] + [cells[s].text(f) for s in servers]
        if with_ratios:
            best = best_peer(cells, higher, peers)
            row.append("—" if best is None or ratio(cells, best) == "—"
                       else "%s (%s)" % (ratio(cells, best), best))
        body.append(row)
        rbody.append([label, unit] + [ratio(cells, p) for p in peers])
    return (header, body), ((rheader, rbody) if with_ratios else None)


def md_table(header, body):
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    for row in body:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    return out


def markdown(meta, servers, main, ratio_table, notes):
    v = meta.get("versions", {})
    out = ["# barehttp benchmark", ""]
    out.append("Run %s → %s on %s (%s cores, %s), commit `%s`%s. Load average %s at the start, %s at the end." % (
        meta.get("started"), meta.get("finished"), meta.get("cpu") or "?", meta.get("nproc"),
        meta.get("kernel"), meta.get("git_commit"), " (src dirty)" if meta.get("git_dirty") else "",
        meta.get("loadavg_start"), meta.get("loadavg_end")))
    out.append("")
    out.append("Each server alone on core %s (`taskset`), wrk on core %s: `wrk -t1 -c%s -d%ss`, "
               "median of %s run(s) after one %ss warm-up, servers alternated run by run. %s." % (
                   meta.get("server_cpu"), meta.get("client_cpu"), meta.get("conns"),
                   meta.get("duration_s"), meta.get("runs"), meta.get("warmup_s"),
                   "; ".join(SETUP.get(s, s) for s in servers)))
    out.append("")
    out.append("Versions: %s." % "; ".join("%s: %s" % (k, v[k]) for k in v if v[k]))
    out.append("")
    out += md_table(*main)
    out.append("")
    out.append("The last column compares barehttp with the best of the peers that ran that row "
               "(named in brackets). "
               "For req/s, MiB/s and connections higher is better (ratio > 1 favours barehttp); "
               "for µs/req, MiB and KiB lower is better (ratio < 1 favours barehttp). "
               "MiB/s is wrk's Transfer/sec (2^20 bytes, headers included). "
               "CPU per request is the server's utime + stime over a run divided by the requests wrk counted. "
               "Idle memory rows come from the first timed run (VmRSS of the server's whole process tree, "
               "e.g. nginx master + worker). "
               "%s: the server does not support the scenario (see notes); "
               "FAIL: the server failed the correctness check (see notes); no gzip: it answered "
               "`Accept-Encoding: gzip` with the file uncompressed; ignores close: it answered "
               "`Connection: close` without closing the connection; none of these is timed. "
               "⚠: wrk saw errors." % UNSUPPORTED)
    if ratio_table:
        out.append("")
        out.append("## barehttp / each peer")
        out.append("")
        out += md_table(*ratio_table)
        out.append("")
        out.append("Same rows, barehttp's number divided by each peer's; "
                   "— where either has no number.")
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
    """One group of bars per throughput row: every server's number divided by
    barehttp's (barehttp = 1.0), so above 1 a peer is faster."""
    fmt_args = {"depth": meta.get("pipeline_depth", 16), "idle": meta.get("idle_conns", 5000)}
    groups = []
    for label, unit, higher, cells, sc in rows:
        if unit not in ("req/s", "MiB/s"):
            continue
        base_name = "barehttp"
        base = cells.get("barehttp")
        base = base.value if base is not None else None
        if not base:  # barehttp did not run it: relative to the best server
            ran = [s for s in servers if cells[s].value]
            base_name = max(ran, key=lambda s: cells[s].value) if ran else None
            base = cells[base_name].value if ran else None
        bars = []
        for s in servers:
            c = cells[s]
            if c.value is not None and base:
                bars.append((s, c.value / base, None))
            else:
                bars.append((s, None, c.word or "—"))
        groups.append((SHORT.get(sc, sc).format(**fmt_args), base_name, bars))

    has_bare = "barehttp" in servers
    bar_w, bar_gap, group_gap = 13, 2, 30
    left, right, top, bottom = 64, 20, 84, 70
    plot_h = 320
    bars_w = len(servers) * (bar_w + bar_gap) - bar_gap
    group_w = max(bars_w, 110)  # room for the group's label
    width = max(left + right + len(groups) * (group_w + group_gap) + group_gap, 760)
    legend_rows = []
    row, row_w = [], 0
    for s in servers:  # wrap the legend to the width
        w = 34 + 7 * len(s)
        if row and left + row_w + w > width - right:
            legend_rows.append(row)
            row, row_w = [], 0
        row.append((s, row_w))
        row_w += w
    legend_rows.append(row)
    height = top + plot_h + bottom + 20 * len(legend_rows)
    raw = max([1.0] + [b[1] for g in groups for b in g[2] if b[1] is not None]) * 1.12
    steps = [0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 250, 500, 1000]
    step = next((st for st in steps if raw / st <= 8), steps[-1])
    ymax = step * math.ceil(raw / step)

    def y(v):
        return top + plot_h - v / ymax * plot_h

    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height))
    o.append('<rect width="100%" height="100%" fill="white"/>')
    o.append('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>' % (left, escape(
        "Throughput relative to barehttp (= 1.0): above 1 the server is faster than barehttp" if has_bare
        else "Throughput relative to the fastest server in each group (= 1.0)")))
    o.append('<text x="%d" y="44" fill="#555">%s</text>' % (left, escape(
        "wrk -t1 -c%s, %s x %ss (median), server on core %s, wrk on core %s; commit %s, %s" % (
            meta.get("conns"), meta.get("runs"), meta.get("duration_s"), meta.get("server_cpu"),
            meta.get("client_cpu"), meta.get("git_commit"), meta.get("started")))))
    o.append('<text x="%d" y="62" fill="#555" font-size="11">%s</text>' % (left, escape(
        "— not supported; FAIL failed the correctness check; no gzip / ignores close: "
        "checked and not timed (see latest.md)")))
    # grid
    v = 0.0
    while v <= ymax + 1e-9:
        yy = y(v)
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>' % (
            left, width - right, yy, yy, "#999" if v == 0 else "#e5e5e5"))
        o.append('<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>' % (
            left - 6, yy + 4, ("%.2f" % v) if step < 1 else ("%g" % v)))
        v += step
    o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5,4"/>' % (
        left, width - right, y(1.0), y(1.0), COLORS["barehttp"] if has_bare else "#999"))
    o.append('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle" fill="#555">'
             '%s</text>' % (top + plot_h // 2, "relative to barehttp" if has_bare else "relative to the fastest"))
    # bars, values written upwards above them
    x = left + group_gap
    for label, base_name, bars in groups:
        for i, (s, val, word) in enumerate(bars):
            bx = x + (group_w - bars_w) / 2 + i * (bar_w + bar_gap)
            color = COLORS.get(s, "#868e96")
            if val is not None:
                o.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s: %.2f</title></rect>' % (
                    bx, y(val), bar_w, top + plot_h - y(val), color, escape(s), val))
                o.append('<text transform="translate(%.1f,%.1f) rotate(-90)" font-size="9">%s</text>' % (
                    bx + bar_w / 2 + 3, y(val) - 3, ("%.2f" % val) if val < 10 else ("%.1f" % val)))
            elif word == UNSUPPORTED:
                o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="%s">'
                         '<title>%s: not supported</title>%s</text>' % (
                             bx + bar_w / 2, top + plot_h - 4, color, escape(s), word))
            else:
                o.append('<text transform="translate(%.1f,%.1f) rotate(-90)" font-size="9" fill="%s">'
                         '<title>%s: %s</title>%s</text>' % (
                             bx + bar_w / 2 + 3, top + plot_h - 4, color, escape(s), escape(word), escape(word)))
        cx = x + group_w / 2
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (cx, top + plot_h + 18, escape(label)))
        if has_bare and base_name != "barehttp":
            o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">%s</text>' % (
                cx, top + plot_h + 32, escape("(no barehttp: vs %s)" % base_name if base_name else "(no numbers)")))
        x += group_w + group_gap
    # legend
    for n, row in enumerate(legend_rows):
        ly = top + plot_h + bottom + 20 * n
        for s, dx in row:
            o.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (left + dx, ly - 11, COLORS.get(s, "#868e96")))
            o.append('<text x="%d" y="%d">%s</text>' % (left + dx + 20, ly, escape(s)))
    o.append('</svg>')
    return "\n".join(o) + "\n"


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "results", "latest.json")
    data = load(path)
    scenarios, servers = data["scenarios"], data["servers"]
    meta, checks, runs = analyse(data)
    rows, notes = build_rows(meta, scenarios, servers, checks, runs)
    main_table, ratio_table = tables(servers, rows)
    base = os.path.splitext(path)[0]
    with open(base + ".md", "w") as f:
        f.write(markdown(meta, servers, main_table, ratio_table, notes))
    with open(base + ".svg", "w") as f:
        f.write(svg(meta, servers, rows))
    print(plain(*main_table))
    if ratio_table:
        print()
        print(plain(*ratio_table))
    if notes:
        print()
        for n in notes:
            print("note: " + n.replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
