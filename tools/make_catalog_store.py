#!/usr/bin/env python3
"""Writes a store version of a `sasrec` or `lstm` model over a catalog of N items (N up to 10
million), for retrieval benchmarks and scale tests. numpy only (no torch).

    tools/make_catalog_store.py --store out/catalog --model sasrec --kind sasrec --items 1000000
    tools/make_catalog_store.py ... --retrieval quantized          # model.json "retrieval"
    tools/make_catalog_store.py ... --item-embeddings trained.npy  # a trained [N x d] float32 table

Layout as tools/export_store.py writes it: <store>/<model>/<version>/{model.json,
weights.safetensors}, model.json's "sha256" covering the weights, staged and renamed into place.
The weights are written in chunks, so a 10-million-item table (2.56 GB at d = 64) never needs a
second copy in memory.

Random items: `--distribution gaussian` draws every embedding from N(0, 1) (nn.Embedding's
init); `clustered` (default) draws them around 4096 random centres, closer to what a trained
catalog looks like (items of a kind near each other). Other weights are random at PyTorch's
default scales. `--also-retrieval MODE[,MODE]` adds versions of the same weights (hard links)
that differ only in model.json's "retrieval", for comparing modes on identical data.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np

MAX_ITEMS = 10_000_000
CHUNK_ROWS = 262_144


def sasrec_tensors(rng: np.random.Generator, d: int, blocks: int, max_history: int) -> dict:
    def linear(out_features: int, in_features: int) -> tuple[np.ndarray, np.ndarray]:
        bound = 1.0 / np.sqrt(in_features)
        return (rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32),
                rng.uniform(-bound, bound, out_features).astype(np.float32))

    tensors = {"pos_emb.weight": rng.standard_normal((max_history, d), dtype=np.float32)}
    for b in range(blocks):
        prefix = f"blocks.{b}."
        in_w, in_b = linear(3 * d, d)
        out_w, out_b = linear(d, d)
        ffn0_w, ffn0_b = linear(d, d)
        ffn2_w, ffn2_b = linear(d, d)
        tensors.update({
            prefix + "ln1.weight": np.ones(d, np.float32), prefix + "ln1.bias": np.zeros(d, np.float32),
            prefix + "attn.in_proj_weight": in_w, prefix + "attn.in_proj_bias": in_b,
            prefix + "attn.out_proj.weight": out_w, prefix + "attn.out_proj.bias": out_b,
            prefix + "ln2.weight": np.ones(d, np.float32), prefix + "ln2.bias": np.zeros(d, np.float32),
            prefix + "ffn.0.weight": ffn0_w, prefix + "ffn.0.bias": ffn0_b,
            prefix + "ffn.2.weight": ffn2_w, prefix + "ffn.2.bias": ffn2_b,
        })
    tensors["ln_f.weight"] = np.ones(d, np.float32)
    tensors["ln_f.bias"] = np.zeros(d, np.float32)
    return tensors


def lstm_tensors(rng: np.random.Generator, d: int, layers: int, hidden: int) -> dict:
    bound = 1.0 / np.sqrt(hidden)

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    tensors = {"event_emb.weight": rng.standard_normal((4, d), dtype=np.float32)}
    for k in range(layers):
        inputs = d if k == 0 else hidden
        tensors[f"lstm.weight_ih_l{k}"] = uniform(4 * hidden, inputs)
        tensors[f"lstm.weight_hh_l{k}"] = uniform(4 * hidden, hidden)
        tensors[f"lstm.bias_ih_l{k}"] = uniform(4 * hidden)
        tensors[f"lstm.bias_hh_l{k}"] = uniform(4 * hidden)
    tensors["proj.weight"] = uniform(d, hidden)
    tensors["proj.bias"] = uniform(d)
    return tensors


def embedding_chunks(args, rng: np.random.Generator):
    """Yields the [N x d] item table in row chunks (float32)."""
    if args.item_embeddings:
        table = np.load(args.item_embeddings, mmap_mode="r")
        if table.dtype != np.float32 or table.ndim != 2 or table.shape != (args.items, args.dim):
            sys.exit(f"{args.item_embeddings}: need float32 [{args.items} x {args.dim}], got {table.dtype} {table.shape}")
        for start in range(0, args.items, CHUNK_ROWS):
            yield np.ascontiguousarray(table[start:start + CHUNK_ROWS])
        return
    centres = rng.standard_normal((4096, args.dim), dtype=np.float32) if args.distribution == "clustered" else None
    for start in range(0, args.items, CHUNK_ROWS):
        rows = min(CHUNK_ROWS, args.items - start)
        noise = rng.standard_normal((rows, args.dim), dtype=np.float32)
        if centres is None:
            yield noise
        else:
            yield centres[rng.integers(0, len(centres), rows)] + np.float32(0.35) * noise


def write_safetensors(path: Path, small: dict, args, rng: np.random.Generator) -> str:
    """Writes item_ids, item_emb.weight (streamed) and `small`; returns the file's sha256."""
    n, d = args.items, args.dim
    entries = [("item_ids", "I64", [n], n * 8), ("item_emb.weight", "F32", [n, d], n * d * 4)]
    entries += [(name, "F32", list(array.shape), array.nbytes) for name, array in small.items()]
    header, offset = {}, 0
    for name, dtype, shape, size in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        def write(data: bytes) -> None:
            out.write(data)
            digest.update(data)
        write(struct.pack("<Q", len(text)) + text)
        # Item ids: distinct, not row numbers (SKU-like: 10^9 + 7 * row).
        for start in range(0, n, CHUNK_ROWS):
            rows = np.arange(start, min(n, start + CHUNK_ROWS), dtype=np.int64)
            write((1_000_000_000 + 7 * rows).astype("<i8").tobytes())
        written = 0
        for chunk in embedding_chunks(args, rng):
            write(chunk.astype("<f4", copy=False).tobytes())
            written += len(chunk)
        assert written == n
        for array in small.values():
            write(array.astype("<f4", copy=False).tobytes())
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def manifest(args, sha: str, retrieval: str) -> dict:
    meta = {"kind": args.kind, "max_history": args.max_history}
    if args.kind == "sasrec":
        meta.update(num_blocks=args.depth, num_heads=args.heads)
    else:
        meta.update(num_layers=args.depth)
    meta.update(retrieval=retrieval, sha256=sha, created=_dt.datetime.now(_dt.timezone.utc).isoformat(),
                description=f"{args.kind} over {args.items} {args.distribution} random items (d {args.dim})")
    if args.rerank:
        meta["retrieval_rerank"] = args.rerank
    return meta


def publish(model_dir: Path, version: int, weights: Path, meta: dict, link: bool) -> Path:
    staging = model_dir / f".staging-{version}"
    staging.mkdir(parents=True, exist_ok=False)
    target = staging / "weights.safetensors"
    if link:
        os.link(weights, target)
    else:
        os.rename(weights, target)
    (staging / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    final = model_dir / str(version)
    os.rename(staging, final)
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--model", required=True, help="model name (folder under the store)")
    parser.add_argument("--kind", choices=["sasrec", "lstm"], required=True)
    parser.add_argument("--items", type=int, required=True, help=f"catalog size N (1..{MAX_ITEMS})")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2, help="sasrec num_blocks / lstm num_layers")
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--max-history", type=int, default=50)
    parser.add_argument("--distribution", choices=["clustered", "gaussian"], default="clustered")
    parser.add_argument("--item-embeddings", help="a trained float32 [N x d] table (.npy) instead of random rows")
    parser.add_argument("--retrieval", default="exact", help="model.json \"retrieval\" of the first version")
    parser.add_argument("--also-retrieval", default="", help="more versions (same weights, hard links): MODE,MODE")
    parser.add_argument("--rerank", type=int, default=0, help="model.json \"retrieval_rerank\" (0: the default)")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.items <= MAX_ITEMS:
        sys.exit(f"--items must be in 1..{MAX_ITEMS}")

    rng = np.random.default_rng(args.seed)
    small = (sasrec_tensors(rng, args.dim, args.depth, args.max_history) if args.kind == "sasrec"
             else lstm_tensors(rng, args.dim, args.depth, args.dim))
    model_dir = Path(args.store) / args.model
    model_dir.mkdir(parents=True, exist_ok=True)
    weights = model_dir / f".weights-{os.getpid()}.safetensors"
    sha = write_safetensors(weights, small, args, rng)
    modes = [args.retrieval] + [m for m in args.also_retrieval.split(",") if m]
    for index, mode in enumerate(modes):
        last = index == len(modes) - 1
        path = publish(model_dir, args.version + index, weights, manifest(args, sha, mode), link=not last)
        print(f"wrote {path} (retrieval {mode})")
    if weights.exists():
        weights.unlink()


if __name__ == "__main__":
    main()
