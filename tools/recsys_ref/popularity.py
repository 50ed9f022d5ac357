"""The ``popularity`` kind: the A/B control and the example of a third-party plugin.

On disk (same store layout as the four model kinds):
    weights.safetensors   item_ids   int64   [N]
                          popularity float32 [N]   (e.g. log(1 + interaction count))
    model.json            {"kind": "popularity", "sha256": ..., "created": ..., "description": ...}

Scoring: score(c) = popularity[row(c)]; the history and context are ignored.  Like the sequence
kinds, an empty candidate list scores the whole catalog.  Unknown candidates are not scored and are
reported; ties are broken by lower candidate index (catalog row for the whole catalog), so the
request semantics are exactly those of ``RefModel`` in models.py.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .models import Request, ScoreResult, top_k

KIND = "popularity"
TENSORS = ("item_ids", "popularity")


def check_tensors(tensors: dict) -> None:
    if set(tensors) != set(TENSORS):
        raise ValueError(f"popularity: expected tensors {sorted(TENSORS)}, got {sorted(tensors)}")
    ids, pop = tensors["item_ids"], tensors["popularity"]
    if ids.dtype != torch.int64 or ids.ndim != 1:
        raise ValueError("popularity: item_ids must be int64 [N]")
    if pop.dtype != torch.float32 or tuple(pop.shape) != tuple(ids.shape):
        raise ValueError("popularity: popularity must be float32 [N] with N = len(item_ids)")
    if not torch.isfinite(pop).all():
        raise ValueError("popularity: values must be finite")
    if len(set(ids.tolist())) != ids.numel():
        raise ValueError("popularity: item_ids must be unique")


class PopularityRef:
    """Reference scorer with the request semantics of RefModel."""

    kind = KIND

    def __init__(self, item_ids: Sequence[int], popularity: torch.Tensor):
        self.item_ids = [int(x) for x in item_ids]
        self.row_of = {iid: r for r, iid in enumerate(self.item_ids)}
        self.popularity = popularity.to(torch.float32)
        self.hparams: dict = {}

    def score(self, req: Request) -> ScoreResult:
        cands = [int(c) for c in (req.candidate_item_ids or [])]
        if not cands:
            return ScoreResult(self.popularity.tolist(), True, list(self.item_ids))
        scores = [float(self.popularity[self.row_of[c]]) if c in self.row_of else None for c in cands]
        return ScoreResult(scores, False, cands, [c for c in cands if c not in self.row_of])

    def recommend(self, req: Request, k: int, exclude_history: bool = False):
        res = self.score(req)
        excl = [int(x) for x in req.history_item_ids] if exclude_history else []
        return res, top_k(res, k, excl)
