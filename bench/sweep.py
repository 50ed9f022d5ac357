"""Issue 19's shape sweep: the design (which shapes), the roofline formulas (what one call must
execute and read), and the store and request sets of every point. bench/prepare.py writes them,
bench/run.py measures them, bench/report.py turns them into docs/benchmarks.md.

Design: one factor at a time around two base points per kind (A and B below), random weights
(seeded), item ids 100000 + 7 r, history 50 events, top 10. Each point changes exactly one factor
of its base; the three shapes issue 19 names are base points (mlp A, lstm A, sasrec A).

Roofline of one call (`flops`, `bytes`; n = history length kept, M = candidates scored, or the
catalog size N when the request has none; weights are float32):
  mlp     once per call: mean of n history rows (n d), layer 1's user+context block as a GEMV
          (2 h1 (d + C)); per candidate: layer 1's item+feature block (2 (d + F) h1) and the later
          layers (2 sum h_l h_(l+1)). Bytes: every weight once, the M item rows and M F features.
          With the layer-1 item-block cache (`mlp_item_cache`, the plugin's "auto" rule: 2 d h1 >=
          16 (h1 - d) 4 and N h1 4 bytes <= 32 MiB) the item block is not computed per call but read: per
          candidate 2 F h1 + h1 (the add) instead of 2 (d + F) h1, and the M rows read are the
          cache's h1 floats instead of the embedding's d (what the plugin executes and reads).
  lstm    once per call: n steps of each layer (2 * 4h (in + h) per step, in = d for layer 0, h
          after), proj (2 h d); per catalog item / candidate: one dot product (2 d). Bytes: the
          LSTM and proj weights once, n history rows, the M item rows.
  sasrec  once per call, per block but the last: in_proj (2 n d 3d), causal attention (QK^T and AV
          over the n (n + 1) / 2 pairs: 2 n (n + 1) d), out_proj (2 n d d), FFN (4 n d d_ff); the last
          block only at the last position (what the plugin executes: z depends on it alone): in_proj
          of every position (keys, values) 2 n d 3d, then 4 n d + 2 d d + 4 d d_ff; per item: 2 d.
          Bytes: the block weights once, n history rows and n positions, the M item rows.
Call floor = max(flops / sgemm rate, bytes / read bandwidth), both measured in the same run (sgemm:
OpenBLAS 1024^3 on one core; read: the read-only sum over a buffer at least as large as `bytes`,
so a working set that fits a cache gets that cache's rate). Stage floor (`stages`) = the sum of
that max over the call's dependent stages, each with its own working set; the LSTM recurrence
reads W_hh once per step. Ratio = in-process time (one core) / stage floor.
"""

from __future__ import annotations

HISTORY = 50
TOP_K = 10
SEED = 20251207
REQUESTS = 64  # per request set: enough different histories and candidate sets for a short point

# kind -> base name -> shape. Catalog N = 20k unless the base is a whole-catalog one (issue 19's).
BASES = {
    "mlp": {
        "A": {"d": 64, "C": 16, "F": 8, "hidden": [256, 128], "candidates": 500, "N": 20_000},
        "B": {"d": 32, "C": 0, "F": 0, "hidden": [128, 64], "candidates": 100, "N": 20_000},
    },
    "lstm": {
        "A": {"d": 64, "hidden": 128, "layers": 1, "candidates": 0, "N": 50_000},
        "B": {"d": 64, "hidden": 64, "layers": 1, "candidates": 500, "N": 20_000},
    },
    "sasrec": {
        "A": {"d": 64, "heads": 1, "blocks": 2, "d_ff": 256, "candidates": 0, "N": 50_000},
        "B": {"d": 64, "heads": 2, "blocks": 2, "d_ff": 256, "candidates": 500, "N": 20_000},
    },
}

# kind -> base name -> [(factor, value), ...]: each a point of its own.
FACTORS = {
    "mlp": {
        "A": [("d", 32), ("d", 128), ("hidden", [128, 64]), ("hidden", [512, 256, 128]), ("C", 0),
              ("F", 0), ("F", 32), ("candidates", 100), ("candidates", 2000)],
        "B": [("d", 64), ("d", 128), ("hidden", [512, 256, 128]), ("C", 16), ("candidates", 2000)],
    },
    "lstm": {
        "A": [("d", 32), ("d", 128), ("hidden", 64), ("hidden", 256), ("layers", 2), ("N", 20_000),
              ("N", 200_000)],
        "B": [("candidates", 100), ("candidates", 2000), ("layers", 2), ("d", 128)],
    },
    "sasrec": {
        "A": [("d", 32), ("d", 128), ("heads", 2), ("heads", 4), ("blocks", 1), ("blocks", 3), ("d_ff", 64),
              ("N", 20_000), ("N", 200_000)],
        "B": [("candidates", 100), ("candidates", 2000), ("heads", 4), ("blocks", 3), ("d", 128)],
    },
}

ISSUE_CASES = {"mlp_A": "mlp d 64, C 16, F 8, 256-128, 500 candidates (target 2.5x)",
               "lstm_A": "lstm hidden 128, d 64, whole catalog of 50 000 (target 3x)",
               "sasrec_A": "sasrec whole catalog, d 64, 1 head, d_ff 256 (target 3x)"}


def value_text(value) -> str:
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


def points() -> list[dict]:
    """Every point: {"name", "kind", "base", "factor", "shape"}. d changes carry d_ff = 4d along for
    sasrec (the shape the factor means: a wider model)."""
    out = []
    for kind, bases in BASES.items():
        for base, shape in bases.items():
            out.append({"name": f"{kind}_{base}", "kind": kind, "base": base, "factor": "base", "shape": dict(shape)})
            for factor, value in FACTORS[kind][base]:
                changed = dict(shape, **{factor: value})
                if kind == "sasrec" and factor == "d":
                    changed["d_ff"] = 4 * value
                name = f"{kind}_{base}_{factor}{value_text(value)}"
                out.append({"name": name, "kind": kind, "base": base, "factor": f"{factor}={value_text(value)}",
                            "shape": changed})
    return out


def hparams(kind: str, shape: dict) -> dict:
    """model.json hyperparameters of a point."""
    if kind == "mlp":
        return {"context_dim": shape["C"], "candidate_feature_dim": shape["F"], "max_history": HISTORY}
    if kind == "lstm":
        return {"num_layers": shape["layers"], "max_history": HISTORY}
    return {"num_blocks": shape["blocks"], "num_heads": shape["heads"], "max_history": HISTORY}


def module_options(kind: str, shape: dict) -> dict:
    """tools/export_store.random_module's keyword arguments of a point."""
    if kind == "mlp":
        return {"hidden": tuple(shape["hidden"])}
    return {"lstm_hidden": shape["hidden"]} if kind == "lstm" else {"d_ff": shape["d_ff"]}


def mlp_item_cache(shape: dict) -> bool:
    """Whether the mlp plugin builds its layer-1 item-block cache for this shape (model.json
    layer1_item_cache "auto", plugins/MLP/ItemBlockCache.swift): the 2 d h1 FLOPs saved per candidate
    are at least 16 per extra byte read ((h1 - d) 4), and N h1 4 bytes <= 32 MiB."""
    h1, d = shape["hidden"][0], shape["d"]
    return 2 * d * h1 >= 16 * (h1 - d) * 4 and shape["N"] * h1 * 4 <= 32 << 20


def roofline_terms(kind: str, shape: dict, history: int = HISTORY) -> dict:
    """The module docstring's formulas: FLOPs once per call and per scored item, weight and data
    floats (h1: the mlp's first hidden width)."""
    d, n = shape["d"], history
    h1 = 0
    scored = shape["candidates"] or shape["N"]
    if kind == "mlp":
        widths = [2 * d + shape["C"] + shape["F"], *shape["hidden"], 1]
        h1 = widths[1]
        once = n * d + 2 * h1 * (d + shape["C"])
        cached = mlp_item_cache(shape)
        item_block = h1 if cached else 2 * d * h1
        per_item = item_block + 2 * shape["F"] * h1 + sum(2 * widths[i] * widths[i + 1] for i in range(1, len(widths) - 1))
        weights = sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(len(widths) - 1))
        data = scored * ((h1 if cached else d) + shape["F"]) + n * d + shape["C"]
    elif kind == "lstm":
        h = shape["hidden"]
        layers = [(d if layer == 0 else h, h) for layer in range(shape["layers"])]
        once = sum(n * 2 * 4 * h * (i + h) for i, h in layers) + 2 * h * d
        per_item = 2 * d
        weights = sum(4 * h * (i + h) + 8 * h for i, h in layers) + h * d + d
        data = scored * d + n * d
    else:
        d_ff = shape["d_ff"]
        block = 2 * n * d * 3 * d + 2 * n * (n + 1) * d + 2 * n * d * d + 4 * n * d * d_ff
        # The last block's output matters at the last position only: its q|k|v projection still
        # covers every position (keys, values), the rest one row.
        last = 2 * n * d * 3 * d + 4 * n * d + 2 * d * d + 4 * d * d_ff
        once = (shape["blocks"] - 1) * block + last
        per_item = 2 * d
        weights = shape["blocks"] * (3 * d * d + 3 * d + d * d + d + 2 * d * d_ff + d_ff + d + 4 * d) + 2 * d
        data = scored * d + 2 * n * d
    return {"once": once, "per_item": per_item, "weights": weights, "data": data, "scored": scored, "h1": h1}


def roofline(kind: str, shape: dict, history: int = HISTORY) -> dict:
    """FLOPs and compulsory bytes of one call (module docstring), how they split, and its stages."""
    t = roofline_terms(kind, shape, history)
    return {"flops": t["once"] + t["scored"] * t["per_item"], "flops_once": t["once"], "flops_per_item": t["per_item"],
            "items": t["scored"], "bytes": 4 * (t["weights"] + t["data"]), "weight_bytes": 4 * t["weights"],
            "stages": stages(kind, shape, history)}


def stages(kind: str, shape: dict, history: int = HISTORY) -> list[dict]:
    """The call as the dependent stages one thread runs one after another, each with its FLOPs, the
    bytes it reads and the working set those bytes come from (which cache's read rate applies).

    The call floor above takes max(compute, memory) over the whole call, as if the encoder's
    arithmetic could overlap the catalog scan's reads; on one thread they run in sequence (the scan
    needs the encoder's output), so the stage floor sums max(compute, memory) per stage. And the
    LSTM's recurrence is n dependent steps, each of which reads the whole W_hh (4h x h floats: more
    than L1 from h 64 on) again, so its bytes are n x W_hh from the cache that holds W_hh, not W_hh
    once."""
    d, n = shape["d"], history
    scored = shape["candidates"] or shape["N"]
    # Candidate rows are scattered over the whole table, so they come from wherever it lives.
    score_bytes, table_bytes = 4 * scored * d, 4 * shape["N"] * d
    if kind == "mlp":
        roof = roofline_terms(kind, shape, history)
        once_bytes = 4 * (n * d + roof["h1"] * (d + shape["C"]))
        return [{"stage": "history + user block", "flops": roof["once"], "bytes": once_bytes, "working_set": once_bytes},
                {"stage": "candidates", "flops": scored * roof["per_item"],
                 "bytes": 4 * (roof["weights"] + roof["data"]) - once_bytes,
                 "working_set": 4 * (roof["weights"] + roof["data"]) - once_bytes}]
    if kind == "lstm":
        h = shape["hidden"]
        layers = [(d if layer == 0 else h, h) for layer in range(shape["layers"])]
        w_hh = 4 * 4 * h * h
        return [{"stage": "input projections", "flops": sum(n * 2 * 4 * h * i for i, h in layers) + 2 * h * d,
                 "bytes": 4 * sum(4 * h * i + n * i for i, h in layers), "working_set": 4 * sum(4 * h * i + n * i for i, h in layers)},
                {"stage": "recurrence", "flops": sum(n * 2 * 4 * h * h for _, h in layers),
                 "bytes": len(layers) * n * w_hh, "working_set": w_hh},
                {"stage": "scoring", "flops": 2 * scored * d, "bytes": score_bytes, "working_set": table_bytes}]
    roof = roofline_terms(kind, shape, history)
    encoder_bytes = 4 * (roof["weights"] + 2 * n * d)
    return [{"stage": "encoder", "flops": roof["once"], "bytes": encoder_bytes, "working_set": encoder_bytes},
            {"stage": "scoring", "flops": 2 * scored * d, "bytes": score_bytes, "working_set": table_bytes}]


def stage_floor(stage_list: list[dict], sgemm: float, read_rates: dict) -> tuple[float, list[dict]]:
    """Sum over stages of max(FLOPs / sgemm, bytes / read rate of the stage's working set)."""
    out = []
    for s in stage_list:
        compute, memory = s["flops"] / sgemm, s["bytes"] / bandwidth_for(s["working_set"], read_rates)
        out.append({**s, "floor_seconds": max(compute, memory), "bound": "compute" if compute >= memory else "memory"})
    return sum(s["floor_seconds"] for s in out), out


def read_sizes() -> list[int]:
    """Buffer sizes the run measures read bandwidth on (a point uses the smallest >= its bytes)."""
    return [1 << 18, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20]


def bandwidth_for(bytes_: int, read_rates: dict) -> float:
    """GB/s measured on the smallest buffer at least as large as `bytes_` (read_rates: size -> GB/s)."""
    sizes = sorted(read_rates)
    return read_rates[next((s for s in sizes if s >= bytes_), sizes[-1])]
