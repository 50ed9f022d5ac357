#!/usr/bin/env python3
"""Benchmark peer 3: Python grpcio serving the store's modules exported to ONNX (bench/onnx_export.py,
written by bench/prepare.py into out/bench/onnx/) with ONNX Runtime on the CPU.

Sessions: intra_op_num_threads --threads (default 1), inter_op_num_threads 1, sequential execution,
all graph optimisations; --workers grpcio handler threads (default 4) run sessions concurrently (ONNX
Runtime releases the GIL in Run). bench/run.py also starts it as two processes sharing one port
(--reuse-port, 1 thread each: 2 processes x 1 thread = the 2 cores). Whole-catalog graphs end in TopK (K = 100, sliced to top_k).

    python bench/peers/onnx_peer.py --store out/bench/store --stubs out/bench/stubs --onnx out/bench/onnx
"""
import sys
from pathlib import Path

import grpc
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_args, serve  # noqa: E402


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return s, {i.name for i in s.get_inputs()}


class OnnxBackend:
    def __init__(self, kind, cand_path, catalog_path, threads):
        self.kind = kind
        self.cand, self.cand_inputs = session(cand_path, threads)
        self.catalog, self.catalog_inputs = session(catalog_path, threads) if catalog_path.is_file() else (None, set())

    def _history(self, hist_rows, rpc):
        if len(hist_rows):
            return hist_rows, np.ones(1, np.float32)
        if self.kind in ("lstm", "sasrec"):
            rpc.abort(grpc.StatusCode.UNIMPLEMENTED, "the ONNX peer needs a non-empty history for sequence kinds")
        return np.zeros(1, np.int64), np.zeros(1, np.float32)

    def score(self, hist_rows, hist_types, cand_rows, context, features, rpc):
        rows, flag = self._history(hist_rows, rpc)
        feeds = {"hist_rows": rows, "hist_flag": flag, "hist_types": hist_types if len(hist_types) else np.zeros(1, np.int64),
                 "cand_rows": cand_rows, "context": context, "features": features}
        return self.cand.run(None, {k: v for k, v in feeds.items() if k in self.cand_inputs})[0]

    def top_catalog(self, hist_rows, hist_types, k, rpc):
        rows, _ = self._history(hist_rows, rpc)
        feeds = {"hist_rows": rows, "hist_types": hist_types}
        values, top = self.catalog.run(None, {k2: v for k2, v in feeds.items() if k2 in self.catalog_inputs})
        if k > len(top):
            rpc.abort(grpc.StatusCode.UNIMPLEMENTED, f"the ONNX catalog graph returns at most {len(top)} items")
        return top[:k], values[:k]


def main():
    import argparse
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--onnx", type=Path, required=True)
    known, rest = extra.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    args = parse_args(__doc__.split("\n\n")[0])

    def make_backend(kind, version_dir, meta, catalog):
        name = version_dir.parent.name
        cand = known.onnx / f"{name}.cand.onnx"
        if kind not in ("mlp", "lstm", "sasrec", "dqn") or not cand.is_file():
            return None
        return OnnxBackend(kind, cand, known.onnx / f"{name}.catalog.onnx", args.threads)

    serve(args, make_backend)


if __name__ == "__main__":
    main()
