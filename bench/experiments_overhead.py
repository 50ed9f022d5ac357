#!/usr/bin/env python3
"""What A/B experiments, the exposure log and shadow scoring cost in latency (issue: "Shadow and
exposure logging add no more than noise to p99; the exposure log loses nothing under normal load
and counts drops under overload").

Same machine, same run, one sidecar process per configuration (all started up front, all serving
the same store: the demo store's models plus `<model>_b`, a byte-for-byte copy of the workload's
model, so B and C have two real arms of the same kind):

    A  no experiments: requests name no model, the default model serves (the baseline)
    L  A plus --exposure-log (the log's own cost, without experiments)
    B  --experiments: one experiment, no match conditions (takes every request), fixed 50/50
       between two arms serving <model> (--second-arm copy: <model> and <model>_b, which also
       doubles the weights the caches hold); plus --exposure-log to a temporary file
    C  B plus `shadow: <another model>` on that experiment (low-priority background scoring)

Requests are the bench request sets of bench/prepare.py (out/bench/requests; the mlp workload's
rank500: 500 candidates, history 50), each with the user id the experiment enrolls by (a set
without user ids is rewritten with synthetic ones). The load generator is tools/loadgen in open
loop (latency from the intended send time, so coordinated omission is counted; HdrHistogram
percentiles).

Procedure: a closed-loop probe (8 in flight) of each configuration gives its capacity; the offered
rates are 50 % and 80 % of A's. Then --rounds rounds, each running every configuration at every
rate, the order of the configurations rotating from round to round (A L B C, L B C A, ...), so
drift and neighbours' bursts fall on all of them alike; ratios are taken within a round. After each
run the script waits until the exposure log and the shadow queue have caught up, and reads the
counters: the sidecar's `recsys_requests_total{code="OK"}` (answered calls, from /metrics) and
GetExperiments (admin RPC: exposure log written/dropped, shadow compared/dropped/failed, arm
impressions), as deltas over the run.

Overload check, on --overload-model (default echo, bench/prepare.py's item-ids-only model: the
sidecar's cheapest path, so the highest exposure rate at which p99 still means something; arms
echo/echo_b): B with the default exposure queue, B with `--exposure-log-queue 16` (Q16) and A,
interleaved, at the first of --overload-fractions x A's capacity (then the next, until Q16 drops):
Q16 must count drops (dropped > 0) with written + dropped == answered in every run, and its p99 is
compared with B's and A's at the same rate. Every exposure file must hold exactly the lines counted
as written.

Exit status 1 when a check fails (latency ratios are reported, not judged: on a shared machine
"within noise" is for the reader to weigh against the spreads printed beside them).

Writes a markdown section (stdout and --out) and the raw results (--json).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from proto_stubs import generate_stubs  # noqa: E402
from recsys_tools import newest_version  # noqa: E402
from run import Bench, Server, cpu_seconds, free_port, loadavg, log  # noqa: E402  (bench/run.py)

# Per workload (bench/workloads/*.json): the shadow, another model of the demo store that accepts
# the workload's requests. With --second-arm copy the second arm is a copy of the workload's model,
# named <model>_b.
SHADOW = {"mlp": "dqn", "dqn": "lstm"}
EXPERIMENT_KEY = "overhead-ab"
CONFIGS = ("A", "L", "B", "C")
LOGGED = ("L", "B", "C")


# ----------------------------------------------------------------------------- set-up


def admin_stubs(work: Path):
    """Python stubs of protos/ (as Tests/e2e/conftest.py makes them), imported from a temp folder."""
    generate_stubs(tempfile.mkdtemp(prefix="stubs-", dir=work))
    from recsys.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402

    return admin_pb2, admin_pb2_grpc


def make_store(folder: Path, links: dict[str, Path], copies: dict[str, Path]) -> Path:
    """A store of model folders symlinked from elsewhere (`links`: name -> model folder) and
    byte-for-byte copies of a model's newest version under another name (`copies`: name -> model
    folder), so a copy is a model of its own, with its own files and memory."""
    store = folder / "store"
    store.mkdir(parents=True)
    for name, source in links.items():
        (store / name).symlink_to(source.resolve(), target_is_directory=True)
    for name, source in copies.items():
        version = newest_version(source)
        (store / name / version.name).mkdir(parents=True)
        for file in version.iterdir():
            shutil.copyfile(file, store / name / version.name / file.name)
    return store


def experiments_yaml(model: str, second: str, shadow: str | None) -> str:
    lines = [
        "# bench/experiments_overhead.py: every request (no match conditions) split 50/50 by user.",
        f"default_model: {model}",
        "experiments:",
        f"  - key: {EXPERIMENT_KEY}",
        '    salt: "bench"',
        "    mode: fixed",
        "    arms:",
        f"      - {{name: control, model: {model}, weight: 50}}",
        f"      - {{name: copy, model: {second}, weight: 50}}",
    ]
    if shadow:
        lines.append(f"    shadow: {shadow}")
    return "\n".join(lines) + "\n"


def with_user_ids(path: Path, out_dir: Path) -> tuple[Path, dict]:
    """The request set itself when every request has a user id; else a copy with synthetic ids
    (one per request) so the experiment enrolls them."""
    requests = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    users = [r.get("userId", "") for r in requests]
    info = {"requests": len(requests), "with_user_id": sum(1 for u in users if u), "distinct_users": len(set(users))}
    if all(users):
        return path, info | {"rewritten": False}
    for index, request in enumerate(requests):
        if not request.get("userId"):
            request["userId"] = f"bench-user-{index:05d}"
    copy = out_dir / f"{path.stem}-with-users.jsonl"
    copy.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in requests))
    info["distinct_users"] = len({r["userId"] for r in requests})
    return copy, info | {"rewritten": True}


class Sidecar:
    """One recsys-sidecar configuration: its serving, admin and metrics ports, and its counters."""

    def __init__(self, label: str, a, store: Path, logs: Path, default_model: str, stubs,
                 experiments: Path | None = None, exposure_log: Path | None = None, queue: int | None = None):
        self.label, self.experiments, self.exposure_log = label, experiments, exposure_log
        self.admin_pb2, admin_grpc = stubs
        port, self.admin_port, self.metrics_port = free_port(), free_port(), free_port()
        argv = [str(a.sidecar), "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{self.admin_port}",
                "--metrics-listen", f"127.0.0.1:{self.metrics_port}", "--store", str(store),
                "--plugins", str(a.plugins), "--default-model", default_model, "--poll-interval", "0",
                "--log-level", "warning"]
        if experiments:
            argv += ["--experiments", str(experiments)]
        if exposure_log:
            argv += ["--exposure-log", str(exposure_log)]
        if queue:
            argv += ["--exposure-log-queue", str(queue)]
        self.argv = argv
        self.server = Server(f"experiments-{label}", argv, port, logs)
        self.target = self.server.target
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.admin_port}")
        self.admin = admin_grpc.ModelAdminStub(self.channel)

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def answered(self) -> int:
        """Recommend calls answered OK so far (the sidecar's own count, warm-up calls included)."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("recsys_requests_total{") and 'code="OK"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def status(self) -> dict:
        """GetExperiments' counters (it reports the exposure log with or without an experiments file)."""
        counters = {"written": 0, "dropped": 0, "shadow_compared": 0, "shadow_dropped": 0, "shadow_failed": 0,
                    "arms": {}}
        if not (self.experiments or self.exposure_log):
            return counters
        reply = self.admin.GetExperiments(self.admin_pb2.GetExperimentsRequest(), timeout=10)
        counters["written"], counters["dropped"] = reply.exposure_log.written, reply.exposure_log.dropped
        for experiment in reply.experiments:
            counters["shadow_compared"] += experiment.shadow.compared
            counters["shadow_dropped"] += experiment.shadow.dropped
            counters["shadow_failed"] += experiment.shadow.failed
            for arm in experiment.arms:
                counters["arms"][arm.name] = counters["arms"].get(arm.name, 0) + arm.impressions
        if reply.last_error:
            counters["last_error"] = reply.last_error
        return counters

    def counters(self) -> dict:
        return {"answered": self.answered(), **self.status()}

    def settled(self, before: dict, shadow: bool, timeout=15.0) -> dict:
        """Counters once the exposure log has taken every answered call (written + dropped ==
        answered) and the shadow worker has finished its queue; deltas since `before`."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.counters()
            delta = {k: now[k] - before[k] for k in now if isinstance(now[k], int)}
            delta["arms"] = {k: v - before["arms"].get(k, 0) for k, v in now["arms"].items()}
            logged = not self.exposure_log or delta["written"] + delta["dropped"] >= delta["answered"]
            shadowed = not shadow or (delta["shadow_compared"] + delta["shadow_dropped"] + delta["shadow_failed"]
                                      >= delta["answered"])
            if (logged and shadowed) or time.monotonic() > deadline:
                delta["settled"] = logged and shadowed
                return delta
            time.sleep(0.1)

    def stop(self) -> None:
        self.channel.close()
        self.server.stop()


def log_lines(path: Path) -> int:
    """Lines in the exposure log, rotated files (path.1, path.2, ...) included."""
    files = [path] + sorted(path.parent.glob(path.name + ".*"))
    return sum(sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 20), b""))
               for f in (open(p, "rb") for p in files if p.is_file()))


# ---------------------------------------------------------------------------- measuring


class Overhead:
    def __init__(self, a):
        self.a = a
        # bench/run.py's harness, for its load-generator, readiness and quiet-machine helpers.
        self.bench = Bench(argparse.Namespace(prepared=a.prepared, only="", quiet_wait=a.quiet_wait,
                                              quiet_cores=a.quiet_cores, loadgen=a.loadgen, channels=a.channels))
        self.work = self.bench.work
        self.base = Path(tempfile.mkdtemp(prefix="experiments-overhead-", dir=self.work))
        self.bench.logs = self.base / "logs"
        self.bench.logs.mkdir()
        self.sidecars: dict[str, Sidecar] = {}
        self.users: dict[str, dict] = {}

    def measure(self, sidecar: Sidecar, w: dict, shadow: bool, *loadgen_args: str) -> dict:
        """One load-generator run against `sidecar`, with CPU use and the counters' deltas."""
        everyone = [s.pid for s in self.sidecars.values() if s.server.alive()]
        before, cpu_before = cpu_seconds(), {pid: Bench.process_cpu(pid) for pid in everyone}
        counters = sidecar.counters()
        r = self.bench.loadgen(sidecar.target, w["request_set"], "", *loadgen_args)
        after, cpu_after = cpu_seconds(), {pid: Bench.process_cpu(pid) for pid in everyone}
        wall = after["wall"] - before["wall"]
        servers = sum(cpu_after[pid] - cpu_before[pid] for pid in everyone)
        ours = after["ours"] - before["ours"]  # this script and the load generator
        r["cpu_cores"] = {"server": round((cpu_after[sidecar.pid] - cpu_before[sidecar.pid]) / wall, 2),
                          "loadgen": round(ours / wall, 2),
                          "others": round(max(after["busy"] - before["busy"] - servers - ours, 0) / wall, 2)}
        r["counters"] = sidecar.settled(counters, shadow)
        # All the server CPU the calls caused (shadow work finishing after the run included).
        r["server_cpu_ms_per_call"] = round(
            (Bench.process_cpu(sidecar.pid) - cpu_before[sidecar.pid]) * 1000 / max(r["counters"]["answered"], 1), 3)
        r["loadavg"] = loadavg()
        return r

    def run_point(self, sidecar: Sidecar, w: dict, rate: float, shadow: bool) -> dict:
        r = self.measure(sidecar, w, shadow, "--mode", "open", "--rate", f"{rate:.3f}", "--duration",
                         str(self.a.seconds), "--warmup", str(self.a.warmup), "--drain", "1", "--deadline-ms", "1000")
        lat, c = r["latency_ms"], r["counters"]
        log(f"  {sidecar.label:3s} {rate:6.0f} qps offered: achieved {r['qps']:6.0f}, p50 {lat['p50']:6.2f} "
            f"p99 {lat['p99']:7.2f} p99.9 {lat['p99.9']:7.2f} ms, errors {r['errors']}, answered {c['answered']}, "
            f"log written/dropped {c['written']}/{c['dropped']}, shadow compared/dropped "
            f"{c['shadow_compared']}/{c['shadow_dropped']}, others {r['cpu_cores']['others']} cores")
        return r

    def probe(self, sidecar: Sidecar, w: dict) -> dict:
        r = self.measure(sidecar, w, sidecar.label == "C", "--mode", "closed", "--concurrency", "8", "--duration",
                         str(self.a.probe_seconds), "--warmup", "0.5", "--drain", "1")
        c = r["counters"]
        log(f"  {sidecar.label:3s} closed loop (8 in flight): {r['qps']:6.0f} qps, p50 {r['latency_ms']['p50']:.2f} ms, "
            f"server {r['cpu_cores']['server']} cores, shadow compared/dropped {c['shadow_compared']}/"
            f"{c['shadow_dropped']}, others {r['cpu_cores']['others']} cores")
        return r

    def requests_with_users(self, w: dict) -> dict:
        """Points the harness at a copy of the workload's request set with user ids, if it lacks them."""
        name = w["request_set"]
        if name not in self.users:
            path, self.users[name] = with_user_ids(Path(self.bench.sets[name]["path"]), self.base)
            self.bench.sets[name] = dict(self.bench.sets[name], path=str(path))
            log(f"request set {name}: {path} {self.users[name]}")
        return self.users[name]

    def start(self, folder: Path, model: str, store: Path, configs: dict, w: dict) -> None:
        """configs: label -> (experiments file or None, exposure log or None, exposure queue or None)."""
        self.sidecars = {label: Sidecar(label, self.a, store, self.bench.logs, model, self.stubs, *spec)
                         for label, spec in configs.items()}
        for sidecar in self.sidecars.values():
            self.bench.wait_ready(sidecar.server, "", w["request_set"])

    def stop(self) -> None:
        for sidecar in self.sidecars.values():
            sidecar.stop()

    def exposure_files(self, labels) -> dict:
        out = {}
        for label in labels:
            status = self.sidecars[label].status()
            out[label] = {"lines": log_lines(self.sidecars[label].exposure_log), "written": status["written"],
                          "dropped": status["dropped"]}
        return out

    def interleaved(self, w: dict, labels: tuple, fraction: float, capacity: float, rounds: int, into: list) -> None:
        """`rounds` rounds of one run per configuration at fraction x capacity, the order rotating."""
        for round_index in range(rounds):
            order = list(labels[round_index % len(labels):] + labels[:round_index % len(labels)])
            for label in order:
                r = self.run_point(self.sidecars[label], w, capacity * fraction, shadow=label == "C")
                into.append({"round": round_index, "fraction": fraction, "config": label, **r})

    def workload(self, name: str) -> dict:
        """A, L, B and C at each of --fractions of A's capacity, --rounds rounds."""
        w = next(x for x in self.bench.prepared["workloads"] if x["name"] == name)
        model, shadow = w["model"], SHADOW[w["model"]]
        # "same": both arms serve the workload's model, so B - L is routing and the ledger alone;
        # "copy": the second arm is a byte copy, which doubles the weights the caches must hold.
        second = model if self.a.second_arm == "same" else f"{model}_b"
        users = self.requests_with_users(w)
        log(f"workload {name}: model {model}, arms {model}/{second}, shadow {shadow}")
        folder = self.base / name
        demo = Path(self.a.demo_store)
        store = make_store(folder, {p.name: p for p in demo.iterdir() if p.is_dir()},
                           {second: demo / model} if second != model else {})
        (folder / "ab.yaml").write_text(experiments_yaml(model, second, None))
        (folder / "ab-shadow.yaml").write_text(experiments_yaml(model, second, shadow))
        result = {"workload": w, "arms": [model, second], "shadow": shadow, "requests": users,
                  "experiments_yaml": experiments_yaml(model, second, shadow)}
        self.start(folder, model, store, {"A": (None, None, None),
                                          "L": (None, folder / "exposures-L.jsonl", None),
                                          "B": (folder / "ab.yaml", folder / "exposures-B.jsonl", None),
                                          "C": (folder / "ab-shadow.yaml", folder / "exposures-C.jsonl", None)}, w)
        try:
            result["argv"] = {k: s.argv for k, s in self.sidecars.items()}
            result["waited_for_quiet_s"] = self.quiet()
            log("capacity probes (closed loop)")
            result["probes"] = {k: self.probe(self.sidecars[k], w) for k in CONFIGS}
            # A once more, after the others: the rates follow the mean of its two probes.
            result["probes"]["A again"] = self.probe(self.sidecars["A"], w)
            capacity = result["capacity_A"] = max((result["probes"]["A"]["qps"] + result["probes"]["A again"]["qps"]) / 2, 1.0)
            runs = result["runs"] = []
            for round_index in range(self.a.rounds):
                shift = round_index % len(CONFIGS)
                order = CONFIGS[shift:] + CONFIGS[:shift]
                log(f"round {round_index + 1}/{self.a.rounds}: {' '.join(order)}")
                for fraction in (float(x) for x in self.a.fractions.split(",")):
                    for label in order:
                        r = self.run_point(self.sidecars[label], w, capacity * fraction, shadow=label == "C")
                        runs.append({"round": round_index, "fraction": fraction, "config": label, **r})
            result["exposure_files"] = self.exposure_files(LOGGED)
        finally:
            self.stop()
        return result

    def overload(self) -> dict:
        """A, B and Q16 (B with a 16-line exposure queue) at a high rate of --overload-model."""
        model = self.a.overload_model
        w = next(x for x in self.bench.prepared["workloads"] if x["model"] == model)
        second = f"{model}_b"
        users = self.requests_with_users(w)
        folder = self.base / "overload"
        if model == "echo":  # bench/prepare.py's echo model (item ids only): the sidecar's cheapest path
            source = Path(self.bench.prepared["models"]["echo"]["version_dir"]).parent
            store = make_store(folder, {model: source}, {second: source})
        else:
            demo = Path(self.a.demo_store)
            store = make_store(folder, {p.name: p for p in demo.iterdir() if p.is_dir()},
                           {second: demo / model} if second != model else {})
        (folder / "ab.yaml").write_text(experiments_yaml(model, second, None))
        log(f"overload check: workload {w['name']}, arms {model}/{second}")
        result = {"workload": w, "arms": [model, second], "requests": users}
        self.start(folder, model, store, {"A": (None, None, None),
                                          "B": (folder / "ab.yaml", folder / "exposures-B.jsonl", None),
                                          "Q16": (folder / "ab.yaml", folder / "exposures-Q16.jsonl", 16)}, w)
        try:
            result["argv"] = {k: s.argv for k, s in self.sidecars.items()}
            result["probe"] = self.probe(self.sidecars["A"], w)
            capacity = result["capacity_A"] = max(result["probe"]["qps"], 1.0)
            runs = result["runs"] = []
            for fraction in (float(x) for x in self.a.overload_fractions.split(",")):
                log(f"overload check at {fraction:.2f} x A's capacity ({capacity * fraction:.0f} qps)")
                self.interleaved(w, ("Q16", "B", "A"), fraction, capacity, self.a.overload_rounds, runs)
                if any(r["counters"]["dropped"] for r in runs if r["config"] == "Q16"):
                    break  # drops seen: no need for a higher rate
                log("no exposure-log drops with the 16-line queue at this rate: trying the next one")
            result["exposure_files"] = self.exposure_files(("B", "Q16"))
        finally:
            self.stop()
        return result

    def quiet(self) -> float:
        if self.a.quiet_cores >= self.bench.cpus:
            return 0.0
        return self.bench.wait_for_quiet({k: s.server for k, s in self.sidecars.items()})

    def run(self) -> dict:
        started = time.time()
        self.stubs = admin_stubs(self.base)
        results = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "loadavg_before": loadavg(),
                   "machine": {"cpus": self.bench.cpus},
                   "settings": {k: str(v) for k, v in vars(self.a).items()}, "workloads": {}}
        cpu_before = cpu_seconds()
        try:
            for name in filter(None, self.a.workloads.split(",")):
                results["workloads"][name] = self.workload(name)
            results["overload"] = self.overload()
        finally:
            if not self.a.keep:
                shutil.rmtree(self.base, ignore_errors=True)
        after = cpu_seconds()
        results["cpu_busy_cores"] = round((after["busy"] - cpu_before["busy"]) / (after["wall"] - cpu_before["wall"]), 2)
        results["loadavg_after"] = loadavg()
        results["seconds"] = round(time.time() - started, 1)
        return results


# ------------------------------------------------------------------------------ report


def median(values):
    return statistics.median(values) if values else float("nan")


def sign_test(slower: int, rounds: int) -> float:
    """One-sided binomial p: the chance of at least `slower` slower rounds of `rounds` if the
    configuration made no difference (each round then equally likely to go either way)."""
    return sum(math.comb(rounds, k) for k in range(slower, rounds + 1)) / 2 ** rounds


def rank_test(higher: list[float], lower: list[float]) -> float:
    """One-sided exact Mann-Whitney (permutation of ranks): the chance that, with no difference
    between the two configurations, `higher`'s values would rank at least this far above `lower`'s.
    Unpaired, so a stall hitting one run of a round weighs no more than any other run."""
    values = higher + lower
    ranks = [sorted(values).index(v) + (sorted(values).count(v) + 1) / 2 for v in values]  # mid-ranks
    observed = sum(ranks[:len(higher)])
    splits = list(itertools.combinations(range(len(values)), len(higher)))
    return sum(1 for c in splits if sum(ranks[i] for i in c) >= observed - 1e-9) / len(splits)


def config_summary(mine: list[dict]) -> dict:
    return {
        "runs": len(mine), "offered_qps": mine[0]["offered_qps"], "achieved_qps": median([r["qps"] for r in mine]),
        **{q: median([r["latency_ms"][q] for r in mine]) for q in ("p50", "p99", "p99.9")},
        "p99_min": min(r["latency_ms"]["p99"] for r in mine), "p99_max": max(r["latency_ms"]["p99"] for r in mine),
        "p99_by_round": [r["latency_ms"]["p99"] for r in mine],
        "errors": sum(r["errors"] for r in mine),
        "server_cpu_ms_per_call": median([r["server_cpu_ms_per_call"] for r in mine]),
        "others_cores": median([r["cpu_cores"]["others"] for r in mine]),
        **{k: sum(r["counters"][k] for r in mine) for k in
           ("answered", "written", "dropped", "shadow_compared", "shadow_dropped", "shadow_failed")},
        "arms": {arm: sum(r["counters"]["arms"].get(arm, 0) for r in mine)
                 for arm in sorted({x for r in mine for x in r["counters"]["arms"]})},
        "by_run": [{k: r["counters"][k] for k in ("answered", "written", "dropped")} for r in mine],
        "settled": all(r["counters"]["settled"] for r in mine),
    }


def summarize(runs: list[dict], labels: tuple, baseline="A") -> dict:
    """Per fraction and configuration: medians over rounds; per-round ratios against the baseline."""
    out = {}
    for fraction in sorted({r["fraction"] for r in runs}):
        here = [r for r in runs if r["fraction"] == fraction]
        per = {label: config_summary(sorted((r for r in here if r["config"] == label), key=lambda r: r["round"]))
               for label in labels if any(r["config"] == label for r in here)}
        by_round: dict = {}
        for r in here:
            by_round.setdefault(r["round"], {})[r["config"]] = r
        ratios = {}
        for label in per:
            if label == baseline:
                continue
            for q in ("p50", "p99", "p99.9"):
                values = [x[label]["latency_ms"][q] / x[baseline]["latency_ms"][q] for x in by_round.values()
                          if label in x and baseline in x and x[baseline]["latency_ms"][q] > 0]
                slower = sum(1 for v in values if v > 1)
                ratios[f"{label} {q}"] = {"median": median(values), "min": min(values), "max": max(values),
                                          "by_round": values, "slower_rounds": slower,
                                          "sign_test_p": sign_test(slower, len(values)),
                                          "rank_test_p": rank_test([r["latency_ms"][q] for r in here if r["config"] == label],
                                                                   [r["latency_ms"][q] for r in here if r["config"] == baseline])}
            ratios[f"{label} cpu"] = per[label]["server_cpu_ms_per_call"] / per[baseline]["server_cpu_ms_per_call"]
        base = per[baseline]["p99_by_round"]
        out[fraction] = {"configs": per, "ratios": ratios,
                         "baseline_p99_spread": {"min": min(base) / median(base), "max": max(base) / median(base)}}
    return out


def fmt_ratio(r: dict) -> str:
    return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})"


def report(results: dict, a) -> tuple[str, dict]:
    lines = ["## Experiments, exposure log and shadow scoring: latency overhead", "",
             f"`bench/experiments_overhead.py`, {results['started']}, {results['machine']['cpus']} CPUs, "
             f"{results['seconds']:.0f} s. Every configuration is its own sidecar process, all started before "
             "measuring, all on this machine with the load generator.", ""]
    checks = {}
    for name, w in results["workloads"].items():
        s = summarize(w["runs"], CONFIGS)
        w["summary"] = {str(k): v for k, v in s.items()}
        users, probes = w["requests"], w["probes"]
        lines += [
            f"### Workload {name}", "",
            f"**{name}** ({w['workload']['description']}); "
            f"{users['requests']} requests from {users['distinct_users']} users"
            f"{' (user ids added)' if users['rewritten'] else ''}, the demo store's models.",
            "",
            f"- **A** no experiments, requests name no model (the default model serves); **L** A + `--exposure-log` "
            f"(the log alone); **B** one experiment taking every request (no match conditions), fixed 50/50 by user "
            f"between `{w['arms'][0]}` and `{w['arms'][1]}`"
            f"{' (a byte copy)' if w['arms'][0] != w['arms'][1] else ' (both arms the same model)'}, + `--exposure-log`; **C** B + "
            f"`shadow: {w['shadow']}`.",
            f"- Closed-loop capacity (8 in flight, {a.probe_seconds:g} s): A {probes['A']['qps']:.0f} and "
            f"{probes['A again']['qps']:.0f} (their mean sets the rates), L {probes['L']['qps']:.0f}, "
            f"B {probes['B']['qps']:.0f}, C {probes['C']['qps']:.0f} qps"
            f" (C's shadow: {probes['C']['counters']['shadow_compared']} compared, "
            f"{probes['C']['counters']['shadow_dropped']} dropped).",
            f"- tools/loadgen open loop (fixed schedule, latency from the intended send time), {a.seconds:g} s measured "
            f"after {a.warmup:g} s warm-up per run; {a.rounds} rounds, the configurations' order rotating per round. "
            "Latencies: medians over rounds. Ratios are taken within each round, then median (min–max) over rounds. "
            "'slower rounds' = rounds whose p99 ratio is > 1, with the one-sided sign-test p; 'rank p' = one-sided "
            "exact Mann-Whitney p that the configuration's p99s rank above A's (unpaired). Small p: consistently "
            "slower; p near 0.5 or above: no evidence of a difference. Server CPU ms/call: all the sidecar "
            "process's CPU time (every thread) over the calls it answered, shadow work finishing after the run "
            "included.",
            "",
            "| offered | config | achieved qps | p50 ms | p99 ms | p99.9 ms | p99 range over rounds | p99 / A | "
            "slower rounds (sign p) | rank p | p50 / A | p99.9 / A | server CPU ms/call (/ A) |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for fraction, f in s.items():
            for label in CONFIGS:
                c = f["configs"][label]
                if label == "A":
                    rest = f"— | — | — | — | — | {c['server_cpu_ms_per_call']:.3f}"
                else:
                    r99 = f["ratios"][f"{label} p99"]
                    rest = (f"{fmt_ratio(r99)} | {r99['slower_rounds']}/{len(r99['by_round'])} "
                            f"({r99['sign_test_p']:.2f}) | {r99['rank_test_p']:.3f} | "
                            f"{fmt_ratio(f['ratios'][f'{label} p50'])} | {fmt_ratio(f['ratios'][f'{label} p99.9'])} | "
                            f"{c['server_cpu_ms_per_call']:.3f} ({f['ratios'][f'{label} cpu']:.2f})")
                lines.append(
                    f"| {fraction:.0%} ({c['offered_qps']:.0f} qps) | {label} | {c['achieved_qps']:.0f} | {c['p50']:.2f} | "
                    f"{c['p99']:.2f} | {c['p99.9']:.2f} | {c['p99_min']:.2f}–{c['p99_max']:.2f} | {rest} |")
        lines += ["", "Noise reference: A's own p99 over the rounds, relative to its median: " + "; ".join(
            f"{fraction:.0%}: {f['baseline_p99_spread']['min']:.2f}–{f['baseline_p99_spread']['max']:.2f}"
            for fraction, f in s.items()) + ". CPU during A's runs (medians, cores of "
            f"{results['machine']['cpus']}): " + "; ".join(
            f"{fraction:.0%}: sidecar {median([r['cpu_cores']['server'] for r in w['runs'] if r['fraction'] == fraction and r['config'] == 'A']):.2f}, "
            f"load generator {median([r['cpu_cores']['loadgen'] for r in w['runs'] if r['fraction'] == fraction and r['config'] == 'A']):.2f}, "
            f"other tenants {median([r['cpu_cores']['others'] for r in w['runs'] if r['fraction'] == fraction and r['config'] == 'A']):.2f}"
            for fraction in s) + ".", ""]

        # Exposure log and shadow counters at normal load.
        lines += ["Exposure log and shadow at these rates (sums over the rounds; GetExperiments and /metrics deltas):", "",
                  "| offered | config | answered | exposure written | dropped | written == answered | "
                  "shadow compared | shadow dropped | shadow failed | arm impressions |",
                  "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
        no_loss = True
        for fraction, f in s.items():
            for label in LOGGED:
                c = f["configs"][label]
                exact = all(r["written"] == r["answered"] and r["dropped"] == 0 for r in c["by_run"])
                no_loss &= exact
                arms = ", ".join(f"{k} {v}" for k, v in c["arms"].items())
                shadow = (f"{c['shadow_compared']} | {c['shadow_dropped']} | {c['shadow_failed']}" if label == "C"
                          else "— | — | —")
                lines.append(f"| {fraction:.0%} | {label} | {c['answered']} | {c['written']} | {c['dropped']} | "
                             f"{'yes' if exact else '**NO**'} | {shadow} | {arms} |")
        files = w["exposure_files"]
        file_ok = all(v["lines"] == v["written"] for v in files.values())
        lines += ["", "Exposure files at the end: " + ", ".join(
            f"{k} {v['lines']} lines / {v['written']} counted written" for k, v in files.items())
            + (" (every line counted as written is in the file)." if file_ok else " (**MISMATCH**)."), ""]

        checks[name] = {
            "no exposure lost at normal load (written == answered, dropped == 0)": no_loss,
            "exposure files hold every line counted as written": file_ok,
            "every run settled (log and shadow caught up)": all(r["counters"]["settled"] for r in w["runs"]),
        }

    ov = results["overload"]
    o = summarize(ov["runs"], ("A", "B", "Q16"))
    versus_b = summarize(ov["runs"], ("B", "Q16"), baseline="B")
    ov["summary"] = {str(k): v for k, v in o.items()}
    ov["summary_vs_B"] = {str(k): v["ratios"] for k, v in versus_b.items()}
    lines += ["### Overload: exposure queue of 16", "",
              f"Workload **{ov['workload']['name']}** ({ov['workload']['description']}), arms `{ov['arms'][0]}`/"
              f"`{ov['arms'][1]}`; A's closed-loop capacity {ov['capacity_A']:.0f} qps. Q16 = B with "
              f"`--exposure-log-queue 16`; A, B and Q16 interleaved, {a.overload_rounds} rounds per rate, rates tried "
              "in turn until Q16 drops.", "",
              "| offered | config | achieved qps | p50 ms | p99 ms | p99.9 ms | p99 per round | p99 / A | p99 / B | "
              "answered | written | dropped | written + dropped == answered |",
              "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | --- |"]
    counted, dropped = True, False
    for fraction, f in o.items():
        for label in ("A", "B", "Q16"):
            c = f["configs"].get(label)
            if not c:
                continue
            logged = label != "A"
            exact = all(r["written"] + r["dropped"] == r["answered"] for r in c["by_run"])
            if logged:
                counted &= exact
            if label == "Q16":
                dropped |= c["dropped"] > 0
            ratio = fmt_ratio(f["ratios"][f"{label} p99"]) if label != "A" else "—"
            ratio_b = fmt_ratio(versus_b[fraction]["ratios"]["Q16 p99"]) if label == "Q16" else "—"
            lines.append(
                f"| {fraction:.0%} ({c['offered_qps']:.0f} qps) | {label} | {c['achieved_qps']:.0f} | {c['p50']:.2f} | "
                f"{c['p99']:.2f} | {c['p99.9']:.2f} | {', '.join(f'{x:.2f}' for x in c['p99_by_round'])} | {ratio} | "
                f"{ratio_b} | "
                f"{c['answered']} | {c['written'] if logged else '—'} | {c['dropped'] if logged else '—'} | "
                f"{('yes' if exact else '**NO**') if logged else '—'} |")
    files = ov["exposure_files"]
    file_ok = all(v["lines"] == v["written"] for v in files.values())
    lines += ["", "Exposure files at the end: " + ", ".join(
        f"{k} {v['lines']} lines / {v['written']} counted written / {v['dropped']} dropped" for k, v in files.items())
        + ".", ""]
    checks["overload"] = {
        "the 16-line queue counted drops": dropped,
        "written + dropped == answered in every run": counted,
        "exposure files hold every line counted as written": file_ok,
        "every run settled": all(r["counters"]["settled"] for r in ov["runs"]),
    }
    for name, c in checks.items():
        lines.append(f"Checks ({name}): " + "; ".join(f"{k}: {'yes' if v else '**NO**'}" for k, v in c.items()) + ".")
    lines.append("")
    lines.append(f"Machine during the run: {results['cpu_busy_cores']} of {results['machine']['cpus']} cores busy on "
                 f"average (ours and other tenants'); load average {results['loadavg_before'][0]:.1f} before, "
                 f"{results['loadavg_after'][0]:.1f} after.")
    return "\n".join(lines) + "\n", checks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sidecar", type=Path, required=True)
    ap.add_argument("--plugins", type=Path, required=True)
    ap.add_argument("--loadgen", type=Path, required=True)
    ap.add_argument("--prepared", type=Path, default=ROOT / "out/bench/prepared.json",
                    help="bench/prepare.py's output (its request sets are used)")
    ap.add_argument("--demo-store", type=Path, default=ROOT / "demo/store")
    ap.add_argument("--workloads", default="mlp", help="comma-separated: mlp, dqn")
    ap.add_argument("--fractions", default="0.5,0.8", help="offered rates, as fractions of A's closed-loop capacity")
    ap.add_argument("--second-arm", choices=["same", "copy"], default="same",
                    help="B's second arm: the same model (the experiments' own cost) or a byte copy of it")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per open-loop run")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--probe-seconds", type=float, default=2.5)
    ap.add_argument("--overload-model", default="echo",
                    help="model of the overload check: echo (bench/prepare.py's; the highest exposure rate) or mlp")
    ap.add_argument("--overload-fractions", default="0.4,0.6",
                    help="rates for the overload check (fractions of A's capacity), tried in turn until the "
                         "16-line exposure queue drops")
    ap.add_argument("--overload-rounds", type=int, default=2)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--quiet-cores", type=float, default=0.5,
                    help="before measuring, wait while other tenants keep more cores than this busy")
    ap.add_argument("--quiet-wait", type=float, default=15.0, help="at most this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store, logs and exposure files")
    ap.add_argument("--out", type=Path, default=ROOT / "out/bench/experiments_overhead.md")
    ap.add_argument("--json", type=Path, default=None, help="default: --out with .json")
    a = ap.parse_args(argv)
    for name in filter(None, a.workloads.split(",")):
        if name not in SHADOW:
            ap.error(f"unknown workload {name} (have: {', '.join(SHADOW)})")
    results = Overhead(a).run()
    text, checks = report(results, a)
    results["checks"] = checks
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    (a.json or a.out.with_suffix(".json")).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(text, end="")
    log(f"wrote {a.out} and {a.json or a.out.with_suffix('.json')} ({results['seconds']} s)")
    return 0 if all(all(c.values()) for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
