#!/usr/bin/env python3
"""Write (and read back / verify) model versions in the sidecar's file store.

Layout:  <store>/<model>/<version>/{model.json, weights.safetensors}

The ``popularity`` kind (the A/B control, recsys_ref/popularity.py) has tensors item_ids int64 [N]
and popularity float32 [N] and model.json {"kind": "popularity", "sha256", "created", ...}:
write it with export_popularity().

weights.safetensors is ``module.state_dict() | {"item_ids": int64 [N]}`` saved with
``safetensors.torch.save_file``; model.json holds "kind", the kind's hyperparameters exactly as
/work/shared/models.md lists them, "sha256" (hex digest of weights.safetensors), "created" (ISO
8601 UTC) and an optional "description".  A version is written into
``<store>/<model>/.staging-<version>-<pid>/`` and then renamed to ``<version>``, so a store
poller never sees a half-written version.

Library use:   export_version(store, model, version, kind, module, item_ids, hparams, ...)
               export_popularity(store, model, version, item_ids, popularity, ...)
               load_version(path) -> (RefModel, meta);  verify_version(path) -> meta
CLI:
  python tools/export_store.py export --store S --model M --kind K --checkpoint ckpt.pt [--version V]
        ckpt.pt: torch.save({"state_dict": sd, "item_ids": LongTensor[N], "hparams": {...}}) or a bare
        state_dict containing "item_ids"; --hparam key=value adds/overrides hyperparameters.
  python tools/export_store.py random --store S --model M --kind mlp --num-items 5000 --dim 32 ...
  python tools/export_store.py verify <store>/<model>/<version> ...
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch
from safetensors.torch import load_file, save_file

from recsys_tools import sha256_file  # noqa: E402,F401  (also what callers import from here)
from recsys_ref.kinds import HPARAM_KEYS, KINDS, kind as kind_named  # noqa: E402
from recsys_ref.models import RefModel, build_module  # noqa: E402
from recsys_ref.popularity import KIND as POPULARITY, PopularityRef  # noqa: E402
from recsys_ref.popularity import check_tensors as check_popularity_tensors  # noqa: E402

MODEL_JSON = "model.json"
WEIGHTS = "weights.safetensors"


def normalize_hparams(kind: str, hparams: dict) -> dict:
    """Exactly the kind's keys, in models.md order; ints for sizes, float epsilon (default 0)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {tuple(KINDS)}")
    hp = dict(hparams)
    if kind == "dqn":
        hp.setdefault("epsilon", 0.0)
    missing = [k for k in HPARAM_KEYS[kind] if k not in hp]
    extra = [k for k in hp if k not in HPARAM_KEYS[kind]]
    if missing or extra:
        raise ValueError(f"{kind}: missing hyperparameters {missing}, unexpected {extra}")
    out = {}
    for k in HPARAM_KEYS[kind]:
        if k == "epsilon":
            out[k] = float(hp[k])
            if not 0.0 <= out[k] <= 1.0:
                raise ValueError("epsilon must be in [0, 1]")
        else:
            out[k] = int(hp[k])
            if out[k] < 0 or (k in ("max_history", "num_heads", "num_layers") and out[k] < 1):
                raise ValueError(f"bad {k}: {hp[k]}")
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def next_version(store: Path, model: str) -> int:
    d = Path(store) / model
    versions = [int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit()] if d.is_dir() else []
    return max(versions, default=0) + 1


def export_version(store, model: str, version: Optional[int], kind: str, module: torch.nn.Module,
                   item_ids: Sequence[int], hparams: dict, description: Optional[str] = None,
                   created: Optional[str] = None, overwrite: bool = False) -> Path:
    """Validate, then write <store>/<model>/<version>/ atomically.  Returns the version dir."""
    store = Path(store)
    if not model or "/" in model or model.startswith("."):
        raise ValueError(f"bad model name {model!r}")
    if kind == POPULARITY:
        raise ValueError("use export_popularity() for the popularity kind")
    hp = normalize_hparams(kind, hparams)
    ids = torch.as_tensor(list(item_ids), dtype=torch.int64)
    if ids.ndim != 1 or len(set(ids.tolist())) != ids.numel():
        raise ValueError("item_ids must be a 1-D list of unique int64")
    sd = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    if "item_ids" in sd:
        raise ValueError("state_dict must not already contain item_ids")
    for k, v in sd.items():
        if v.dtype != torch.float32:
            raise ValueError(f"{k}: expected float32, got {v.dtype}")
    build_module(kind, sd, hp)  # raises on any name/shape mismatch with the contract
    if sd["item_emb.weight"].shape[0] != ids.numel():
        raise ValueError("item_ids length must equal item_emb rows")

    return _write_version(store, model, version, sd | {"item_ids": ids}, {"kind": kind, **hp},
                          description, created, overwrite)


def export_popularity(store, model: str, version: Optional[int], item_ids: Sequence[int], popularity,
                      description: Optional[str] = None, created: Optional[str] = None,
                      overwrite: bool = False) -> Path:
    """Write a ``popularity`` version (tensors item_ids int64 [N], popularity float32 [N];
    model.json {"kind": "popularity", "sha256", "created", "description"}), atomically."""
    store = Path(store)
    tensors = {"item_ids": torch.as_tensor(list(item_ids), dtype=torch.int64),
               "popularity": torch.as_tensor(popularity, dtype=torch.float32).detach().cpu().contiguous()}
    check_popularity_tensors(tensors)
    return _write_version(store, model, version, tensors, {"kind": POPULARITY}, description, created, overwrite)


def _write_version(store: Path, model: str, version: Optional[int], tensors: dict, meta_head: dict,
                   description: Optional[str], created: Optional[str], overwrite: bool) -> Path:
    """<store>/<model>/.staging-<version>-<pid>/ -> fsync -> rename to <version>."""
    if not model or "/" in model or model.startswith("."):
        raise ValueError(f"bad model name {model!r}")
    model_dir = store / model
    model_dir.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(store, model)
    version = int(version)
    if version < 1:
        raise ValueError("version must be a positive integer")
    final = model_dir / str(version)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} exists (use overwrite=True / --overwrite)")

    staging = model_dir / f".staging-{version}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        weights = staging / WEIGHTS
        save_file(tensors, str(weights))
        os.chmod(weights, 0o644)
        meta = {**meta_head, "sha256": sha256_file(weights),
                "created": created or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
                .isoformat().replace("+00:00", "Z")}
        if description:
            meta["description"] = description
        (staging / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n")
        for name in (WEIGHTS, MODEL_JSON):
            with open(staging / name, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(staging)
        trash = None
        if final.exists():  # overwrite: move the old version aside first
            trash = model_dir / f".trash-{version}-{os.getpid()}"
            os.rename(final, trash)
        os.rename(staging, final)
        _fsync_dir(model_dir)
        if trash is not None:
            shutil.rmtree(trash)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def read_meta(version_dir) -> dict:
    return json.loads((Path(version_dir) / MODEL_JSON).read_text())


def verify_version(version_dir) -> dict:
    """Check model.json, the checksum and that the tensors form the kind's module."""
    version_dir = Path(version_dir)
    meta = read_meta(version_dir)
    digest = sha256_file(version_dir / WEIGHTS)
    if meta.get("sha256") != digest:
        raise ValueError(f"{version_dir}: sha256 mismatch ({meta.get('sha256')} != {digest})")
    load_version(version_dir)
    return meta


def load_version(version_dir) -> tuple[RefModel, dict]:
    """(RefModel, model.json) -- or (PopularityRef, model.json) for the popularity kind."""
    version_dir = Path(version_dir)
    meta = read_meta(version_dir)
    kind = meta["kind"]
    if kind == POPULARITY:
        tensors = load_file(str(version_dir / WEIGHTS))
        check_popularity_tensors(tensors)
        return PopularityRef(tensors["item_ids"].tolist(), tensors["popularity"]), meta
    hp = normalize_hparams(kind, {k: meta[k] for k in HPARAM_KEYS[kind] if k in meta})
    tensors = load_file(str(version_dir / WEIGHTS))
    ids = tensors.pop("item_ids")
    if ids.dtype != torch.int64:
        raise ValueError("item_ids must be int64")
    module = build_module(kind, tensors, hp)
    return RefModel(kind, module, ids.tolist(), hp), meta


def random_module(kind: str, num_items: int, dim: int, hparams: dict, seed: int, **arch) -> torch.nn.Module:
    """A deterministically seeded module with PyTorch's default initialisation. ``arch``: the
    sizes model.json does not hold (hidden=, lstm_hidden=, d_ff=, state_hidden=, adv_hidden=,
    user_hidden=, item_hidden=, tower_dim=); each kind reads its own and has defaults."""
    hp = normalize_hparams(kind, hparams)
    torch.manual_seed(seed)
    return kind_named(kind).make(num_items, dim, hp, arch).eval()


# ------------------------------------------------------------------------------ CLI


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def _parse_hparam(s: str):
    k, _, v = s.partition("=")
    if not _:
        raise argparse.ArgumentTypeError("expected key=value")
    return k, (float(v) if k == "epsilon" else int(v))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--store", required=True, type=Path)
        p.add_argument("--model", required=True)
        p.add_argument("--version", type=int, help="default: highest existing + 1")
        p.add_argument("--description")
        p.add_argument("--created", help="ISO time to record (default: now)")
        p.add_argument("--overwrite", action="store_true")

    pe = sub.add_parser("export", help="export a torch.save'd checkpoint")
    common(pe)
    pe.add_argument("--kind", choices=tuple(KINDS) + (POPULARITY,))
    pe.add_argument("--checkpoint", required=True, type=Path)
    pe.add_argument("--hparam", action="append", default=[], type=_parse_hparam, metavar="KEY=VALUE")

    pr = sub.add_parser("random", help="export a randomly initialised (seeded) module")
    common(pr)
    pr.add_argument("--kind", required=True, choices=tuple(KINDS))
    pr.add_argument("--num-items", type=int, required=True)
    pr.add_argument("--dim", type=int, required=True)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--id-base", type=int, default=100000, help="item_ids[r] = id_base + id_step * r")
    pr.add_argument("--id-step", type=int, default=7)
    pr.add_argument("--context-dim", type=int, default=0)
    pr.add_argument("--candidate-feature-dim", type=int, default=0)
    pr.add_argument("--max-history", type=int, default=50)
    pr.add_argument("--hidden", type=_ints, default=[128, 64], help="mlp hidden widths, e.g. 128,64")
    pr.add_argument("--num-layers", type=int, default=1)
    pr.add_argument("--lstm-hidden", type=int, default=64)
    pr.add_argument("--num-blocks", type=int, default=2)
    pr.add_argument("--num-heads", type=int, default=2)
    pr.add_argument("--d-ff", type=int)
    pr.add_argument("--state-hidden", type=_ints, default=[64, 64])
    pr.add_argument("--adv-hidden", type=int, default=32)
    pr.add_argument("--epsilon", type=float, default=0.0)
    pr.add_argument("--item-feature-dim", type=int, default=0, help="two_tower: item features per item")
    pr.add_argument("--user-hidden", type=_ints, default=[64], help="two_tower user tower hidden widths")
    pr.add_argument("--item-hidden", type=_ints, default=[64], help="two_tower item tower hidden widths")
    pr.add_argument("--tower-dim", type=int, default=32, help="two_tower: the towers' output size")

    pv = sub.add_parser("verify", help="check model.json, sha256 and tensor names/shapes")
    pv.add_argument("paths", nargs="+", type=Path)

    a = ap.parse_args(argv)
    if a.cmd == "verify":
        for p in a.paths:
            meta = verify_version(p)
            print(f"{p}: ok ({meta['kind']}, sha256 {meta['sha256'][:12]}...)")
        return 0

    if a.cmd == "export":
        ckpt = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
        if "state_dict" in ckpt:
            sd = dict(ckpt["state_dict"])
            ids = ckpt.get("item_ids", sd.pop("item_ids", None))
            hp = dict(ckpt.get("hparams", {}))
            kind = a.kind or ckpt.get("kind")
        else:
            sd, hp, kind = dict(ckpt), {}, a.kind
            ids = sd.pop("item_ids", None)
        sd.pop("item_ids", None)
        if ids is None or kind is None:
            ap.error("checkpoint needs item_ids, and a kind (in the checkpoint or --kind)")
        if kind == POPULARITY:  # {"kind": "popularity", "item_ids": ..., "state_dict": {"popularity": ...}}
            out = export_popularity(a.store, a.model, a.version, torch.as_tensor(ids).tolist(), sd["popularity"],
                                    a.description, a.created, a.overwrite)
            print(out)
            return 0
        hp.update(dict(a.hparam))
        hp = normalize_hparams(kind, hp)
        module = build_module(kind, sd, hp)
        ids = torch.as_tensor(ids).tolist()
    else:
        kind = a.kind
        # Every hyperparameter flag, named as in model.json; the kind keeps its own keys.
        flags = {"context_dim": a.context_dim, "candidate_feature_dim": a.candidate_feature_dim,
                 "max_history": a.max_history, "num_layers": a.num_layers, "num_blocks": a.num_blocks,
                 "num_heads": a.num_heads, "epsilon": a.epsilon, "item_feature_dim": a.item_feature_dim}
        hp = {k: flags[k] for k in HPARAM_KEYS[kind]}
        module = random_module(kind, a.num_items, a.dim, hp, a.seed, hidden=a.hidden, lstm_hidden=a.lstm_hidden,
                               d_ff=a.d_ff, state_hidden=a.state_hidden, adv_hidden=a.adv_hidden,
                               user_hidden=a.user_hidden, item_hidden=a.item_hidden, tower_dim=a.tower_dim)
        ids = [a.id_base + a.id_step * r for r in range(a.num_items)]
    out = export_version(a.store, a.model, a.version, kind, module, ids, hp, a.description, a.created, a.overwrite)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
