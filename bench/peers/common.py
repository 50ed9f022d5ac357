"""The peers' shared front end: a Python grpcio Recommender server that reads the same store as the
sidecar and turns each request into catalog rows the way models.md says (unknown history items
skipped, then the last max_history kept; unknown candidates reported, not scored), vectorised with
NumPy. Only the model execution differs between the peers (torch_peer.py, onnx_peer.py).

A backend implements
    score(hist_rows, hist_types, cand_rows, context, features) -> np.ndarray scores   (candidates)
    top_catalog(hist_rows, hist_types, k) -> (rows, scores)                          (sequence kinds)
Scope (a benchmark peer, not a product): one version per model (the newest), `model` selectors
"name" / "name@anything" go to it, exclude_history and dqn exploration are not implemented
(UNIMPLEMENTED / greedy), the `echo` kind returns the first top_k candidates like plugins/Echo.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
from recsys_tools import load_item_ids, newest_version

ROOT = Path(__file__).resolve().parents[2]
EVENT_KINDS = 4


def add_stubs(path) -> None:
    sys.path.insert(0, str(path))


class Catalog:
    def __init__(self, item_ids: np.ndarray):
        self.item_ids = item_ids.astype(np.int64)
        self.order = np.argsort(self.item_ids, kind="stable")
        self.sorted = self.item_ids[self.order]

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, known mask) of external ids."""
        if len(ids) == 0:
            return np.zeros(0, np.int64), np.zeros(0, bool)
        at = np.searchsorted(self.sorted, ids)
        at_clipped = np.minimum(at, len(self.sorted) - 1)
        known = self.sorted[at_clipped] == ids
        return self.order[at_clipped], known


def newest_versions(store: Path) -> dict:
    out = {}
    for model_dir in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            version = newest_version(model_dir)
        except FileNotFoundError:
            continue
        out[model_dir.name] = (int(version.name), version, json.loads((version / "model.json").read_text()))
    return out


def top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first, ties to the lower index."""
    if len(scores) > 4 * k:
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.lexsort((part, -scores[part]))]
    return np.argsort(-scores, kind="stable")[:k]


class Peer:
    """The Recommender servicer over {model name: (kind, version, meta, catalog, backend)}."""

    def __init__(self, pb, models: dict, default_model: str):
        self.pb, self.models, self.default_model = pb, models, default_model

    def Feedback(self, request, context):  # noqa: N802 - gRPC method name
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the benchmark peers run no experiments")

    def Recommend(self, request, context):  # noqa: N802 - gRPC method name
        pb = self.pb
        name = (request.model or self.default_model).split("@", 1)[0]
        entry = self.models.get(name)
        if entry is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no model {name!r}; serving {sorted(self.models)}")
        kind, version, meta, catalog, backend = entry
        if request.top_k < 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "top_k must be >= 1")
        if request.exclude_history:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "the benchmark peers do not implement exclude_history")
        k = request.top_k
        cand_ids = np.array(request.candidate_item_ids, dtype=np.int64)
        reply = pb.RecommendResponse(request_id=request.request_id, model=name, model_version=version)
        if kind == "echo":
            for index, item in enumerate(cand_ids[:k].tolist()):
                reply.items.add(item_id=item, score=-float(index), propensity=1.0)
            return reply

        history = request.history
        hist_ids = np.fromiter((e.item_id for e in history), dtype=np.int64, count=len(history))
        hist_types = np.fromiter((e.type for e in history), dtype=np.int64, count=len(history))
        rows, known = catalog.rows(hist_ids)
        max_history = int(meta["max_history"])
        hist_rows, hist_types = rows[known][-max_history:], hist_types[known][-max_history:]
        if np.any((hist_types < 0) | (hist_types >= EVENT_KINDS)):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "history type out of range")
        ctx = np.array(request.context, dtype=np.float32)
        if len(ctx) != int(meta.get("context_dim", 0)):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"context has {len(ctx)} values")

        if len(cand_ids) == 0:
            if kind not in ("lstm", "sasrec"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"a {kind} model needs candidates")
            out_rows, scores = backend.top_catalog(hist_rows, hist_types, min(k, len(catalog.item_ids)), context)
            for row, score in zip(out_rows.tolist(), scores.tolist()):
                reply.items.add(item_id=int(catalog.item_ids[row]), score=score, propensity=1.0)
            return reply

        cand_rows, cand_known = catalog.rows(cand_ids)
        feature_dim = int(meta.get("candidate_feature_dim", 0))
        features = np.array(request.candidate_features, dtype=np.float32)
        if len(features) != len(cand_ids) * feature_dim:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "candidate_features has the wrong length")
        features = features.reshape(len(cand_ids), feature_dim)[cand_known]
        reply.unknown_item_ids.extend(cand_ids[~cand_known].tolist())
        known_ids = cand_ids[cand_known]
        if len(known_ids):
            scores = backend.score(hist_rows, hist_types, cand_rows[cand_known], ctx, features, context)
            best = top_candidates(scores, k)
            for item, score in zip(known_ids[best].tolist(), scores[best].tolist()):
                reply.items.add(item_id=item, score=score, propensity=1.0)
        return reply


def parse_args(description: str):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--stubs", type=Path, required=True, help="folder with recsys/v1/*_pb2*.py")
    ap.add_argument("--listen", default="127.0.0.1:50071")
    ap.add_argument("--workers", type=int, default=4, help="grpcio handler threads")
    ap.add_argument("--default-model", default="echo")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads of torch / ONNX Runtime")
    ap.add_argument("--reuse-port", action="store_true",
                    help="SO_REUSEPORT: several peer processes share --listen's port (the kernel spreads connections)")
    return ap.parse_args()


def serve(args, make_backend) -> None:
    """Loads every model of the store with make_backend(kind, version_dir, meta, catalog), serves, and
    prints 'ready <port>' once listening."""
    add_stubs(args.stubs)
    from recsys.v1 import recommender_pb2 as pb, recommender_pb2_grpc as rpc

    models = {}
    for name, (version, path, meta) in newest_versions(args.store).items():
        kind = meta["kind"]
        catalog = Catalog(load_item_ids(path))
        backend = None if kind == "echo" else make_backend(kind, path, meta, catalog)
        if kind != "echo" and backend is None:
            continue
        models[name] = (kind, version, meta, catalog, backend)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         options=[("grpc.so_reuseport", 1 if args.reuse_port else 0), ("grpc.max_receive_message_length", 64 << 20)])
    rpc.add_RecommenderServicer_to_server(Peer(pb, models, args.default_model), server)
    port = server.add_insecure_port(args.listen)
    if port == 0:
        raise SystemExit(f"cannot listen on {args.listen}")
    server.start()
    print(f"ready {port} models {sorted(models)}", flush=True)
    server.wait_for_termination()
