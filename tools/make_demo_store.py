#!/usr/bin/env python3
"""The demo store (demo/store/) and an example request (demo/requests/mlp.json).

demo/store/mlp/1: an ``mlp`` model, N = 5000 items (ids 100000 + 7*r), d = 32, C = 4, F = 0,
hidden 128-64, max_history 50, randomly initialised with a fixed seed (not trained yet: training
comes in a later issue).  Re-running rewrites the same bytes.

Usage (from anywhere):  python tools/make_demo_store.py [--store demo/store] [--requests demo/requests]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from export_store import export_version, load_version, random_module, verify_version  # noqa: E402
from recsys_ref.models import Request  # noqa: E402

REPO = TOOLS.parent
SEED = 20250101
CREATED = "2025-01-01T00:00:00Z"  # fixed so regeneration is byte-identical
NUM_ITEMS, DIM, HIDDEN = 5000, 32, (128, 64)
HPARAMS = {"context_dim": 4, "candidate_feature_dim": 0, "max_history": 50}
EVENT_NAMES = ["VIEW", "CLICK", "ADD_TO_CART", "PURCHASE"]


def item_ids():
    return [100000 + 7 * r for r in range(NUM_ITEMS)]


def example_request(ids):
    rng = np.random.default_rng(SEED)
    hist = [ids[int(r)] for r in rng.choice(NUM_ITEMS, size=6, replace=False)]
    types = [1, 0, 1, 2, 0, 3]
    cands = [ids[int(r)] for r in rng.choice(NUM_ITEMS, size=20, replace=False)]
    t0 = 1735732800000  # 2025-01-01T12:00:00Z
    return {
        "user_id": "u1",
        "history": [{"item_id": h, "type": EVENT_NAMES[t], "timestamp_ms": t0 + 60000 * i}
                    for i, (h, t) in enumerate(zip(hist, types))],
        "candidate_item_ids": cands,
        "context": [0.5, -1.0, 0.25, 1.0],
        "top_k": 5,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=REPO / "demo" / "store")
    ap.add_argument("--requests", type=Path, default=REPO / "demo" / "requests")
    a = ap.parse_args(argv)

    ids = item_ids()
    module = random_module("mlp", NUM_ITEMS, DIM, HPARAMS, SEED, hidden=HIDDEN)
    vdir = export_version(
        a.store, "mlp", 1, "mlp", module, ids, HPARAMS,
        description=(f"Demo mlp ranker: {NUM_ITEMS} items (ids 100000 + 7*r), d={DIM}, hidden "
                     f"{'-'.join(map(str, HIDDEN))}. Randomly initialised with seed {SEED}, NOT trained "
                     "(training comes in a later issue); scores are meaningless but deterministic."),
        created=CREATED, overwrite=True)
    verify_version(vdir)

    req = example_request(ids)
    a.requests.mkdir(parents=True, exist_ok=True)
    (a.requests / "mlp.json").write_text(json.dumps(req, indent=2) + "\n")

    ref, _ = load_version(vdir)
    res, top = ref.recommend(Request([e["item_id"] for e in req["history"]],
                                     [EVENT_NAMES.index(e["type"]) for e in req["history"]],
                                     req["candidate_item_ids"], [], req["context"]), req["top_k"])
    size = sum(f.stat().st_size for f in vdir.iterdir())
    print(f"wrote {vdir} ({size / 1e6:.2f} MB) and {a.requests / 'mlp.json'}")
    print("reference top-k for the example request:")
    for iid, s in zip(top.item_ids, top.scores):
        print(f"  item {iid}  score {s:.6f}")


if __name__ == "__main__":
    main()
