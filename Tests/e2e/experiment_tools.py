"""A/B experiments from a test: a store of distinguishable models, experiments files, requests,
the published assignment (tools/experiment_assignment.py) and waiting for asynchronous effects."""
import json
import os
import pathlib
import time

from conftest import GOLDEN, ROOT, admin_pb2, recommender_pb2 as pb
from store_tools import publish, read_version, with_bias_shift
import experiment_assignment as assignment  # (tools/) the second-language reference of the hash

# alpha, beta and base are the same mlp (C = 0, F = 0) with every score shifted by 1, 2 and 0;
# gamma is a sasrec over the same 300-item catalog: a shadow that ranks differently.
MANIFEST, TENSORS = read_version(GOLDEN / "mlp_nofeat/model/1")
SHIFTS = {"base": 0.0, "alpha": 1.0, "beta": 2.0}
CATALOG = sorted(int(i) for i in TENSORS["item_ids"])
CANDIDATES = CATALOG[:30]
HISTORY_ITEMS = CATALOG[100:110]
TOP_K = 5


def experiments_store(tmp_path):
    store = tmp_path / "store"
    for name, shift in SHIFTS.items():
        publish(store, name, 1, MANIFEST, with_bias_shift(TENSORS, shift) if shift else TENSORS)
    publish(store, "gamma", 1, *read_version(GOLDEN / "sasrec/model/1"))
    return store


def to_yaml(value, indent=0) -> str:
    """Block YAML of dicts, lists and scalars (strings double-quoted, so salts stay strings)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = ""
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out += f"{pad}{key}:\n{to_yaml(item, indent + 2)}"
            else:
                out += f"{pad}{key}: {scalar(item)}\n"
        return out
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = ""
        for item in value:
            body = to_yaml(item, indent + 2)
            out += f"{pad}- {body[indent + 2:]}"
        return out
    return pad + scalar(value) + "\n"


def scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_experiments(path, config) -> pathlib.Path:
    """Writes a config (a dict, or raw YAML text) the way an operator should: a temporary file renamed
    over the old one, so a poll never reads half a file."""
    path = pathlib.Path(path)
    text = config if isinstance(config, str) else to_yaml(config)
    staging = path.with_name(f".{path.name}.staging")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
    return path


def start_with_experiments(start_sidecar, tmp_path, config, *, poll_interval=0, extra_args=(), store=None):
    """A sidecar (default model "base") serving `config` from tmp_path/experiments.yaml."""
    path = write_experiments(tmp_path / "experiments.yaml", config)
    store = store or experiments_store(tmp_path)
    sidecar = start_sidecar(store, default_model="base", poll_interval=poll_interval,
                            extra_args=("--experiments", str(path), *extra_args))
    sidecar.experiments_path = path
    return sidecar


def request(user_id="", surface="home", **fields):
    """Recommend fields: 30 candidates, a 3-event history, top 5."""
    base = dict(user_id=user_id, surface=surface, candidate_item_ids=CANDIDATES, top_k=TOP_K,
                history=[pb.Event(item_id=i, type=pb.VIEW) for i in HISTORY_ITEMS[:3]])
    base.update(fields)
    return base


def expected_route(experiment, user_id):
    """(arm name, bucket) the published assignment gives a fixed-mode experiment (a dict as written)."""
    key, salt = experiment["key"], experiment["salt"]
    bucket = assignment.bucket(key, salt, user_id)
    if assignment.in_holdout(experiment.get("holdout", 0), assignment.holdout_bucket(key, salt, user_id)):
        return "holdout", bucket
    arms = experiment["arms"]
    return arms[assignment.arm_index([a["weight"] for a in arms], bucket)]["name"], bucket


def model_name(selector: str) -> str:
    return selector.split("@")[0]


def status(sidecar):
    return sidecar.admin.GetExperiments(admin_pb2.GetExperimentsRequest(), timeout=30,
                                        metadata=sidecar.admin_metadata())


def reload_experiments(sidecar):
    return sidecar.admin.ReloadExperiments(admin_pb2.ReloadExperimentsRequest(), timeout=30,
                                           metadata=sidecar.admin_metadata())


def experiment_status(experiments_status, key):
    return next(e for e in experiments_status.experiments if e.key == key)


def arm_status(experiments_status, key, name):
    return next(a for a in experiment_status(experiments_status, key).arms if a.name == name)


def eventually(check, timeout=30.0, interval=0.05, what="the condition"):
    """Polls check() until it returns something truthy and returns that; fails after `timeout` s.
    For effects the sidecar applies off the request path (polling, the log writer, shadow scoring):
    the deadline only bounds a hang, nothing asserts how fast they happen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout} s; last: {last!r}")


def exposures(path):
    """The exposure log's lines, oldest first, rotated files (path.N ... path.1) included."""
    path = pathlib.Path(path)
    rotated = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
    lines = []
    for file in [*sorted(rotated, key=lambda p: -int(p.suffix[1:])), path]:
        if file.exists():
            lines += [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return lines


def item_range(ids) -> str:
    """Item ids as simulate_experiment.py's --candidates / --history-items take them."""
    return ",".join(str(i) for i in ids)
