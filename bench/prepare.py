#!/usr/bin/env python3
"""make bench, step 1: everything the measurements read, in out/bench/ (not committed).

    out/bench/store/<model>/1/     the bench store every server loads (sidecar and both peers):
        mlp, dqn        the demo store's newest version (demo/store/<kind>/<v>), or a seeded random
                        module of the demo's shape when the demo store has none; dqn is served
                        greedily (epsilon 0) so the peers and the sidecar run the same policy
        lstm_50k,       seeded random modules over a 50 000-item catalog (ids 100000 + 7 r), the
        sasrec_50k      demo's hyperparameters (d, hidden, layers, blocks, heads) when it has them
        echo            item_ids only (the demo catalog): the echo plugin's floor measurement
    out/bench/requests/<set>.jsonl 200 RecommendRequests per request set (proto3 JSON, one a line)
    out/bench/onnx/                the store's modules exported with torch.onnx.export
    out/bench/kernels/             tensor tables and single requests for bench/kernels.cc
    out/bench/stubs/               Python gRPC stubs of protos/
    out/bench/prepared.json        what was prepared, and from what

Requests come from behaviour logs when tools/behaviour_logs.py exists: a seeded log of 1500 users
written to out/bench/logs by that generator (its default seed, the catalog of the demo store).
Each request is one user's last `history` events (users with at least that many; time, device and
page give the context), plus `candidates` distinct catalog items drawn with a fixed seed (features
from the items' price and age, as tools/logdata.py defines them). Without the generator, histories
are drawn from the catalog with a fixed seed instead.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402
from safetensors.numpy import save_file as save_numpy  # noqa: E402

from export_store import export_version, load_version, random_module  # noqa: E402
from recsys_tools import load_item_ids, sha256_file  # noqa: E402
from recsys_tools import newest_version as newest_version_folder  # noqa: E402
from proto_stubs import generate_stubs  # noqa: E402
import sweep  # noqa: E402

SEED = 20251123
REQUESTS_PER_SET = 200
EVENT_NAMES = ("VIEW", "CLICK", "ADD_TO_CART", "PURCHASE")
BIG_CATALOG = 50_000
LOG_USERS = 1500  # users in the generated log (~15 % have >= 50 events: enough for 200 requests)


def log(message: str) -> None:
    print(f"[prepare] {message}", flush=True)


# ------------------------------------------------------------------------------ store


def newest_version(model_dir: Path):
    """The newest version folder, or None when the model has none."""
    try:
        return newest_version_folder(model_dir)
    except FileNotFoundError:
        return None


def safetensors_header(path: Path) -> tuple[dict, int]:
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    header.pop("__metadata__", None)
    return header, 8 + size


def demo_version(demo_store: Path, kind: str):
    """The newest version of demo/store/<kind> whose model.json names that kind."""
    version = newest_version(demo_store / kind)
    if version is None:
        return None
    meta = json.loads((version / "model.json").read_text())
    return version if meta.get("kind") == kind else None


def copy_version(source: Path, target: Path, meta_changes: dict) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copyfile(source / "weights.safetensors", target / "weights.safetensors")
    meta = json.loads((source / "model.json").read_text()) | meta_changes
    (target / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def generated(store: Path, name: str, spec: dict, build) -> tuple[Path, bool]:
    """<store>/<name>/1 built by `build(store, name)` unless it exists with the same spec."""
    version = store / name / "1"
    stamp = store.parent / "specs" / f"{name}.json"
    text = json.dumps(spec, sort_keys=True)
    if version.is_dir() and stamp.is_file() and stamp.read_text() == text:
        return version, False
    shutil.rmtree(store / name, ignore_errors=True)
    build(store, name)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(text)
    return version, True


def seq_shape(demo_store: Path, kind: str) -> dict:
    """The demo's lstm/sasrec hyperparameters (from its tensors), else tools/train.py's defaults."""
    shape = {"lstm": {"dim": 64, "lstm_hidden": 64, "num_layers": 1, "max_history": 50},
             "sasrec": {"dim": 64, "num_blocks": 2, "num_heads": 2, "d_ff": 256, "max_history": 50}}[kind]
    version = demo_version(demo_store, kind)
    if version is None:
        return shape | {"from": "tools/train.py defaults (no demo version)"}
    header, _ = safetensors_header(version / "weights.safetensors")
    meta = json.loads((version / "model.json").read_text())
    shape["dim"] = header["item_emb.weight"]["shape"][1]
    shape["max_history"] = int(meta["max_history"])
    if kind == "lstm":
        shape["lstm_hidden"] = header["lstm.weight_hh_l0"]["shape"][1]
        shape["num_layers"] = int(meta["num_layers"])
    else:
        shape["num_blocks"] = int(meta["num_blocks"])
        shape["num_heads"] = int(meta["num_heads"])
        if shape["num_blocks"]:
            shape["d_ff"] = header["blocks.0.ffn.0.weight"]["shape"][0]
    return shape | {"from": str(version.relative_to(ROOT))}


def build_store(work: Path, demo_store: Path, catalog_size: int) -> dict:
    store = work / "store"
    store.mkdir(parents=True, exist_ok=True)
    models = {}

    for kind, changes in (("mlp", {}), ("dqn", {"epsilon": 0.0})):
        source = demo_version(demo_store, kind)
        if source is not None:
            copy_version(source, store / kind / "1", changes)
            meta = json.loads((source / "model.json").read_text())
            models[kind] = {"kind": kind, "source": str(source.relative_to(ROOT)),
                            "note": (f"served greedily (epsilon {meta.get('epsilon')} -> 0)"
                                     if kind == "dqn" and meta.get("epsilon") else "")}
            continue
        if kind == "mlp":
            hp = {"context_dim": 4, "candidate_feature_dim": 2, "max_history": 50}
            spec = {"kind": kind, "n": catalog_size, "dim": 32, "hidden": [128, 64], **hp}
            make = lambda s, n, hp=hp: export_version(  # noqa: E731
                s, n, 1, "mlp", random_module("mlp", catalog_size, 32, hp, SEED, hidden=(128, 64)),
                [100000 + 7 * r for r in range(catalog_size)], hp, "bench: random mlp (no demo version)")
        else:
            hp = {"context_dim": 4, "max_history": 50, "epsilon": 0.0}
            spec = {"kind": kind, "n": catalog_size, "dim": 32, "state": [64, 64], "adv": 32, **hp}
            make = lambda s, n, hp=hp: export_version(  # noqa: E731
                s, n, 1, "dqn", random_module("dqn", catalog_size, 32, hp, SEED),
                [100000 + 7 * r for r in range(catalog_size)], hp, "bench: random dqn (no demo version)")
        generated(store, kind, spec, make)
        models[kind] = {"kind": kind, "source": "random (the demo store has no version of this kind)", "note": ""}

    for kind in ("lstm", "sasrec"):
        shape = seq_shape(demo_store, kind)
        name = f"{kind}_50k"
        if kind == "lstm":
            hp = {"num_layers": shape["num_layers"], "max_history": shape["max_history"]}
            module = lambda shape=shape, hp=hp: random_module(  # noqa: E731
                "lstm", BIG_CATALOG, shape["dim"], hp, SEED, lstm_hidden=shape["lstm_hidden"])
        else:
            hp = {"num_blocks": shape["num_blocks"], "num_heads": shape["num_heads"], "max_history": shape["max_history"]}
            module = lambda shape=shape, hp=hp: random_module(  # noqa: E731
                "sasrec", BIG_CATALOG, shape["dim"], hp, SEED, d_ff=shape["d_ff"])
        spec = {"kind": kind, "n": BIG_CATALOG, **{k: v for k, v in shape.items() if k != "from"}}
        _, fresh = generated(store, name, spec, lambda s, n, kind=kind, hp=hp, module=module: export_version(
            s, n, 1, kind, module(), [100000 + 7 * r for r in range(BIG_CATALOG)], hp,
            f"bench: random {kind} over {BIG_CATALOG} items, shape of {shape['from']}"))
        models[name] = {"kind": kind, "source": f"random, {BIG_CATALOG} items, shape of {shape['from']}", "note": ""}
        log(f"{name}: {'generated' if fresh else 'kept'} ({spec})")

    mlp_ids = load_item_ids(store / "mlp" / "1")
    echo_dir = store / "echo" / "1"
    shutil.rmtree(store / "echo", ignore_errors=True)
    echo_dir.mkdir(parents=True)
    save_numpy({"item_ids": mlp_ids}, str(echo_dir / "weights.safetensors"))
    os.chmod(echo_dir / "weights.safetensors", 0o644)
    (echo_dir / "model.json").write_text(json.dumps(
        {"kind": "echo", "sha256": sha256_file(echo_dir / "weights.safetensors"),
         "description": "bench: echo plugin floor; the mlp's catalog ids"}, indent=2) + "\n")
    models["echo"] = {"kind": "echo", "source": "item_ids of the bench mlp", "note": ""}

    for name, entry in models.items():
        describe(store / name / "1", entry)
    return models


def describe(version: Path, entry: dict) -> None:
    """What the later steps read of a stored version: its files, model.json and tensor table."""
    meta = json.loads((version / "model.json").read_text())
    header, data_start = safetensors_header(version / "weights.safetensors")
    entry.update({
        "version_dir": str(version), "weights_bytes": (version / "weights.safetensors").stat().st_size,
        "meta": {k: v for k, v in meta.items() if k not in ("sha256", "description", "created")},
        "tensors": {k: {"dtype": v["dtype"], "shape": v["shape"], "offsets": v["data_offsets"]} for k, v in header.items()},
        "data_start": data_start,
        "num_items": header["item_ids"]["shape"][0],
    })


def build_sweep_store(work: Path) -> tuple[dict, list[dict]]:
    """Issue 19's shape sweep (bench/sweep.py): one seeded random version per point in the bench
    store (kept when its spec is unchanged), and a workload per point. Request sets are shared by
    the points whose requests are interchangeable (same catalog, candidates, context and features)."""
    store = work / "store"
    models, workloads = {}, []
    for point in sweep.points():
        kind, shape, name = point["kind"], point["shape"], f"sweep_{point['name']}"
        hp = sweep.hparams(kind, shape)
        spec = {"kind": kind, "seed": sweep.SEED, **shape, **hp}
        generated(store, name, spec, lambda s, n, kind=kind, shape=shape, hp=hp: export_version(
            s, n, 1, kind, random_module(kind, shape["N"], shape["d"], hp, sweep.SEED, **sweep.module_options(kind, shape)),
            [100000 + 7 * r for r in range(shape["N"])], hp, f"bench: issue 19 sweep point {point['name']}"))
        models[name] = {"kind": kind, "source": f"random, sweep point {point['factor']} of {kind} {point['base']}",
                        "note": "", "point": point}
        describe(store / name / "1", models[name])
        key = f"N{shape['N']}_m{shape['candidates']}_c{shape.get('C', 0)}_f{shape.get('F', 0)}"
        workloads.append({"name": name, "model": name, "request_set": f"sweep_{key}", "history": sweep.HISTORY,
                          "candidates": shape["candidates"], "top_k": sweep.TOP_K,
                          "description": f"sweep {point['name']}: {kind} {point['factor']} around base {point['base']}",
                          "point": point})
    log(f"sweep: {len(models)} points in {store}")
    return models, workloads


# ---------------------------------------------------------------------------- requests


def find_logs(work: Path, generate: bool) -> tuple[Path | None, str]:
    """Our own seeded log (the demo's generator and seed, fewer users), so the request sets are the
    same on every machine whatever else out/ holds."""
    generator = ROOT / "tools" / "behaviour_logs.py"
    if not generator.is_file():
        return None, "no tools/behaviour_logs.py: histories drawn from the catalog with a fixed seed"
    ours = work / "logs"
    if not (ours / "events.csv").is_file() and generate:
        log(f"generating behaviour logs ({LOG_USERS} users) into {ours}")
        started = time.time()
        subprocess.run([sys.executable, str(generator), "--out", str(ours), "--users", str(LOG_USERS)],
                       check=True, stdout=subprocess.DEVNULL)
        log(f"behaviour logs written in {time.time() - started:.0f} s")
    return ours, (f"behaviour logs from tools/behaviour_logs.py (the demo's generator, its default seed, "
                  f"{LOG_USERS} users), written to out/bench/logs")


def read_logs(folder: Path):
    items = {}
    with open(folder / "items.csv", newline="") as f:
        for rec in csv.DictReader(f):
            items[int(rec["item_id"])] = (float(rec["price"]), int(rec["launch_ts_ms"]))
    users: dict[str, list] = {}
    with open(folder / "events.csv", newline="") as f:
        for rec in csv.DictReader(f):
            users.setdefault(rec["user_id"], []).append(
                (int(rec["timestamp_ms"]), int(rec["item_id"]), EVENT_NAMES.index(rec["event"]),
                 rec.get("device") == "mobile", rec.get("surface") == "pdp"))
    for events in users.values():
        events.sort(key=lambda e: e[0])
    return items, users


def context_of(ts_ms: int, mobile: bool, on_pdp: bool) -> list[float]:
    """tools/logdata.py's context: [sin, cos of the UTC hour, is_mobile, on_product_page]."""
    hour = (ts_ms % 86_400_000) / 3_600_000
    angle = 2 * math.pi * hour / 24
    return [math.sin(angle), math.cos(angle), 1.0 if mobile else 0.0, 1.0 if on_pdp else 0.0]


def features_of(item_id: int, ts_ms: int, items: dict) -> list[float]:
    """tools/logdata.py's candidate features: [(ln(price) - 4) / 1.5, clip(age_days, 0, 365) / 365]."""
    price, launch = items.get(item_id, (math.exp(4), ts_ms))
    age = min(max((ts_ms - launch) / 86_400_000, 0), 365) / 365
    return [(math.log(price) - 4) / 1.5, age]


def build_requests(work: Path, workloads: list[dict], models: dict, logs, logs_note: str) -> dict:
    out_dir = work / "requests"
    out_dir.mkdir(parents=True, exist_ok=True)
    items, users = read_logs(logs) if logs else ({}, {})
    sets = {}
    for w in workloads:
        name = w["request_set"]
        if name in sets or (w["model"] == "echo" and any(
                x["request_set"] == name and x["model"] != "echo" for x in workloads)):
            continue
        meta = models[w["model"]]["meta"]
        catalog = load_item_ids(Path(models[w["model"]]["version_dir"]))
        context_dim = int(meta.get("context_dim", 0))
        feature_dim = int(meta.get("candidate_feature_dim", 0))
        rng = np.random.default_rng([SEED, len(sets)])
        history_len, candidates, top_k = w["history"], w["candidates"], w["top_k"]
        eligible = sorted(u for u, ev in users.items() if len(ev) >= history_len)
        if len(eligible) < REQUESTS_PER_SET:  # not enough long histories: take the longest ones
            eligible = sorted(users, key=lambda u: (-len(users[u]), u))[:REQUESTS_PER_SET]
        chosen = [eligible[i] for i in sorted(rng.choice(len(eligible), REQUESTS_PER_SET, replace=False))] \
            if len(eligible) >= REQUESTS_PER_SET else eligible
        lines, lengths = [], []
        for index in range(REQUESTS_PER_SET):
            if chosen:
                user = chosen[index % len(chosen)]
                events = users[user][-history_len:]
                ts = events[-1][0] + 30_000
                mobile, on_pdp = events[-1][3], events[-1][4]
            else:  # no logs: a seeded walk over the catalog
                user = f"b{index:05d}"
                rows = rng.choice(min(len(catalog), 20_000), history_len, replace=False)
                t0 = 1736000000000 + int(rng.integers(0, 28 * 86_400_000))
                events = [(t0 + 45_000 * j, int(catalog[r]), int(rng.choice(4, p=[.5, .3, .15, .05])), False, False)
                          for j, r in enumerate(rows)]
                ts, mobile, on_pdp = events[-1][0] + 30_000, bool(rng.integers(2)), bool(rng.integers(2))
            lengths.append(len(events))
            request = {
                "userId": user,
                "history": [{"itemId": e[1], "type": EVENT_NAMES[e[2]], "timestampMs": e[0]} for e in events],
                "topK": top_k,
            }
            if candidates:
                cands = [int(catalog[r]) for r in rng.choice(len(catalog), candidates, replace=False)]
                request["candidateItemIds"] = cands
                if feature_dim:
                    feats = [features_of(c, ts, items) for c in cands] if feature_dim == 2 and items else \
                        rng.standard_normal((candidates, feature_dim)).round(4).tolist()
                    request["candidateFeatures"] = [round(float(v), 6) for row in feats for v in row]
            if context_dim:
                ctx = context_of(ts, mobile, on_pdp) if context_dim == 4 and chosen else \
                    rng.standard_normal(context_dim).round(4).tolist()
                request["context"] = [round(float(v), 6) for v in ctx]
            lines.append(json.dumps(request, separators=(",", ":")))
        path = out_dir / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        sets[name] = {"path": str(path), "count": len(lines), "owner_model": w["model"],
                      "history": history_len, "candidates": candidates, "top_k": top_k,
                      "context_dim": context_dim, "feature_dim": feature_dim,
                      "history_lengths": [min(lengths), round(sum(lengths) / len(lengths), 1), max(lengths)],
                      "users": len(set(chosen)) if chosen else REQUESTS_PER_SET,
                      "source": logs_note, "bytes_per_request": round(os.path.getsize(path) / len(lines))}
        log(f"request set {name}: {len(lines)} requests, history {sets[name]['history_lengths']} "
            f"(min/mean/max), {candidates} candidates")
    return sets


# -------------------------------------------------------------------- onnx and kernels


def export_onnx(work: Path, models: dict, sets: dict, workloads: list[dict]) -> dict:
    import onnxruntime as ort

    from onnx_export import export_model
    out = {}
    for name, entry in models.items():
        if entry["kind"] == "echo":
            continue
        # An export (and its check) is kept while it is newer than the weights it was made from:
        # the sweep's 45 exports are minutes of a fresh `make bench`.
        record = work / "onnx" / f"{name}.check.json"
        weights = Path(entry["version_dir"]) / "weights.safetensors"
        if record.is_file() and record.stat().st_mtime >= weights.stat().st_mtime:
            out[name] = json.loads(record.read_text())
            continue
        ref, meta = load_version(Path(entry["version_dir"]))
        t = time.time()
        paths = export_model(entry["kind"], ref.module, meta, work / "onnx", name)
        # Check: ONNX Runtime vs. the reference module on one benchmark request.
        workload = next(w for w in workloads if w["model"] == name)
        request = json.loads(Path(sets[workload["request_set"]]["path"]).read_text().splitlines()[0])
        hist_ids = [e["itemId"] for e in request["history"]]
        hist_types = [EVENT_NAMES.index(e["type"]) for e in request["history"]]
        rows, types = ref.kept_history(hist_ids, hist_types)
        cands = [ref.row_of[c] for c in request.get("candidateItemIds", [])[:50]] or list(range(50))
        h = torch.tensor(rows)
        with torch.inference_mode():
            if entry["kind"] == "mlp":
                f = int(meta["candidate_feature_dim"])
                feats = torch.tensor(request.get("candidateFeatures", [0.0] * 500 * f)[:50 * f]).reshape(50, f)
                expected = ref.module(h, torch.tensor(cands), torch.tensor(request.get("context", [])), feats)
                feeds = {"hist_rows": np.array(rows), "hist_flag": np.ones(1, np.float32),
                         "cand_rows": np.array(cands), "context": np.array(request.get("context", []), np.float32),
                         "features": feats.numpy()}
            elif entry["kind"] == "dqn":
                expected = ref.module(h, torch.tensor(request.get("context", [])), torch.tensor(cands))
                feeds = {"hist_rows": np.array(rows), "hist_flag": np.ones(1, np.float32),
                         "cand_rows": np.array(cands), "context": np.array(request.get("context", []), np.float32)}
            else:
                args = (h, torch.tensor(types)) if entry["kind"] == "lstm" else (h,)
                expected = ref.module(*args, torch.tensor(cands))
                feeds = {"hist_rows": np.array(rows), "hist_types": np.array(types), "cand_rows": np.array(cands)}
        session = ort.InferenceSession(paths["cand"])
        names = {i.name for i in session.get_inputs()}
        got = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        diff = float(np.abs(got - expected.numpy()).max())
        out[name] = {**paths, "max_abs_diff_vs_torch": diff, "export_seconds": round(time.time() - t, 2)}
        log(f"onnx {name}: exported in {out[name]['export_seconds']} s, max |onnx - torch| = {diff:.2e}")
        if diff > 1e-3:
            raise SystemExit(f"ONNX export of {name} disagrees with the reference module ({diff})")
        record.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in out[name].items()}))
    return out


def kernel_inputs(work: Path, models: dict, sets: dict, workloads: list[dict]) -> dict:
    folder = work / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, entry in models.items():
        lines = [str(Path(entry["version_dir"]) / "weights.safetensors")]
        for tensor, t in entry["tensors"].items():
            begin, end = t["offsets"]
            lines.append(" ".join([tensor, t["dtype"], str(len(t["shape"])), *map(str, t["shape"]),
                                   str(entry["data_start"] + begin), str(end - begin)]))
        tables[name] = folder / f"{name}.table"
        tables[name].write_text("\n".join(lines) + "\n")
        (folder / f"{name}.model.json").write_text(Path(entry["version_dir"], "model.json").read_text())
    cases = {}

    def request_lines(request):
        return ["history " + " ".join(str(e["itemId"]) for e in request.get("history", [])),
                "types " + " ".join(str(EVENT_NAMES.index(e["type"])) for e in request.get("history", [])),
                "candidates " + " ".join(map(str, request.get("candidateItemIds", []))),
                "context " + " ".join(map(str, request.get("context", []))),
                "features " + " ".join(map(str, request.get("candidateFeatures", []))),
                f"top_k {request.get('topK', 10)}"]

    def write_case(case, model, request, request_set=None):
        path = folder / f"{case}.request"
        path.write_text("\n".join(request_lines(request)) + "\n")
        cases[case] = {"model": model, "kind": models[model]["kind"], "table": str(tables[model]),
                       "manifest": str(folder / f"{model}.model.json"), "request": str(path)}
        if request_set:
            # Every request of the set, separated by "next": kernels cycles through them, so caches
            # hold what a stream of different requests leaves, as in the server.
            every = folder / f"{case}.requests"
            every.write_text("".join("\n".join(request_lines(r) + ["next"]) + "\n" for r in request_set))
            cases[case]["requests"] = str(every)

    for w in workloads:
        lines = Path(sets[w["request_set"]]["path"]).read_text().splitlines()
        write_case(w["name"], w["model"], json.loads(lines[0]), [json.loads(line) for line in lines if line.strip()])
    if "lstm_50k" in models:
        # The catalog GEMV almost alone: an lstm with an empty history scores the catalog with z = proj(0).
        write_case("catalog_gemv_empty_history", "lstm_50k", {"topK": 10})
    return cases


# ---------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--demo-store", type=Path, default=ROOT / "demo" / "store")
    ap.add_argument("--workloads", type=Path, default=ROOT / "bench" / "workloads")
    ap.add_argument("--no-sweep", action="store_true", help="skip issue 19's shape sweep (bench/sweep.py)")
    a = ap.parse_args(argv)
    started = time.time()
    torch.set_num_threads(2)
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    order = ["echo", "mlp", "lstm_500", "lstm_catalog", "sasrec_500", "sasrec_catalog", "dqn"]
    workloads = sorted((json.loads(p.read_text()) for p in a.workloads.glob("*.json")),
                       key=lambda w: (order.index(w["name"]) if w["name"] in order else 99, w["name"]))

    logs, logs_note = find_logs(work, generate=True)
    catalog_size = 20_000
    if logs is not None:
        with open(logs / "items.csv") as f:
            catalog_size = sum(1 for _ in f) - 1
    models = build_store(work, a.demo_store.resolve(), catalog_size)
    sets = build_requests(work, workloads, models, logs, logs_note)
    onnx = export_onnx(work, models, sets, workloads)
    kernels = kernel_inputs(work, models, sets, workloads)
    sweep_prepared = None
    if not a.no_sweep:
        sweep_started = time.time()
        sweep_models, sweep_workloads = build_sweep_store(work)
        sweep_sets = build_requests(work, sweep_workloads, sweep_models, None, "random histories (seeded)")
        sweep_prepared = {"models": sweep_models, "workloads": sweep_workloads,
                          "onnx": export_onnx(work, sweep_models, sweep_sets, sweep_workloads),
                          "kernel_cases": kernel_inputs(work, sweep_models, sweep_sets, sweep_workloads)}
        sets.update(sweep_sets)
        for entry in sweep_models.values():
            entry["shapes"] = {k: v["shape"] for k, v in entry.pop("tensors").items()}
        sweep_prepared["seconds"] = round(time.time() - sweep_started, 1)

    stubs = work / "stubs"  # for the peers, which put it on their own path
    shutil.rmtree(stubs, ignore_errors=True)
    generate_stubs(stubs, on_path=False)

    for entry in models.values():
        entry["shapes"] = {k: v["shape"] for k, v in entry.pop("tensors").items()}
    prepared = {"work": str(work), "workloads": workloads, "models": models, "request_sets": sets, "onnx": onnx,
                "kernel_cases": kernels, "logs": logs_note, "sweep": sweep_prepared,
                "seconds": round(time.time() - started, 1)}
    (work / "prepared.json").write_text(json.dumps(prepared, indent=2) + "\n")
    log(f"done in {prepared['seconds']} s -> {work / 'prepared.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
