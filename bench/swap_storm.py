"""Benchmark: latency while a model is swapped 20 times vs. while it is not, in one run,
and the sidecar's memory before and after the swaps.

    make bench-swaps          (or: .venv/bin/python bench/swap_storm.py --binary ... --plugins ...)

Closed loop, N client threads on this machine; the figure that matters is the ratio of
the two phases, measured back to back under the same load."""
import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/e2e"))
from conftest import Sidecar, recommender_pb2 as pb  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from proc_stats import rss_kib  # noqa: E402
from store_tools import delete_version, publish, read_version, with_bias_shift  # noqa: E402


def closed_loop(sidecar, request, seconds, threads, during=None):
    latencies, errors, stop = [], [0], threading.Event()

    def client():
        while not stop.is_set():
            start = time.perf_counter()
            try:
                sidecar.stub.Recommend(request, timeout=5)
                latencies.append(time.perf_counter() - start)
            except Exception:  # noqa: BLE001 - counted, not raised
                errors[0] += 1

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    if during:
        during()
    else:
        time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    ms = np.array(latencies) * 1000
    return {"calls": len(latencies), "errors": errors[0], "qps": len(latencies) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(ROOT / ".build/release/recsys-sidecar"))
    parser.add_argument("--plugins", default=str(ROOT / ".build/plugins"))
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--swaps", type=int, default=20)
    args = parser.parse_args()

    import conftest
    conftest.BINARY = args.binary
    source = ROOT / "demo/store" / args.model / "1"
    manifest, tensors = read_version(source)
    request = json_format.Parse((ROOT / f"demo/requests/{args.model}.json").read_text(), pb.RecommendRequest())
    request.model = args.model
    work = pathlib.Path(tempfile.mkdtemp(prefix="swap-storm-"))
    store = work / "store"
    publish(store, args.model, 1, manifest, tensors)
    sidecar = Sidecar(store, default_model=args.model, plugins=args.plugins, poll_interval=0.1)
    try:
        closed_loop(sidecar, request, 2, args.threads)  # warm the client and server paths
        rss_before = rss_kib(sidecar.process.pid)
        quiet = closed_loop(sidecar, request, args.seconds, args.threads)

        def storm():
            interval = args.seconds / args.swaps
            for version in range(2, args.swaps + 2):
                publish(store, args.model, version, manifest, with_bias_shift(tensors, version))
                time.sleep(interval)
                if version > 3:
                    delete_version(store, args.model, version - 2)

        stormy = closed_loop(sidecar, request, args.seconds, args.threads, during=storm)
        time.sleep(0.5)
        served = sidecar.models()[args.model].serving_version
        rss_after = rss_kib(sidecar.process.pid)
    finally:
        sidecar.stop()
        shutil.rmtree(work, ignore_errors=True)
    weights_kib = (source / "weights.safetensors").stat().st_size // 1024
    result = {
        "model": args.model, "threads": args.threads, "seconds_per_phase": args.seconds, "swaps": args.swaps,
        "without_swaps": quiet, "during_swaps": stormy,
        "p99_ratio_swaps_vs_quiet": stormy["p99_ms"] / quiet["p99_ms"],
        "served_version_after": served, "rss_kib_before": rss_before, "rss_kib_after": rss_after,
        "weights_file_kib": weights_kib,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
