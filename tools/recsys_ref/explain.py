"""Reference explanations (issue 17): occlusion contributions and SASRec attention, by brute force.

contribution(item, event j) = score(item | kept history) - score(item | kept history without j),
where the kept history is what the model uses (known items, the last max_history of them) and
removing an event does not let an older one slide in: the occluded input is the kept sequence
minus that event.  Every occluded history is simply re-scored through ``RefModel.score`` (no
batching, no closed forms), so the sidecar's batched implementations are checked against plain
PyTorch re-runs.  Attention: the last block's ``nn.MultiheadAttention`` called with
need_weights=True, average_attn_weights=True; its last row (the last position's query).
"""

from __future__ import annotations

import torch

from .models import Request, RefModel


def kept_positions(ref: RefModel, ids, types) -> list[int]:
    """Request history positions of the events the model uses, oldest first."""
    positions = [p for p, iid in enumerate(ids) if int(iid) in ref.row_of]
    return positions[-ref.max_history:] if len(positions) > ref.max_history else positions


def _scores_of(ref: RefModel, case: dict, ids, types, items) -> list[float]:
    res = ref.score(Request(ids, types, case["candidate_item_ids"], case["candidate_features"], case["context"]))
    by_id = {iid: s for iid, s in zip(res.item_ids, res.scores) if s is not None}
    return [by_id[i] for i in items]


def occlusion(ref: RefModel, case: dict, items) -> tuple[list[int], list[list[float]]]:
    """(kept positions, contributions[item][k] for the k-th kept position)."""
    hist, types = case["history_item_ids"], case["history_types"]
    positions = kept_positions(ref, hist, types)
    kept_ids = [hist[p] for p in positions]
    kept_types = [types[p] for p in positions]
    full = _scores_of(ref, case, kept_ids, kept_types, items)
    contributions = [[0.0] * len(positions) for _ in items]
    for k in range(len(positions)):
        ids = kept_ids[:k] + kept_ids[k + 1:]
        tys = kept_types[:k] + kept_types[k + 1:]
        without = _scores_of(ref, case, ids, tys, items)
        for i in range(len(items)):
            contributions[i][k] = full[i] - without[i]
    return positions, contributions


@torch.inference_mode()
def sasrec_attention(ref: RefModel, case: dict) -> list[float]:
    """The last block's head-averaged attention weights of the last position over the kept history."""
    m = ref.module
    rows, _ = ref.kept_history(case["history_item_ids"], case["history_types"])
    n = len(rows)
    if n == 0 or len(m.blocks) == 0:
        return []
    x = (m.item_emb(torch.tensor(rows)) * m.dim ** 0.5 + m.pos_emb(torch.arange(n))).unsqueeze(0)
    mask = m.causal_mask(n)
    for block in m.blocks[:-1]:
        x = block(x, mask)
    last = m.blocks[-1]
    h = last.ln1(x)
    _, weights = last.attn(h, h, h, attn_mask=mask, need_weights=True, average_attn_weights=True)
    return weights[0, -1].tolist()
