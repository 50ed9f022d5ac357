"""Issue 13, the store part: nothing a publisher writes into the store crashes or wedges the
sidecar. Manifest values that once crashed the process (and every start after) are refused with
the key named while the older version keeps serving; a tensor the model never reads is refused;
rewriting the serving version's files in place (cp over it, truncate + slow write) fails no call,
shows the half-written failure in ListModels, and serves the new weights once they are whole."""
import json
import shutil
import threading
import time

import grpc
import numpy as np
import pytest

from conftest import GOLDEN, admin_pb2
from store_tools import publish, read_version, sha256, with_bias_shift
from test_recommend import golden_cases, request_of

MLP_MANIFEST, MLP_TENSORS = read_version(GOLDEN / "mlp/model/1")
CASE = next(c for c in golden_cases("mlp") if c["name"] == "short_history")
BASE_SCORES = CASE["expected"]["top_scores"]

POPULARITY_MANIFEST = {"kind": "popularity"}
POPULARITY_TENSORS = {"item_ids": np.arange(101, 109, dtype=np.int64),
                      "popularity": np.arange(8, 0, -1).astype(np.float32)}

# The values of the issue (crashes before the fix) and their relatives, as JSON text.
CRASH_VALUES = ["-1", str(2**40), str(2**62), str(2**63 - 1), "1e300"]
CRASH_KEYS = {"popularity": ["context_dim", "candidate_feature_dim"],
              "mlp": ["context_dim", "candidate_feature_dim", "max_history"]}


def base_version(kind):
    return (MLP_MANIFEST, MLP_TENSORS) if kind == "mlp" else (POPULARITY_MANIFEST, POPULARITY_TENSORS)


def ask(sidecar, kind):
    if kind == "mlp":
        reply = sidecar.recommend(**request_of(CASE, model="mlp"))
    else:
        reply = sidecar.recommend(model="popularity", top_k=3)
    return reply.model_version, [round(i.score, 4) for i in reply.items]


def raw_manifest(manifest, key, value):
    """The manifest's JSON with `key` set to the literal text `value` (Int64.max, 1e300 exactly)."""
    text = json.dumps(dict(manifest, **{key: "@VALUE@"}))
    return text.replace('"@VALUE@"', value)


@pytest.mark.parametrize("kind", ["popularity", "mlp"])
def test_manifest_values_that_crashed_are_refused_naming_the_key(tmp_path, start_sidecar, kind):
    store = tmp_path / "store"
    manifest, tensors = base_version(kind)
    publish(store, kind, 1, manifest, tensors)
    sidecar = start_sidecar(store, default_model=kind)
    before = ask(sidecar, kind)
    assert before[0] == 1

    cases = {}
    version = 2
    for key in CRASH_KEYS[kind]:
        for value in CRASH_VALUES:
            # publish() writes the right sha256 (the checksum does not cover model.json); then
            # only the value is wrong. No poll runs (poll_interval 0) until reload() below.
            path = publish(store, kind, version, manifest, tensors) / "model.json"
            right_sha = json.loads(path.read_text())["sha256"]
            path.write_text(raw_manifest(dict(manifest, sha256=right_sha), key, value))
            cases[version] = (key, value)
            version += 1
    models = sidecar.reload()
    assert sidecar.process.poll() is None, sidecar.logs()
    states = {v.version: v for v in models[kind].versions}
    for number, (key, value) in cases.items():
        status = states[number]
        assert status.state == admin_pb2.FAILED, (key, value, status)
        assert f'"{key}"' in status.error, (key, value, status.error)
    assert models[kind].serving_version == 1
    assert ask(sidecar, kind) == before

    # The crash also came back at every start: a fresh process on the same store serves v1.
    sidecar.stop()
    again = start_sidecar(store, default_model=kind)
    assert ask(again, kind) == before
    assert again.models()[kind].serving_version == 1


def test_a_tensor_the_model_never_reads_is_refused(tmp_path, start_sidecar):
    store = tmp_path / "store"
    publish(store, "mlp", 1, MLP_MANIFEST, MLP_TENSORS)
    stray = dict(MLP_TENSORS, **{"mlp.6.bias": np.zeros(1, np.float32)})
    publish(store, "mlp", 2, MLP_MANIFEST, stray)
    sidecar = start_sidecar(store)
    status = {v.version: v for v in sidecar.models()["mlp"].versions}[2]
    assert status.state == admin_pb2.FAILED
    assert 'tensor "mlp.6.bias" is unexpected' in status.error, status.error
    assert ask(sidecar, "mlp")[0] == 1


class Caller:
    """Client threads calling Recommend in a loop; records every failure and every answer."""

    def __init__(self, sidecar, threads=2):
        self.sidecar, self.failures, self.answers = sidecar, [], []
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.loop) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def loop(self):
        while not self.stop_event.is_set():
            try:
                reply = self.sidecar.recommend(**request_of(CASE))
                self.answers.append((time.monotonic(), [i.score for i in reply.items]))
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join()


def shift_of(scores):
    """Which bias shift scored this answer (versions differ by the last layer's bias)."""
    return round(float(np.mean(np.array(scores) - np.array(BASE_SCORES[: len(scores)]))), 2)


def wait_for(predicate, timeout=15.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def test_overwriting_serving_weights_in_place_fails_no_call(tmp_path, start_sidecar):
    store = tmp_path / "store"
    publish(store, "mlp", 1, MLP_MANIFEST, MLP_TENSORS)
    # Two other valid contents, written the normal way elsewhere, to copy over version 1.
    other = {shift: publish(tmp_path / "other", "mlp", shift, MLP_MANIFEST, with_bias_shift(MLP_TENSORS, shift))
             for shift in (5, 9)}
    serving = store / "mlp/1"
    sidecar = start_sidecar(store, poll_interval=0.1)
    caller = Caller(sidecar)
    try:
        wait_for(lambda: len(caller.answers) > 20, what="first answers")
        assert shift_of(caller.answers[-1][1]) == 0

        # 1. cp over the serving files (weights first: for a moment they do not match the manifest).
        shutil.copyfile(other[5] / "weights.safetensors", serving / "weights.safetensors")
        time.sleep(0.5)
        shutil.copyfile(other[5] / "model.json", serving / "model.json")
        wait_for(lambda: shift_of(caller.answers[-1][1]) == 5, what="the copied weights to serve")
        wait_for(lambda: sidecar.models()["mlp"].versions[0].error == "", what="a clean status")

        # 2. truncate + slow partial write of the weights (manifest already describes the new file).
        new_weights = (other[9] / "weights.safetensors").read_bytes()
        shutil.copyfile(other[9] / "model.json", serving / "model.json")
        with open(serving / "weights.safetensors", "wb") as out:
            half = len(new_weights) // 2
            for start in range(0, half, 4096):
                out.write(new_weights[start:min(start + 4096, half)])
                out.flush()
                time.sleep(0.02)
            # Half written: the status names the failure while the previous content answers.
            wait_for(lambda: "keeps serving" in sidecar.models()["mlp"].versions[0].error, what="the half-written failure")
            status = sidecar.models()["mlp"]
            assert status.serving_version == 1
            assert status.versions[0].state == admin_pb2.AVAILABLE
            assert shift_of(caller.answers[-1][1]) == 5
            out.write(new_weights[half:])
        wait_for(lambda: shift_of(caller.answers[-1][1]) == 9,
                 what=lambda: f"the whole new weights to serve: {sha256(serving / 'weights.safetensors')} {(serving / 'model.json').read_text()} {sidecar.models()['mlp']}\n{sidecar.logs()[-3000:]}")
        wait_for(lambda: sidecar.models()["mlp"].versions[0].error == "", what="a clean status")
        assert sidecar.models()["mlp"].versions[0].sha256 == sha256(serving / "weights.safetensors")
    finally:
        caller.stop()
    assert sidecar.process.poll() is None, sidecar.logs()
    assert caller.failures == []
    # Every answer came from one whole content: the original or one of the two copied.
    assert {shift_of(scores) for _, scores in caller.answers} <= {0, 5, 9}
    assert len(caller.answers) > 100
