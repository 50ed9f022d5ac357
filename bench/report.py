#!/usr/bin/env python3
"""make bench, step 3: out/bench/results.json -> docs/benchmarks.md and docs/bench-<workload>.png."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import sweep as design  # noqa: E402  (bench/sweep.py: the shape sweep's design and rules)

SERVER_LABEL = {"sidecar": "sidecar", "torch": "PyTorch peer (1 process)", "torch2": "PyTorch peer (2 processes)",
                "onnx": "ONNX Runtime peer (1 process)", "onnx2": "ONNX Runtime peer (2 processes)",
                "floor": "grpc++ echo floor"}
SHORT_LABEL = {"torch": "PyTorch ×1", "torch2": "PyTorch ×2", "onnx": "ORT ×1", "onnx2": "ORT ×2"}
PEERS = tuple(SHORT_LABEL)
COLOR = {"sidecar": "tab:blue", "torch": "tab:orange", "torch2": "tab:red", "onnx": "tab:green",
         "onnx2": "tab:olive", "floor": "tab:gray"}
SMALL = ("dqn", "lstm_500", "sasrec_500")
CATALOG = ("lstm_catalog", "sasrec_catalog")


def fmt_qps(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fmt_ratio(x) -> str:
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞"
    if x < 10:
        return f"{x:.2f}×"
    return f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def ratio(a: float, b: float):
    if b <= 0:
        return math.inf if a > 0 else None
    return a / b


def best_of_peers(sweeps: dict) -> tuple[str, float]:
    """(name, QPS at p99 <= 10 ms) of the best searched peer; probe-only peers lost the probe."""
    searched = {name: sweeps[name]["qps_at_p99_limit"] for name in PEERS
                if name in sweeps and not sweeps[name].get("probe_only")}
    if not searched:
        return "torch", 0.0
    name = max(searched, key=lambda n: (searched[n], sweeps[n]["capacity_closed_loop"]))
    return name, searched[name]


def plot(workload: str, sweeps: dict, description: str, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=100)
    for server in ("sidecar", *PEERS, "floor"):
        sweep = sweeps.get(server)
        if not sweep or not sweep["points"]:
            continue
        points = sweep["points"]
        x = [p["offered_qps"] for p in points]
        for key, style, label in (("p99", "-", "p99"), ("p50", "--", "p50")):
            y = [max(p["latency_ms"][key], 1e-3) for p in points]
            ax.plot(x, y, style, color=COLOR[server], marker="o", markersize=3.5, linewidth=1.4,
                    label=f"{SERVER_LABEL[server]} {label}")
        bad = [(p["offered_qps"], max(p["latency_ms"]["p99"], 1e-3)) for p in points if not p["passes"]]
        if bad:
            ax.scatter(*zip(*bad), marker="x", color=COLOR[server], s=40, zorder=5)
    ax.axhline(10.0, color="black", linewidth=0.8, linestyle=":")
    ax.text(0.99, 10.5, "p99 limit 10 ms", fontsize=7, va="bottom", ha="right",
            transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (requests/s, open loop)")
    ax.set_ylabel("latency from intended send (ms)")
    ax.set_title(f"{workload}: {description}", fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6.5, ncol=2, loc="upper left")
    fig.text(0.01, 0.01, "x = point fails (p99 > 10 ms, errors, or < 95 % of offered load achieved)", fontsize=6)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def batched_product_text(k: dict) -> str:
    """The --batched-gemv measurement as one sentence (empty when the run did not make it)."""
    cases = {c["users"]: c for c in k.get("batched_gemv", {}).get("cases", [])}
    if 1 not in cases:
        return ""
    one = cases[1]["sgemv_per_user_s"] * 1e6
    parts = []
    for users in (2, 4, 8):
        c = cases.get(users)
        if not c:
            continue
        kernel = f", hand-written four-user AVX-512 pass {c['kernel_per_user_s'] * 1e6:.0f} µs" \
            if c["kernel_per_user_s"] else ""
        parts.append(f"{users} users: one sgemm {c['sgemm_per_user_s'] * 1e6:.0f} µs{kernel}")
    n, d = k["batched_gemv"]["n"], k["batched_gemv"]["d"]
    return (f"Scoring several users' vectors against the {n:,} × {d} table in one pass (kernels "
            f"`--batched-gemv`), per user: one sgemv {one:.0f} µs; " + "; ".join(parts) + ".")


def unmet_limits(summary: dict, cpu: dict, k: dict) -> list:
    """One line per missed throughput target, with the measured figures that bound it."""
    lines = []
    echo_cpu = cpu.get("echo", {}).get("sidecar")
    scan = k.get("plugin_catalog_gemv_empty_history", {}).get("seconds_per_call", 0) * 1e6
    cases = {c["users"]: c for c in k.get("batched_gemv", {}).get("cases", [])}
    # The cheapest way measured to score one user of a batch: one sgemm or the four-user pass.
    best_batched = min((x * 1e6 for users, c in cases.items() if users > 1
                        for x in (c.get("sgemm_per_user_s"), c.get("kernel_per_user_s")) if x), default=0)
    for name, s in summary.items():
        target = 3 if name == "mlp" else 0.8 if name == "echo" else 5
        value = s["vs_floor"] if name == "echo" else s["vs_peer"]
        if value is None or value >= target:
            continue
        own = cpu.get(name, {}).get("sidecar")
        peer = cpu.get(name, {}).get(s["best_peer"] if name != "echo" else "floor")
        plugin = k.get(f"plugin_{name}_set", {}).get("seconds_per_call", 0) * 1e6
        if not own or not peer:
            lines.append(f"`{name}`: {fmt_ratio(value)}; no CPU figures to break it down.")
            continue
        text = (f"`{name}` ({fmt_ratio(value)}): the sidecar spends {own:.0f} µs of CPU per call, the "
                f"{'floor' if name == 'echo' else SERVER_LABEL[s['best_peer']]} {peer:.0f} µs "
                f"(CPU ratio {peer / own:.1f}×).")
        if plugin:
            text += f" The plugin itself takes {plugin:.0f} µs in process (over the request set)"
            text += f"; the transport, as `echo`, {echo_cpu:.0f} µs." if echo_cpu else "."
        if name in CATALOG and scan:
            free = own - scan
            text += (f" The catalog product (+ top-10) is {scan:.0f} µs of that; even if it cost nothing the "
                     f"CPU ratio would be {peer / free:.1f}×")
            if best_batched:
                text += (f", and with it shared by several requests at the best batched rate measured "
                         f"({best_batched:.0f} µs per user) {peer / (free + best_batched):.1f}×")
            text += "."
        lines.append(text)
    return lines


def shape_text(kind: str, shape: dict) -> str:
    scored = f"{shape['candidates']} cand" if shape["candidates"] else f"catalog {shape['N'] // 1000}k"
    if kind == "mlp":
        return f"d {shape['d']}, C {shape['C']}, F {shape['F']}, {'-'.join(map(str, shape['hidden']))}, {scored}"
    if kind == "lstm":
        return f"d {shape['d']}, h {shape['hidden']}, {shape['layers']} layer(s), {scored}, N {shape['N'] // 1000}k"
    return (f"d {shape['d']}, {shape['heads']} head(s), {shape['blocks']} block(s), d_ff {shape['d_ff']}, {scored}, "
            f"N {shape['N'] // 1000}k")


def plot_sweep(kind: str, rows: list[dict], out: Path) -> None:
    """Per point of one kind: the in-process roofline ratio (top) and sidecar ÷ best peer (bottom)."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.4), dpi=100, sharex=True)
    labels = [row["label"] for row in rows]
    x = range(len(rows))
    top.bar(x, [row["roof_ratio"] or 0 for row in rows], color=["tab:blue" if (row["roof_ratio"] or 99) <= 1.5
                                                                  else "tab:red" for row in rows])
    top.axhline(1.5, color="black", linewidth=0.8, linestyle=":")
    top.set_ylabel("in-process time ÷ stage floor")
    top.set_yscale("log")
    top.set_title(f"{kind}: shape sweep (one factor at a time around bases A and B)", fontsize=10)
    bottom.bar(x, [row["vs_peer"] or 0 for row in rows],
               color=["tab:blue" if (row["vs_peer"] or 0) >= 2 else "tab:red" for row in rows])
    bottom.axhline(2.0, color="black", linewidth=0.8, linestyle=":")
    bottom.set_ylabel("sidecar ÷ best peer\n(QPS at p99 ≤ 10 ms)")
    bottom.set_xticks(list(x))
    bottom.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    for ax in (top, bottom):
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def shape_sweep_section(r: dict, add, docs: Path) -> None:
    """Issue 19: per sweep point, sidecar vs the best of four peers and the in-process roofline."""
    sweep_prepared, results, roof = r["prepared"]["sweep"], r["shape_sweep"], r.get("roofline", {})
    settings = r["settings"]
    add("## Shape sweep (issue 19)")
    add("")
    add("Random (seeded) weights, history 50, top 10; each point changes one factor of a base point of its "
        "kind (bases A and B; `mlp_A`, `lstm_A` and `sasrec_A` are the three shapes issue 19 names). "
        f"Short timing so that the sweep fits in `make bench`: per point every server (sidecar and the four "
        f"peers) gets a {0.6 * float(settings.get('sweep_seconds', 0.8)):.2f} s closed-loop probe (8 in flight), "
        "then the sidecar and the best peer by probe (and the second when within 15 % of it) an open-loop "
        "search from 0.7 × their probe capacity, up "
        "by × 1.4 while points pass, or down by halves until one does, then one point bisecting (geometric "
        "mean) the last passing and the first failing rate, "
        f"{settings.get('sweep_seconds', 0.8)} s per point (+ 0.2 s warm-up): steps of about 18 %, so read "
        "ratios within ±20 % as ties. The three issue cases get the fixed workloads' point length "
        f"({settings.get('seconds')} s + {settings.get('warmup')} s), one retry of a failing point and "
        "bisections down to 8 %.")
    add("")
    add(f"Roofline (rates: the better of a measurement before and one after the plugin calls): sgemm "
        f"{roof.get('sgemm_gflops', 0):.1f} GFLOP/s (OpenBLAS 1024³, one core); read bandwidth "
        + ", ".join(f"{int(size) / 2**20:g} MiB {rate:.1f} GB/s" for size, rate in roof.get("read_gbytes_per_s", {}).items())
        + ". In-process time = the plugin's `recommend` called through its C ABI by bench/kernels.cc `--plugin`, "
          "one thread (the scan's second-core share off, `RECSYS_SCAN_SHARE=0`), cycling through the point's "
          "request set. FLOPs and bytes as bench/sweep.py documents. Two floors: the **call floor** = "
          "max(FLOPs ÷ sgemm rate, bytes ÷ read bandwidth of the smallest buffer ≥ the bytes) over the whole "
          "call, and the **stage floor** = the sum over the call's dependent stages (encoder or input "
          "projections, the LSTM recurrence, scoring) of max(FLOPs ÷ sgemm rate, bytes ÷ read bandwidth of "
          "the stage's working set). One thread runs the stages in sequence (the scan needs the encoder's "
          "output), and each LSTM step reads all of W_hh again (from L2 beyond h 32), so the stage floor is "
          "the bound one core can reach; the roofline ratio is in-process time ÷ stage floor. Where it is "
          "above 1.5×, the profile table under each kind says where the time goes (`perf record` of the same "
          "in-process calls, user-space samples). A ratio below 1 means the plugin reads less than the "
          "formula counts (e.g. whole-catalog scans that skip rows the int8 pre-pass rules out).")
    add("")
    add("Measurements of the kernel changes, before and after, and notes on each off-roof point: "
        "[bench-sweep-notes.md](bench-sweep-notes.md).")
    add("")
    per_kind: dict = {}
    for w in sweep_prepared["workloads"]:
        if w["name"] not in results:
            continue
        point = w["point"]
        servers = results[w["name"]]["servers"]
        best_peer, peer_qps = best_of_peers(servers)
        side = servers.get("sidecar", {}).get("qps_at_p99_limit") or 0
        rp = roof.get("points", {}).get(w["name"], {})
        per_kind.setdefault(point["kind"], []).append({
            "name": point["name"], "label": point["name"].split("_", 1)[1], "point": point,
            "sidecar": side, "peer": peer_qps, "best_peer": best_peer, "vs_peer": ratio(side, peer_qps),
            "agreement": results[w["name"]]["agreement"], "roof": rp, "roof_ratio": rp.get("ratio")})
    for kind, rows in per_kind.items():
        add(f"### {kind}")
        add("")
        add("| point | shape | sidecar QPS | best peer | QPS | ÷ best peer | MFLOP | MB | in-process µs | call floor µs "
            "| stage floor µs | roofline ratio | top-k = PyTorch (max Δscore) |")
        add("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for row in rows:
            rp = row["roof"]
            agree = row["agreement"]
            add(f"| `{row['name']}` | {shape_text(kind, row['point']['shape'])} | {fmt_qps(row['sidecar'])} | "
                f"{SHORT_LABEL.get(row['best_peer'], '–')} | {fmt_qps(row['peer'])} | {fmt_ratio(row['vs_peer'])}"
                f"{'' if (row['vs_peer'] or 0) >= 2 else ' ✗'} | "
                + (f"{rp['flops'] / 1e6:.2f} | {rp['bytes'] / 1e6:.2f} | {rp['seconds'] * 1e6:.0f} | "
                   f"{rp['floor_seconds'] * 1e6:.0f} ({rp['bound'][:3]}) | {rp['stage_floor_seconds'] * 1e6:.0f} | "
                   f"{fmt_ratio(rp['ratio'])}{'' if (rp['ratio'] or 99) <= 1.5 else ' ✗'}"
                   if rp else "– | – | – | – | – | –")
                + f" | {'yes' if agree['same_top_k'] else '**no**'} ({agree['max_abs_score_diff']:.1e}) |")
        add("")
        off = [row for row in rows if (row["roof_ratio"] or 0) > 1.5]
        if off:
            add("Where the time goes at the points above 1.5× (share of the in-process samples; stage floors in µs):")
            add("")
            add("| point | ratio | stage floors | profile |")
            add("|---|---:|---|---|")
            for row in off:
                rp = row["roof"]
                stages = ", ".join(f"{st['stage']} {st['floor_seconds'] * 1e6:.0f} ({st['bound'][:3]})"
                                   for st in rp.get("stages", []))
                profile = ", ".join(f"`{x['name']}` {x['share']:.0%}" for x in rp.get("profile", [])[:5])
                add(f"| `{row['name']}` | {fmt_ratio(row['roof_ratio'])} | {stages} | {profile or 'perf not available'} |")
            add("")
        png = docs / f"bench-sweep-{kind}.png"
        plot_sweep(kind, rows, png)
        add(f"![sweep {kind}]({png.name})")
        add("")
    rows = [row for kind_rows in per_kind.values() for row in kind_rows]
    if rows:
        add(f"Summary: {sum((row['vs_peer'] or 0) >= 2 for row in rows)} of {len(rows)} points at ≥ 2× the best "
            f"peer; {sum((row['roof_ratio'] or 99) <= 1.5 for row in rows)} of {len(rows)} within 1.5× of their "
            "stage floor (✗ marks the others; their profiles are in the tables under each kind).")
        add("")
        add("| issue 19 case | target | sidecar ÷ best peer | roofline ratio | met |")
        add("|---|---:|---:|---:|:-:|")
        for name, text in design.ISSUE_CASES.items():
            row = next((x for x in rows if x["name"] == name), None)
            if row is None:
                continue
            target = 2.5 if name.startswith("mlp") else 3.0
            add(f"| {text} | {target}× | {fmt_ratio(row['vs_peer'])} ({fmt_qps(row['sidecar'])} vs "
                f"{SHORT_LABEL.get(row['best_peer'], '–')} {fmt_qps(row['peer'])}) | {fmt_ratio(row['roof_ratio'])} | "
                f"{'yes' if (row['vs_peer'] or 0) >= target else '**no**'} |")
        add("")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", type=Path, default=ROOT / "out/bench/results.json")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    ap.add_argument("--make-seconds", type=float, default=None, help="wall time of the whole make bench")
    ap.add_argument("--note", default="", help="a line printed under the title (e.g. how the run was taken)")
    a = ap.parse_args(argv)
    r = json.loads(a.results.read_text())
    prepared = r["prepared"]
    workloads = prepared["workloads"]
    sweeps = r["sweeps"]
    a.docs.mkdir(parents=True, exist_ok=True)
    m = r["machine"]
    lines: list[str] = []
    add = lines.append

    add("# Benchmarks")
    add("")
    if a.note:
        add(f"> **{a.note}**")
        add("")
    add("Written by `make bench` (bench/run.py, bench/report.py) — do not edit by hand; rerun it. Numbers "
        "on shared 2-core machines are noisy, so every figure that matters is a **ratio against a peer or a "
        "floor measured in the same run**, back to back, on the same machine, by the same load generator.")
    add("")
    add(f"Run of {r['started']}: {m['cpu']}, {m['cpus']} vCPUs ({m['hypervisor'] or 'bare metal'} guest, "
        f"{m['threads_per_core']} thread/core), {m['mem_gib']} GiB, {m['os']}, Linux {m['kernel']}; caches "
        + ", ".join(f"{k} {v}" for k, v in m["caches"].items()) + ".")
    v = m["versions"]
    add(f"Versions: {v.get('swift', '')}; grpc++ {v.get('libgrpc++-dev', '')}, protobuf "
        f"{v.get('libprotobuf-dev', '')}, OpenBLAS {v.get('libopenblas0-pthread', '') or v.get('libopenblas-dev', '')}, "
        f"g++ {v.get('g++', '')}; Python {v.get('python', '')}, torch {v.get('torch', '')}, onnxruntime "
        f"{v.get('onnxruntime', '')}, grpcio {v.get('grpc', '')}.")
    la_b, la_s = r["loadavg_before"], r["loadavg_after_sweeps"]
    cpu = r.get("cpu_during_sweeps", {})
    others = sorted(p["cpu_cores"]["others"] for w in sweeps.values() for sw in w.values() for p in sw["points"]
                    if "cpu_cores" in p)
    add(f"How busy the machine was: `/proc/loadavg` (1/5/15 min) {la_b[0]:.2f} / {la_b[1]:.2f} / {la_b[2]:.2f} "
        f"before the run (other tenants only), {la_s[0]:.2f} / {la_s[1]:.2f} / {la_s[2]:.2f} right after the sweeps "
        f"(ours included). During the {cpu.get('seconds', 0):.0f} s of sweeps, /proc/stat counted "
        f"{cpu.get('cores_busy', 0):.2f} of {m['cpus']} cores busy on average: {cpu.get('cores_ours', 0):.2f} ours "
        f"(servers and load generator), **{cpu.get('cores_others', 0):.2f} other tenants'**, plus "
        f"{cpu.get('cores_stolen', 0):.2f} stolen by the hypervisor"
        + (f"; per open-loop point, other tenants used {others[len(others) // 2]:.2f} cores (median), "
           f"{others[int(len(others) * 0.9)]:.2f} (90th percentile), {others[-1]:.2f} (max)" if others else "")
        + f". Duration: {r['seconds']:.0f} s for the "
        f"measurements"
        + (f", {a.make_seconds / 60:.1f} min for the whole `make bench`" if a.make_seconds else "") + ".")
    add("")

    # ------------------------------------------------------------------ main table
    add("## Throughput at p99 ≤ 10 ms")
    add("")
    add("Open-loop load (fixed send schedule, latency measured from the *intended* send time, so "
        "coordinated omission is counted). QPS = the highest offered rate whose p99 ≤ 10 ms with no "
        "errors and ≥ 95 % of the offered rate achieved; p50/p99 in ms at that rate. "
        "Ratios: sidecar ÷ the better peer, sidecar ÷ floor (the bare grpc++ echo server on the same "
        "requests).")
    add("")
    add("| workload | sidecar QPS | p50 | p99 | best peer | QPS | p50 | p99 | "
        "floor QPS | p50 | p99 | ÷ best peer | ÷ floor |")
    add("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    noisy = False
    for w in workloads:
        s = sweeps.get(w["name"], {})
        best_peer, peer = best_of_peers(s)
        cells = [f"`{w['name']}`"]
        q = {}
        for server in ("sidecar", best_peer, "floor"):
            sweep = s.get(server)
            if server == best_peer:
                cells.append(SHORT_LABEL.get(server, "–"))
            if not sweep or sweep.get("probe_only"):
                cells += ["–", "–", "–"]
                continue
            q[server] = sweep["qps_at_p99_limit"]
            at = sweep["at_limit"]
            busy = sorted(p["cpu_cores"]["others"] for p in sweep["points"] if "cpu_cores" in p)
            mark = " †" if busy and busy[len(busy) // 2] > 0.5 else ""
            noisy |= bool(mark)
            cells += [fmt_qps(q[server]) + mark, f"{at['p50']:.2f}" if at else "–", f"{at['p99']:.2f}" if at else "–"]
        summary[w["name"]] = {"sidecar": q.get("sidecar", 0), "peer": peer, "best_peer": best_peer,
                              "floor": q.get("floor", 0), "vs_peer": ratio(q.get("sidecar", 0), peer),
                              "vs_floor": ratio(q.get("sidecar", 0), q.get("floor", 0))}
        cells += [fmt_ratio(summary[w["name"]]["vs_peer"]), fmt_ratio(summary[w["name"]]["vs_floor"])]
        add("| " + " | ".join(cells) + " |")
    add("")
    add("Peers: PyTorch eager and ONNX Runtime, each as one grpcio process (1 intra-op thread, 4 handler "
        "threads) and as two processes sharing the port with SO_REUSEPORT (1 intra-op thread each: 2 processes "
        "× 1 thread = the 2 cores). All four are probed closed-loop; the open-loop search runs for the best by "
        "probe (and the second when within 15 %); *best peer* is the best of those at p99 ≤ 10 ms.")
    add("")
    if noisy:
        add("† other tenants kept more than half a core busy during most of this sweep's points "
            "(median over its points; per-point figures in out/bench/results.json): read it with care.")
        add("")
    add("Server CPU per request (µs of CPU time of the server process, all its threads, divided by the "
        "requests it answered) at the rate of the first table. Less sensitive to the 10 ms cut-off than QPS, "
        "but it depends on the rate: at lower rates threads sleep and wake per request, at higher ones "
        "they stay busy, so compare servers measured at similar rates (e.g. `echo` with the floor):")
    add("")
    add("| workload | sidecar | " + " | ".join(SHORT_LABEL.values()) + " | floor |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    cpu_per_request = {}
    for w in workloads:
        s_ = sweeps.get(w["name"], {})
        cpu = cpu_per_request.setdefault(w["name"], {})
        for server in ("sidecar", *PEERS, "floor"):
            sweep = s_.get(server)
            best = [p for p in (sweep or {}).get("points", [])
                    if p["passes"] and p["offered_qps"] == sweep["qps_at_p99_limit"] and "cpu_cores" in p]
            if best and best[0]["qps"] > 0:
                cpu[server] = best[0]["cpu_cores"]["server"] / best[0]["qps"] * 1e6
        add(f"| `{w['name']}` | " + " | ".join(f"{cpu[x]:.0f}" if x in cpu else "–"
                                               for x in ("sidecar", *PEERS, "floor")) + " |")
    add("")
    add("Closed-loop capacity (8 calls in flight, the probe each sweep starts with), requests/s:")
    add("")
    add("| workload | sidecar | " + " | ".join(SHORT_LABEL.values()) + " | floor |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    for w in workloads:
        s = sweeps.get(w["name"], {})
        add(f"| `{w['name']}` | " + " | ".join(
            fmt_qps(s[x]["capacity_closed_loop"]) if x in s else "–" for x in ("sidecar", *PEERS, "floor")) + " |")
    add("")
    add("Latency against offered load, per workload (solid p99, dashed p50, log–log):")
    add("")
    for w in workloads:
        if w["name"] in sweeps:
            png = a.docs / f"bench-{w['name']}.png"
            plot(w["name"], sweeps[w["name"]], w["description"], png)
            add(f"![{w['name']}]({png.name})")
    add("")

    if r.get("shape_sweep"):
        shape_sweep_section(r, add, a.docs)
    if not r.get("kernels"):  # a partial run (run.py --steps): no kernel, memory or target sections
        (a.docs / "benchmarks.md").write_text("\n".join(lines) + "\n")
        return 0

    # ------------------------------------------------------------------- kernels
    k = r["kernels"]
    fma = k["fma"]
    peak = max(fma["avx2_gflops"], fma["avx512_gflops"])
    sgemm = k["sgemm"]["gflops"]
    widths = k["mlp_widths"]
    mcount = k["mlp_candidates"]
    mlp_meta = prepared["models"]["mlp"]["meta"]
    d = prepared["models"]["mlp"]["shapes"]["item_emb.weight"][1]
    c_dim, f_dim = int(mlp_meta.get("context_dim", 0)), int(mlp_meta.get("candidate_feature_dim", 0))
    h1 = widths[1]
    nominal = 2.0 * mcount * sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
    later = 2.0 * mcount * sum(widths[i] * widths[i + 1] for i in range(1, len(widths) - 1))
    # Layer 1 as the plugin runs it: one GEMV for the user+context block, GEMMs over the candidates'
    # item (and feature) blocks, the shared row added as their bias; with the layer-1 item-block
    # cache (bench/sweep.py mirrors the plugin's "auto" rule) the item block is read, not computed.
    cached = design.mlp_item_cache({"d": d, "hidden": [h1], "N": prepared["models"]["mlp"]["num_items"]})
    executed = later + 2.0 * h1 * (d + c_dim) + 2.0 * mcount * ((0 if cached else d) + f_dim) * h1 + mcount * h1
    plugin_mlp = k.get("plugin_mlp", {}).get("seconds_per_call", 0)
    chain = k["gemm_chain"]
    mlp_plugin_gflops = executed / plugin_mlp / 1e9 if plugin_mlp else 0
    n_cat, d_cat = k["catalog_shape"]
    gemv = k["gemv"]
    gmap = k.get("gemv_mapped", gemv | {"address_mod_64": "?"})
    gemv_best = gmap["gbytes_per_s"]
    copy_same = k.get(f"copy_{n_cat * d_cat * 4}", {}).get("stream_copy_gbytes_per_s", 0)
    copy_dram = k.get(f"copy_{256 << 20}", {}).get("stream_copy_gbytes_per_s", 0)
    read_same = k.get(f"read_{n_cat * d_cat * 4}", {}).get("gbytes_per_s", 0)
    read_dram = k.get(f"read_{256 << 20}", {}).get("gbytes_per_s", 0)
    plugin_gemv = k.get("plugin_catalog_gemv_empty_history", {}).get("seconds_per_call", 0)
    plugin_gemv_gbs = n_cat * d_cat * 4 / plugin_gemv / 1e9 if plugin_gemv else 0
    add("## Kernels (one core, best of repeated runs)")
    add("")
    add(f"- **FMA peak** (bench/kernels.cc `--fma`): a loop of independent `vfmadd` chains on registers "
        f"({fma['chains_avx512']} zmm chains for AVX-512, {fma['chains_avx2']} ymm chains for AVX2, no memory "
        f"traffic), FLOPs = 2 × lanes × chains × iterations, best of ≥ 5 timed batches: AVX-512 "
        f"**{fma['avx512_gflops']:.1f}** GFLOP/s, AVX2 **{fma['avx2_gflops']:.1f}** GFLOP/s; peak used below = "
        f"{peak:.1f} GFLOP/s.")
    add(f"- **Large sgemm** (OpenBLAS `cblas_sgemm` 1024³, 1 thread): **{sgemm:.1f}** GFLOP/s "
        f"= {sgemm / peak:.0%} of the FMA peak.")
    add(f"- **MLP layers**, `mlp` workload ({mcount} candidates, layers {' → '.join(map(str, widths))}): the mlp "
        f"plugin computes layer 1's user+context block once per request, so a request executes "
        f"{executed / 1e6:.2f} MFLOP (layer 1: one GEMV for user+context, "
        + ("the candidates' item blocks read from the per-item cache and their feature block summed in the same "
           "pass" if cached else f"a GEMM over the candidates' item {'and feature ' if f_dim else ''}blocks")
        + f"; then the later layers as GEMMs) instead of the nominal "
        f"{nominal / 1e6:.2f} MFLOP. "
        f"Whole plugin call (dlopen'ed plugin, C ABI, ids → rows, layers, top-k): "
        f"{plugin_mlp * 1e6:.0f} µs = **{mlp_plugin_gflops:.1f}** GFLOP/s executed "
        f"({mlp_plugin_gflops / sgemm:.0%} of large sgemm; {nominal / plugin_mlp / 1e9 if plugin_mlp else 0:.1f} "
        f"GFLOP/s counted nominally). The later layers alone through `cblas_sgemm` (same shapes, "
        f"{chain['flops'] / 1e6:.2f} MFLOP): {chain['seconds'] * 1e6:.0f} µs = **{chain['gflops']:.1f}** GFLOP/s "
        f"({chain['gflops'] / sgemm:.0%} of large sgemm).")
    add(f"- **Catalog GEMV** (`cblas_sgemv` {n_cat:,} × {d_cat}, {n_cat * d_cat * 4 / 1e6:.1f} MB of float32, as "
        f"`Kernels.gemv` calls it): {gemv['seconds'] * 1e6:.0f} µs = **{gemv['gbytes_per_s']:.1f}** GB/s read "
        f"({gemv['gflops']:.1f} GFLOP/s) on a heap buffer; **{gmap['gbytes_per_s']:.1f}** GB/s on the store's "
        f"memory-mapped `item_emb.weight` itself (address ≡ {gmap['address_mod_64']} mod 64). Copy bandwidth (`memcpy`, STREAM convention: bytes read + written): "
        f"**{copy_same:.1f}** GB/s at the same footprint ({n_cat * d_cat * 4 / 1e6:.1f} MB, cache resident like the "
        f"table), {copy_dram:.1f} GB/s at 256 MiB (DRAM); read-only bandwidth (an AVX-512 sum over the buffer, "
        f"the tighter roof for a GEMV, which only reads): **{read_same:.1f}** GB/s at the same footprint, "
        f"{read_dram:.1f} GB/s at 256 MiB. Mapped GEMV ÷ same-footprint copy = "
        f"{gemv_best / copy_same if copy_same else 0:.0%}, ÷ same-footprint read = "
        f"{gemv_best / read_same if read_same else 0:.0%}. Whole plugin call for a whole-catalog lstm "
        f"request with an empty history (≈ GEMV + top-10 of {n_cat:,}): {plugin_gemv * 1e6:.0f} µs = "
        f"{plugin_gemv_gbs:.1f} GB/s effective.")
    batched = batched_product_text(k)
    if batched:
        add(f"- **Batched catalog product** (would scoring concurrent requests together pay?): {batched} "
            "OpenBLAS's sgemm packs the table before it multiplies, which only pays with several users; the "
            "pass that reads each row once for four users is bound by arithmetic (every dot product ends in a "
            "horizontal sum), not by reading the table, so neither comes near one table read shared by all.")
    add("")
    add("In-process time per request (plugin called directly through the C ABI, no gRPC) — what the model "
        "itself costs — of each workload's first request repeated (everything cached) and of its whole request "
        "set cycled (different users and candidates, as the server sees them), next to the sidecar's p50 at the "
        "lowest load point and the `echo` workload's (the transport's share of that p50):")
    add("")
    add("| workload | plugin µs/request, one request | over the request set | sidecar p50 at lowest load (µs) "
        "| minus echo's p50 (µs) |")
    add("|---|---:|---:|---:|---:|")
    echo_sweep = sweeps.get("echo", {}).get("sidecar")
    echo_low = echo_sweep["points"][0]["latency_ms"]["p50"] * 1000 if echo_sweep and echo_sweep["points"] else None
    for w in workloads:
        sec = k.get(f"plugin_{w['name']}", {}).get("seconds_per_call")
        cycled = k.get(f"plugin_{w['name']}_set", {}).get("seconds_per_call")
        sweep = sweeps.get(w["name"], {}).get("sidecar")
        low = sweep["points"][0]["latency_ms"]["p50"] * 1000 if sweep and sweep["points"] else None
        cells = [f"`{w['name']}`", f"{sec * 1e6:.1f}" if sec else "–", f"{cycled * 1e6:.1f}" if cycled else "–",
                 f"{low:.0f}" if low else "–",
                 f"{low - echo_low:.0f}" if low and echo_low and w["name"] != "echo" else "–"]
        add("| " + " | ".join(cells) + " |")
    add("")
    add("The `echo` row's p50 is the transport's share (gRPC, shim, routing, thread wake-ups). What remains "
        "beyond the model's in-process cost is the model itself running on cold caches: at the lowest load "
        "point requests are milliseconds apart and other work (other tenants included) evicts the weights in "
        "between — e.g. the 12.8 MB catalog of the whole-catalog workloads then streams from DRAM (~0.9 ms per "
        "GEMV on this machine kind, against ~0.2 ms from L3 when requests follow each other closely); no plugin "
        "or PluginAPI code path showed up in a profile of that gap.")
    add("")

    # ------------------------------------------------------------------- memory
    mem = r["memory"]
    add("## Memory per loaded model version")
    add("")
    add("What one more loaded version costs: RSS of a sidecar serving model X *and* a byte-for-byte copy of "
        "it under a second name (its own files), minus RSS of a sidecar serving X alone, both after 20 "
        "requests of each of X's workloads to every name (so the pages serving touches — e.g. the whole "
        "embedding table — are resident; code and allocator pools are already resident in both). Weights "
        "are read into private anonymous memory at load (not mapped from the file, since issue 13), so "
        "they count as RssAnon along with the heap (catalog id map, precomputed caches, scratch); "
        "RssFile is code and shared libraries.")
    add("")
    add("| model | weights file | ΔRSS per version | ΔRssFile | ΔRssAnon | precomputed caches (stated separately) "
        "| of which id map (est.) | (ΔRSS − caches) ÷ weights |")
    add("|---|---:|---:|---:|---:|---|---:|---:|")
    mem_ratios = {}
    for name, e in mem.items():
        caches = sum(e["precomputed_caches_bytes"].values())
        dr = e["delta_bytes"]
        mem_ratios[name] = (dr["VmRSS"] - caches) / e["weights_bytes"]
        cache_text = ", ".join(f"{k2} {v2 / 1e6:.2f} MB" for k2, v2 in e["precomputed_caches_bytes"].items()) or "none"
        add(f"| `{name}` | {e['weights_bytes'] / 1e6:.2f} MB | {dr['VmRSS'] / 1e6:.2f} MB | {dr['RssFile'] / 1e6:.2f} MB "
            f"| {dr['RssAnon'] / 1e6:.2f} MB | {cache_text} | {e['id_map_estimate_bytes'] / 1e6:.2f} MB "
            f"| {mem_ratios[name]:.2f} |")
    add("")
    add("The id map (external item id → row, PluginAPI's `ItemRowTable`: open addressing, 4-byte buckets "
        "holding the row and a fingerprint, a power of two at most 80 % full) is counted against the version, not stated separately.")
    add("")

    # ------------------------------------------------------------------- targets
    add("## Targets (issue 9)")
    add("")
    add("| target | measured | met |")
    add("|---|---|:-:|")

    def row(text, value, ok):
        add(f"| {text} | {value} | {'yes' if ok else '**no**'} |")

    for name in SMALL:
        if name in summary:
            s = summary[name]
            row(f"`{name}` QPS at p99 ≤ 10 ms ≥ 5× the better peer", f"{fmt_ratio(s['vs_peer'])} "
                f"({fmt_qps(s['sidecar'])} vs {SERVER_LABEL[s['best_peer']]} {fmt_qps(s['peer'])})",
                s["vs_peer"] is not None and s["vs_peer"] >= 5)
    if "mlp" in summary:
        s = summary["mlp"]
        row("`mlp` ≥ 3× the better peer", f"{fmt_ratio(s['vs_peer'])} ({fmt_qps(s['sidecar'])} vs "
            f"{SERVER_LABEL[s['best_peer']]} {fmt_qps(s['peer'])})", s["vs_peer"] is not None and s["vs_peer"] >= 3)
    for name in CATALOG:
        if name in summary:
            s = summary[name]
            row(f"`{name}` (full catalog, open-loop concurrent load) ≥ 5× the better peer",
                f"{fmt_ratio(s['vs_peer'])} ({fmt_qps(s['sidecar'])} vs {SERVER_LABEL[s['best_peer']]} "
                f"{fmt_qps(s['peer'])})", s["vs_peer"] is not None and s["vs_peer"] >= 5)
    if "echo" in summary:
        s = summary["echo"]
        row("`echo` ≥ 80 % of the bare grpc++ echo server's QPS",
            f"{s['vs_floor']:.0%} ({fmt_qps(s['sidecar'])} vs {fmt_qps(s['floor'])})" if s["vs_floor"] else "–",
            s["vs_floor"] is not None and s["vs_floor"] >= 0.8)
    row("MLP layers ≥ 70 % of the large-sgemm rate (whole plugin call, executed FLOPs)",
        f"{mlp_plugin_gflops / sgemm:.0%} ({mlp_plugin_gflops:.1f} of {sgemm:.1f} GFLOP/s; the layers' GEMMs "
        f"alone {chain['gflops'] / sgemm:.0%})", mlp_plugin_gflops >= 0.7 * sgemm)
    row("Unbatched catalog GEMV ≥ 70 % of measured copy bandwidth (GEMV on the mapped weights vs. copy at "
        "the same footprint)",
        f"{gemv_best / copy_same:.0%} ({gemv_best:.1f} vs {copy_same:.1f} GB/s; vs DRAM-sized copy "
        f"{gemv_best / copy_dram:.0%}; ÷ same-footprint *read* bandwidth {gemv_best / read_same if read_same else 0:.0%}; "
        f"whole plugin call ÷ copy {plugin_gemv_gbs / copy_same:.0%})" if copy_same else "–",
        bool(copy_same) and gemv_best >= 0.7 * copy_same)
    worst = max(mem_ratios.items(), key=lambda kv: kv[1]) if mem_ratios else None
    if worst:
        loose = {n: mem_ratios[n] - mem[n]["id_map_estimate_bytes"] / mem[n]["weights_bytes"] for n in mem_ratios}
        row("RSS per loaded model version ≤ 1.2× its weight file (+ precomputed caches stated separately)",
            ", ".join(f"`{n}` {x:.2f}×" for n, x in mem_ratios.items())
            + " (with the id map also stated separately: "
            + ", ".join(f"`{n}` {x:.2f}×" for n, x in loose.items()) + ")",
            all(x <= 1.2 for x in mem_ratios.values()))
    add("")
    limits = unmet_limits(summary, cpu_per_request, k)
    if limits:
        add("### What limits the targets not met")
        add("")
        for line in limits:
            add(f"- {line}")
        add("")
    add("“Small workloads” is read as the candidate-scoring workloads besides `mlp`: `dqn` (200 candidates), "
        "`lstm_500` and `sasrec_500`. `echo` is compared with the floor; its ratio to the peers (Python "
        "grpcio overhead alone) is in the main table.")
    add("")

    # ------------------------------------------------------------------ agreement
    add("## Do the servers compute the same thing?")
    add("")
    add(f"Before the sweeps, the first {next(iter(r['agreement'].values()))['torch']['requests']} requests of each "
        "workload go to the sidecar and both peers; the top-k item ids must be identical and the scores close:")
    add("")
    add("| workload | PyTorch peer | ONNX Runtime peer |")
    add("|---|---|---|")
    for name, e in r["agreement"].items():
        add(f"| `{name}` | " + " | ".join(
            f"{'same top-k' if e[p]['same_top_k'] else '**top-k differs**'}, max Δscore {e[p]['max_abs_score_diff']:.1e}"
            for p in ("torch", "onnx")) + " |")
    add("")
    onnx = prepared["onnx"]
    add("ONNX export check (bench/prepare.py, ONNX Runtime vs. the PyTorch module on one benchmark request): "
        + ", ".join(f"`{n}` {o['max_abs_diff_vs_torch']:.1e}" for n, o in onnx.items()) + ".")
    add("")

    # ------------------------------------------------------------------ set-up
    add("## What ran")
    add("")
    add("**Models** (bench store `out/bench/store`, loaded by all three model servers from the same files):")
    add("")
    for name, e in prepared["models"].items():
        shapes = e["shapes"]
        emb = shapes.get("item_emb.weight")
        add(f"- `{name}` ({e['kind']}): {e['source']}; {e['num_items']:,} items"
            + (f", d = {emb[1]}" if emb else "") + f", weights {e['weights_bytes'] / 1e6:.2f} MB"
            + (f"; {e['note']}" if e.get("note") else "") + ".")
    add("")
    add("**Requests** (200 per set, cycled): " + prepared["logs"] + ".")
    add("")
    for name, s in prepared["request_sets"].items():
        users = f"{s['users']} users" if s.get("users") else ""
        add(f"- `{name}`: history {s['history_lengths'][0]}–{s['history_lengths'][2]} events, "
            f"{s['candidates'] or 'no'} candidates{' (whole catalog)' if not s['candidates'] else ''}, "
            f"top_k {s['top_k']}, context {s['context_dim']}, features/candidate {s['feature_dim']}, "
            f"{users}, ~{s['bytes_per_request']:,} bytes of JSON per request.")
    add("")
    st = r["settings"]
    waited = sum(sw.get("waited_for_quiet_s", 0) for w in sweeps.values() for sw in w.values())
    add("**Servers**, each started once and kept running through the sweeps:")
    add("")
    add("- *sidecar*: the release `recsys-sidecar` with every plugin, `--poll-interval 0`, admin API off; the "
        "`echo` plugin (plugins/Echo) returns the first top_k candidates unscored (score = −index, "
        "propensity 1, no unknown-candidate check): a floor measurement of our own overhead (gRPC, shim, "
        "routing, registry, plugin call, response), not a model.")
    add("- *floor*: tools/loadgen/echo_server.cc, a bare grpc++ callback server answering like the echo plugin "
        "(same proto, same grpc++ build, no routing, no plugin): the transport floor.")
    add(f"- *PyTorch peer*: bench/peers/torch_peer.py, grpcio with {st.get('peer_workers')} handler threads, the "
        "reference modules of tools/recsys_ref/models.py loaded from the store, eager, `torch.inference_mode()`, "
        "`torch.set_num_threads(1)` (requests are the parallelism on 2 cores shared with the load generator), "
        "`torch.topk` for whole-catalog requests.")
    add(f"- *ONNX Runtime peer*: bench/peers/onnx_peer.py, same front end, the modules exported with "
        "`torch.onnx.export` (bench/onnx_export.py; whole-catalog graphs end in TopK), sessions with 1 intra-op "
        "and 1 inter-op thread, all graph optimisations.")
    add("- Both peers share bench/peers/common.py (NumPy id → row mapping, last-L history, unknown candidates), "
        "so they differ from each other only in model execution.")
    add("")
    add(f"**Load generator** (tools/loadgen/loadgen.cc): grpc++ async generic stub, a sender thread and a "
        f"completion-queue thread, {st.get('channels')} TCP connections, requests serialized once up front. "
        "Closed loop: N calls in flight. Open loop: a fixed schedule of send times (the sender sleeps to each "
        "one with 1 ns timer slack; its lateness is reported as send lag); latency = completion − intended "
        "send time (coordinated omission counted; calls scheduled but never sent count as errors). Latencies go into a "
        "log-linear histogram with HdrHistogram semantics (tools/loadgen/histogram.h, ≤ 0.2 % value error; "
        "Debian 12 packages HdrHistogram only for Go and Java). Each open-loop point measures "
        f"{st.get('seconds')} s after {st.get('warmup')} s of warm-up; deadline 1 s per call. "
        "The load generator shares the 2 cores with the server under test — the same for every server.")
    add("")
    add("**Sweep**: a closed-loop probe (8 in flight) gives capacity C; open-loop points at 0.2 C, 0.5 C, "
        "0.8 C, 1.0 C, 1.2 C, … until one fails (or 0.2 C, 0.08 C, … when 0.5 C fails), then up to three "
        "points bisecting (geometric mean) between the best passing and the first failing rate above it "
        "while they are > 8 % apart. A failing point "
        "that was not plainly overloaded (≥ 80 % of the offered rate achieved) is measured twice and the "
        "better run kept, at most twice per sweep (background load only ever makes a run worse). The floor "
        "(echo server) gets the shape sweep's short search with two bisections: its capacity varies little. "
        "The servers of one workload run back to back in "
        "an order that rotates between workloads. Before each sweep the harness waits (at most "
        f"{float(st.get('quiet_wait', 0)):.0f} s per run in all) while other tenants keep more than "
        f"{st.get('quiet_cores')} cores busy; this run waited {waited:.0f} s.")
    add("")
    add("Reproduce: `make bench`: the Swift build, the bench venv (torch, onnxruntime from PyPI) and the C++ "
        "tools in parallel, then bench/prepare.py (stores, request sets, ONNX exports), the measurements and "
        "this report; the time of the whole command is stated at the top. Raw results: "
        "`out/bench/results.json` (not committed).")
    add("")
    (a.docs / "benchmarks.md").write_text("\n".join(lines))
    print(f"[report] wrote {a.docs / 'benchmarks.md'} and {len(workloads)} plots", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
