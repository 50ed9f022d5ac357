"""Python modules for every proto in protos/ (recsys.v1.*_pb2 and *_pb2_grpc), generated at run time
with grpcio-tools: the one place the e2e tests, tools/ and bench/ make them (nothing generated is
committed for Python)."""

import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def generate_stubs(out=None, *, on_path: bool = True) -> pathlib.Path:
    """Writes the modules into `out` (default: a new temporary folder) and, with `on_path`, puts that
    folder first on sys.path so `from recsys.v1 import recommender_pb2` works. Returns the folder."""
    from grpc_tools import protoc

    out = pathlib.Path(out) if out else pathlib.Path(tempfile.mkdtemp(prefix="recsys-stubs-"))
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    if protoc.main(["protoc", f"-I{ROOT / 'protos'}", f"--python_out={out}", f"--grpc_python_out={out}", *protos]):
        raise SystemExit("protoc failed on protos/")
    if on_path:
        sys.path.insert(0, str(out))
    return out
