"""Reference PyTorch modules for the mlp, lstm, sasrec and dqn kinds of docs/models.md.

Module attribute names are exactly those of the on-disk contract, so
``module.state_dict()`` has the tensor names the sidecar reads.  ``RefModel``
applies one request *as the sidecar sees it* (external ids, event types,
candidate features, context) and is the source of truth for the golden
fixtures.  Everything runs in float32 on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import nn

NUM_EVENT_TYPES = 4  # 0 view, 1 click, 2 add-to-cart, 3 purchase

# The kinds themselves (model.json keys, build, score) are registered in kinds.py.


# --------------------------------------------------------------------------- modules


def _linear_relu_stack(in_dim: int, hidden: Sequence[int], out_dim: Optional[int]) -> nn.Sequential:
    """Linear, ReLU, Linear, ReLU, ... ; ends with Linear(h, out_dim) when out_dim is given
    (no ReLU after it), otherwise with the last ReLU."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    if out_dim is not None:
        layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class MLPRanker(nn.Module):
    """``mlp``: score = mlp(concat(mean(item_emb[history]), item_emb[c], context, features[c]))."""

    def __init__(self, num_items: int, dim: int, context_dim: int, candidate_feature_dim: int,
                 hidden: Sequence[int] = (128, 64)):
        super().__init__()
        self.dim, self.context_dim, self.candidate_feature_dim = dim, context_dim, candidate_feature_dim
        self.item_emb = nn.Embedding(num_items, dim)
        self.mlp = _linear_relu_stack(2 * dim + context_dim + candidate_feature_dim, hidden, 1)

    def forward(self, hist_rows: torch.Tensor, cand_rows: torch.Tensor, context: torch.Tensor,
                cand_features: torch.Tensor) -> torch.Tensor:
        """hist_rows [n] (n may be 0), cand_rows [m], context [C], cand_features [m, F] -> [m]."""
        if hist_rows.numel() == 0:
            u = torch.zeros(self.dim)
        else:
            u = self.item_emb(hist_rows).mean(dim=0)
        m = cand_rows.numel()
        x = torch.cat([u.expand(m, -1), self.item_emb(cand_rows), context.expand(m, -1), cand_features], dim=1)
        return self.mlp(x).squeeze(1)


class LSTMSeq(nn.Module):
    """``lstm``: z = proj(LSTM(item_emb[h] + event_emb[type])[last]); score = item_emb[c] . z."""

    def __init__(self, num_items: int, dim: int, hidden: int, num_layers: int = 1):
        super().__init__()
        self.hidden = hidden
        self.item_emb = nn.Embedding(num_items, dim)
        self.event_emb = nn.Embedding(NUM_EVENT_TYPES, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers, batch_first=True)
        self.proj = nn.Linear(hidden, dim)

    def user_vector(self, hist_rows: torch.Tensor, hist_types: torch.Tensor) -> torch.Tensor:
        if hist_rows.numel() == 0:
            return self.proj(torch.zeros(self.hidden))
        e = self.item_emb(hist_rows) + self.event_emb(hist_types)  # [n, d]
        out, _ = self.lstm(e.unsqueeze(0))  # zero initial state, [1, n, hidden]
        return self.proj(out[0, -1])

    def forward(self, hist_rows, hist_types, cand_rows: Optional[torch.Tensor]) -> torch.Tensor:
        """cand_rows None -> scores for every catalog row."""
        z = self.user_vector(hist_rows, hist_types)
        emb = self.item_emb.weight if cand_rows is None else self.item_emb(cand_rows)
        return emb @ z


class SASRecBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, d_ff: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.ffn = nn.Sequential(nn.Linear(dim, d_ff), nn.GELU(approximate="none"), nn.Linear(d_ff, dim))

    def forward(self, x: torch.Tensor, causal_mask: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal_mask, need_weights=False)
        x = x + a
        return x + self.ffn(self.ln2(x))


class SASRec(nn.Module):
    """``sasrec``: pre-LN transformer over item_emb[h]*sqrt(d) + pos_emb[i]; z = ln_f(x[last])."""

    def __init__(self, num_items: int, dim: int, max_history: int, num_blocks: int = 2,
                 num_heads: int = 2, d_ff: Optional[int] = None):
        super().__init__()
        self.dim = dim
        self.item_emb = nn.Embedding(num_items, dim)
        self.pos_emb = nn.Embedding(max_history, dim)
        self.blocks = nn.ModuleList(SASRecBlock(dim, num_heads, d_ff or 4 * dim) for _ in range(num_blocks))
        self.ln_f = nn.LayerNorm(dim, eps=1e-5)

    @staticmethod
    def causal_mask(n: int) -> torch.Tensor:
        # True = not allowed: position i attends to 0..i.
        return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)

    def user_vector(self, hist_rows: torch.Tensor) -> torch.Tensor:
        n = hist_rows.numel()
        if n == 0:
            return self.ln_f(torch.zeros(self.dim))
        x = self.item_emb(hist_rows) * math.sqrt(self.dim) + self.pos_emb(torch.arange(n))
        x = x.unsqueeze(0)  # [1, n, d]
        mask = self.causal_mask(n)
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x[0, -1])

    def forward(self, hist_rows, cand_rows: Optional[torch.Tensor]) -> torch.Tensor:
        z = self.user_vector(hist_rows)
        emb = self.item_emb.weight if cand_rows is None else self.item_emb(cand_rows)
        return emb @ z


class DuelingDQN(nn.Module):
    """``dqn``: Q_c = V(g) + A(g, item_emb[c]) - mean over scored candidates of A."""

    def __init__(self, num_items: int, dim: int, context_dim: int, state_hidden: Sequence[int] = (64, 64),
                 adv_hidden: int = 32):
        super().__init__()
        if not state_hidden:
            raise ValueError("state needs at least one Linear+ReLU")
        self.dim, self.context_dim = dim, context_dim
        self.item_emb = nn.Embedding(num_items, dim)
        self.state = _linear_relu_stack(2 * dim + context_dim, state_hidden, None)
        hs = state_hidden[-1]
        self.value = nn.Linear(hs, 1)
        self.adv = nn.Sequential(nn.Linear(hs + dim, adv_hidden), nn.ReLU(), nn.Linear(adv_hidden, 1))

    def forward(self, hist_rows: torch.Tensor, context: torch.Tensor, cand_rows: torch.Tensor) -> torch.Tensor:
        """Q-values [m] for the scored (known) candidates; the mean runs over exactly these."""
        if hist_rows.numel() == 0:
            mean_h = torch.zeros(self.dim)
            last_h = torch.zeros(self.dim)
        else:
            e = self.item_emb(hist_rows)
            mean_h, last_h = e.mean(dim=0), e[-1]
        g = self.state(torch.cat([mean_h, last_h, context]))
        v = self.value(g)  # [1]
        m = cand_rows.numel()
        if m == 0:
            return torch.zeros(0)
        a = self.adv(torch.cat([g.expand(m, -1), self.item_emb(cand_rows)], dim=1)).squeeze(1)
        return v + a - a.mean()


# --------------------------------------------------------------- build / init helpers


def sequential_linear_shapes(sd: dict, prefix: str) -> list[tuple[int, int]]:
    """[(out, in), ...] of Linear layers at prefix.0, prefix.2, ... ."""
    shapes = []
    i = 0
    while f"{prefix}.{i}.weight" in sd:
        shapes.append(tuple(sd[f"{prefix}.{i}.weight"].shape))
        i += 2
    return shapes


def build_module(kind: str, state_dict: dict, hparams: dict) -> nn.Module:
    """Construct the module whose shapes match ``state_dict`` (item_ids excluded) and load it
    strictly, so any name or shape mismatch with the contract raises."""
    from .kinds import kind as kind_named
    sd = {k: v for k, v in state_dict.items() if k != "item_ids"}
    module = kind_named(kind).build(sd, hparams)
    module.load_state_dict(sd, strict=True)
    return module.eval()


@torch.no_grad()
def init_nontrivial_(module: nn.Module, generator: torch.Generator, std: float = 0.3,
                     bias_std: float = 0.2) -> nn.Module:
    """Overwrite every parameter with clearly non-default values so bugs show in fixtures:
    weights/embeddings ~ N(0, std), biases ~ N(0, bias_std), LayerNorm weight ~ 1 + N(0, bias_std)."""
    for mod in module.modules():
        if isinstance(mod, nn.LayerNorm):
            mod.weight.copy_(1.0 + bias_std * torch.randn(mod.weight.shape, generator=generator))
            mod.bias.copy_(bias_std * torch.randn(mod.bias.shape, generator=generator))
    for name, p in module.named_parameters():
        owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
        if isinstance(owner, nn.LayerNorm):
            continue
        s = bias_std if "bias" in name.rsplit(".", 1)[-1] else std
        p.copy_(s * torch.randn(p.shape, generator=generator))
    return module


# ----------------------------------------------------------------- request semantics


@dataclass
class Request:
    """One Recommend request as the sidecar sees it (proto field names)."""

    history_item_ids: Sequence[int] = ()
    history_types: Sequence[int] = ()
    candidate_item_ids: Optional[Sequence[int]] = None  # None or [] -> whole catalog (sequence kinds)
    candidate_features: Sequence[float] = ()  # row-major [len(candidate_item_ids) x F]; [] -> zeros
    context: Sequence[float] = ()  # length C; [] -> zeros


@dataclass
class ScoreInputs:
    """One request's model inputs, as a kind's ``score`` takes them."""

    hist: torch.Tensor  # kept history rows [n]
    types: torch.Tensor  # their event types [n]
    rows: Optional[torch.Tensor]  # known candidates' rows [m]; None: every catalog row
    context: torch.Tensor  # [C] (zeros when the request sends none)
    features: torch.Tensor  # known candidates' features [m x F]


@dataclass
class ScoreResult:
    # whole_catalog False: one entry per requested candidate, None for unknown ones.
    # whole_catalog True: one entry per catalog row r (item id item_ids[r]).
    scores: list
    whole_catalog: bool
    item_ids: list  # the item id of each entry of scores
    unknown_item_ids: list = field(default_factory=list)  # unknown candidates, request order
    kept_history_rows: list = field(default_factory=list)
    kept_history_types: list = field(default_factory=list)


@dataclass
class TopK:
    item_ids: list
    scores: list
    indices: list  # candidate index (or catalog row) of each returned item


def top_k(result: ScoreResult, k: int, exclude_item_ids: Sequence[int] = ()) -> TopK:
    """Descending score; ties by lower candidate index (catalog row for whole catalog).
    Unknown candidates (None) and excluded item ids are never returned."""
    excluded = set(exclude_item_ids)
    entries = [(s, i) for i, s in enumerate(result.scores)
               if s is not None and result.item_ids[i] not in excluded]
    entries.sort(key=lambda e: (-e[0], e[1]))
    entries = entries[:max(k, 0)]
    return TopK([result.item_ids[i] for _, i in entries], [s for s, _ in entries], [i for _, i in entries])


class RefModel:
    """A model version (kind, module, item_ids, model.json hyperparameters) applied to requests."""

    def __init__(self, kind: str, module: nn.Module, item_ids: Sequence[int], hparams: dict):
        from .kinds import kind as kind_named
        self.registered = kind_named(kind)
        self.kind, self.module, self.hparams = kind, module.eval(), dict(hparams)
        self.item_ids = [int(x) for x in item_ids]
        self.row_of = {iid: r for r, iid in enumerate(self.item_ids)}
        if len(self.row_of) != len(self.item_ids):
            raise ValueError("item_ids must be unique")
        if len(self.item_ids) != module.item_emb.weight.shape[0]:
            raise ValueError("item_ids length must equal item_emb rows")
        self.max_history = int(self.hparams["max_history"])

    # -- request pieces
    def kept_history(self, ids: Sequence[int], types: Sequence[int]) -> tuple[list, list]:
        """Skip events whose item is unknown, THEN keep the last max_history (oldest first)."""
        if len(types) != len(ids):
            raise ValueError("history_types must have one entry per history item")
        rows, kept_types = [], []
        for iid, t in zip(ids, types):
            if not 0 <= int(t) < NUM_EVENT_TYPES:
                raise ValueError(f"event type {t} out of range")
            r = self.row_of.get(int(iid))
            if r is not None:
                rows.append(r)
                kept_types.append(int(t))
        if len(rows) > self.max_history:
            rows, kept_types = rows[-self.max_history:], kept_types[-self.max_history:]
        return rows, kept_types

    @staticmethod
    def _vector(values: Sequence[float], n: int, what: str) -> torch.Tensor:
        if len(values) == 0:
            return torch.zeros(n)  # missing -> zeros
        if len(values) != n:
            raise ValueError(f"{what}: expected {n} values, got {len(values)}")
        return torch.tensor([float(v) for v in values], dtype=torch.float32)

    @torch.inference_mode()
    def score(self, req: Request) -> ScoreResult:
        hist_rows, hist_types = self.kept_history(req.history_item_ids, req.history_types)
        h = torch.tensor(hist_rows, dtype=torch.long)
        ht = torch.tensor(hist_types, dtype=torch.long)
        cands = [int(c) for c in (req.candidate_item_ids or [])]
        # Context and candidate features are inputs only of kinds whose model.json sizes them.
        C, F = self.hparams.get("context_dim"), self.hparams.get("candidate_feature_dim")
        ctx = self._vector(req.context, C, "context") if C is not None else torch.zeros(0)
        if not cands and self.registered.whole_catalog:
            s = self.registered.score(self.module, ScoreInputs(h, ht, None, ctx, torch.zeros(0)))
            return ScoreResult(s.tolist(), True, list(self.item_ids), [], hist_rows, hist_types)

        known_pos = [i for i, c in enumerate(cands) if c in self.row_of]
        unknown = [c for c in cands if c not in self.row_of]
        rows = torch.tensor([self.row_of[cands[i]] for i in known_pos], dtype=torch.long)
        feats = torch.zeros(0)
        if F is not None:
            # Feature row i belongs to request candidate i (unknown ones included).
            feats = self._vector(req.candidate_features, len(cands) * F, "candidate_features").reshape(len(cands), F)
            feats = feats[known_pos]
        s = self.registered.score(self.module, ScoreInputs(h, ht, rows, ctx, feats))
        scores: list = [None] * len(cands)
        for i, v in zip(known_pos, s.tolist()):
            scores[i] = v
        return ScoreResult(scores, False, cands, unknown, hist_rows, hist_types)

    def recommend(self, req: Request, k: int, exclude_history: bool = False) -> tuple[ScoreResult, TopK]:
        """Score then top-k.  exclude_history removes every item id that occurs anywhere in the
        request's history (also events older than the last max_history), known or not."""
        res = self.score(req)
        excl = [int(x) for x in req.history_item_ids] if exclude_history else []
        return res, top_k(res, k, excl)


# ------------------------------------------------------------ epsilon-greedy (dqn policy)


def greedy_best(q: Sequence[Optional[float]], remaining: Sequence[int]) -> int:
    """Index with the highest Q among remaining; ties by lower index."""
    return min(remaining, key=lambda i: (-q[i], i))


def epsilon_greedy_propensities(q: Sequence[Optional[float]], chosen: Sequence[int], epsilon: float,
                                eligible: Optional[Sequence[int]] = None) -> list[float]:
    """Propensity of each slot of an already chosen slate under the dqn serving policy.

    q: Q-value per candidate index (None = not scored, never eligible).
    chosen: candidate indices in slot order.  eligible: the candidate indices the policy may pick
    (default: all scored ones; pass fewer for exclude_history).
    At each slot with R not-yet-chosen eligible candidates, the policy picks a uniformly random one
    with probability epsilon, else the greedy best remaining, so
        p(slot) = (1 - epsilon) * [chosen == greedy best remaining] + epsilon / R.
    """
    remaining = [i for i in (eligible if eligible is not None else range(len(q))) if q[i] is not None]
    out = []
    for idx in chosen:
        if idx not in remaining:
            raise ValueError(f"candidate {idx} not eligible or already chosen")
        best = greedy_best(q, remaining)
        out.append((1.0 - epsilon) * (1.0 if idx == best else 0.0) + epsilon / len(remaining))
        remaining.remove(idx)
    return out


def epsilon_greedy_slate(q: Sequence[Optional[float]], k: int, epsilon: float, rng,
                         eligible: Optional[Sequence[int]] = None) -> tuple[list[int], list[float]]:
    """Sample a slate (rng: random.Random or numpy Generator with .random()) and its propensities."""
    remaining = [i for i in (eligible if eligible is not None else range(len(q))) if q[i] is not None]
    chosen = []
    while remaining and len(chosen) < k:
        if epsilon > 0 and rng.random() < epsilon:
            idx = remaining[int(rng.random() * len(remaining)) % len(remaining)]
        else:
            idx = greedy_best(q, remaining)
        chosen.append(idx)
        remaining.remove(idx)
    return chosen, epsilon_greedy_propensities(q, chosen, epsilon, eligible)
