#!/usr/bin/env python3
"""What the Redis experiment state costs the request path (issue 14: "Recommend never waits on Redis").

Same machine, same run: two sidecars serve the same store and the same experiments file (one
fixed 50/50 experiment that takes every request), with the exposure log off in both:

    P  experiment_state "" (in-process: the ledger alone)
    R  experiment_state redis://... (a real redis-server started here, --save '' --appendonly no):
       every response's impression delta and slate go to Redis from the background worker

A closed-loop probe (8 in flight) of P gives its capacity; then --rounds rounds, each running P and
R (order alternating) in open loop at --fraction (default 50 %) of that capacity with tools/loadgen
(latency from the intended send time, HdrHistogram percentiles). Per run: p50, p99, the sidecar's
CPU (utime + stime from /proc) per answered call, and for R also redis-server's CPU per call (the
fleet pays that once, in Redis). After each R run the script waits until the state has written
everything (GetExperiments' pending counts are 0) and checks that Redis counted every answered call.

Needs only the e2e venv (grpcio, numpy, safetensors: `make venv`) and the load generator
(`make bench-tools`). Writes a markdown section (stdout and --out) and the raw runs (--json).
Exit status 1 when a check fails (a call failed, or Redis's impressions differ from the answered calls).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/e2e"))

from conftest import Sidecar  # noqa: E402
from experiment_tools import (CANDIDATES, HISTORY_ITEMS, eventually, experiments_store, status,  # noqa: E402
                              write_experiments)
from fleet_tools import Redis, wait_flushed  # noqa: E402
from test_metrics import parse  # noqa: E402

EXPERIMENT = {"default_model": "base", "experiments": [dict(
    key="bench", salt="1", arms=[dict(name="control", model="alpha", weight=50),
                                 dict(name="treatment", model="beta", weight=50)])]}


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answered(sidecar) -> int:
    return int(sum(value for (name, labels), value in parse(sidecar.metrics()).items()
                   if name == "recsys_requests_total" and ("code", "OK") in labels))


def impressions(sidecar) -> int:
    return sum(arm.impressions for e in status(sidecar).experiments for arm in e.arms)


def write_requests(path: Path, count: int) -> Path:
    with path.open("w") as out:
        for index in range(count):
            out.write(json.dumps({
                "user_id": f"bench-user-{index}", "surface": "home", "candidate_item_ids": [str(i) for i in CANDIDATES],
                "top_k": 5, "history": [{"item_id": str(i), "type": "VIEW"} for i in HISTORY_ITEMS[:3]],
            }) + "\n")
    return path


class Run:
    def __init__(self, a, requests: Path):
        self.a = a
        self.requests = requests

    def loadgen(self, sidecar, *extra) -> dict:
        argv = [str(self.a.loadgen), "--target", sidecar.address, "--requests", str(self.requests), *extra]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen failed: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def measure(self, label, sidecar, redis, *extra) -> dict:
        calls, cpu = answered(sidecar), process_cpu(sidecar.process.pid)
        redis_cpu = process_cpu(redis.process.pid) if redis else 0.0
        result = self.loadgen(sidecar, *extra)
        if label == "R":
            wait_flushed(sidecar)
        calls = answered(sidecar) - calls
        result["label"] = label
        result["answered"] = calls
        result["server_cpu_ms_per_call"] = (process_cpu(sidecar.process.pid) - cpu) * 1000 / max(calls, 1)
        if redis:
            result["redis_cpu_ms_per_call"] = (process_cpu(redis.process.pid) - redis_cpu) * 1000 / max(calls, 1)
        return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadgen", type=Path, default=ROOT / "out/bench/bin/loadgen")
    ap.add_argument("--fraction", type=float, default=0.5, help="offered rate as a fraction of P's capacity")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=ROOT / "out/bench/fleet_overhead.md")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--flush-ms", type=int, default=25, help="R's experiment_state_flush_ms")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="fleet-overhead-"))
    store = experiments_store(work)
    experiments = write_experiments(work / "experiments.yaml", EXPERIMENT)
    requests = write_requests(work / "requests.jsonl", 2000)
    redis = Redis(work / "redis")
    common = ("--experiments", str(experiments))
    sidecars = {
        "P": Sidecar(store, default_model="base", extra_args=common),
        "R": Sidecar(store, default_model="base", extra_args=(*common, "--experiment-state", redis.url,
                                                              "--experiment-state-flush-ms", str(a.flush_ms))),
    }
    run = Run(a, requests)
    failures = []
    runs = []
    try:
        probe = run.measure("P", sidecars["P"], None, "--mode", "closed", "--concurrency", "8", "--duration", "3",
                            "--warmup", "0.5")
        rate = probe["qps"] * a.fraction
        print(f"P closed loop: {probe['qps']:.0f} qps; offering {rate:.0f} qps ({a.fraction:.0%})", file=sys.stderr)
        for index in range(a.rounds):
            for label in (("P", "R") if index % 2 == 0 else ("R", "P")):
                r = run.measure(label, sidecars[label], redis if label == "R" else None, "--mode", "open", "--rate",
                                f"{rate:.3f}", "--duration", str(a.seconds), "--warmup", "0.5", "--drain", "1")
                r["round"] = index
                runs.append(r)
                errors = sum(r.get("errors", {}).values()) if isinstance(r.get("errors"), dict) else r.get("errors", 0)
                if errors:
                    failures.append(f"{label} round {index}: errors {r['errors']}")
                print(f"  round {index} {label}: p50 {r['latency_ms']['p50']:.3f} p99 {r['latency_ms']['p99']:.3f} ms, "
                      f"server {r['server_cpu_ms_per_call']:.3f} ms CPU/call"
                      + (f", redis {r['redis_cpu_ms_per_call']:.3f} ms/call" if "redis_cpu_ms_per_call" in r else ""),
                      file=sys.stderr)
        counted, served = impressions(sidecars["R"]), answered(sidecars["R"])
        if counted != served:
            failures.append(f"R: Redis counted {counted} impressions for {served} answered calls")
    finally:
        for sidecar in sidecars.values():
            sidecar.stop()
        redis.stop()

    def med(label, key, sub=None):
        values = [r[key][sub] if sub else r[key] for r in runs if r["label"] == label]
        return statistics.median(values)

    ratios = []
    for index in range(a.rounds):
        p, r = (next(x for x in runs if x["round"] == index and x["label"] == label) for label in ("P", "R"))
        ratios.append(r["latency_ms"]["p99"] / p["latency_ms"]["p99"])
    lines = [
        "## Redis experiment state vs in-process (issue 14)",
        "",
        f"`bench/fleet_overhead.py` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores shared with other work): one fixed "
        f"50/50 experiment taking every request (30 candidates, top 5, golden mlp), exposure log off; P in-process, R "
        f"with `experiment_state: redis://` to a local redis-server (flush every {a.flush_ms} ms); open loop at {a.fraction:.0%} of P's closed-loop "
        f"capacity ({probe['qps']:.0f} qps -> {rate:.0f} qps offered), {a.rounds} rounds of {a.seconds:g} s, order "
        "alternating.",
        "",
        "| config | p50 ms | p99 ms | sidecar CPU ms/call | redis-server CPU ms/call |",
        "|---|---:|---:|---:|---:|",
        f"| P in-process | {med('P', 'latency_ms', 'p50'):.3f} | {med('P', 'latency_ms', 'p99'):.3f} | "
        f"{med('P', 'server_cpu_ms_per_call'):.3f} | - |",
        f"| R Redis | {med('R', 'latency_ms', 'p50'):.3f} | {med('R', 'latency_ms', 'p99'):.3f} | "
        f"{med('R', 'server_cpu_ms_per_call'):.3f} | {med('R', 'redis_cpu_ms_per_call'):.3f} |",
        "",
        f"p99 R / P per round: {', '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f}). "
        f"Redis counted every answered call of R: {'yes' if not any('Redis counted' in f for f in failures) else 'NO'}.",
        "",
    ] + ([f"Checks failed: {'; '.join(failures)}", ""] if failures else [])
    text = "\n".join(lines)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    (a.json or a.out.with_suffix(".json")).write_text(json.dumps(runs, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
