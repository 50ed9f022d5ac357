#!/usr/bin/env python3
"""What explain=true costs (issue 17): p50 of an explained top-10 Recommend vs a plain one.

The demo store's sasrec (d 64, 2 blocks, 2 heads, L 50) over its whole 20 000-item catalog, each
request with 50 known history events (users drawn from the catalog with a fixed seed). One call in
flight; plain and explained calls interleaved (pairs, the order alternating) so both see the same
neighbours on a shared machine. Client-side wall time per call over a local channel.

    make build venv
    .venv/bin/python bench/explain_cost.py [--calls 300] [--model sasrec]
"""
import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/e2e"))
from conftest import Sidecar, recommender_pb2 as pb  # noqa: E402
from store_tools import read_version  # noqa: E402


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1e3, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls of each kind")
    parser.add_argument("--model", default="sasrec")
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--users", type=int, default=50, help="distinct histories, cycled")
    parser.add_argument("--out", type=pathlib.Path, help="write the figures as JSON here too")
    args = parser.parse_args()

    _, tensors = read_version(ROOT / "demo/store" / args.model / "1")
    catalog = tensors["item_ids"]
    rng = np.random.default_rng(17)
    histories = [[pb.Event(item_id=int(i), type=int(t)) for i, t in
                  zip(rng.choice(catalog, size=args.history), rng.integers(0, 4, size=args.history))]
                 for _ in range(args.users)]

    sidecar = Sidecar(ROOT / "demo/store", default_model=args.model)
    try:
        def call(history, explain):
            request = pb.RecommendRequest(model=args.model, history=history, top_k=args.top_k, explain=explain)
            started = time.perf_counter()
            reply = sidecar.stub.Recommend(request, timeout=30)
            elapsed = time.perf_counter() - started
            assert len(reply.items) == args.top_k
            assert all(item.because for item in reply.items) == explain or not explain
            return elapsed

        for history in histories[:10]:  # warm-up: page in the weights, grpc's first calls
            call(history, False)
            call(history, True)
        plain, explained = [], []
        for index in range(args.calls):
            history = histories[index % len(histories)]
            if index % 2 == 0:
                plain.append(call(history, False))
                explained.append(call(history, True))
            else:
                explained.append(call(history, True))
                plain.append(call(history, False))
    finally:
        sidecar.stop()

    result = dict(model=args.model, history=args.history, top_k=args.top_k, calls=args.calls,
                  plain_ms={q: percentile(plain, q) for q in (50, 90, 99)},
                  explained_ms={q: percentile(explained, q) for q in (50, 90, 99)})
    result["p50_ratio"] = result["explained_ms"][50] / result["plain_ms"][50]
    result["p50_added_ms"] = result["explained_ms"][50] - result["plain_ms"][50]
    print(f"{args.model}, whole catalog ({len(catalog)} items), history {args.history}, top_k {args.top_k}, "
          f"{args.calls} calls each, one in flight, interleaved")
    print(f"{'':10s} {'p50 ms':>8s} {'p90 ms':>8s} {'p99 ms':>8s}")
    for name, values in (("plain", result["plain_ms"]), ("explained", result["explained_ms"])):
        print(f"{name:10s} {values[50]:8.3f} {values[90]:8.3f} {values[99]:8.3f}")
    print(f"explained / plain at p50: {result['p50_ratio']:.2f}x (+{result['p50_added_ms']:.3f} ms)")
    print(f"mean plain {statistics.mean(plain) * 1e3:.3f} ms, explained {statistics.mean(explained) * 1e3:.3f} ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
