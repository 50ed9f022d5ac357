"""The versioned store over gRPC: corrupt versions are refused while the previous one
keeps serving, a storm of publishes and deletes loses no request, labels and pins
route and roll back without restart, and recsysctl drives it all."""
import json
import threading
import time

import grpc
import numpy as np
import pytest

from conftest import GOLDEN, admin_pb2
from store_tools import (delete_version, publish, read_version, rewrite_header, set_header_length, with_bias_shift)
from test_recommend import golden_cases, request_of

MANIFEST, TENSORS = read_version(GOLDEN / "mlp/model/1")
CASE = next(c for c in golden_cases("mlp") if c["name"] == "short_history")
BASE_SCORES = CASE["expected"]["top_scores"]


def base_store(tmp_path):
    store = tmp_path / "store"
    publish(store, "mlp", 1, MANIFEST, TENSORS)
    return store


def served_version(sidecar, model="mlp"):
    reply = sidecar.recommend(**request_of(CASE, model=model))
    return reply.model_version, [i.score for i in reply.items]


def halve(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def overlap_two_tensors(path):
    def edit(header):
        names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
        first, second = names[0], names[1]
        start = header[first]["data_offsets"][0]
        length = header[second]["data_offsets"][1] - header[second]["data_offsets"][0]
        header[second]["data_offsets"] = [start, start + length]
    rewrite_header(path, edit)


def with_tensor(name, value):
    tensors = dict(TENSORS)
    tensors[name] = value
    return tensors


def without_tensor(name):
    return {k: v for k, v in TENSORS.items() if k != name}


def nan_weights():
    tensors = dict(TENSORS)
    weight = tensors["mlp.0.weight"].copy()
    weight[3, 5] = np.nan
    tensors["mlp.0.weight"] = weight
    return tensors


# (version, what is wrong, how to publish it, words the error must contain)
CORRUPT = [
    (2, "truncated weights", dict(edit_file=halve, fix_sha=False), "weights.safetensors"),
    (3, "sha256 mismatch", dict(edit_file=flip_last_byte, fix_sha=False), "sha256"),
    (4, "header length beyond file", dict(edit_file=lambda p: set_header_length(p, 1 << 40)), "header"),
    (5, "overlapping ranges", dict(edit_file=overlap_two_tensors), "overlap"),
    (6, "wrong dtype", dict(tensors=with_tensor("item_emb.weight", TENSORS["item_emb.weight"].astype(np.float64))), "F64"),
    (7, "wrong shape", dict(tensors=with_tensor("mlp.2.bias", np.zeros(17, np.float32))), "shape"),
    (8, "missing tensor", dict(tensors=without_tensor("mlp.2.bias")), "missing"),
    (9, "extra tensor", dict(tensors=with_tensor("junk", np.zeros(3, np.float32))), "unexpected"),
    (10, "NaN weight", dict(tensors=nan_weights()), "nan"),
    (11, "manifest invalid JSON", dict(raw_manifest="{\"kind\": \"mlp\", "), "model.json"),
    (12, "unknown kind", dict(manifest=dict(MANIFEST, kind="transformer-xl")), "no plugin serves kind"),
    (13, "manifest missing", dict(skip_manifest=True), "incomplete"),
]


def test_every_corrupt_version_is_refused_and_the_previous_keeps_serving(tmp_path, start_sidecar):
    store = base_store(tmp_path)
    sidecar = start_sidecar(store)
    assert served_version(sidecar)[0] == 1
    for version, _, how, _ in CORRUPT:
        how = dict(how)
        publish(store, "mlp", version, how.pop("manifest", MANIFEST), how.pop("tensors", TENSORS), **how)
    models = sidecar.reload()
    states = {v.version: v for v in models["mlp"].versions}
    for version, what, _, words in CORRUPT:
        status = states[version]
        expected_state = admin_pb2.UNLOADED if what == "manifest missing" else admin_pb2.FAILED
        assert status.state == expected_state, (what, status)
        assert words.lower() in status.error.lower(), (what, status.error)
    assert states[1].state == admin_pb2.AVAILABLE
    assert models["mlp"].serving_version == 1
    version, scores = served_version(sidecar)
    assert version == 1 and scores == pytest.approx(BASE_SCORES, abs=1e-4)
    # A fixed version published afterwards serves.
    publish(store, "mlp", 14, MANIFEST, with_bias_shift(TENSORS, 14))
    assert sidecar.reload()["mlp"].serving_version == 14
    assert served_version(sidecar)[0] == 14


def test_swap_storm_loses_no_request(tmp_path, start_sidecar):
    store = base_store(tmp_path)
    sidecar = start_sidecar(store, poll_interval=0.1)
    published = {1: 0.0}  # version -> score shift
    failures, answers = [], []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                reply = sidecar.recommend(**request_of(CASE))
                answers.append((reply.model_version, [i.score for i in reply.items]))
            except grpc.RpcError as error:
                failures.append(f"{error.code()}: {error.details()}")

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        for version in range(2, 22):
            shift = float(version)
            published[version] = shift
            publish(store, "mlp", version, MANIFEST, with_bias_shift(TENSORS, shift))
            time.sleep(0.15)
            if version % 4 == 0:
                delete_version(store, "mlp", version - 1)  # delete the one that was just serving
                time.sleep(0.15)
        delete_version(store, "mlp", 21)  # the newest goes: fall back to 20
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sidecar.models()["mlp"].serving_version != 20:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert failures == []
    assert len(answers) > 100
    for version, scores in answers:
        # The version named is the one whose weights scored: each shifts every score by its number.
        shift = published[version] if version > 1 else 0.0
        assert scores == pytest.approx([s + shift for s in BASE_SCORES], abs=1e-3), version
    seen = {version for version, _ in answers}
    assert len(seen) >= 5, seen
    assert answers[-1][0] == 20
    assert sidecar.models()["mlp"].serving_version == 20


def test_labels_and_pinning_route_and_roll_back_without_restart(tmp_path, start_sidecar):
    store = base_store(tmp_path)
    publish(store, "mlp", 2, MANIFEST, with_bias_shift(TENSORS, 2))
    publish(store, "mlp", 3, MANIFEST, with_bias_shift(TENSORS, 3))
    config = tmp_path / "sidecar.yaml"
    config.write_text("models:\n  mlp:\n    labels: {stable: 1, canary: 2}\n")
    # No polling: every rescan below is an explicit admin call, so what ListModels shows
    # right after a refused change is what the registry published, not what a poll fixed up.
    sidecar = start_sidecar(store, extra_args=("--config", str(config)), poll_interval=0)
    assert served_version(sidecar, "mlp@stable")[0] == 1
    assert served_version(sidecar, "mlp@canary")[0] == 2
    assert served_version(sidecar, "mlp@2")[0] == 2
    assert served_version(sidecar, "mlp")[0] == 3
    with pytest.raises(grpc.RpcError) as failure:
        served_version(sidecar, "mlp@beta")
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND and "canary, stable" in failure.value.details()

    # Roll back: pin 1 (recsysctl), no restart.
    code, out, err = sidecar.ctl("pin", "mlp", "1")
    assert code == 0, err
    assert "serving=1" in out and "policy=pinned@1" in out
    assert served_version(sidecar)[0] == 1
    # A newer version published while pinned does not serve.
    publish(store, "mlp", 4, MANIFEST, with_bias_shift(TENSORS, 4))
    code, out, _ = sidecar.ctl("reload")
    assert code == 0 and "serving=1" in out and "  4  UNLOADED" in out, out
    assert served_version(sidecar)[0] == 1
    code, out, _ = sidecar.ctl("unpin", "mlp")
    assert code == 0 and "serving=4" in out and "policy=latest" in out
    assert served_version(sidecar)[0] == 4

    # Move a label; a label or pin may only name a version that loads.
    assert sidecar.ctl("label", "mlp", "canary", "4")[0] == 0
    assert served_version(sidecar, "mlp@canary")[0] == 4
    publish(store, "mlp", 5, dict(MANIFEST, kind="nope"), TENSORS)
    code, _, err = sidecar.ctl("label", "mlp", "stable", "5")
    assert code == 1 and "FAILED_PRECONDITION" in err and "no plugin serves kind" in err
    code, _, err = sidecar.ctl("pin", "mlp", "99")
    assert code == 1 and "no complete version 99" in err
    assert served_version(sidecar, "mlp@stable")[0] == 1
    assert served_version(sidecar)[0] == 4

    # recsysctl models shows states, labels and what serves.
    code, out, _ = sidecar.ctl("models")
    assert code == 0, out
    assert "mlp  serving=4  policy=latest  labels=canary=4,stable=1" in out, out
    assert "  5  FAILED" in out and "  4  AVAILABLE  mlp  [canary]" in out, out
    code, out, _ = sidecar.ctl("models", "--json")
    assert json.loads(out)["models"][0]["serving_version"] in ("4", 4)


def test_policy_pinned_in_config_file(tmp_path, start_sidecar):
    store = base_store(tmp_path)
    publish(store, "mlp", 2, MANIFEST, with_bias_shift(TENSORS, 2))
    config = tmp_path / "sidecar.yaml"
    config.write_text("models:\n  mlp:\n    pinned: 1\n")
    sidecar = start_sidecar(store, extra_args=("--config", str(config)))
    assert served_version(sidecar)[0] == 1
    status = sidecar.models()["mlp"]
    assert status.policy == "pinned" and status.pinned_version == 1
    assert {v.version: v.state for v in status.versions} == {1: admin_pb2.AVAILABLE, 2: admin_pb2.UNLOADED}


def test_invalid_config_file_fails_fast_naming_the_key(tmp_path):
    import subprocess
    from conftest import BINARY
    config = tmp_path / "bad.yaml"
    config.write_text("models:\n  mlp:\n    pined: 1\n")
    done = subprocess.run([BINARY, "--config", str(config), "--store", str(tmp_path), "--metrics-listen", ""],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "pined" in done.stderr and "bad.yaml" in done.stderr
