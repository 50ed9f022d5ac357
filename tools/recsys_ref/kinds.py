"""The one registry of model kinds the tools know: what each kind's model.json holds, how its
PyTorch module is built from a state_dict or from scratch, how it scores one request, and its
float64 cross-check for the golden fixtures.  Adding a kind is one entry here (plus its module
file); nothing else in tools/ dispatches on the kind name.  (``popularity`` has no module: see
popularity.py.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from . import manual, two_tower
from .models import DuelingDQN, LSTMSeq, MLPRanker, SASRec, sequential_linear_shapes


@dataclass(frozen=True)
class Kind:
    name: str
    hparam_keys: tuple  # model.json keys, in docs/models.md order
    build: Callable  # (state_dict without item_ids, hparams) -> module of the state_dict's shapes
    make: Callable  # (num_items, dim, hparams, arch dict) -> a fresh module
    score: Callable  # (module, ScoreInputs) -> scores of inputs.rows (None: every catalog row)
    manual_score: Callable  # (float64 state_dict, item_ids, hparams, fixture case, mutations) -> scores
    mutations: tuple  # deliberate bugs manual_score knows; the fixtures must catch each
    whole_catalog: bool = False  # ranks the whole catalog when a request has no candidates


def _mlp_build(sd, hp):
    shapes = sequential_linear_shapes(sd, "mlp")
    if not shapes or shapes[-1][0] != 1:
        raise ValueError("mlp: last Linear must have 1 output")
    n, d = sd["item_emb.weight"].shape
    return MLPRanker(n, d, hp["context_dim"], hp["candidate_feature_dim"], [o for o, _ in shapes[:-1]])


def _sasrec_build(sd, hp):
    n, d = sd["item_emb.weight"].shape
    nb = hp["num_blocks"]
    d_ff = sd["blocks.0.ffn.0.weight"].shape[0] if nb > 0 else 4 * d
    if sd["pos_emb.weight"].shape[0] != hp["max_history"]:
        raise ValueError("sasrec: pos_emb rows must equal max_history")
    return SASRec(n, d, hp["max_history"], nb, hp["num_heads"], d_ff)


def _dqn_build(sd, hp):
    n, d = sd["item_emb.weight"].shape
    return DuelingDQN(n, d, hp["context_dim"], [o for o, _ in sequential_linear_shapes(sd, "state")],
                      sd["adv.0.weight"].shape[0])


def _no_candidates(score):
    """mlp and dqn score nothing when no candidate is known."""
    return lambda m, p: score(m, p) if p.rows.numel() else torch.zeros(0)


def _manual(kind):
    return functools.partial(manual.manual_score, kind)


def _mutations(kind):
    return manual.MUTATIONS["common"] + manual.MUTATIONS[kind]


KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("mlp", ("context_dim", "candidate_feature_dim", "max_history"), _mlp_build,
         lambda n, d, hp, a: MLPRanker(n, d, hp["context_dim"], hp["candidate_feature_dim"], a.get("hidden", (128, 64))),
         _no_candidates(lambda m, p: m(p.hist, p.rows, p.context, p.features)), _manual("mlp"), _mutations("mlp")),
    Kind("lstm", ("num_layers", "max_history"),
         lambda sd, hp: LSTMSeq(*sd["item_emb.weight"].shape, sd["lstm.weight_hh_l0"].shape[1], hp["num_layers"]),
         lambda n, d, hp, a: LSTMSeq(n, d, a.get("lstm_hidden", 64), hp["num_layers"]),
         lambda m, p: m(p.hist, p.types, p.rows), _manual("lstm"), _mutations("lstm"), whole_catalog=True),
    Kind("sasrec", ("num_blocks", "num_heads", "max_history"), _sasrec_build,
         lambda n, d, hp, a: SASRec(n, d, hp["max_history"], hp["num_blocks"], hp["num_heads"], a.get("d_ff")),
         lambda m, p: m(p.hist, p.rows), _manual("sasrec"), _mutations("sasrec"), whole_catalog=True),
    Kind("dqn", ("context_dim", "max_history", "epsilon"), _dqn_build,
         lambda n, d, hp, a: DuelingDQN(n, d, hp["context_dim"], a.get("state_hidden", (64, 64)), a.get("adv_hidden", 32)),
         _no_candidates(lambda m, p: m(p.hist, p.context, p.rows)), _manual("dqn"), _mutations("dqn")),
    Kind(two_tower.KIND, two_tower.HPARAM_KEYS, two_tower.build, two_tower.make, two_tower.score,
         two_tower.manual_score, manual.MUTATIONS["common"] + two_tower.MUTATIONS, whole_catalog=True),
]}

# model.json hyperparameters per kind.
HPARAM_KEYS = {name: kind.hparam_keys for name, kind in KINDS.items()}


def kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r}; expected one of {tuple(KINDS)}")
    return KINDS[name]
