#!/usr/bin/env python3
"""make bench, step 2: start the four servers, check they agree, sweep every workload, run the
kernel micro-benchmark and the memory measurement, write out/bench/results.json.

Servers (all loading out/bench/store, all on this machine, all driven by tools/loadgen):
    floor    tools/loadgen/echo_server.cc: bare grpc++ callback server that echoes candidates
    sidecar  recsys-sidecar with the store and the plugins (echo included)
    torch    bench/peers/torch_peer.py: grpcio + the PyTorch reference modules, one process
    torch2   the same as two processes sharing the port (SO_REUSEPORT), 1 torch thread each
    onnx     bench/peers/onnx_peer.py: grpcio + ONNX Runtime on the exported modules, one process
    onnx2    the same as two processes sharing the port, 1 ONNX Runtime thread each
One process: 1 intra-op thread and 4 grpcio workers (concurrent requests are the parallelism: torch
and ORT release the GIL in their kernels, but the Python front end holds it). Two processes: 1
intra-op thread each, so 2 processes x 1 thread = the machine's 2 cores, and each front end has its
own GIL. The floor runs once per request set (the echo and mlp workloads share one), the others once
per workload. For each workload the servers run back to back (their order rotates from one workload
to the next), so a peer and the sidecar see the same background load as far as possible.

Per workload every server gets the closed-loop probe; the full open-loop search below then runs for
the sidecar, the floor and the best peer by probe (plus the second best when it is within 15 % of
it): "the best peer" of a row is the best of the four peers at p99 <= 10 ms among those searched.

Sweep per (workload, server): a closed-loop probe (8 in flight) gives the capacity C; open-loop
points then step through 0.2 C, 0.5 C, 0.8 C, 1.0 C, 1.2 C, ... until one fails (or, when 0.5 C
already fails, down through 0.2 C, 0.08 C, ...), then points bisecting the best passing and the
first failing rate while they are more than 8 % apart (at most three). A point passes when p99 <=
10 ms, no call failed and the achieved rate is >= 95 % of the offered one; a failing point that was
not plainly overloaded (>= 80 % of the offered rate achieved) is measured once more and the better
run kept (at most twice per sweep), since other tenants' bursts only ever make a run worse. The
floor and issue 19's shape sweep use a shorter search (see Bench.sweep and shape_sweep). "QPS at p99 <= 10 ms" is
the highest passing offered rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recsys_tools import free_port  # noqa: F401  (bench/experiments_overhead.py imports it from here)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import sweep  # noqa: E402

P99_LIMIT_MS = 10.0
PEERS = ("torch", "torch2", "onnx", "onnx2")
SERVERS = ("floor", "sidecar", *PEERS)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_seconds() -> dict:
    """Machine-wide CPU time from /proc/stat (seconds, all cores) and what this process and its
    finished children used: their difference is what other tenants used meanwhile."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick, "wall": time.time(),
            "ours": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime}


def others_load(before: dict, after: dict) -> dict:
    wall = after["wall"] - before["wall"]
    busy = after["busy"] - before["busy"]
    ours = after["ours"] - before["ours"]
    return {"seconds": round(wall, 1), "cores_busy": round(busy / wall, 2), "cores_ours": round(ours / wall, 2),
            "cores_others": round(max(busy - ours, 0) / wall, 2),
            "cores_stolen": round((after["steal"] - before["steal"]) / wall, 2)}


def same_replies(mine: list[dict], theirs: list[dict], top_k: int) -> dict:
    """Whether two servers' replies to the same requests name the same top_k items in the same
    order, and the largest score difference between them (inf when either failed a call)."""
    same, diff = True, 0.0
    for a, b in zip(mine, theirs):
        if "grpc_error" in a or "grpc_error" in b:
            same, diff = False, math.inf
            continue
        ids = [i["itemId"] for i in a["items"]]
        same &= ids == [i["itemId"] for i in b["items"]] and len(ids) == top_k
        diff = max([diff] + [abs(x["score"] - y["score"]) for x, y in zip(a["items"], b["items"])])
    return {"same_top_k": same, "max_abs_score_diff": diff}


def demangle(symbols: list[str]) -> list[str]:
    """Short readable names for perf's symbols: Swift ones through `swift demangle --simplified`
    (module, type and function, no signature), others as they are."""
    try:
        done = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(symbols),
                              capture_output=True, text=True, timeout=60)
        plain = done.stdout.splitlines() if done.returncode == 0 else symbols
    except OSError:
        plain = symbols
    if len(plain) != len(symbols):
        plain = symbols
    out = []
    for name in plain:
        name = name.split(" in ")[-1] if name.startswith(("closure", "partial apply", "specialized")) else name
        head = name.split("(")[0].strip()
        out.append(".".join(head.split(".")[-3:])[:60] or name[:60])
    return out


def stated_caches(model: dict) -> dict:
    """Bytes a loaded version holds besides its weights, derived from them at load (the memory
    table states them beside the weights): dqn's per-item advantage inputs, mlp's layer-1 item-block
    cache where the plugin's "auto" builds it, the int8 pre-pass copy of exact retrieval where
    "auto" builds it (fp32 table <= 64 MiB; d + 12 bytes a row: codes, scale, two norms)."""
    shapes, n, kind = model["shapes"], model["num_items"], model["kind"]
    caches = {}
    if kind == "dqn":
        caches["item advantage N x h_adv"] = n * shapes["adv.0.weight"][0] * 4
    if kind == "mlp":
        h1 = shapes["mlp.0.weight"][0]
        if sweep.mlp_item_cache({"d": shapes["item_emb.weight"][1], "hidden": [h1], "N": n}):
            caches["layer-1 item block N x h1"] = n * h1 * 4
    if kind in ("lstm", "sasrec") and model.get("meta", {}).get("retrieval", "exact") == "exact" \
            and model.get("meta", {}).get("retrieval_prefilter", "auto") != "off":
        d = shapes["item_emb.weight"][1]
        if n * d * 4 <= 64 << 20 or model["meta"].get("retrieval_prefilter") == "int8":
            caches["int8 pre-pass copy N x (d + 12)"] = n * (d + 12)
    return caches


class Server:
    """One server: `processes` copies of argv on one port (the peers' two-process form shares it
    with SO_REUSEPORT), started by this script and only ever stopped by their own handles."""

    def __init__(self, name: str, argv: list[str], port: int, logs: Path, env=None, processes: int = 1):
        self.name, self.argv, self.port = name, argv, port
        self.target = f"127.0.0.1:{port}"
        self.log_paths = [logs / (f"{name}.log" if i == 0 else f"{name}-{i}.log") for i in range(processes)]
        self.log_path = self.log_paths[0]
        self.logs = [open(path, "w") for path in self.log_paths]
        self.processes = [subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=env)
                          for log_file in self.logs]
        self.process = self.processes[0]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def listening(self) -> bool:
        """Every process has said 'ready' (the peers print it once bound): with two processes on one
        port, an answered call proves only that one of them listens."""
        return len(self.processes) == 1 or all("ready" in path.read_text() for path in self.log_paths)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log_file in self.logs:
            log_file.close()


class Bench:
    def __init__(self, a):
        self.a = a
        self.prepared = json.loads(a.prepared.read_text())
        self.work = Path(self.prepared["work"])
        self.logs = self.work / "logs-run"
        self.logs.mkdir(exist_ok=True)
        self.steps = set(a.steps.split(","))
        self.workloads = [w for w in self.prepared["workloads"] if not a.only or w["name"] in a.only.split(",")]
        self.workloads = self.workloads if "fixed" in self.steps else []
        sweep_prepared = self.prepared.get("sweep") or {"workloads": [], "kernel_cases": {}}
        # --points: point names or prefixes (e.g. "mlp_A,lstm"): the points whose name starts with one.
        self.sweep_workloads = [w for w in sweep_prepared["workloads"] if self.steps & {"sweep", "roofline"} and (
            not a.points or any(w["point"]["name"].startswith(x) for x in a.points.split(",")))]
        self.sweep_cases = sweep_prepared["kernel_cases"]
        self.sets = self.prepared["request_sets"]
        self.store = self.work / "store"
        self.stubs = self.work / "stubs"
        self.servers: dict = {}
        self.cpus = os.cpu_count() or 1
        self.quiet_budget = a.quiet_wait
        self.timing = {"seconds": a.seconds, "warmup": a.warmup, "probe_seconds": a.probe_seconds,
                       "retries": 2, "bisections": 3}
        # The shape sweep's short timing (see shape_sweep), and the floor's: the echo server's
        # capacity is the same in every run to a few percent, so it needs no long points.
        self.short_timing = {"seconds": a.sweep_seconds, "warmup": 0.2, "probe_seconds": 0.6 * a.sweep_seconds,
                             "retries": 0, "bisections": 1, "short": True}

    # -------------------------------------------------------------------- processes

    def loadgen(self, target: str, request_set: str, model: str, *extra: str, timeout=120) -> dict:
        argv = [str(self.a.loadgen), "--target", target, "--requests", self.sets[request_set]["path"],
                "--model", model, "--channels", str(self.a.channels), *extra]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr.strip()}")
        return json.loads(done.stdout)

    def replies(self, target: str, request_set: str, model: str, count: int) -> list[dict]:
        argv = [str(self.a.loadgen), "--target", target, "--requests", self.sets[request_set]["path"],
                "--model", model, "--check", str(count)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen --check failed: {done.stderr.strip()}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def wait_ready(self, server: Server, model: str, request_set: str, timeout=180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(f"{server.name} exited:\n{server.log_path.read_text()[-3000:]}")
            try:
                reply = self.replies(server.target, request_set, model, 1)[0]
                if "grpc_error" not in reply and server.listening():
                    return
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{server.name} not ready in {timeout} s:\n{server.log_path.read_text()[-3000:]}")

    def start_sidecar(self, store: Path, default_model: str, name="sidecar") -> Server:
        port = free_port()
        return Server(name, [str(self.a.sidecar), "--listen", f"127.0.0.1:{port}", "--admin-listen", "",
                             "--store", str(store), "--plugins", str(self.a.plugins), "--default-model",
                             default_model, "--poll-interval", "0", "--log-level", "warning",
                             # Metrics stay on, as in production, but off the default port.
                             "--metrics-listen", f"127.0.0.1:{free_port()}"], port, self.logs)

    def start_servers(self) -> dict:
        servers = {}
        port = free_port()
        servers["floor"] = Server("floor", [str(self.a.echo_server), "--listen", f"127.0.0.1:{port}"], port, self.logs)
        servers["sidecar"] = self.start_sidecar(self.store, "echo")
        servers.update(self.start_peers(self.store, self.work / "onnx"))
        first = (self.workloads + self.sweep_workloads)[0]
        for server in servers.values():
            self.wait_ready(server, first["model"], first["request_set"])
            log(f"{server.name} ready on {server.target}")
        return servers

    def start_peers(self, store: Path, onnx: Path) -> dict:
        """torch, torch2, onnx, onnx2 (module docstring) on `store`, not yet waited for."""
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        common = ["--store", str(store), "--stubs", str(self.stubs), "--workers", str(self.a.peer_workers),
                  "--threads", "1"]
        programs = {"torch": [ROOT / "bench/peers/torch_peer.py"],
                    "onnx": [ROOT / "bench/peers/onnx_peer.py", "--onnx", onnx]}
        peers = {}
        for name in PEERS:
            program, processes = programs[name.rstrip("2")], 2 if name.endswith("2") else 1
            port = free_port()
            argv = [sys.executable, *map(str, program), *common, "--listen", f"127.0.0.1:{port}"]
            peers[name] = Server(name, argv + (["--reuse-port"] if processes > 1 else []), port, self.logs, env,
                                 processes)
        return peers

    # ------------------------------------------------------------------- agreement

    def agreement(self, servers: dict) -> dict:
        """Top-k item ids and scores of the first requests: peers vs. the sidecar."""
        out = {}
        for w in self.workloads:
            got = {name: self.replies(servers[name].target, w["request_set"], w["model"], self.a.check)
                   for name in ("sidecar", "torch", "onnx")}
            entry = {}
            for peer in ("torch", "onnx"):  # torch2 and onnx2 run the same code
                entry[peer] = {**same_replies(got["sidecar"], got[peer], w["top_k"]), "requests": self.a.check}
            out[w["name"]] = entry
            log(f"agreement {w['name']}: " + ", ".join(
                f"{p} ids {'same' if e['same_top_k'] else 'DIFFER'} (max |dscore| {e['max_abs_score_diff']:.1e})"
                for p, e in entry.items()))
        return out

    # ----------------------------------------------------------------------- sweeps

    @staticmethod
    def process_cpu(pid: int) -> float:
        """utime + stime of a running process (all its threads), seconds."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def point(self, server: Server, w: dict, rate: float, timing: dict | None = None) -> dict:
        timing = timing or self.timing
        before, server_before = cpu_seconds(), sum(map(self.process_cpu, server.pids))
        r = self.loadgen(server.target, w["request_set"], w["model"], "--mode", "open", "--rate", f"{rate:.3f}",
                         "--duration", str(timing["seconds"]), "--warmup", str(timing["warmup"]), "--drain", "1",
                         "--deadline-ms", "1000")
        r["passes"] = (r["errors"] == 0 and r["latency_ms"]["p99"] <= P99_LIMIT_MS and r["qps"] >= 0.95 * rate)
        r["loadavg"] = loadavg()
        after, server_after = cpu_seconds(), sum(map(self.process_cpu, server.pids))
        wall = after["wall"] - before["wall"]
        busy, ours = after["busy"] - before["busy"], after["ours"] - before["ours"] + server_after - server_before
        r["cpu_cores"] = {"server": round((server_after - server_before) / wall, 2),
                          "loadgen": round((after["ours"] - before["ours"]) / wall, 2),
                          "others": round(max(busy - ours, 0) / wall, 2)}
        return r

    def wait_for_quiet(self, servers: dict) -> float:
        """Waits (within the run's --quiet-wait budget) while other tenants keep more than
        --quiet-cores busy, measured over 1 s with our own servers idle. Returns seconds waited."""
        waited = 0.0
        while True:
            before = cpu_seconds()
            ours_before = sum(self.process_cpu(pid) for x in servers.values() if x.alive() for pid in x.pids)
            time.sleep(1.0)
            after = cpu_seconds()
            ours = sum(self.process_cpu(pid) for x in servers.values() if x.alive() for pid in x.pids) - ours_before
            others = (after["busy"] - before["busy"] - ours - (after["ours"] - before["ours"])) / (after["wall"] - before["wall"])
            if others <= self.a.quiet_cores or self.quiet_budget <= 0:
                return waited
            if waited == 0:
                log(f"other tenants use {others:.2f} cores: waiting for quiet (budget {self.quiet_budget:.0f} s)")
            time.sleep(4.0)
            waited += 5.0
            self.quiet_budget -= 5.0

    def probe(self, server: Server, w: dict, timing: dict | None = None) -> dict:
        """Closed loop, 8 calls in flight: the capacity an open-loop search starts from."""
        timing = timing or self.timing
        started = time.monotonic()
        probe = self.loadgen(server.target, w["request_set"], w["model"], "--mode", "closed", "--concurrency", "8",
                             "--duration", str(timing["probe_seconds"]), "--warmup", str(timing["warmup"]),
                             "--drain", "1")
        return {"server": server.name, "workload": w["name"], "probe": probe,
                "capacity_closed_loop": max(probe["qps"], 1.0), "points": [], "qps_at_p99_limit": None,
                "at_limit": None, "probe_only": True, "seconds": round(time.monotonic() - started, 1)}

    def sweep(self, server: Server, w: dict, probed: dict | None = None, timing: dict | None = None) -> dict:
        timing = timing or self.timing
        # (The shape sweep's short points do not wait: the 1 s quiet check would be a third of one.)
        waited = self.wait_for_quiet(self.servers) if self.a.quiet_cores < self.cpus and not timing.get("short") else 0.0
        started = time.monotonic()
        probed = probed or self.probe(server, w, timing)
        probe, capacity = probed["probe"], probed["capacity_closed_loop"]
        points, retried = {}, []

        def run(fraction: float) -> bool:
            """One open-loop point; a failing one is measured again and the better run kept (other
            tenants' bursts only ever make a run worse)."""
            rate = capacity * fraction
            if rate in points:
                return points[rate]["passes"]
            points[rate] = self.point(server, w, rate, timing)
            if not points[rate]["passes"] and points[rate]["qps"] >= 0.8 * rate and len(retried) < timing["retries"]:
                retried.append(rate)  # at most `retries` times per sweep
                again = self.point(server, w, rate, timing)
                again["retried"] = True
                if again["passes"] or again["latency_ms"]["p99"] < points[rate]["latency_ms"]["p99"]:
                    points[rate] = again
            return points[rate]["passes"]

        if timing.get("short"):
            # The shape sweep's short search: from 0.7 C up by x 1.4 while points pass, or down by
            # halves until one does (2-4 points on a quiet machine).
            fraction = 0.7
            if run(fraction):
                while fraction < 2 and run(fraction * 1.4):
                    fraction *= 1.4
            else:
                while fraction > 0.05 and not run(fraction * 0.5):
                    fraction *= 0.5
        else:
            run(0.2)
            if run(0.5):
                fraction = 0.8
                while run(fraction) and fraction < 4:
                    fraction = 1.0 if fraction < 1.0 else fraction * 1.2 if fraction < 1.5 else fraction * 1.5
            else:
                fraction = 0.2
                while not run(fraction) and fraction > 0.005:
                    fraction /= 2.5
        # Bisect (geometrically) between the best passing rate and the first failing one above
        # it until they are within 8 %: the coarse grid alone can under-report a server by 35 %.
        for _ in range(timing["bisections"]):
            passing = [r for r, p in points.items() if p["passes"]]
            failing = [r for r, p in points.items() if not p["passes"]]
            if not passing or not failing:
                break
            low = max(passing)
            above = [r for r in failing if r > low]
            if not above or min(above) / low <= 1.08:
                break
            run(math.sqrt(low * min(above)) / capacity)
        passing = sorted((r for r, p in points.items() if p["passes"]), reverse=True)
        best = points[passing[0]] if passing else None
        result = {
            "server": server.name, "workload": w["name"], "probe": probe, "capacity_closed_loop": capacity,
            "points": [points[r] for r in sorted(points)],
            "qps_at_p99_limit": best["offered_qps"] if best else 0.0,
            "at_limit": ({"achieved_qps": best["qps"], **best["latency_ms"]} if best else None),
            "seconds": round(time.monotonic() - started, 1), "waited_for_quiet_s": waited,
        }
        log(f"{w['name']:15s} {server.name:8s} closed-loop {capacity:8.0f} qps | QPS@p99<=10ms "
            f"{result['qps_at_p99_limit']:8.0f}" + (f" (p50 {best['latency_ms']['p50']:.2f} ms, p99 "
                                                     f"{best['latency_ms']['p99']:.2f} ms)" if best else "")
            + f" | {len(points)} points, {result['seconds']} s")
        return result

    @staticmethod
    def peers_to_search(probes: dict) -> list[str]:
        """The best peer by closed-loop capacity, and the second when within 15 % of it (the probe's
        order at 8 in flight need not be the order at p99 <= 10 ms when that close)."""
        ranked = sorted(probes, key=lambda name: -probes[name]["capacity_closed_loop"])
        top = probes[ranked[0]]["capacity_closed_loop"] if ranked else 0
        return [name for name in ranked[:2] if probes[name]["capacity_closed_loop"] >= 0.85 * top]

    def compare(self, servers: dict, w: dict, order: list[str], timing: dict | None = None,
                floors: dict | None = None) -> dict:
        """One workload on every server of `order`: all peers probed, the sidecar, the floor and the
        peers_to_search searched."""
        probes = {name: self.probe(servers[name], w, timing) for name in order if name in PEERS}
        searched = self.peers_to_search(probes)
        out = {}
        for name in order:
            if name == "floor":
                if floors is None or w["request_set"] not in floors:
                    floor = self.sweep(servers["floor"], {**w, "model": "echo"},
                                       timing=timing or {**self.short_timing, "bisections": 2})
                    if floors is not None:
                        floors[w["request_set"]] = floor
                out["floor"] = floors[w["request_set"]] if floors is not None else floor
            elif name in PEERS and name not in searched:
                out[name] = probes[name]
                log(f"{w['name']:15s} {name:8s} closed-loop {probes[name]['capacity_closed_loop']:8.0f} qps (probe only)")
            else:
                out[name] = self.sweep(servers[name], w, probes.get(name), timing)
        return out

    def sweeps(self, servers: dict) -> dict:
        results, floors = {}, {}
        order = list(self.a.servers.split(","))
        for index, w in enumerate(self.workloads):
            rotated = order[index % len(order):] + order[:index % len(order)]
            results[w["name"]] = self.compare(servers, w, rotated, floors=floors)
        return results

    # ------------------------------------------------------------------- shape sweep

    def shape_sweep(self, servers: dict) -> dict:
        """Issue 19's points (bench/sweep.py) with the short timing: every peer probed, then the
        open-loop search for the sidecar and the best peer; the sidecar's top-k checked against the
        PyTorch peer's first."""
        # The three shapes issue 19 names get the fixed workloads' point length, one retry and
        # bisections down to 8 %: their ratios carry targets.
        case_timing = {**self.short_timing, "seconds": self.a.seconds, "warmup": self.a.warmup, "retries": 1,
                       "bisections": 3}
        order = ["sidecar", *PEERS]
        out = {}
        started = time.monotonic()
        for index, w in enumerate(self.sweep_workloads):
            got = {name: self.replies(servers[name].target, w["request_set"], w["model"], 2)
                   for name in ("sidecar", "torch")}
            agreement = same_replies(got["sidecar"], got["torch"], w["top_k"])
            same, diff = agreement["same_top_k"], agreement["max_abs_score_diff"]
            rotated = order[index % len(order):] + order[:index % len(order)]
            timing = case_timing if w["point"]["name"] in sweep.ISSUE_CASES else self.short_timing
            out[w["name"]] = {"agreement": agreement, "servers": self.compare(servers, w, rotated, timing)}
            log(f"sweep {index + 1}/{len(self.sweep_workloads)} {w['name']}: top-k vs torch "
                f"{'same' if same else 'DIFFER'} (max |dscore| {diff:.1e}), {time.monotonic() - started:.0f} s so far")
        return out

    def roofline(self) -> dict:
        """The machine's sgemm rate and read bandwidth, and every sweep point's plugin called in
        process (bench/kernels.cc --plugin over the point's request set, one thread, the scan's
        second-core share off: the floors are one core's), then a perf profile of every point more
        than 1.5x above its stage floor."""
        one_core = {**os.environ, "RECSYS_SCAN_SHARE": "0"}

        def kernels(*flags: str) -> dict:
            done = subprocess.run([str(self.a.kernels), *flags], capture_output=True, text=True, timeout=1800,
                                  env=one_core)
            if done.returncode != 0:
                raise RuntimeError(f"kernels failed: {done.stderr}")
            return json.loads(done.stdout)

        roofs = [f for size in sweep.read_sizes() for f in ("--read", str(size))]
        roofs = ["--seconds", "0.4", "--sgemm", "1024", *roofs]
        argv = ["--seconds", str(self.a.roofline_seconds)]
        for w in self.sweep_workloads:
            argv += ["--plugin", self.plugin_case(w)]
        # The machine's rates before and after the plugin calls, the better of the two kept: on a
        # shared machine a neighbour's burst only ever lowers a rate, and a roof measured low
        # would flatter every ratio.
        before, k, after = kernels(*roofs), kernels(*argv), kernels(*roofs)
        sgemm = max(before["sgemm"]["gflops"], after["sgemm"]["gflops"]) * 1e9
        reads = {size: max(x[f"read_{size}"]["gbytes_per_s"] for x in (before, after)) * 1e9
                 for size in sweep.read_sizes()}
        points = {}
        for w in self.sweep_workloads:
            point, call = w["point"], k[f"plugin_{w['name']}"]
            roof = sweep.roofline(point["kind"], point["shape"])
            bandwidth = sweep.bandwidth_for(roof["bytes"], reads)
            floor = max(roof["flops"] / sgemm, roof["bytes"] / bandwidth)
            stage_floor, stages = sweep.stage_floor(roof.pop("stages"), sgemm, reads)
            seconds = call["seconds_per_call"]
            ok = seconds > 0 and not call["error"]
            points[w["name"]] = {**roof, "seconds": seconds, "error": call["error"],
                                 "floor_seconds": floor, "bound": "compute" if roof["flops"] / sgemm >= roof["bytes"] / bandwidth else "memory",
                                 "read_gbytes_per_s": bandwidth / 1e9, "ratio_call": seconds / floor if ok else None,
                                 "stage_floor_seconds": stage_floor, "stages": stages,
                                 "ratio": seconds / stage_floor if ok else None}
            log(f"roofline {w['name']:28s} {roof['flops'] / 1e6:8.2f} MFLOP {roof['bytes'] / 1e6:7.2f} MB "
                f"{seconds * 1e6:8.0f} us, floor {floor * 1e6:7.0f} us ({points[w['name']]['bound']}), stages "
                f"{stage_floor * 1e6:7.0f} us: {points[w['name']]['ratio'] or 0:.2f}x")
        for w in self.sweep_workloads:
            if (points[w["name"]]["ratio"] or 0) > 1.5:
                points[w["name"]]["profile"] = self.profile(w, one_core)
        return {"sgemm_gflops": sgemm / 1e9, "read_gbytes_per_s": {str(s): r / 1e9 for s, r in reads.items()},
                "points": points}

    def plugin_case(self, w: dict) -> str:
        """bench/kernels.cc's --plugin argument for a sweep point."""
        c = self.sweep_cases[w["name"]]
        library = Path(self.a.plugins) / f"librecsys-{c['kind']}.so"
        return f"{w['name']}:{library}:{c['table']}:{c['manifest']}:{c['requests']}"

    def profile(self, w: dict, env: dict) -> list[dict]:
        """Where a point's in-process time goes: `perf record` (cycles sampled at 4 kHz) of the
        plugin called as above for --profile-seconds, the symbols with >= 2 % of the plugin's
        samples (Swift names demangled and shortened). Empty when perf is missing or refuses."""
        if not shutil.which("perf"):
            return []
        with tempfile.TemporaryDirectory() as tmp:
            data, control = Path(tmp) / "perf.data", Path(tmp) / "control"
            os.mkfifo(control)
            # Sampling off until the harness starts the timed calls (kernels.cc StartPerfSampling).
            recorded = subprocess.run(
                ["perf", "record", "-q", "-F", "4000", "-D", "-1", "--control", f"fifo:{control}", "-o", str(data),
                 "--", str(self.a.kernels), "--seconds", str(self.a.profile_seconds), "--plugin", self.plugin_case(w)],
                capture_output=True, text=True, timeout=300, env={**env, "RECSYS_PERF_CONTROL": str(control)})
            if recorded.returncode != 0:
                log(f"perf record failed for {w['name']}: {recorded.stderr.strip()[:200]}")
                return []
            report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "dso,symbol"],
                                    capture_output=True, text=True, timeout=300)
        # The plugin's samples: the harness's own loop around the calls (its binary) left out.
        rows = []
        for line in report.stdout.splitlines():
            parts = line.split(None, 3)
            if len(parts) == 4 and parts[0].endswith("%") and parts[2] in ("[.]", "[k]") \
                    and parts[1] != Path(self.a.kernels).name:
                rows.append({"share": float(parts[0].rstrip("%")), "symbol": parts[3].split("  ")[0].strip()})
        user = sum(row["share"] for row in rows) or 1.0
        rows = [{**row, "share": row["share"] / user} for row in rows if row["share"] / user >= 0.02]
        names = demangle([row["symbol"] for row in rows])
        for row, name in zip(rows, names):
            row["name"] = name
        log(f"profile {w['name']:28s} " + ", ".join(f"{r['name']} {r['share']:.0%}" for r in rows[:4]))
        return rows

    # ---------------------------------------------------------------------- kernels

    def kernels(self) -> dict:
        models = self.prepared["models"]
        mlp = models["mlp"]["shapes"]
        widths = []
        i = 0
        while f"mlp.{i}.weight" in mlp:
            out_features, in_features = mlp[f"mlp.{i}.weight"]
            widths = widths or [in_features]
            widths.append(out_features)
            i += 2
        seq_n, seq_d = models["lstm_50k"]["shapes"]["item_emb.weight"]
        candidates = next(w["candidates"] for w in self.prepared["workloads"] if w["model"] == "mlp")
        argv = [str(self.a.kernels), "--seconds", "0.5", "--fma", "--sgemm", "1024",
                "--gemm-chain", f"{candidates}:{','.join(map(str, widths[1:]))}",
                "--gemv", f"{seq_n}:{seq_d}", "--batched-gemv", f"{seq_n}:{seq_d}",
                "--gemv-mapped", f"{self.prepared['kernel_cases']['lstm_catalog']['table']}:item_emb.weight", "--copy", str(seq_n * seq_d * 4), "--copy", str(256 << 20),
                "--read", str(seq_n * seq_d * 4), "--read", str(256 << 20)]
        for case, c in self.prepared["kernel_cases"].items():
            library = Path(self.a.plugins) / f"librecsys-{c['kind']}.so"
            argv += ["--plugin", f"{case}:{library}:{c['table']}:{c['manifest']}:{c['request']}"]
            if "requests" in c:  # the whole request set, cycled (bench/prepare.py)
                argv += ["--plugin", f"{case}_set:{library}:{c['table']}:{c['manifest']}:{c['requests']}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"kernels failed: {done.stderr}")
        out = json.loads(done.stdout)
        out["mlp_widths"] = widths
        out["catalog_shape"] = [seq_n, seq_d]
        out["mlp_candidates"] = candidates
        log("kernels: " + json.dumps({k: v for k, v in out.items() if not k.startswith("plugin_")}))
        return out

    # ----------------------------------------------------------------------- memory

    @staticmethod
    def status_kib(pid: int) -> dict:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0])
        return fields

    def memory(self) -> dict:
        """What one more loaded version costs: RSS of a sidecar serving model X and a byte-for-byte copy
        of it under a second name (its own files), minus RSS of one serving X alone; both after the
        same requests, so code pages, libraries and allocator pools are resident in both."""
        result = {}
        base = Path(tempfile.mkdtemp(prefix="memory-", dir=self.work))
        try:
            for name, model in self.prepared["models"].items():
                if model["kind"] == "echo":
                    continue
                twin = f"{name}_copy"
                single, double = base / f"{name}-1", base / f"{name}-2"
                for store in (single, double):
                    store.mkdir()
                    (store / name).symlink_to(self.store / name, target_is_directory=True)
                (double / twin / "1").mkdir(parents=True)
                for file in ("model.json", "weights.safetensors"):
                    shutil.copyfile(self.store / name / "1" / file, double / twin / "1" / file)
                kib = {}
                for label, store, served in (("one", single, [name]), ("two", double, [name, twin])):
                    sidecar = self.start_sidecar(store, name, name=f"memory-{name}-{label}")
                    try:
                        workloads = [w for w in self.prepared["workloads"] if w["model"] == name]
                        self.wait_ready(sidecar, name, workloads[0]["request_set"], timeout=120)
                        for model_name in served:  # touch what serving touches (e.g. the whole catalog)
                            for w in workloads:
                                self.replies(sidecar.target, w["request_set"], model_name, 20)
                        time.sleep(0.3)
                        kib[label] = self.status_kib(sidecar.process.pid)
                    finally:
                        sidecar.stop()
                shapes, n = model["shapes"], model["num_items"]
                caches = stated_caches(model)
                # PluginAPI's ItemRowTable: power-of-two buckets at most 80 % full, 4 bytes each.
                buckets = 1 << max(1, math.ceil(math.log2(max(n / 0.8, 1))))
                result[name] = {
                    "kib_one": kib["one"], "kib_two": kib["two"],
                    "delta_bytes": {k: (kib["two"][k] - kib["one"].get(k, 0)) * 1024 for k in kib["two"]},
                    "weights_bytes": model["weights_bytes"], "precomputed_caches_bytes": caches,
                    "id_map_estimate_bytes": buckets * 4,
                }
        finally:
            shutil.rmtree(base, ignore_errors=True)
        log("memory: " + ", ".join(f"{k} +{v['delta_bytes']['VmRSS'] / 1e6:.1f} MB per version / weights "
                                     f"{v['weights_bytes'] / 1e6:.1f} MB" for k, v in result.items()))
        return result

    # ------------------------------------------------------------------------ machine

    @staticmethod
    def machine() -> dict:
        def run(*argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return ""

        lscpu = dict(line.split(":", 1) for line in run("lscpu").splitlines() if ":" in line)
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        flags = lscpu.get("Flags", "")
        versions = {"swift": run("swift", "--version").splitlines()[0] if run("swift", "--version") else "",
                    "python": platform.python_version()}
        for package in ("libgrpc++-dev", "libprotobuf-dev", "libopenblas0-pthread", "libopenblas-dev", "g++"):
            versions[package] = run("dpkg-query", "-W", "-f=${Version}", package)
        for module in ("torch", "onnxruntime", "onnx", "grpc", "numpy"):
            try:
                versions[module] = __import__(module).__version__
            except Exception:  # noqa: BLE001 - informational
                versions[module] = ""
        return {
            "cpu": lscpu.get("Model name", "").strip(), "cpus": os.cpu_count(),
            "threads_per_core": lscpu.get("Thread(s) per core", "").strip(),
            "hypervisor": lscpu.get("Hypervisor vendor", "").strip(),
            "caches": {k.strip(): lscpu[k].strip() for k in lscpu if k.strip().endswith("cache")},
            "avx512": "avx512f" in flags, "mem_gib": round(int(mem) / 2**20, 1),
            "kernel": platform.release(), "os": run("sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"),
            "versions": versions,
        }

    # --------------------------------------------------------------------------- main

    def run(self) -> dict:
        started = time.time()
        results = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "loadavg_before": loadavg(),
                   "machine": self.machine(), "settings": vars(self.a) | {"p99_limit_ms": P99_LIMIT_MS},
                   "prepared": self.prepared}
        results["settings"] = {k: str(v) for k, v in results["settings"].items()}
        cpu_before = cpu_seconds()
        results["sweeps"] = {}
        if self.workloads or "sweep" in self.steps and self.sweep_workloads:
            servers = self.servers = self.start_servers()
            try:
                results["agreement"] = self.agreement(servers)
                results["sweeps"] = self.sweeps(servers)
                if "sweep" in self.steps and self.sweep_workloads:
                    results["shape_sweep"] = self.shape_sweep(servers)
            finally:
                for server in servers.values():
                    server.stop()
        results["loadavg_after_sweeps"] = loadavg()
        results["cpu_during_sweeps"] = others_load(cpu_before, cpu_seconds())
        log(f"CPU during the sweeps (cores, of {os.cpu_count()}): {results['cpu_during_sweeps']}")
        # The sweeps are most of the run: keep them even if a later step fails.
        partial = self.a.out.with_suffix(".sweeps.json")
        partial.write_text(json.dumps(results, indent=2) + "\n")
        log(f"sweeps written to {partial}")
        if "roofline" in self.steps and self.sweep_workloads:
            results["roofline"] = self.roofline()
        results["kernels"] = self.kernels() if "kernels" in self.steps and self.workloads else {}
        results["memory"] = self.memory() if "memory" in self.steps and self.workloads else {}
        results["loadavg_after"] = loadavg()
        results["seconds"] = round(time.time() - started, 1)
        return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepared", type=Path, default=ROOT / "out/bench/prepared.json")
    ap.add_argument("--sidecar", type=Path, required=True)
    ap.add_argument("--plugins", type=Path, required=True)
    ap.add_argument("--loadgen", type=Path, required=True)
    ap.add_argument("--echo-server", type=Path, required=True)
    ap.add_argument("--kernels", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=1.2, help="measured seconds per open-loop point")
    ap.add_argument("--warmup", type=float, default=0.3, help="unmeasured seconds before each point")
    ap.add_argument("--probe-seconds", type=float, default=1.0)
    ap.add_argument("--channels", type=int, default=2, help="TCP connections the load generator opens")
    ap.add_argument("--peer-workers", type=int, default=4)
    ap.add_argument("--check", type=int, default=3, help="requests compared between sidecar and peers")
    ap.add_argument("--quiet-cores", type=float, default=0.5,
                    help="before each sweep, wait while other tenants keep more cores than this busy")
    ap.add_argument("--quiet-wait", type=float, default=180.0, help="total seconds the run may wait for quiet")
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    ap.add_argument("--steps", default="fixed,sweep,roofline,kernels,memory",
                    help="what to run: fixed (the workloads/*.json), sweep (issue 19's shape sweep over gRPC), "
                         "roofline (the sweep points in process), kernels, memory")
    ap.add_argument("--points", default="", help="sweep points whose name starts with one of these (default: all)")
    ap.add_argument("--sweep-seconds", type=float, default=0.8,
                    help="measured seconds per open-loop step of a sweep point (its probes: 0.6 x this)")
    ap.add_argument("--roofline-seconds", type=float, default=0.3, help="in-process timing budget per sweep point")
    ap.add_argument("--profile-seconds", type=float, default=0.6,
                    help="in-process seconds perf records per sweep point above 1.5x its stage floor")
    ap.add_argument("--out", type=Path, default=ROOT / "out/bench/results.json")
    a = ap.parse_args(argv)
    results = Bench(a).run()
    a.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {a.out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
