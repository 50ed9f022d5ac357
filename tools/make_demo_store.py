#!/usr/bin/env python3
"""The demo: behaviour logs -> trained models in demo/store -> demo/EVALUATION.md + demo/requests.

1. tools/behaviour_logs.py writes seeded synthetic logs to out/behaviour_logs/ (git-ignored) and a
   small excerpt to demo/logs_sample/ (committed, to show the format).
2. tools/train.py trains popularity, mlp, lstm, sasrec and dqn on the leave-last-out split and
   exports demo/store/<kind>/1 (overwriting).
3. tools/evaluate.py scores the held-out next items with the exported versions; the table goes to
   demo/EVALUATION.md.  The script fails if a trained kind does not beat popularity on HR@10.
4. demo/requests/<kind>.json: one example Recommend request per model, built from a real user of
   the logs (history with real ids and timestamps; candidates from that user's logged slates).

Everything is seeded and the store records a fixed "created" time; on the same machine and torch
build (CPU, 2 threads) re-running reproduces the same bytes.

Usage (from the repository root, no arguments needed):  python tools/make_demo_store.py
    [--seed 7] [--users 10000] [--eval-users 2000] [--reuse-logs] [--store demo/store] ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning OpenMP threads on a busy 2-core machine
import torch  # noqa: E402

TOOLS = Path(__file__).resolve().parent
import behaviour_logs  # noqa: E402
import evaluate  # noqa: E402
import train  # noqa: E402
from export_store import load_version, verify_version  # noqa: E402
from logdata import CONTEXT_DOC, EVENT_NAMES, FEATURE_DOC, leave_last_out, load_logs  # noqa: E402
from recsys_ref.models import Request  # noqa: E402

REPO = TOOLS.parent
CREATED = "2025-01-01T00:00:00Z"  # fixed so regeneration is byte-identical
KINDS = ("popularity", "mlp", "lstm", "sasrec", "dqn", "two_tower")
DEFAULT_MODEL = "mlp"  # `make run` serves with --default-model mlp


def _round(xs, nd=6):
    return [round(float(x), nd) for x in xs]


def pick_demo_user(logs, split):
    """A held-out user with a medium-length history and at least two logged slates."""
    best = None
    for i in range(len(split.eval_user)):
        u, end = int(split.eval_user[i]), int(split.eval_hist_end[i])
        n_hist = end - int(logs.user_start[u])
        n_imp = int(((logs.imp_user == u) & (logs.imp_ts < split.eval_ts[i])).sum())
        if 10 <= n_hist <= 20 and n_imp >= 2 and split.eval_pdp[i] == 1:
            return i
        if best is None and n_hist >= 3:
            best = i
    return best


def build_requests(logs, split, store: Path, out: Path, log=print) -> dict:
    i = pick_demo_user(logs, split)
    u, end = int(split.eval_user[i]), int(split.eval_hist_end[i])
    s = max(int(logs.user_start[u]), end - 15)
    history = [{"item_id": int(logs.item_ids[logs.ev_row[j]]), "type": EVENT_NAMES[int(logs.ev_type[j])],
                "timestamp_ms": int(logs.ev_ts[j])} for j in range(s, end)]
    # Candidates: the items of the user's last two logged slates before the held-out item, plus it.
    imps = np.flatnonzero((logs.imp_user == u) & (logs.imp_ts < split.eval_ts[i]))[-2:]
    rows = [int(split.eval_target_row[i])] + [int(r) for k in imps[::-1] for r in logs.imp_rows[k] if r >= 0]
    rows = list(dict.fromkeys(rows))[:20]
    rows = [rows[k] for k in np.random.default_rng(0).permutation(len(rows))]
    cands = [int(logs.item_ids[r]) for r in rows]
    ctx = _round(split.eval_context()[i])
    feats = _round(logs.features(np.array(rows), split.eval_ts[i]).reshape(-1))
    user_id = logs.users[u]
    base = {"user_id": user_id, "history": history}
    reqs = {
        "mlp": {**base, "candidate_item_ids": cands, "candidate_features": feats, "context": ctx, "top_k": 5},
        "dqn": {**base, "model": "dqn", "candidate_item_ids": cands, "context": ctx, "top_k": 5},
        "lstm": {**base, "model": "lstm", "top_k": 10},
        "sasrec": {**base, "model": "sasrec", "top_k": 10, "exclude_history": True},
        "popularity": {**base, "model": "popularity", "candidate_item_ids": cands, "top_k": 5},
        "two_tower": {**base, "model": "two_tower", "context": ctx, "top_k": 10, "exclude_history": True},
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, req in reqs.items():
        (out / f"{name}.json").write_text(json.dumps(req, indent=2) + "\n")
    log(f"requests: user {user_id}, {len(history)} history events, {len(cands)} candidates, held-out item "
        f"{int(logs.item_ids[split.eval_target_row[i]])} -> {out}/{{{','.join(reqs)}}}.json")
    # Reference answers (what the sidecar must return, up to 1e-4).
    for name, req in reqs.items():
        ref, _ = load_version(store / name / "1")
        r = Request([e["item_id"] for e in req["history"]], [EVENT_NAMES.index(e["type"]) for e in req["history"]],
                    req.get("candidate_item_ids", []), req.get("candidate_features", []), req.get("context", []))
        _, top = ref.recommend(r, req["top_k"], req.get("exclude_history", False))
        log(f"  {name}: top {req['top_k']} " + ", ".join(f"{iid} ({sc:.3f})" for iid, sc in zip(top.item_ids, top.scores)))
    return {"user_id": user_id, "target": int(logs.item_ids[split.eval_target_row[i]])}


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def write_evaluation(path: Path, meta: dict, logs, split, rows: list, store: Path, cfg: train.Config,
                     n_eval: int, eval_seed: int, train_data_counts: dict) -> None:
    by_type = ", ".join(f"{k} {v:,}" for k, v in meta["events_by_type"].items())
    sizes = {k: dir_size(store / k / "1") for k in KINDS}
    lines = [
        "# Offline evaluation of the demo store",
        "",
        "Generated by `tools/make_demo_store.py` (do not edit by hand). Regenerate with `make demo-store`.",
        "",
        "## Data",
        "",
        f"Synthetic behaviour logs from `tools/behaviour_logs.py`, seed {meta['seed']}: "
        f"{meta['n_items']:,} items in {meta['n_categories']} categories, {meta['n_users']:,} users, "
        f"{meta['days']} days, {meta['n_sessions']:,} sessions, {meta['n_events']:,} events ({by_type}), "
        f"{meta['n_impressions']:,} impressions (slates of {meta['slate_size']}, slate CTR {meta['slate_ctr']:.3f}).",
        "",
        f"Split: leave-last-out per user (`tools/logdata.py`). {len(split.eval_user):,} users have >= 3 VIEWs; "
        "for each, the last VIEW is the held-out next item and it and everything after it are not trained on "
        "(nor the slates that may have led to it). Training: "
        f"{train_data_counts['events']:,} events, {train_data_counts['impressions']:,} impressions, "
        f"{train_data_counts['windows']:,} sequence windows.",
        "",
        "## How it was measured",
        "",
        f"{n_eval:,} held-out users (seeded sample, seed {eval_seed}; the same users for every model). "
        "History = all the user's events before the held-out VIEW (each model keeps its last max_history = "
        f"{cfg.max_history}); context = {CONTEXT_DOC} at the held-out VIEW; mlp candidate features = {FEATURE_DOC}.",
        "",
        "* **HR@10 / NDCG@10** (the primary columns): the held-out item is ranked against the **whole catalog** "
        f"({logs.n_items:,} items; history items are not removed, ties count against it). The rankers "
        "(mlp, dqn) score every catalog item as a candidate.",
        "* **(100 sampled)**: ranked against 100 items drawn uniformly from the items the user never "
        "interacted with, the protocol of many papers, shown for comparison only: it is much easier (most "
        "sampled items are unpopular, so even popularity reaches ~0.6) and compresses the differences.",
        "",
        "Scores come from the PyTorch reference modules loaded from `demo/store/<kind>/1` (`tools/evaluate.py`; "
        "checked against `RefModel.score` on the real requests, max difference below). The sidecar matches "
        "these modules to 1e-4.",
        "",
        "## Results",
        "",
        evaluate.markdown_table(rows).rstrip("\n"),
        "",
        "| model | median rank of the held-out item | forward vs RefModel | store size |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['median_rank']:.0f} | {r['check']:.1e} | {sizes[r['name']] / 1e6:.2f} MB |")
    lines += ["", f"Total store size: {sum(sizes.values()) / 1e6:.2f} MB (float32).", "", "## Models", ""]
    for k in KINDS:
        m = json.loads((store / k / "1" / "model.json").read_text())
        hp = {kk: v for kk, v in m.items() if kk not in ("kind", "sha256", "created", "description")}
        lines.append(f"* **{k}** (`{json.dumps(hp)}`, sha256 `{m['sha256'][:16]}…`): {m.get('description', '')}")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=Path, default=REPO / "out" / "behaviour_logs")
    ap.add_argument("--sample", type=Path, default=REPO / "demo" / "logs_sample")
    ap.add_argument("--store", type=Path, default=REPO / "demo" / "store")
    ap.add_argument("--requests", type=Path, default=REPO / "demo" / "requests")
    ap.add_argument("--evaluation", type=Path, default=REPO / "demo" / "EVALUATION.md")
    ap.add_argument("--seed", type=int, default=7, help="behaviour-log seed")
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--eval-users", type=int, default=2000)
    ap.add_argument("--reuse-logs", action="store_true", help="keep existing logs if their meta.json matches")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    t_all = time.time()
    stamps = {}

    t0 = time.time()
    meta_path = a.logs / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    want = {"seed": a.seed, "n_items": a.items, "n_users": a.users}
    if not (a.reuse_logs and all(meta.get(k) == v for k, v in want.items())):
        print(f"[1/4] behaviour logs -> {a.logs}")
        meta = behaviour_logs.generate(a.logs, n_items=a.items, n_users=a.users, seed=a.seed,
                                       log=lambda s: print(s, flush=True))
    else:
        print(f"[1/4] reusing {a.logs}")
    behaviour_logs.write_sample(a.logs, a.sample, n_users=10)
    stamps["logs"] = time.time() - t0

    print("[2/4] training")
    t0 = time.time()
    logs = load_logs(a.logs)
    split = leave_last_out(logs)
    cfg = train.Config(seed=a.train_seed, log=lambda s: print(s, flush=True))
    res = train.train_and_export(logs, split, a.store, KINDS, 1, cfg, CREATED)
    for k in KINDS:
        verify_version(a.store / k / "1")
    stamps["train"] = time.time() - t0

    print(f"[3/4] evaluation ({a.eval_users} held-out users, whole catalog)")
    t0 = time.time()
    rows = evaluate.evaluate_store(logs, split, a.store, KINDS, a.eval_users, 0,
                                   log=lambda s: print(s, flush=True))
    counts = {"events": int(split.train_event.sum()), "impressions": res["n_train_impressions"],
              "windows": res["n_windows"]}
    write_evaluation(a.evaluation, meta, logs, split, rows, a.store, cfg, min(a.eval_users, len(split.eval_user)), 0,
                     counts)
    stamps["evaluate"] = time.time() - t0

    print("[4/4] example requests")
    build_requests(logs, split, a.store, a.requests)

    total = time.time() - t_all
    print(evaluate.markdown_table(rows))
    for k in KINDS:
        m = json.loads((a.store / k / "1" / "model.json").read_text())
        print(f"  {k:10s} {dir_size(a.store / k / '1') / 1e6:6.2f} MB  sha256 {m['sha256']}  "
              f"trained in {res['seconds'][k]:.0f} s")
    print(f"store {dir_size(a.store) / 1e6:.2f} MB; wrote {a.evaluation}")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in stamps.items()) + f"; total {total:.0f} s "
          f"(cpu {time.process_time():.0f} s)")
    base = next(r for r in rows if r["kind"] == "popularity")
    worse = [r["name"] for r in rows if r["kind"] != "popularity" and r["hr"] <= base["hr"]]
    if worse:
        print(f"ERROR: not better than popularity on HR@10: {', '.join(worse)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
