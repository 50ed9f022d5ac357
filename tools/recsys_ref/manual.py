"""An independent float64 NumPy re-implementation of models.md, written from the formulas and
not from torch.nn, used by make_fixtures.py to cross-check the torch reference.

``mutations`` switches on deliberate, plausible implementation bugs; make_fixtures checks that
each one changes some expected score by much more than the 1e-4 tolerance, i.e. that the
fixtures would catch it.
"""

from __future__ import annotations

import math

import numpy as np

ERF = np.vectorize(math.erf)

# Mutation names understood by manual_score (per kind).
MUTATIONS = {
    "common": ("truncate_before_skipping_unknown", "keep_first_L", "no_history_limit"),
    "mlp": ("concat_candidate_first", "features_indexed_by_known_candidates", "history_sum_not_mean"),
    "lstm": ("gate_order_ifog", "no_event_emb", "first_output_not_last"),
    "sasrec": ("no_causal_mask", "gelu_tanh", "no_sqrt_d", "positions_from_end", "post_layernorm_skipped"),
    "dqn": ("no_advantage_mean", "h_first_not_last", "mean_over_all_catalog"),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _layernorm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x, tanh=False):
    if tanh:
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0)))


def _seq_mlp(sd, prefix, x, final_relu):
    i = 0
    layers = []
    while f"{prefix}.{i}.weight" in sd:
        layers.append((sd[f"{prefix}.{i}.weight"], sd[f"{prefix}.{i}.bias"]))
        i += 2
    for j, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if final_relu or j < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def _history(row_of, ids, types, L, mut):
    pairs = list(zip(ids, types))
    if "truncate_before_skipping_unknown" in mut:
        pairs = pairs[-L:]
        kept = [(row_of[i], t) for i, t in pairs if i in row_of]
    else:
        kept = [(row_of[i], t) for i, t in pairs if i in row_of]
        if "keep_first_L" in mut:
            kept = kept[:L]
        elif "no_history_limit" not in mut:
            kept = kept[-L:]
    return [r for r, _ in kept], [t for _, t in kept]


def _lstm_user(sd, E, rows, types, num_layers, mut):
    hidden = sd["lstm.weight_hh_l0"].shape[1]
    if not rows:
        return sd["proj.weight"] @ np.zeros(hidden) + sd["proj.bias"]
    xs = [E[r] + (0.0 if "no_event_emb" in mut else sd["event_emb.weight"][t]) for r, t in zip(rows, types)]
    for k in range(num_layers):
        wih, whh = sd[f"lstm.weight_ih_l{k}"], sd[f"lstm.weight_hh_l{k}"]
        bih, bhh = sd[f"lstm.bias_ih_l{k}"], sd[f"lstm.bias_hh_l{k}"]
        h, c = np.zeros(hidden), np.zeros(hidden)
        outs = []
        for x in xs:
            gates = wih @ x + bih + whh @ h + bhh
            if "gate_order_ifog" in mut:
                i, f, o, g = np.split(gates, 4)
            else:
                i, f, g, o = np.split(gates, 4)  # PyTorch order i, f, g, o
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            outs.append(h)
        xs = outs
    last = xs[0] if "first_output_not_last" in mut else xs[-1]
    return sd["proj.weight"] @ last + sd["proj.bias"]


def _sasrec_user(sd, E, rows, num_blocks, num_heads, mut):
    d = E.shape[1]
    if not rows:
        return _layernorm(np.zeros(d), sd["ln_f.weight"], sd["ln_f.bias"])
    n = len(rows)
    L = sd["pos_emb.weight"].shape[0]
    scale = 1.0 if "no_sqrt_d" in mut else math.sqrt(d)
    pos = np.arange(L - n, L) if "positions_from_end" in mut else np.arange(n)
    x = E[rows] * scale + sd["pos_emb.weight"][pos]
    hd = d // num_heads
    for b in range(num_blocks):
        p = f"blocks.{b}."
        h = _layernorm(x, sd[p + "ln1.weight"], sd[p + "ln1.bias"])
        W, B = sd[p + "attn.in_proj_weight"], sd[p + "attn.in_proj_bias"]
        q = h @ W[:d].T + B[:d]
        k = h @ W[d:2 * d].T + B[d:2 * d]
        v = h @ W[2 * d:].T + B[2 * d:]
        heads = []
        for j in range(num_heads):
            sl = slice(j * hd, (j + 1) * hd)
            s = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
            if "no_causal_mask" not in mut:
                s = np.where(np.triu(np.ones((n, n), dtype=bool), 1), -np.inf, s)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s = s / s.sum(axis=1, keepdims=True)
            heads.append(s @ v[:, sl])
        a = np.concatenate(heads, axis=1) @ sd[p + "attn.out_proj.weight"].T + sd[p + "attn.out_proj.bias"]
        x = x + a
        h2 = _layernorm(x, sd[p + "ln2.weight"], sd[p + "ln2.bias"])
        f = _gelu(h2 @ sd[p + "ffn.0.weight"].T + sd[p + "ffn.0.bias"], tanh="gelu_tanh" in mut)
        x = x + f @ sd[p + "ffn.2.weight"].T + sd[p + "ffn.2.bias"]
    if "post_layernorm_skipped" in mut:
        return x[-1]
    return _layernorm(x[-1], sd["ln_f.weight"], sd["ln_f.bias"])


def manual_score(kind, sd, item_ids, hparams, case, mutations=()):
    """Scores for one fixture case in the layout of expected.scores (None = unknown candidate).
    sd: {name: float64 ndarray}, item_ids: list of int."""
    mut = set(mutations)
    row_of = {int(x): r for r, x in enumerate(item_ids)}
    E = sd["item_emb.weight"]
    N, d = E.shape
    L = hparams["max_history"]
    rows, types = _history(row_of, case["history_item_ids"], case["history_types"], L, mut)
    cands = case["candidate_item_ids"]
    known = [i for i, c in enumerate(cands) if c in row_of]
    crow = [row_of[cands[i]] for i in known]

    def place(vals):
        out = [None] * len(cands)
        for i, v in zip(known, vals):
            out[i] = float(v)
        return out

    if kind in ("lstm", "sasrec"):
        if kind == "lstm":
            z = _lstm_user(sd, E, rows, types, hparams["num_layers"], mut)
        else:
            z = _sasrec_user(sd, E, rows, hparams["num_blocks"], hparams["num_heads"], mut)
        if not cands:
            return [float(v) for v in E @ z]
        return place(E[crow] @ z)

    ctx_dim = hparams["context_dim"]
    ctx = np.asarray(case["context"], dtype=np.float64) if case["context"] else np.zeros(ctx_dim)
    if kind == "mlp":
        F = hparams["candidate_feature_dim"]
        feats = (np.asarray(case["candidate_features"], dtype=np.float64).reshape(len(cands), F)
                 if case["candidate_features"] else np.zeros((len(cands), F)))
        if "history_sum_not_mean" in mut:
            u = E[rows].sum(axis=0) if rows else np.zeros(d)
        else:
            u = E[rows].mean(axis=0) if rows else np.zeros(d)
        vals = []
        for j, (i, r) in enumerate(zip(known, crow)):
            f = feats[j] if "features_indexed_by_known_candidates" in mut else feats[i]
            x = np.concatenate([E[r], u, ctx, f] if "concat_candidate_first" in mut else [u, E[r], ctx, f])
            vals.append(_seq_mlp(sd, "mlp", x, final_relu=False)[0])
        return place(vals)

    if kind == "dqn":
        if rows:
            mean_h = E[rows].mean(axis=0)
            last_h = E[rows[0]] if "h_first_not_last" in mut else E[rows[-1]]
        else:
            mean_h = last_h = np.zeros(d)
        g = _seq_mlp(sd, "state", np.concatenate([mean_h, last_h, ctx]), final_relu=True)
        V = (sd["value.weight"] @ g + sd["value.bias"])[0]

        def adv(r):
            return _seq_mlp(sd, "adv", np.concatenate([g, E[r]]), final_relu=False)[0]

        A = np.array([adv(r) for r in crow])
        if not crow:
            return place([])
        if "no_advantage_mean" in mut:
            mean = 0.0
        elif "mean_over_all_catalog" in mut:
            mean = np.mean([adv(r) for r in range(N)])
        else:
            mean = A.mean()
        return place(V + A - mean)
    raise ValueError(kind)
