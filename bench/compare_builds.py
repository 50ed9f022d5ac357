#!/usr/bin/env python3
"""Two builds of the sidecar on the same store and requests, measured in alternating rounds.

For a change that must not move speed (a refactor: "make bench within noise"), comparing two
separate `make bench` runs on a shared machine mostly measures the machine. Here both builds run
side by side on one store (out/bench, from bench/prepare.py), and each round measures A then B (the
order flips every round) with the same load generator: closed loop at 1 and at 8 calls in flight.
The answer is the ratio of medians over the rounds, next to the spread of A against itself.

  python bench/compare_builds.py --a /tmp/base/recsys-sidecar --a-plugins /tmp/base/plugins \
      --b .build/release/recsys-sidecar --b-plugins .build/plugins --workloads echo,mlp
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recsys_tools import free_port

ROOT = Path(__file__).resolve().parent.parent


def start(binary: str, plugins: str, store: Path, log) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [binary, "--listen", f"127.0.0.1:{port}", "--admin-listen", "", "--metrics-listen", "", "--store", str(store),
         "--plugins", plugins, "--default-model", "echo", "--poll-interval", "0", "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT)
    return process, port


def measure(loadgen: str, port: int, requests: Path, model: str, concurrency: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([loadgen, "--target", f"127.0.0.1:{port}", "--requests", str(requests), "--model", model,
                        "--mode", "closed", "--concurrency", str(concurrency), "--duration", str(seconds),
                        "--warmup", "0.5", "--out", out.name], check=True, stdout=subprocess.DEVNULL)
        result = json.loads(Path(out.name).read_text())
    if result["errors"]:
        sys.exit(f"{model} on port {port}: {result['errors']} errors {result['errors_by_code']}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="sidecar binary A (the base)")
    ap.add_argument("--a-plugins", required=True)
    ap.add_argument("--b", required=True, help="sidecar binary B (the change)")
    ap.add_argument("--b-plugins", required=True)
    ap.add_argument("--work", default=str(ROOT / "out/bench"), help="bench/prepare.py's folder")
    ap.add_argument("--loadgen", default=str(ROOT / "out/bench/bin/loadgen"))
    ap.add_argument("--workloads", default="echo,mlp")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", default=None, help="write the rounds and ratios as JSON here")
    a = ap.parse_args()

    work = Path(a.work)
    prepared = json.loads((work / "prepared.json").read_text())
    workloads = {w["name"]: w for w in prepared["workloads"]}
    wanted = [workloads[name] for name in a.workloads.split(",")]
    with open(work / "compare_builds.log", "a") as log:
        servers = {"A": start(a.a, a.a_plugins, work / "store", log), "B": start(a.b, a.b_plugins, work / "store", log)}
        time.sleep(3)
        rows, report = [], {}
        try:
            for w in wanted:
                requests = work / "requests" / f"{w['request_set']}.jsonl"
                for concurrency in (1, 8):
                    samples = {"A": [], "B": []}
                    for r in range(a.rounds):
                        for name in (("A", "B") if r % 2 == 0 else ("B", "A")):
                            result = measure(a.loadgen, servers[name][1], requests, w["model"], concurrency, a.seconds)
                            key = "p50" if concurrency == 1 else "qps"
                            samples[name].append(result["latency_ms"]["p50"] if key == "p50" else result["qps"])
                    key = "p50 ms" if concurrency == 1 else "QPS"
                    median_a, median_b = statistics.median(samples["A"]), statistics.median(samples["B"])
                    spread_a = (max(samples["A"]) - min(samples["A"])) / median_a
                    rows.append(f"| `{w['name']}` | {concurrency} | {key} | {median_a:,.3f} | {median_b:,.3f} | "
                                f"{median_b / median_a:.3f} | ±{spread_a / 2:.1%} |")
                    report[f"{w['name']}@{concurrency}"] = {"metric": key, "A": samples["A"], "B": samples["B"],
                                                            "ratio_b_over_a": median_b / median_a}
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)
    print(f"{a.rounds} alternating rounds of {a.seconds:g} s each, closed loop (A = {a.a}, B = {a.b})\n")
    print("| workload | in flight | metric | A median | B median | B ÷ A | A's own spread (half range) |")
    print("|---|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
