#!/usr/bin/env python3
"""Train every model kind from behaviour logs and export each as a store version.

All kinds are the reference modules of tools/recsys_ref/models.py, unchanged; the training loops
below call their sub-layers on batches (the same maths as their forward), and export_store checks
the state_dict against the contract.  Training data = the leave-last-out split of logdata.py (the
held-out next items that evaluate.py scores are never trained on).  CPU only, deterministic for a
given seed, thread count and torch build (torch.use_deterministic_algorithms).

What each kind learns:

* ``mlp`` (ranker): binary cross-entropy on impressions.  Every slate position is an example
  (label 1 if it was clicked, purchases are clicked too), with the user's events before the slate as
  history and the slate's context (C = 4) and candidate features (F = 2, see logdata.py).  Slates
  only show a few hundred distinct items per category, so each impression also gets
  ``mlp_random_negatives`` uniformly drawn catalog items labelled 0 (assumed not clicked), and --
  like YouTube-DNN -- every organic VIEW of the training events is a positive example with the same
  number of random negatives: this is what lets the ranker score the whole catalog.
* ``lstm`` / ``sasrec`` (sequence models): next-item prediction.  Each training event predicts the
  item of the user's next VIEW (the next item the user opened); histories are the user's events
  (item + event type), cut into windows of max_history from the end.  Loss: sampled softmax over
  the positive and ``seq_negatives`` items drawn uniformly from the catalog per batch (shared by the
  batch, accidental hits masked, + log(N/K) correction), i.e. an estimate of the full softmax.
  Inputs and outputs share item_emb (the contract), so embeddings start small (std 0.05-0.1); sasrec
  scales its input by sqrt(d) anyway, for the lstm weight_ih starts at 8x PyTorch's default so the
  gates see the input (without it the lstm stalls at popularity-level loss).  OneCycle LR schedule.
* ``dqn`` (dueling Q-network): fitted-Q iteration on logged decisions.  State = (history before the
  decision, context); action = an item; reward = 1 for a click + 5 for a purchase (in the session).
  Decisions are the logged slates (every slate item is an action: clicked or not) and -- if
  ``dqn_organic`` -- every organic VIEW (the user opened the item from a search/category listing: a
  click in a list the recommender did not rank; reward 1 + 5 if bought).  Without them the Q-network
  sees only the slate clicks (~25 k for 20 k items) and is barely better than popularity on the
  next-item task.  Target y = r + gamma * max_{a' in next slate} Q_prev(s', a') where s' is the next
  slate of the same session (0 at session end) and Q_prev is the previous iteration's network
  (iteration 1: y = r).  The logged next state does not depend on which item is scored, so the
  bootstrap term is shared by all actions of a state and mostly shapes V; the ranking comes from A.
  Every decision also gets ``dqn_random_negatives`` uniformly drawn catalog items with reward 0
  (plus the same bootstrap).  Q is computed with the dueling mean over the scored set (slate or
  opened item, plus the negatives); loss MSE.
* ``popularity``: log(1 + number of VIEW events per item in the training events).

Usage:  python tools/train.py [--logs out/behaviour_logs] [--store demo/store] [--kinds mlp,lstm,...]
            [--version 1] [--seed 1]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning OpenMP threads on a busy 2-core machine
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

TOOLS = Path(__file__).resolve().parent
from export_store import export_popularity, export_version  # noqa: E402
from logdata import CONTEXT_DIM, CONTEXT_DOC, FEATURE_DIM, FEATURE_DOC, Logs, Split, context_vector  # noqa: E402
from logdata import leave_last_out, load_logs  # noqa: E402
from recsys_ref.models import DuelingDQN, LSTMSeq, MLPRanker, SASRec  # noqa: E402
from recsys_ref.two_tower import TwoTower  # noqa: E402

REPO = TOOLS.parent
ALL_KINDS = ("popularity", "mlp", "lstm", "sasrec", "dqn", "two_tower")
CREATED = "2025-01-01T00:00:00Z"


@dataclass
class Config:
    seed: int = 1
    max_history: int = 50
    # mlp
    mlp_dim: int = 32
    mlp_hidden: tuple = (128, 64)
    mlp_epochs: int = 2
    mlp_batch: int = 256
    mlp_lr: float = 2e-3
    mlp_random_negatives: int = 10
    mlp_organic: bool = True
    # sequence models
    seq_dim: int = 64
    lstm_hidden: int = 64
    lstm_layers: int = 1
    sasrec_blocks: int = 2
    sasrec_heads: int = 2
    lstm_epochs: int = 3
    lstm_lr: float = 2e-2
    lstm_emb_std: float = 0.1
    lstm_ih_scale: float = 8.0  # weight_ih init x8: the tied embeddings are small, the gates need input
    sasrec_epochs: int = 3
    sasrec_lr: float = 5e-3
    sasrec_emb_std: float = 0.05
    seq_batch: int = 256
    seq_negatives: int = 2048
    seq_input_dropout: float = 0.2
    # dqn
    dqn_dim: int = 32
    dqn_state_hidden: tuple = (64, 64)
    dqn_adv_hidden: int = 32
    dqn_iterations: int = 3
    dqn_epochs_per_iteration: int = 1
    dqn_batch: int = 256
    dqn_lr: float = 3e-3
    dqn_gamma: float = 0.5
    dqn_random_negatives: int = 10
    dqn_epsilon: float = 0.1
    reward_click: float = 1.0
    reward_purchase: float = 5.0
    mlp_emb_std: float = 0.05
    dqn_emb_std: float = 0.3
    dqn_loss: str = "mse"
    dqn_organic: bool = True
    # two_tower
    tt_dim: int = 32
    tt_hidden: tuple = (64,)
    tt_out: int = 32
    tt_epochs: int = 4
    tt_batch: int = 512
    tt_lr: float = 5e-3
    tt_emb_std: float = 0.1
    tt_negatives: int = 1024
    log: object = field(default=print, repr=False)


# ------------------------------------------------------------------------------ data


class TrainData:
    """Training views of the logs: per-user training event ranges, impressions with history ranges."""

    def __init__(self, logs: Logs, split: Split, max_history: int):
        self.logs, self.split, self.L = logs, split, max_history
        U = len(logs.users)
        # Training events of user u are [user_start[u], tr_end[u]) (the split cuts a suffix).
        self.tr_start = logs.user_start[:-1].copy()
        self.tr_end = logs.user_start[1:].copy()
        cut = split.eval_hist_end
        self.tr_end[split.eval_user] = cut
        assert np.array_equal(np.flatnonzero(split.train_event),
                              np.concatenate([np.arange(self.tr_start[u], self.tr_end[u]) for u in range(U)]))
        # Impressions kept for training, with [hist_start, hist_end) = events strictly before the slate.
        keep = np.flatnonzero(split.train_imp)
        iu, its = logs.imp_user[keep], logs.imp_ts[keep]
        ends = np.empty(len(keep), dtype=np.int64)
        for u in np.unique(iu):
            sel = np.flatnonzero(iu == u)
            s, e = self.tr_start[u], self.tr_end[u]
            ends[sel] = s + np.searchsorted(logs.ev_ts[s:e], its[sel], side="left")
        self.imp = keep
        self.imp_hist_end = ends
        self.imp_hist_start = np.maximum(self.tr_start[iu], ends - max_history)
        self.imp_ctx = context_vector(its, logs.imp_mobile[keep], logs.imp_pdp[keep])
        # Next training impression of the same session (for the dqn's TD target), -1 at session end.
        sess = logs.imp_session[keep]
        nxt = np.full(len(keep), -1, dtype=np.int64)
        same = (sess[1:] == sess[:-1]) & (iu[1:] == iu[:-1])
        nxt[:-1][same] = np.arange(1, len(keep))[same]
        self.imp_next = nxt
        # Training VIEW events (organic positives for the mlp) with their context.
        tr = np.flatnonzero(split.train_event)
        views = tr[logs.ev_type[tr] == 0]
        self.view_idx = views
        vu = logs.ev_user[views]
        self.view_hist_start = np.maximum(self.tr_start[vu], views - max_history)
        prev_same_session = np.zeros(len(views), dtype=np.int64)
        for k, i in enumerate(views):  # another VIEW earlier in the same session -> on a product page
            j = i - 1
            while j >= self.tr_start[vu[k]] and logs.ev_session[j] == logs.ev_session[i]:
                if logs.ev_type[j] == 0:
                    prev_same_session[k] = 1
                    break
                j -= 1
        self.view_ctx = context_vector(logs.ev_ts[views], logs.ev_mobile[views], prev_same_session)
        # Was the viewed item purchased later in the same session?  Next training slate of the session?
        tr_purchase = tr[logs.ev_type[tr] == 3]
        bought = set(zip(logs.ev_session[tr_purchase].tolist(), logs.ev_row[tr_purchase].tolist()))
        self.view_purchased = np.array([(s_, r_) in bought for s_, r_ in
                                        zip(logs.ev_session[views].tolist(), logs.ev_row[views].tolist())], dtype=bool)
        # Next training slate of the same session after each view (-1: none); key = (session, time).
        order = np.lexsort((its, sess))
        t0 = int(its.min()) if len(its) else 0
        key = sess[order] * (1 << 42) + (its[order] - t0)
        vs = logs.ev_session[views]
        pos = np.searchsorted(key, vs * (1 << 42) + (logs.ev_ts[views] - t0), side="right")
        pos_c = np.minimum(pos, len(order) - 1)
        ok = (pos < len(order)) & (sess[order][pos_c] == vs) if len(order) else np.zeros(len(views), bool)
        self.view_next_imp = np.where(ok, order[pos_c] if len(order) else 0, -1)
        # Next-VIEW target of every training event (-1: none within the user's training events).
        next_view = np.full(len(logs.ev_ts), -1, dtype=np.int64)
        pos = np.searchsorted(views, np.arange(len(logs.ev_ts)), side="right")
        ok = pos < len(views)
        cand = np.where(ok, views[np.minimum(pos, len(views) - 1)], 0)
        ok &= cand < self.tr_end[logs.ev_user]
        next_view[ok] = logs.ev_row[cand[ok]]
        next_view[~split.train_event] = -1
        self.next_view = next_view
        # Windows of at most L training events, cut from the end of each user's training events.
        chunks = []
        for u in range(U):
            s, e = int(self.tr_start[u]), int(self.tr_end[u])
            while e > s:
                b = max(s, e - max_history)
                if (next_view[b:e] >= 0).any():
                    chunks.append((b, e))
                e = b
        self.chunks = np.array(chunks, dtype=np.int64).reshape(-1, 2)

    def bag(self, starts: np.ndarray, ends: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(flat rows, offsets) for F.embedding_bag over event ranges [starts, ends)."""
        lens = ends - starts
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        flat = np.repeat(starts - offsets, lens) + np.arange(lens.sum())
        return torch.from_numpy(self.logs.ev_row[flat]), torch.from_numpy(offsets)

    def last_rows(self, starts: np.ndarray, ends: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        has = ends > starts
        rows = np.where(has, self.logs.ev_row[np.maximum(ends - 1, 0)], 0)
        return torch.from_numpy(rows), torch.from_numpy(has)


def _init_embeddings(module: torch.nn.Module, std: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, mod in module.named_modules():
            if isinstance(mod, torch.nn.Embedding):
                mod.weight.copy_(std * torch.randn(mod.weight.shape, generator=gen))


def _step(opt, loss, sched=None) -> float:
    """One optimiser step on `loss`; returns its value."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return float(loss.detach())


def _batches(n: int, size: int, rng: np.random.Generator):
    perm = rng.permutation(n)
    for i in range(0, n, size):
        yield perm[i:i + size]


# ------------------------------------------------------------------------------- mlp


def mlp_forward(m: MLPRanker, flat, offsets, cand: torch.Tensor, ctx: torch.Tensor, feats: torch.Tensor):
    """MLPRanker maths on a batch: cand [B, S] rows, ctx [B, C], feats [B, S, F] -> logits [B, S]."""
    u = F.embedding_bag(flat, m.item_emb.weight, offsets, mode="mean")  # empty bag -> zeros
    B, S = cand.shape
    x = torch.cat([u[:, None].expand(B, S, -1), m.item_emb(cand), ctx[:, None].expand(B, S, -1), feats], dim=2)
    return m.mlp(x).squeeze(2)


def train_mlp(data: TrainData, cfg: Config):
    logs, L = data.logs, cfg.max_history
    torch.manual_seed(cfg.seed + 11)
    gen = torch.Generator().manual_seed(cfg.seed + 11)
    rng = np.random.default_rng(cfg.seed + 11)
    m = MLPRanker(logs.n_items, cfg.mlp_dim, CONTEXT_DIM, FEATURE_DIM, cfg.mlp_hidden)
    _init_embeddings(m, cfg.mlp_emb_std, gen)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.mlp_lr)
    R = cfg.mlp_random_negatives
    imp_rows = logs.imp_rows[data.imp]
    imp_lab = np.maximum(logs.imp_click[data.imp], logs.imp_purchase[data.imp]).astype(np.float32)
    imp_ts = logs.imp_ts[data.imp]
    n_imp, n_view = len(data.imp), len(data.view_idx) if cfg.mlp_organic else 0
    # One example list: impressions (slate + R negatives) and organic views (1 positive + R negatives).
    for epoch in range(cfg.mlp_epochs):
        t0, tot, cnt = time.time(), 0.0, 0
        for b in _batches(n_imp + n_view, cfg.mlp_batch, rng):
            bi, bv = b[b < n_imp], b[b >= n_imp] - n_imp
            parts = []
            if len(bi):
                rows, lab = imp_rows[bi], imp_lab[bi]
                starts, ends, ts, ctx = data.imp_hist_start[bi], data.imp_hist_end[bi], imp_ts[bi], data.imp_ctx[bi]
                parts.append((rows, lab, starts, ends, ts, ctx))
            if len(bv):
                vi = data.view_idx[bv]
                rows = logs.ev_row[vi][:, None]
                parts.append((rows, np.ones((len(bv), 1), np.float32), data.view_hist_start[bv], vi,
                              logs.ev_ts[vi], data.view_ctx[bv]))
            loss_sum, n_sum = 0.0, 0
            opt.zero_grad()
            for rows, lab, starts, ends, ts, ctx in parts:
                negs = rng.integers(0, logs.n_items, size=(len(rows), R))
                cand = np.concatenate([rows, negs], axis=1)
                label = np.concatenate([lab, np.zeros((len(rows), R), np.float32)], axis=1)
                valid = cand >= 0
                cand = np.where(valid, cand, 0)
                feats = logs.features(cand, ts[:, None])
                flat, offs = data.bag(starts, ends)
                logit = mlp_forward(m, flat, offs, torch.from_numpy(cand), torch.from_numpy(ctx),
                                    torch.from_numpy(feats))
                w = torch.from_numpy(valid.astype(np.float32))
                loss = (F.binary_cross_entropy_with_logits(logit, torch.from_numpy(label), reduction="none") * w).sum()
                loss_sum = loss_sum + loss
                n_sum += int(valid.sum())
            (loss_sum / n_sum).backward()
            opt.step()
            tot += float(loss_sum.detach()) / n_sum
            cnt += 1
        cfg.log(f"  mlp epoch {epoch + 1}/{cfg.mlp_epochs}: bce {tot / cnt:.4f} ({time.time() - t0:.0f} s)")
    hp = {"context_dim": CONTEXT_DIM, "candidate_feature_dim": FEATURE_DIM, "max_history": L}
    desc = (f"mlp ranker, d={cfg.mlp_dim}, hidden {'-'.join(map(str, cfg.mlp_hidden))}; BCE on impressions "
            f"(clicked=1) + organic views as positives, {R} random catalog negatives each; {cfg.mlp_epochs} epochs. "
            f"context: {CONTEXT_DOC}; candidate_features: {FEATURE_DOC}")
    return m.eval(), hp, desc


# --------------------------------------------------------------------- sequence models


def _seq_batch(data: TrainData, chunk_ids: np.ndarray):
    logs = data.logs
    b, e = data.chunks[chunk_ids, 0], data.chunks[chunk_ids, 1]
    T = int((e - b).max())
    idx = b[:, None] + np.arange(T)[None, :]
    valid = idx < e[:, None]
    idx = np.where(valid, idx, b[:, None])  # right padding (causal models: pads never reach real positions)
    rows = logs.ev_row[idx]
    types = logs.ev_type[idx]
    tgt = np.where(valid, data.next_view[idx], -1)
    return torch.from_numpy(rows), torch.from_numpy(types), torch.from_numpy(tgt)


def lstm_forward(m: LSTMSeq, rows, types, dropout: float, training: bool):
    e = m.item_emb(rows) + m.event_emb(types)
    if dropout > 0:
        e = F.dropout(e, dropout, training)
    out, _ = m.lstm(e)
    return m.proj(out)  # [B, T, d]


def sasrec_forward(m: SASRec, rows, dropout: float, training: bool):
    T = rows.shape[1]
    x = m.item_emb(rows) * math.sqrt(m.dim) + m.pos_emb.weight[:T][None]
    if dropout > 0:
        x = F.dropout(x, dropout, training)
    mask = SASRec.causal_mask(T)
    for block in m.blocks:
        x = block(x, mask)
    return m.ln_f(x)


def sampled_softmax_loss(z, tgt, item_emb, negs):
    """z [P, d], tgt [P], negs [K] shared uniform negatives -> mean CE (log(N/K) correction)."""
    return sampled_softmax_of(z, item_emb[tgt], item_emb[negs], tgt, negs, item_emb.shape[0])


def sampled_softmax_of(z, tgt_vectors, neg_vectors, tgt, negs, num_items):
    """The same, given the item vectors of the targets [P, d] and of the negatives [K, d]."""
    pos = (z * tgt_vectors).sum(1, keepdim=True)
    neg = z @ neg_vectors.T + math.log(num_items / negs.numel())
    neg = neg.masked_fill(negs[None, :] == tgt[:, None], float("-inf"))
    logits = torch.cat([pos, neg], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(tgt), dtype=torch.long))


def train_seq(kind: str, data: TrainData, cfg: Config):
    logs, L = data.logs, cfg.max_history
    off = 21 if kind == "lstm" else 31
    torch.manual_seed(cfg.seed + off)
    gen = torch.Generator().manual_seed(cfg.seed + off)
    rng = np.random.default_rng(cfg.seed + off)
    if kind == "lstm":
        m = LSTMSeq(logs.n_items, cfg.seq_dim, cfg.lstm_hidden, cfg.lstm_layers)
        _init_embeddings(m, cfg.lstm_emb_std, gen)
        with torch.no_grad():
            for k in range(cfg.lstm_layers):
                getattr(m.lstm, f"weight_ih_l{k}").mul_(cfg.lstm_ih_scale if k == 0 else 1.0)
        epochs, lr = cfg.lstm_epochs, cfg.lstm_lr
    else:
        m = SASRec(logs.n_items, cfg.seq_dim, L, cfg.sasrec_blocks, cfg.sasrec_heads)
        _init_embeddings(m, cfg.sasrec_emb_std, gen)
        epochs, lr = cfg.sasrec_epochs, cfg.sasrec_lr
    opt = torch.optim.Adam(m.parameters(), lr=lr)
    n = len(data.chunks)
    total_steps = epochs * math.ceil(n / cfg.seq_batch)
    if total_steps >= 20:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=0.1)
    else:  # tiny data: OneCycle needs a few warm-up steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    for epoch in range(epochs):
        m.train()
        t0, tot, cnt = time.time(), 0.0, 0
        for b in _batches(n, cfg.seq_batch, rng):
            rows, types, tgt = _seq_batch(data, b)
            if kind == "lstm":
                z = lstm_forward(m, rows, types, cfg.seq_input_dropout, True)
            else:
                z = sasrec_forward(m, rows, cfg.seq_input_dropout, True)
            ok = tgt >= 0
            negs = torch.randint(0, logs.n_items, (cfg.seq_negatives,), generator=gen)
            tot += _step(opt, sampled_softmax_loss(z[ok], tgt[ok], m.item_emb.weight, negs), sched)
            cnt += 1
        cfg.log(f"  {kind} epoch {epoch + 1}/{epochs}: sampled-softmax CE {tot / cnt:.4f} "
                f"({time.time() - t0:.0f} s)")
    m.eval()
    common = (f"next-item prediction (next VIEW) on {n} windows of <= {L} events, sampled softmax with "
              f"{cfg.seq_negatives} uniform negatives, {epochs} epochs")
    if kind == "lstm":
        hp = {"num_layers": cfg.lstm_layers, "max_history": L}
        desc = f"lstm sequence model, d={cfg.seq_dim}, hidden {cfg.lstm_hidden}, {cfg.lstm_layers} layer; {common}"
    else:
        hp = {"num_blocks": cfg.sasrec_blocks, "num_heads": cfg.sasrec_heads, "max_history": L}
        desc = (f"sasrec, d={cfg.seq_dim}, {cfg.sasrec_blocks} blocks, {cfg.sasrec_heads} heads, d_ff "
                f"{4 * cfg.seq_dim}; {common}")
    return m, hp, desc


# ------------------------------------------------------------------------------- dqn


def dqn_forward(m: DuelingDQN, flat, offsets, last_rows, has_last, ctx, cand, valid):
    """DuelingDQN maths on a batch: Q [B, S] with the mean of A over the valid candidates."""
    mean_h = F.embedding_bag(flat, m.item_emb.weight, offsets, mode="mean")
    last_h = m.item_emb(last_rows) * has_last[:, None].to(torch.float32)
    g = m.state(torch.cat([mean_h, last_h, ctx], dim=1))
    v = m.value(g)  # [B, 1]
    B, S = cand.shape
    a = m.adv(torch.cat([g[:, None].expand(B, S, -1), m.item_emb(cand)], dim=2)).squeeze(2)
    w = valid.to(torch.float32)
    a_mean = (a * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    return v + a - a_mean


def train_dqn(data: TrainData, cfg: Config):
    logs, L = data.logs, cfg.max_history
    torch.manual_seed(cfg.seed + 41)
    gen = torch.Generator().manual_seed(cfg.seed + 41)
    rng = np.random.default_rng(cfg.seed + 41)
    m = DuelingDQN(logs.n_items, cfg.dqn_dim, CONTEXT_DIM, cfg.dqn_state_hidden, cfg.dqn_adv_hidden)
    _init_embeddings(m, cfg.dqn_emb_std, gen)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.dqn_lr)
    R = cfg.dqn_random_negatives
    # Transitions: every training slate (actions = its items), and -- if dqn_organic -- every
    # organic VIEW (action = the opened item, i.e. a click in a listing; reward 1 + 5 if bought).
    n_imp = len(data.imp)
    n_view = len(data.view_idx) if cfg.dqn_organic else 0
    imp_rows = logs.imp_rows[data.imp]
    vi = data.view_idx[:n_view]
    cand_rows = [imp_rows, logs.ev_row[vi][:, None]]
    rewards = [(cfg.reward_click * logs.imp_click[data.imp] + cfg.reward_purchase * logs.imp_purchase[data.imp]),
               (cfg.reward_click + cfg.reward_purchase * data.view_purchased[:n_view])[:, None]]
    hist_start = np.concatenate([data.imp_hist_start, data.view_hist_start[:n_view]])
    hist_end = np.concatenate([data.imp_hist_end, vi])
    ctx_all = torch.from_numpy(np.concatenate([data.imp_ctx, data.view_ctx[:n_view]]))
    next_imp = np.concatenate([data.imp_next, data.view_next_imp[:n_view]])  # index into the slates or -1

    def q_of(model, idx, cand):
        valid = cand >= 0
        flat, offs = data.bag(hist_start[idx], hist_end[idx])
        last, has = data.last_rows(hist_start[idx], hist_end[idx])
        return dqn_forward(model, flat, offs, last, has, ctx_all[idx], torch.from_numpy(np.where(valid, cand, 0)),
                           torch.from_numpy(valid)), valid

    n = n_imp + n_view
    bootstrap = np.zeros(n, dtype=np.float32)  # gamma * max_a' Q_prev(s', a'); 0 in iteration 1
    for it in range(cfg.dqn_iterations):
        if it > 0:
            prev = copy.deepcopy(m).eval()
            with torch.no_grad():
                q_next = np.zeros(n_imp, dtype=np.float32)  # max over each slate, as a next state
                for s in range(0, n_imp, 4096):
                    idx = np.arange(s, min(n_imp, s + 4096))
                    q, valid = q_of(prev, idx, imp_rows[idx])
                    q_next[idx] = q.masked_fill(~torch.from_numpy(valid), float("-inf")).max(1).values.numpy()
            bootstrap = np.where(next_imp >= 0, cfg.dqn_gamma * q_next[np.maximum(next_imp, 0)], 0.0).astype(np.float32)
        for ep in range(cfg.dqn_epochs_per_iteration):
            t0, tot, cnt = time.time(), 0.0, 0
            for b in _batches(n, cfg.dqn_batch, rng):
                opt.zero_grad()
                loss_sum, n_sum = 0.0, 0
                for part, sel in ((0, b[b < n_imp]), (1, b[b >= n_imp] - n_imp)):
                    if len(sel) == 0:
                        continue
                    idx = sel + (n_imp if part else 0)
                    cand = np.concatenate([cand_rows[part][sel], rng.integers(0, logs.n_items, size=(len(sel), R))], 1)
                    y = np.concatenate([rewards[part][sel], np.zeros((len(sel), R))], 1) + bootstrap[idx][:, None]
                    q, valid = q_of(m, idx, cand)
                    w = torch.from_numpy(valid.astype(np.float32))
                    lossf = F.mse_loss if cfg.dqn_loss == "mse" else F.smooth_l1_loss
                    loss_sum = loss_sum + (lossf(q, torch.from_numpy(y.astype(np.float32)), reduction="none") * w).sum()
                    n_sum += int(valid.sum())
                (loss_sum / n_sum).backward()
                opt.step()
                tot += float(loss_sum.detach()) / n_sum
                cnt += 1
            cfg.log(f"  dqn fitted-Q iteration {it + 1}/{cfg.dqn_iterations} epoch {ep + 1}: {cfg.dqn_loss} "
                    f"{tot / cnt:.4f} ({time.time() - t0:.0f} s)")
    hp = {"context_dim": CONTEXT_DIM, "max_history": L, "epsilon": cfg.dqn_epsilon}
    desc = (f"dueling dqn, d={cfg.dqn_dim}, state {'-'.join(map(str, cfg.dqn_state_hidden))}, adv "
            f"{cfg.dqn_adv_hidden}; fitted-Q iteration ({cfg.dqn_iterations} iterations) on logged slates"
            f"{' and organic item opens' if n_view else ''}, reward click={cfg.reward_click:g} "
            f"purchase={cfg.reward_purchase:g}, one-step TD target gamma={cfg.dqn_gamma:g} over the next slate of "
            f"the session, {R} random catalog items per decision with reward 0; serving epsilon "
            f"{cfg.dqn_epsilon:g}. context: {CONTEXT_DOC}")
    return m.eval(), hp, desc


# ------------------------------------------------------------------------- popularity


def train_popularity(data: TrainData):
    logs = data.logs
    tr = np.flatnonzero(data.split.train_event)
    views = logs.ev_row[tr][logs.ev_type[tr] == 0]
    counts = np.bincount(views, minlength=logs.n_items)
    pop = np.log1p(counts).astype(np.float32)
    desc = (f"popularity baseline: log(1 + VIEW count) per item over the {len(views)} training VIEW events "
            "(history and context ignored)")
    return pop, desc


# ------------------------------------------------------------------------------ two_tower


def train_two_tower(data: TrainData, cfg: Config):
    """Next VIEW from [mean of the events before it ; its context], sampled softmax over item-tower
    outputs (the item tower runs on the target and the shared uniform negatives only)."""
    logs, L = data.logs, cfg.max_history
    torch.manual_seed(cfg.seed + 51)
    gen = torch.Generator().manual_seed(cfg.seed + 51)
    rng = np.random.default_rng(cfg.seed + 51)
    m = TwoTower(logs.n_items, cfg.tt_dim, CONTEXT_DIM, 0, cfg.tt_hidden, cfg.tt_hidden, cfg.tt_out)
    _init_embeddings(m, cfg.tt_emb_std, gen)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.tt_lr)
    views = data.view_idx
    N, K = logs.n_items, cfg.tt_negatives
    for epoch in range(cfg.tt_epochs):
        m.train()
        t0, tot, cnt = time.time(), 0.0, 0
        for b in _batches(len(views), cfg.tt_batch, rng):
            flat, offsets = data.bag(data.view_hist_start[b], views[b])
            u = F.embedding_bag(flat, m.item_emb.weight, offsets, mode="mean")  # empty history -> zeros
            user = m.user_tower(torch.cat([u, torch.from_numpy(data.view_ctx[b]).float()], dim=1))
            tgt = torch.from_numpy(logs.ev_row[views[b]])
            negs = torch.randint(0, N, (K,), generator=gen)
            items = m.item_tower(m.item_emb(torch.cat([tgt, negs])))
            tot += _step(opt, sampled_softmax_of(user, items[:len(b)], items[len(b):], tgt, negs, N))
            cnt += 1
        cfg.log(f"  two_tower epoch {epoch + 1}/{cfg.tt_epochs}: sampled-softmax CE {tot / cnt:.4f} "
                f"({time.time() - t0:.0f} s)")
    m.eval()
    hp = {"context_dim": CONTEXT_DIM, "item_feature_dim": 0, "max_history": L}
    desc = (f"two_tower, d={cfg.tt_dim}, towers {list(cfg.tt_hidden)} -> {cfg.tt_out}, no item features; next VIEW "
            f"from the <= {L} events before it and its context, sampled softmax with {K} uniform negatives, "
            f"{cfg.tt_epochs} epoch(s)")
    return m, hp, desc


# ------------------------------------------------------------------------------ main


# How each kind trains: data, config -> (module, model.json hyperparameters, description).
TRAINERS = {
    "mlp": train_mlp,
    "lstm": lambda data, cfg: train_seq("lstm", data, cfg),
    "sasrec": lambda data, cfg: train_seq("sasrec", data, cfg),
    "dqn": train_dqn,
    "two_tower": train_two_tower,
}


def train_and_export(logs: Logs, split: Split, store: Path, kinds, version: int, cfg: Config,
                     created: str = CREATED) -> dict:
    torch.set_num_threads(2)
    # Without this, embedding/LSTM backward passes on 2 threads differ in the last bits run to run.
    torch.use_deterministic_algorithms(True)
    data = TrainData(logs, split, cfg.max_history)
    cfg.log(f"training data: {len(split.eval_user)} held-out users, {int(split.train_event.sum())} training events, "
            f"{len(data.imp)} training impressions, {len(data.chunks)} sequence windows")
    ids = logs.item_ids.tolist()
    out, timings = {}, {}
    for kind in kinds:
        t0 = time.time()
        if kind == "popularity":
            pop, desc = train_popularity(data)
            out[kind] = export_popularity(store, kind, version, ids, torch.from_numpy(pop), desc, created,
                                          overwrite=True)
        else:
            if kind not in TRAINERS:
                raise ValueError(f"unknown kind {kind}")
            m, hp, desc = TRAINERS[kind](data, cfg)
            out[kind] = export_version(store, kind, version, kind, m, ids, hp, desc, created, overwrite=True)
        timings[kind] = time.time() - t0
        cfg.log(f"{kind}: exported {out[kind]} ({timings[kind]:.0f} s)")
    return {"dirs": out, "seconds": timings, "n_train_impressions": len(data.imp), "n_windows": len(data.chunks)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=Path, default=REPO / "out" / "behaviour_logs")
    ap.add_argument("--store", type=Path, default=REPO / "demo" / "store")
    ap.add_argument("--kinds", default=",".join(ALL_KINDS))
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--created", default=CREATED)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    logs = load_logs(a.logs)
    split = leave_last_out(logs)
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    train_and_export(logs, split, a.store, kinds, a.version, Config(seed=a.seed), a.created)


if __name__ == "__main__":
    main()
