"""``two_tower``: a user tower over [mean-pooled history ; context] and an item tower over
[item embedding ; item features], meeting in a dot product (docs/models.md).

    user   = user_tower(concat(mean(item_emb[history]), context))      # zeros(d) for no history
    item_r = item_tower(concat(item_emb[r], item_features[r]))         # every catalog row r
    score  = user . item_c      (no candidates: the whole catalog)

``item_features`` is a buffer of the module (so it is in the state_dict) present only when
item_feature_dim > 0.  This file holds everything the tools know about the kind: the module,
how to build it from a state_dict or from scratch, how it scores a request, and an independent
float64 NumPy version with deliberate bugs for the golden fixtures' cross-check.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

KIND = "two_tower"
HPARAM_KEYS = ("context_dim", "item_feature_dim", "max_history")
MUTATIONS = ("history_sum_not_mean", "context_before_history", "item_features_dropped", "relu_after_last")


def _tower(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), nn.ReLU()]
        in_dim = h
    return nn.Sequential(*layers, nn.Linear(in_dim, out_dim))


class TwoTower(nn.Module):
    def __init__(self, num_items: int, dim: int, context_dim: int, item_feature_dim: int,
                 user_hidden: Sequence[int] = (64,), item_hidden: Sequence[int] = (64,), out_dim: int = 32):
        super().__init__()
        self.dim, self.context_dim, self.item_feature_dim = dim, context_dim, item_feature_dim
        self.item_emb = nn.Embedding(num_items, dim)
        if item_feature_dim > 0:
            self.register_buffer("item_features", torch.zeros(num_items, item_feature_dim))
        else:
            self.item_features = None
        self.user_tower = _tower(dim + context_dim, user_hidden, out_dim)
        self.item_tower = _tower(dim + item_feature_dim, item_hidden, out_dim)

    def user_vector(self, hist_rows: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        u = torch.zeros(self.dim) if hist_rows.numel() == 0 else self.item_emb(hist_rows).mean(dim=0)
        return self.user_tower(torch.cat([u, context]))

    def item_vectors(self, rows: torch.Tensor | None) -> torch.Tensor:
        emb = self.item_emb.weight if rows is None else self.item_emb(rows)
        if self.item_features is not None:
            feats = self.item_features if rows is None else self.item_features[rows]
            emb = torch.cat([emb, feats], dim=1)
        return self.item_tower(emb)

    def forward(self, hist_rows: torch.Tensor, context: torch.Tensor, cand_rows: torch.Tensor | None) -> torch.Tensor:
        """cand_rows None -> scores for every catalog row."""
        return self.item_vectors(cand_rows) @ self.user_vector(hist_rows, context)


def _hidden_sizes(sd: dict, prefix: str) -> list[int]:
    sizes, i = [], 0
    while f"{prefix}.{i}.weight" in sd:
        sizes.append(sd[f"{prefix}.{i}.weight"].shape[0])
        i += 2
    if not sizes:
        raise ValueError(f"two_tower: {prefix} needs at least one Linear ({prefix}.0.weight)")
    return sizes


def build(sd: dict, hp: dict) -> TwoTower:
    n, d = sd["item_emb.weight"].shape
    user, item = _hidden_sizes(sd, "user_tower"), _hidden_sizes(sd, "item_tower")
    if user[-1] != item[-1]:
        raise ValueError(f"two_tower: the towers end in {user[-1]} and {item[-1]} outputs; they must be equal")
    return TwoTower(n, d, hp["context_dim"], hp["item_feature_dim"], user[:-1], item[:-1], user[-1])


def make(num_items: int, dim: int, hp: dict, arch: dict) -> TwoTower:
    m = TwoTower(num_items, dim, hp["context_dim"], hp["item_feature_dim"], arch.get("user_hidden", (64,)),
                 arch.get("item_hidden", (64,)), arch.get("tower_dim", 32))
    if m.item_features is not None:  # a buffer: not touched by parameter initialisers
        with torch.no_grad():
            m.item_features.copy_(torch.randn(m.item_features.shape))
    return m


def score(m: TwoTower, p) -> torch.Tensor:
    return m(p.hist, p.context, p.rows)


def manual_score(sd, item_ids, hp, case, mutations=()):
    """float64 NumPy, from the formulas (expected.scores layout; None = unknown candidate)."""
    from .manual import _history, _seq_mlp
    mut = set(mutations)
    row_of = {int(x): r for r, x in enumerate(item_ids)}
    E = sd["item_emb.weight"]
    rows, _ = _history(row_of, case["history_item_ids"], case["history_types"], hp["max_history"], mut)
    ctx = np.asarray(case["context"], dtype=np.float64) if case["context"] else np.zeros(hp["context_dim"])
    if rows:
        u = E[rows].sum(axis=0) if "history_sum_not_mean" in mut else E[rows].mean(axis=0)
    else:
        u = np.zeros(E.shape[1])
    x = np.concatenate([ctx, u] if "context_before_history" in mut else [u, ctx])
    user = _seq_mlp(sd, "user_tower", x, final_relu="relu_after_last" in mut)
    items = E
    if hp["item_feature_dim"] > 0:
        feats = np.zeros_like(sd["item_features"]) if "item_features_dropped" in mut else sd["item_features"]
        items = np.concatenate([E, feats], axis=1)
    scores = _seq_mlp(sd, "item_tower", items, final_relu=False) @ user
    cands = case["candidate_item_ids"]
    if not cands:
        return [float(v) for v in scores]
    return [float(scores[row_of[c]]) if c in row_of else None for c in cands]
