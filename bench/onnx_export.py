"""The reference modules (tools/recsys_ref/models.py) as ONNX graphs for the ONNX Runtime peer.

Each wrapper computes exactly the reference module's forward on already-mapped catalog rows; the
request handling around it (ids -> rows, unknown candidates, last-L history) is the peers' shared
front end (bench/peers/common.py). Branches on data (empty history) cannot live in a traced graph,
so the wrappers take a history of at least one row plus a 0/1 `hist_flag` (mlp, dqn: flag 0 gives
the zero vectors models.md asks for); the sequence kinds need a non-empty history (every benchmark
request has one; the ONNX peer answers UNIMPLEMENTED otherwise). Whole-catalog graphs end in TopK
(K = CATALOG_K, sliced to the request's top_k by the peer). SASRec's attention is written out with
the module's own parameters (nn.MultiheadAttention's traced forward fixes the sequence length); the
exported graphs match the modules to ~1e-6 (bench/prepare.py checks every export).

    export_model(kind, module, hparams, out_dir, name) -> {"cand": path, "catalog": path or None}
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

CATALOG_K = 100
OPSET = 17


class MLPGraph(nn.Module):
    def __init__(self, m, context_dim: int, feature_dim: int):
        super().__init__()
        self.m, self.context_dim, self.feature_dim = m, context_dim, feature_dim

    def forward(self, hist_rows, hist_flag, cand_rows, *extra):
        e = self.m.item_emb(hist_rows)
        u = e.mean(dim=0) * hist_flag
        c = self.m.item_emb(cand_rows)
        parts = [u.unsqueeze(0).expand(c.shape[0], -1), c]
        rest = list(extra)
        if self.context_dim:
            parts.append(rest.pop(0).unsqueeze(0).expand(c.shape[0], -1))
        if self.feature_dim:
            parts.append(rest.pop(0))
        return self.m.mlp(torch.cat(parts, dim=1)).squeeze(1)


class DQNGraph(nn.Module):
    def __init__(self, m, context_dim: int):
        super().__init__()
        self.m, self.context_dim = m, context_dim

    def forward(self, hist_rows, hist_flag, cand_rows, *extra):
        e = self.m.item_emb(hist_rows)
        parts = [e.mean(dim=0) * hist_flag, e[-1] * hist_flag]
        if self.context_dim:
            parts.append(extra[0])
        g = self.m.state(torch.cat(parts))
        v = self.m.value(g)
        c = self.m.item_emb(cand_rows)
        a = self.m.adv(torch.cat([g.unsqueeze(0).expand(c.shape[0], -1), c], dim=1)).squeeze(1)
        return v + a - a.mean()


def lstm_user_vector(m, hist_rows, hist_types):
    e = m.item_emb(hist_rows) + m.event_emb(hist_types)
    out, _ = m.lstm(e.unsqueeze(0))
    return m.proj(out[0, -1])


def attention(attn: nn.MultiheadAttention, x, mask):
    """nn.MultiheadAttention(x, x, x, attn_mask=mask) on an unbatched [n, d] sequence, written out
    (the module's own forward bakes the traced length into its reshapes)."""
    d = x.shape[-1]
    heads = attn.num_heads
    head_dim = attn.embed_dim // heads
    q, k, v = torch.nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q = q.reshape(-1, heads, head_dim).transpose(0, 1) / math.sqrt(head_dim)  # [H, n, hd]
    k = k.reshape(-1, heads, head_dim).transpose(0, 1)
    v = v.reshape(-1, heads, head_dim).transpose(0, 1)
    weights = torch.softmax((q @ k.transpose(1, 2)).masked_fill(mask, float("-inf")), dim=-1)
    out = (weights @ v).transpose(0, 1).reshape(-1, d)
    return attn.out_proj(out)


def sasrec_user_vector(m, hist_rows):
    positions = torch.cumsum(torch.ones_like(hist_rows), dim=0) - 1  # 0..n-1 without a traced length
    x = m.item_emb(hist_rows) * math.sqrt(m.dim) + m.pos_emb(positions)
    ones = torch.ones_like(positions).unsqueeze(0) * torch.ones_like(positions).unsqueeze(1)
    mask = torch.triu(ones, diagonal=1) > 0  # True = not allowed (position i attends to 0..i)
    for block in m.blocks:
        x = x + attention(block.attn, block.ln1(x), mask)
        x = x + block.ffn(block.ln2(x))
    return m.ln_f(x[-1])


class SeqCandidates(nn.Module):
    def __init__(self, m, kind):
        super().__init__()
        self.m, self.kind = m, kind

    def forward(self, hist_rows, hist_types, cand_rows):
        z = lstm_user_vector(self.m, hist_rows, hist_types) if self.kind == "lstm" else sasrec_user_vector(self.m, hist_rows)
        return self.m.item_emb(cand_rows) @ z


class SeqCatalog(nn.Module):
    def __init__(self, m, kind, k):
        super().__init__()
        self.m, self.kind, self.k = m, kind, k

    def forward(self, hist_rows, hist_types):
        z = lstm_user_vector(self.m, hist_rows, hist_types) if self.kind == "lstm" else sasrec_user_vector(self.m, hist_rows)
        # As Gemm(z, item_emb, transB=1): ONNX Runtime runs `item_emb.weight @ z` (MatMul with a
        # constant [N, d] left operand) about 50x slower, at ~30 ms for 50 000 x 64.
        scores = torch.nn.functional.linear(z.unsqueeze(0), self.m.item_emb.weight).squeeze(0)
        values, rows = torch.topk(scores, self.k)
        return values, rows


def _export(module, args, names, outputs, dynamic, path: Path):
    torch.onnx.export(module, args, str(path), input_names=names, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, dynamo=False, do_constant_folding=True)


def export_model(kind: str, module: nn.Module, hparams: dict, out_dir: Path, name: str) -> dict:
    """Writes <out_dir>/<name>.cand.onnx (and .catalog.onnx for sequence kinds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    n = 7
    hist = torch.arange(1, n + 1, dtype=torch.int64)
    types = torch.tensor([0, 1, 0, 2, 0, 3, 1], dtype=torch.int64)
    cands = torch.arange(10, 15, dtype=torch.int64)
    paths = {"cand": out_dir / f"{name}.cand.onnx", "catalog": None}
    with torch.no_grad():
        if kind == "mlp":
            c, f = int(hparams["context_dim"]), int(hparams["candidate_feature_dim"])
            args = [hist, torch.ones(1), cands]
            names = ["hist_rows", "hist_flag", "cand_rows"]
            dyn = {"hist_rows": {0: "n"}, "cand_rows": {0: "m"}, "scores": {0: "m"}}
            if c:
                args.append(torch.zeros(c))
                names.append("context")
            if f:
                args.append(torch.zeros(len(cands), f))
                names.append("features")
                dyn["features"] = {0: "m"}
            _export(MLPGraph(module, c, f), tuple(args), names, ["scores"], dyn, paths["cand"])
        elif kind == "dqn":
            c = int(hparams["context_dim"])
            args = [hist, torch.ones(1), cands] + ([torch.zeros(c)] if c else [])
            names = ["hist_rows", "hist_flag", "cand_rows"] + (["context"] if c else [])
            dyn = {"hist_rows": {0: "n"}, "cand_rows": {0: "m"}, "scores": {0: "m"}}
            _export(DQNGraph(module, c), tuple(args), names, ["scores"], dyn, paths["cand"])
        elif kind in ("lstm", "sasrec"):
            dyn = {"hist_rows": {0: "n"}, "hist_types": {0: "n"}, "cand_rows": {0: "m"}, "scores": {0: "m"}}
            _export(SeqCandidates(module, kind), (hist, types, cands), ["hist_rows", "hist_types", "cand_rows"],
                    ["scores"], dyn, paths["cand"])
            paths["catalog"] = out_dir / f"{name}.catalog.onnx"
            k = min(CATALOG_K, module.item_emb.weight.shape[0])
            _export(SeqCatalog(module, kind, k), (hist, types), ["hist_rows", "hist_types"], ["values", "rows"],
                    {"hist_rows": {0: "n"}, "hist_types": {0: "n"}}, paths["catalog"])
        else:
            raise ValueError(f"no ONNX graph for kind {kind!r}")
    return {k: (str(v) if v else None) for k, v in paths.items()}
