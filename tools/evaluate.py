#!/usr/bin/env python3
"""Offline evaluation of store versions on held-out next items: HR@10 and NDCG@10.

Protocol (leave-last-out, see logdata.py): for each evaluated user the held-out item is the user's
last VIEW; the history is every earlier event of the user (the models keep the last max_history);
context = time, device and page of the held-out VIEW; candidate features at that time.

* "full catalog": the target is ranked against all N catalog items (history items are not removed,
  as in a request without exclude_history; ties count against the target unless the target has
  the lower catalog row, as the sidecar's top-k breaks ties).
* "100 sampled": the target is ranked against 100 items drawn uniformly from the catalog items the
  user never interacted with (seeded per user); reported for comparison with papers that use it.
HR@10 = share of users whose target ranks in the top 10; NDCG@10 = mean of 1/log2(rank + 2) for
those (rank 0 = first).

Scores come from the PyTorch modules as loaded from the store (export_store.load_version): the
module's own forward for one user at a time over the whole catalog, i.e. the reference the sidecar
matches to 1e-4.  For a few users the result is cross-checked against RefModel.score on the actual
request (external ids, whole catalog or candidate list) and the max difference is reported.
The rankers (mlp, dqn) are given every catalog item as candidates (with features for the mlp).

Usage:  python tools/evaluate.py [--logs out/behaviour_logs] [--store demo/store]
            [--models mlp,lstm,sasrec,dqn,popularity] [--users 2000] [--seed 0] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning OpenMP threads on a busy 2-core machine
import torch  # noqa: E402

TOOLS = Path(__file__).resolve().parent
from export_store import load_version, verify_version  # noqa: E402
from logdata import Logs, Split, history_slice, leave_last_out, load_logs  # noqa: E402
from recsys_ref.models import Request, ScoreInputs  # noqa: E402

REPO = TOOLS.parent
K = 10
N_SAMPLED = 100


def eval_users(split: Split, n: int, seed: int) -> np.ndarray:
    """Indices into the split's held-out examples: a seeded sample of n (all if n <= 0)."""
    k = len(split.eval_user)
    if n <= 0 or n >= k:
        return np.arange(k)
    return np.sort(np.random.default_rng(seed).permutation(k)[:n])


@torch.inference_mode()
def catalog_scores(ref, logs: Logs, split: Split, i: int) -> np.ndarray:
    """Scores of every catalog row for held-out example i, from the module's forward."""
    kind = ref.kind
    if kind == "popularity":
        return ref.popularity.numpy()
    L = ref.max_history
    rows, types = history_slice(logs, int(split.eval_user[i]), int(split.eval_hist_end[i]), L)
    h, ht = torch.from_numpy(rows), torch.from_numpy(types)
    # Kinds that rank the whole catalog do it themselves; the others score every row as a candidate.
    all_rows = None if ref.registered.whole_catalog else torch.arange(logs.n_items)
    ctx = torch.from_numpy(split.eval_context()[i]) if "context_dim" in ref.hparams else torch.zeros(0)
    feats = (torch.from_numpy(logs.features(np.arange(logs.n_items), split.eval_ts[i]))
             if "candidate_feature_dim" in ref.hparams else torch.zeros(0))
    return ref.registered.score(ref.module, ScoreInputs(h, ht, all_rows, ctx, feats)).numpy()


def request_for(ref, logs: Logs, split: Split, i: int, candidates) -> Request:
    u, end = int(split.eval_user[i]), int(split.eval_hist_end[i])
    s = int(logs.user_start[u])
    ids = logs.item_ids[logs.ev_row[s:end]].tolist()
    types = logs.ev_type[s:end].tolist()
    feats, ctx = [], []
    if "context_dim" in ref.hparams:
        ctx = split.eval_context()[i].tolist()
    if "candidate_feature_dim" in ref.hparams:
        rows = np.searchsorted(logs.item_ids, candidates) if np.all(np.diff(logs.item_ids) > 0) else \
            np.array([int(np.flatnonzero(logs.item_ids == c)[0]) for c in candidates])
        feats = logs.features(rows, split.eval_ts[i]).reshape(-1).tolist()
    return Request(ids, types, list(candidates), feats, ctx)


def cross_check(ref, logs: Logs, split: Split, users: np.ndarray, n: int = 3) -> float:
    """Max |module forward - RefModel.score(request)| over n users (whole catalog as candidates)."""
    worst = 0.0
    for i in users[:n]:
        full = catalog_scores(ref, logs, split, int(i))
        if ref.kind == "popularity" or ref.registered.whole_catalog:
            res = ref.score(request_for(ref, logs, split, int(i), []))
            got = np.array(res.scores, dtype=np.float64)
        else:
            cands = logs.item_ids.tolist()
            res = ref.score(request_for(ref, logs, split, int(i), cands))
            got = np.array(res.scores, dtype=np.float64)
        worst = max(worst, float(np.abs(got - full).max()))
    return worst


def evaluate_model(ref, logs: Logs, split: Split, users: np.ndarray, seed: int) -> dict:
    hr = ndcg = hr_s = ndcg_s = 0.0
    ranks = []
    for i in users:
        s = catalog_scores(ref, logs, split, int(i))
        t = int(split.eval_target_row[i])
        st = s[t]
        rank = int((s > st).sum() + (s[:t] == st).sum())
        ranks.append(rank)
        if rank < K:
            hr += 1
            ndcg += 1.0 / math.log2(rank + 2)
        # 100 sampled negatives the user never interacted with.
        u = int(split.eval_user[i])
        seen = set(logs.ev_row[logs.user_start[u]:logs.user_start[u + 1]].tolist())
        rng = np.random.default_rng([seed, u])
        negs = []
        while len(negs) < N_SAMPLED:
            for r in rng.integers(0, logs.n_items, size=2 * N_SAMPLED).tolist():
                if r not in seen and r != t and len(negs) < N_SAMPLED:
                    negs.append(r)
        # target index 0 in the candidate list -> ties count in its favour only vs later candidates
        rank_s = int((s[negs] > st).sum())
        if rank_s < K:
            hr_s += 1
            ndcg_s += 1.0 / math.log2(rank_s + 2)
    n = len(users)
    return {"hr": hr / n, "ndcg": ndcg / n, "hr_s": hr_s / n, "ndcg_s": ndcg_s / n, "users": n,
            "median_rank": float(np.median(ranks))}


def evaluate_store(logs: Logs, split: Split, store: Path, models, n_users: int = 2000, seed: int = 0,
                   log=print) -> list:
    torch.set_num_threads(2)
    users = eval_users(split, n_users, seed)
    rows = []
    for name in models:
        vdirs = sorted((p for p in (store / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        vdir = vdirs[-1]
        verify_version(vdir)
        ref, meta = load_version(vdir)
        if list(map(int, ref.item_ids)) != logs.item_ids.tolist():
            raise ValueError(f"{vdir}: item_ids differ from the logs' catalog (rows must match items.csv)")
        t0 = time.time()
        diff = cross_check(ref, logs, split, users)
        res = evaluate_model(ref, logs, split, users, seed)
        res.update(name=name, kind=meta["kind"], version=int(vdir.name), seconds=time.time() - t0, check=diff)
        log(f"  {name}@{vdir.name} ({meta['kind']}): HR@10 {res['hr']:.4f} NDCG@10 {res['ndcg']:.4f} | "
            f"100 sampled: HR@10 {res['hr_s']:.4f} NDCG@10 {res['ndcg_s']:.4f} | median rank "
            f"{res['median_rank']:.0f} | forward vs RefModel {diff:.1e} ({res['seconds']:.0f} s)")
        rows.append(res)
    return rows


def markdown_table(rows: list) -> str:
    base = next((r for r in rows if r["kind"] == "popularity"), None)
    lines = ["| model | kind | HR@10 | NDCG@10 | HR@10 vs popularity | HR@10 (100 sampled) | NDCG@10 (100 sampled) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        rel = f"{r['hr'] / base['hr']:.2f}x" if base and base["hr"] > 0 else "-"
        lines.append(f"| {r['name']}@{r['version']} | {r['kind']} | {r['hr']:.4f} | {r['ndcg']:.4f} | {rel} | "
                     f"{r['hr_s']:.4f} | {r['ndcg_s']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=Path, default=REPO / "out" / "behaviour_logs")
    ap.add_argument("--store", type=Path, default=REPO / "demo" / "store")
    ap.add_argument("--models", default="popularity,mlp,lstm,sasrec,dqn,two_tower")
    ap.add_argument("--users", type=int, default=2000, help="held-out users to evaluate (<= 0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    logs = load_logs(a.logs)
    split = leave_last_out(logs)
    rows = evaluate_store(logs, split, a.store, [m.strip() for m in a.models.split(",") if m.strip()], a.users, a.seed)
    table = markdown_table(rows)
    print(table)
    if a.markdown:
        a.markdown.write_text(table)
    base = next((r for r in rows if r["kind"] == "popularity"), None)
    if base:
        worse = [r["name"] for r in rows if r["kind"] != "popularity" and r["hr"] <= base["hr"]]
        if worse:
            print(f"NOT better than popularity on HR@10: {', '.join(worse)}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
