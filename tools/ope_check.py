#!/usr/bin/env python3
"""Off-policy evaluation with the real sidecar: is the candidate's estimate from exploring logs
within its 95 % interval of the candidate's true CTR? (issue 15's coverage check)

Per seed: a simulated world of users who click item a at position k with a known probability
attraction(user, a) x examination(k) (the position-based click model, so the independent
item-position estimators are unbiased); a sidecar whose experiment serves the demo store's `dqn`
with exploration `--epsilon` (the logging policy) and shadows `popularity` (the candidate) with
ope_sample_percent 100. The tool sends --requests Recommend calls from random users, reports each
click as Feedback, stops the sidecar (flushing its logs), runs `recsysctl experiments evaluate`
on the exposure and feedback logs, and then measures the candidate's true CTR by serving it
(`model: popularity`) to every user once and averaging the known click probabilities of what it
served. An interval covers when low <= true CTR <= high.

    .venv/bin/python tools/ope_check.py --sidecar .build/release/recsys-sidecar \\
        --recsysctl .build/release/recsysctl --plugins .build/plugins --seeds 20

With --epsilon 0 the logging policy never explores, and the tool expects `evaluate` to report
missing support instead of a number. Needs grpcio (the e2e venv). Exit status 0 when the coverage
of --estimator reaches --min-coverage (or, with epsilon 0, every seed reports missing support).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile

from proto_stubs import generate_stubs  # noqa: E402  (tools/, this script's folder)
from recsys_tools import free_port  # noqa: E402
from recsys_tools.sidecar import SidecarProcess  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEMO_STORE = ROOT / "demo/store"
LOGGING_MODEL = "explorer"  # the demo dqn, served with the simulation's epsilon
CANDIDATE = "popularity"
CANDIDATES = [100000 + 7 * i for i in range(10)]  # every request ranks these (N = 10)
HISTORY_POOL = [100000 + 7 * i for i in range(100)]
CONTEXT = [0.0, 1.0, 0.0, 1.0]
ESTIMATORS = ("ips", "snips", "dr")


class World:
    """Users with fixed histories and known click probabilities per item and position."""

    def __init__(self, seed: int, users: int, slots: int):
        rng = random.Random(f"{seed}:world")
        self.users = users
        self.histories = [[rng.choice(HISTORY_POOL) for _ in range(5)] for _ in range(users)]
        # A few user segments with their own taste: attraction in [0.02, 0.6].
        segments = [{item: rng.uniform(0.02, 0.6) for item in CANDIDATES} for _ in range(4)]
        self.attraction = [segments[user % len(segments)] for user in range(users)]
        self.examination = [1.0 / (1 + k) ** 0.7 for k in range(slots)]

    def click_probability(self, user: int, item: int, position: int) -> float:
        return self.attraction[user].get(item, 0.0) * self.examination[position]

    def expected_ctr(self, user: int, items) -> float:
        """Clicks per shown position that a slate gets from this user, in expectation."""
        return sum(self.click_probability(user, item, k) for k, item in enumerate(items)) / max(len(items), 1)


def write_store(directory: pathlib.Path, epsilon: float):
    """The demo dqn as `explorer` with this epsilon (same weights, so the same sha256), and popularity."""
    dqn = DEMO_STORE / "dqn/1"
    target = directory / LOGGING_MODEL / "1"
    target.mkdir(parents=True)
    shutil.copy(dqn / "weights.safetensors", target / "weights.safetensors")
    manifest = json.loads((dqn / "model.json").read_text())
    (target / "model.json").write_text(json.dumps(dict(manifest, epsilon=epsilon)))
    shutil.copytree(DEMO_STORE / "popularity", directory / CANDIDATE)


def write_experiments(path: pathlib.Path, sample_percent: float):
    path.write_text(f"""default_model: {LOGGING_MODEL}
experiments:
  - key: ope-sim
    salt: "1"
    arms:
      - {{name: explorer, model: {LOGGING_MODEL}, weight: 100}}
    shadow: {CANDIDATE}
    ope_sample_percent: {sample_percent}
""")


class Sidecar:
    def __init__(self, binary, plugins, store, experiments, logs: pathlib.Path):
        self.address, self.admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        self.exposures, self.feedback = logs / "exposures.jsonl", logs / "feedback.jsonl"
        self.running = SidecarProcess(
            [binary, "--listen", self.address, "--admin-listen", self.admin, "--metrics-listen", "",
             "--store", str(store), "--plugins", str(plugins), "--default-model", LOGGING_MODEL,
             "--poll-interval", "0", "--experiments", str(experiments), "--exposure-log", str(self.exposures),
             "--feedback-log", str(self.feedback)],
            logs / "sidecar.log")

    def wait_serving(self, stub, pb, timeout=60.0):
        self.running.wait_until(lambda: bool(stub.Recommend(pb.RecommendRequest(
            candidate_item_ids=CANDIDATES, top_k=1, context=CONTEXT, model=CANDIDATE), timeout=2)), timeout, poll=0.1)

    def stop(self):
        """SIGTERM: the sidecar drains and writes out its logs before it exits."""
        self.running.stop(timeout=60)


def run_seed(args, seed: int, work: pathlib.Path, epsilon: float) -> dict:
    """One simulated day of logs, the offline evaluation, and the candidate's true CTR."""
    generate_stubs()
    import grpc
    from recsys.v1 import recommender_pb2 as pb, recommender_pb2_grpc

    work.mkdir(parents=True, exist_ok=True)
    write_store(work / "store", epsilon)
    write_experiments(work / "experiments.yaml", 100)
    world = World(seed, args.users, args.top_k)
    sidecar = Sidecar(args.sidecar, args.plugins, work / "store", work / "experiments.yaml", work)
    rng = random.Random(f"{seed}:traffic")
    shown_positions = clicks = 0
    truth = []
    try:
        with grpc.insecure_channel(sidecar.address) as channel:
            stub = recommender_pb2_grpc.RecommenderStub(channel)
            sidecar.wait_serving(stub, pb)

            def request(user, **fields):
                history = [pb.Event(item_id=item, type=pb.VIEW, timestamp_ms=1_700_000_000_000 + i)
                           for i, item in enumerate(world.histories[user])]
                return pb.RecommendRequest(user_id=f"sim-user-{user}", history=history, candidate_item_ids=CANDIDATES,
                                           context=CONTEXT, top_k=args.top_k, **fields)

            for index in range(args.requests):
                user = rng.randrange(world.users)
                reply = stub.Recommend(request(user, request_id=f"ope-{seed}-{index}"), timeout=10)
                for k, item in enumerate(reply.items):
                    shown_positions += 1
                    if rng.random() < world.click_probability(user, item.item_id, k):
                        clicks += 1
                        stub.Feedback(pb.FeedbackRequest(request_id=reply.request_id, item_id=item.item_id,
                                                         type=pb.CLICK), timeout=10)
            # The truth: serve the candidate to every user (the population the requests come from).
            for user in range(world.users):
                reply = stub.Recommend(request(user, model=CANDIDATE), timeout=10)
                truth.append(world.expected_ctr(user, [item.item_id for item in reply.items]))
    finally:
        sidecar.stop()
    evaluation = subprocess.run(
        [args.recsysctl, "experiments", "evaluate", "--exposures", str(sidecar.exposures), "--feedback",
         str(sidecar.feedback), "--candidate", CANDIDATE, "--json"], capture_output=True, text=True, check=True)
    report = json.loads(evaluation.stdout)
    policies = report["logging_policies"]
    policy = policies[0] if policies else {}
    true_ctr = sum(truth) / len(truth)
    result = {"seed": seed, "epsilon": epsilon, "true_ctr": true_ctr, "logged_ctr": clicks / max(shown_positions, 1),
              "requests": int(policy.get("requests", 0)), "ess": float(policy.get("effective_sample_size", 0)),
              "warning": policy.get("warning", "")}
    for key in ESTIMATORS:
        estimate = policy.get(key)
        result[key] = estimate
        result[f"{key}_covers"] = bool(estimate) and estimate["low"] <= true_ctr <= estimate["high"]
    return result


def describe(result: dict) -> str:
    line = (f"seed {result['seed']:>3}  eps {result['epsilon']:.2f}  evaluated {result['requests']:>5} requests  "
            f"ESS {result['ess']:>7.1f}  logging CTR {result['logged_ctr']:.4f}  candidate true CTR "
            f"{result['true_ctr']:.4f}")
    for key in ESTIMATORS:
        estimate = result[key]
        if estimate:
            mark = "covers" if result[f"{key}_covers"] else "MISSES"
            line += f"\n      {key:<5} {estimate['value']:.4f} [{estimate['low']:.4f}, {estimate['high']:.4f}] {mark}"
        else:
            line += f"\n      {key:<5} no estimate"
    if result["warning"]:
        line += f"\n      ! {result['warning']}"
    return line


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sidecar", default=str(ROOT / ".build/release/recsys-sidecar"))
    parser.add_argument("--recsysctl", default=str(ROOT / ".build/release/recsysctl"))
    parser.add_argument("--plugins", default=str(ROOT / ".build/plugins"))
    parser.add_argument("--seeds", type=int, default=20, help="independent simulated days (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=3000, help="logged Recommend calls per seed (default 3000)")
    parser.add_argument("--users", type=int, default=300, help="simulated users (default 300)")
    parser.add_argument("--top-k", type=int, default=3, help="slate length (default 3)")
    parser.add_argument("--epsilon", type=float, default=0.3, help="the logging dqn's exploration (default 0.3)")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="dr", help="whose coverage decides (default dr)")
    parser.add_argument("--min-coverage", type=float, default=0.9)
    parser.add_argument("--work", type=pathlib.Path, help="keep the logs here (default: a temporary folder)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="ope-check-"))
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        results.append(run_seed(args, seed, work / f"seed-{seed}", args.epsilon))
        print(describe(results[-1]), flush=True)
    if args.epsilon == 0:
        missing = sum(1 for r in results if r["warning"].startswith("missing support") and not r[args.estimator])
        print(f"epsilon 0: {missing} of {len(results)} seeds report missing support and no estimate")
        ok = missing == len(results)
    else:
        print("coverage of the candidate's true CTR by the 95 % interval:")
        for key in ESTIMATORS:
            covered = sum(1 for r in results if r[f"{key}_covers"])
            print(f"  {key:<5} {covered} of {len(results)} seeds ({covered / len(results):.0%})")
        ok = sum(1 for r in results if r[f"{args.estimator}_covers"]) >= args.min_coverage * len(results)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
