"""Small helpers every Python side of the repo needed its own copy of: a free port, a file's
sha256, a model's newest version folder, a version's item ids."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
from pathlib import Path


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def newest_version(model_dir) -> Path:
    """The highest-numbered version folder of a store's model folder (folders that are not
    positive integers, like .staging-7, are not versions)."""
    versions = [p for p in Path(model_dir).iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0]
    if not versions:
        raise FileNotFoundError(f"{model_dir} holds no version folder")
    return max(versions, key=lambda p: int(p.name))


def load_item_ids(version):
    """A version's item_ids (int64 [N], as a NumPy array) read straight from weights.safetensors,
    without torch: the header names the tensor's byte range."""
    import numpy as np
    path = Path(version) / "weights.safetensors"
    with open(path, "rb") as f:
        header_length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_length))
        info = header["item_ids"]
        if info["dtype"] != "I64":
            raise ValueError(f"{path}: item_ids must be I64, not {info['dtype']}")
        start, end = info["data_offsets"]
        f.seek(8 + header_length + start)
        data = f.read(end - start)
    return np.frombuffer(data, dtype="<i8").astype(np.int64)
