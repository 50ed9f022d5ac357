"""Soak (issue 13): the serving version's files rewritten in place every ~0.5 s for a while,
under a client loop, must fail no call, crash nothing and leak nothing.

    .venv/bin/python bench/soak_rewrites.py --seconds 60 [--binary ... --plugins ...]

The writer rewrites <store>/mlp/1/{model.json, weights.safetensors} in place (truncate + write,
as `cp` does), alternating two valid contents (the demo mlp and the same with its last bias
shifted) and every fifth time a truncated weights file (which must fail to load while the
previous content keeps serving). Every second it samples the sidecar's RSS (/proc/PID/status)
and open descriptors (/proc/PID/fd). It prints first / last / max of each and exits non-zero
when a call failed, the process died, or RSS or descriptors grew beyond noise: the median of
the last 10 s against the median of the first 10 s may grow by at most two weights files plus
16 MiB (allocator pools, a load in flight), descriptors by at most 4. Both contents must have
served (the swaps happen)."""
import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests/e2e"))
from conftest import Sidecar, recommender_pb2 as pb  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from proc_stats import open_fds, rss_kib  # noqa: E402
from store_tools import publish, read_version, with_bias_shift  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(ROOT / ".build/release/recsys-sidecar"))
    parser.add_argument("--plugins", default=str(ROOT / ".build/plugins"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between rewrites")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import conftest
    conftest.BINARY = args.binary
    manifest, tensors = read_version(ROOT / "demo/store/mlp/1")
    request = json_format.Parse((ROOT / "demo/requests/mlp.json").read_text(), pb.RecommendRequest())
    request.model = "mlp"
    work = pathlib.Path(tempfile.mkdtemp(prefix="soak-rewrites-"))
    # The two contents the writer alternates, published the normal way outside the store.
    contents = []
    for shift in (0.0, 1.0):
        folder = publish(work / "sources", "mlp", len(contents) + 1, manifest, with_bias_shift(tensors, shift))
        contents.append(((folder / "model.json").read_bytes(), (folder / "weights.safetensors").read_bytes()))
    store = work / "store"
    serving = publish(store, "mlp", 1, manifest, tensors)
    weights_kib = len(contents[0][1]) // 1024

    sidecar = Sidecar(store, default_model="mlp", plugins=args.plugins, poll_interval=0.1)
    pid = sidecar.process.pid
    calls, failures, stop = [0], [], threading.Event()
    top_scores = set()  # the two contents score differently: both must have served

    def client():
        while not stop.is_set():
            try:
                reply = sidecar.stub.Recommend(request, timeout=10)
                calls[0] += 1
                top_scores.add(round(reply.items[0].score, 3))
            except Exception as error:  # noqa: BLE001 - every failure is reported
                failures.append(str(error)[:200])

    def writer():
        count = 0
        while not stop.is_set():
            count += 1
            manifest_bytes, weights_bytes = contents[count % 2]
            (serving / "model.json").write_bytes(manifest_bytes)
            if count % 5 == 0:
                weights_bytes = weights_bytes[: len(weights_bytes) // 3]  # truncated: must fail to load
            with open(serving / "weights.safetensors", "wb") as out:  # truncate + write in place
                out.write(weights_bytes)
            rewrites[0] += 1
            stop.wait(args.interval)

    rewrites = [0]
    workers = [threading.Thread(target=client) for _ in range(args.threads)] + [threading.Thread(target=writer)]
    samples = []
    try:
        for worker in workers:
            worker.start()
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            time.sleep(1.0)
            if sidecar.process.poll() is not None:
                break
            samples.append((round(time.monotonic() - start), rss_kib(pid), open_fds(pid)))
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        alive = sidecar.process.poll() is None
        final_status = sidecar.models()["mlp"] if alive else None
        sidecar.stop()
        shutil.rmtree(work, ignore_errors=True)

    rss = [s[1] for s in samples]
    fds = [s[2] for s in samples]
    window = max(1, min(10, len(samples) // 3))
    rss_growth = statistics.median(rss[-window:]) - statistics.median(rss[:window])
    fd_growth = statistics.median(fds[-window:]) - statistics.median(fds[:window])
    rss_limit = 2 * weights_kib + 16 * 1024
    result = {
        "seconds": args.seconds, "rewrites": rewrites[0], "calls": calls[0], "failed_calls": len(failures),
        "alive": alive, "serving_version_at_end": final_status.serving_version if final_status else None,
        "distinct_top_scores_served": len(top_scores), "weights_file_kib": weights_kib,
        "rss_kib": {"first": rss[0], "last": rss[-1], "max": max(rss), "median_growth": rss_growth, "limit": rss_limit},
        "open_fds": {"first": fds[0], "last": fds[-1], "max": max(fds), "median_growth": fd_growth, "limit": 4},
        "failures": failures[:5],
    }
    print(json.dumps(result, indent=2))
    ok = alive and not failures and len(top_scores) >= 2 and rss_growth <= rss_limit and fd_growth <= 4
    print("soak:", "OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
