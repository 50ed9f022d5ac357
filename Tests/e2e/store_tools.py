"""Writing store versions from a test, the way a publisher would: stage, then rename."""
import hashlib
import json
import os
import pathlib
import shutil
import struct

import numpy as np
from safetensors.numpy import load_file, save_file


def sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def read_version(source):
    source = pathlib.Path(source)
    return json.loads((source / "model.json").read_text()), load_file(str(source / "weights.safetensors"))


def publish(store, model, version, manifest, tensors, *, fix_sha=True, edit_file=None, skip_manifest=False,
            raw_manifest=None):
    """Writes <store>/<model>/.staging-<version>/ and renames it to <version>.

    edit_file(path) may rewrite weights.safetensors after it is written; with fix_sha the
    manifest's sha256 then describes the edited file (so only the intended check trips)."""
    model_dir = pathlib.Path(store) / model
    staging = model_dir / f".staging-{version}"
    staging.mkdir(parents=True)
    weights = staging / "weights.safetensors"
    save_file(tensors, str(weights))
    original_sha = sha256(weights)
    if edit_file:
        edit_file(weights)
    if not skip_manifest:
        manifest = dict(manifest, sha256=sha256(weights) if fix_sha else original_sha)
        text = raw_manifest if raw_manifest is not None else json.dumps(manifest)
        (staging / "model.json").write_text(text)
    os.rename(staging, model_dir / str(version))
    return model_dir / str(version)


def with_bias_shift(tensors, shift):
    """Same model, every score shifted by `shift` (the last Linear's bias): tells versions apart."""
    tensors = dict(tensors)
    last = max((k for k in tensors if k.startswith("mlp.") and k.endswith(".bias")), key=lambda k: int(k.split(".")[1]))
    tensors[last] = (tensors[last] + np.float32(shift)).astype(np.float32)
    return tensors


def delete_version(store, model, version):
    shutil.rmtree(pathlib.Path(store) / model / str(version))


def set_header_length(path, length):
    data = bytearray(pathlib.Path(path).read_bytes())
    data[:8] = struct.pack("<Q", length)
    pathlib.Path(path).write_bytes(bytes(data))


def rewrite_header(path, edit):
    """Applies edit(header_dict) and writes the file back with the same data bytes."""
    data = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])
