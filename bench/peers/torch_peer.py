#!/usr/bin/env python3
"""Benchmark peer 2: Python grpcio serving the PyTorch reference modules (tools/recsys_ref/models.py)
loaded from the same store as the sidecar, eager, under torch.inference_mode().

Threads: torch.set_num_threads(--threads, default 1: requests are the parallelism; this machine
has 2 cores and the load generator runs on them too) and --workers grpcio handler threads (default
4), which run torch concurrently since torch releases the GIL inside its kernels. bench/run.py also
starts it as two processes sharing one port (--reuse-port, 1 thread each: 2 processes x 1 thread =
the 2 cores), which takes the GIL out of the way of the Python front end.

    python bench/peers/torch_peer.py --store out/bench/store --stubs out/bench/stubs --listen 127.0.0.1:50071
"""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_args, serve  # noqa: E402
from export_store import load_version  # noqa: E402


class TorchBackend:
    def __init__(self, kind, module):
        self.kind, self.module = kind, module.eval()

    def score(self, hist_rows, hist_types, cand_rows, context, features, _rpc):
        with torch.inference_mode():
            h = torch.from_numpy(hist_rows)
            c = torch.from_numpy(cand_rows)
            if self.kind == "mlp":
                s = self.module(h, c, torch.from_numpy(context), torch.from_numpy(features))
            elif self.kind == "dqn":
                s = self.module(h, torch.from_numpy(context), c)
            elif self.kind == "lstm":
                s = self.module(h, torch.from_numpy(hist_types), c)
            else:
                s = self.module(h, c)
            return s.numpy()

    def top_catalog(self, hist_rows, hist_types, k, _rpc):
        with torch.inference_mode():
            h = torch.from_numpy(hist_rows)
            s = self.module(h, torch.from_numpy(hist_types), None) if self.kind == "lstm" else self.module(h, None)
            values, rows = torch.topk(s, k)
            return rows.numpy(), values.numpy()


def make_backend(kind, version_dir, meta, catalog):
    if kind not in ("mlp", "lstm", "sasrec", "dqn"):
        return None
    ref, _ = load_version(version_dir)
    assert np.array_equal(np.array(ref.item_ids), catalog.item_ids)
    return TorchBackend(kind, ref.module)


if __name__ == "__main__":
    args = parse_args(__doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    serve(args, make_backend)
