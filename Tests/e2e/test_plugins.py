"""Plugins as drop-in shared libraries: loaded live while clients call, refused with a
clear reason when unsafe or incompatible, replaced by newer versions without restart."""
import os
import pathlib
import shutil
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest

from conftest import GOLDEN, PLUGINS_DIR, ROOT, admin_pb2
from store_tools import publish, read_version, sha256
from test_recommend import golden_cases, request_of

MLP_MANIFEST, MLP_TENSORS = read_version(GOLDEN / "mlp/model/1")
ITEM_IDS = MLP_TENSORS["item_ids"]
CASE = next(c for c in golden_cases("mlp") if c["name"] == "short_history")
C_PLUGIN = pathlib.Path(__file__).parent / "plugins/constant_plugin.c"


def plugins_dir(tmp_path, *kinds):
    directory = tmp_path / "plugins"
    directory.mkdir(mode=0o755)
    for kind in kinds:
        shutil.copy(pathlib.Path(PLUGINS_DIR) / f"librecsys-{kind}.so", directory)
    return directory


def build_c_plugin(out, *flags):
    includes = [f"-I{ROOT / folder / 'include'}" for folder in ("Sources/CRecSysPlugin", "Sources/CRecSysStatus")]
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", *includes, *flags, "-o", str(out), str(C_PLUGIN)], check=True)
    os.chmod(out, 0o755)
    return out


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def publish_popularity(store, version=1, seed=3):
    popularity = np.random.default_rng(seed).random(len(ITEM_IDS)).astype(np.float32)
    publish(store, "popularity", version, {"kind": "popularity"}, {"item_ids": ITEM_IDS, "popularity": popularity})
    return popularity


def test_a_plugin_copied_in_while_clients_call_serves_its_model_without_restart(tmp_path, start_sidecar):
    directory = plugins_dir(tmp_path, "mlp")
    store = tmp_path / "store"
    publish(store, "mlp", 1, MLP_MANIFEST, MLP_TENSORS)
    popularity = publish_popularity(store)
    sidecar = start_sidecar(store, plugins=directory, poll_interval=0.2)
    pid = sidecar.process.pid
    # No plugin for the kind yet: that model is FAILED with the reason, mlp serves.
    status = sidecar.models()["popularity"]
    assert status.versions[0].state == admin_pb2.FAILED
    assert 'no plugin serves kind "popularity"' in status.versions[0].error

    failures, calls = [], [0]
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                assert sidecar.recommend(**request_of(CASE)).model == "mlp"
                calls[0] += 1
            except grpc.RpcError as error:
                failures.append(error.details())

    clients = [threading.Thread(target=client) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(0.3)
        shutil.copy(pathlib.Path(PLUGINS_DIR) / "librecsys-popularity.so", directory)  # a plain, non-atomic copy
        wait_for(lambda: sidecar.models()["popularity"].serving_version == 1, what="popularity to serve")
        reply = sidecar.recommend(model="popularity", candidate_item_ids=ITEM_IDS[:50].tolist(), top_k=5)
        expected = ITEM_IDS[:50][np.argsort(-popularity[:50], kind="stable")[:5]]
        assert [i.item_id for i in reply.items] == expected.tolist()
        whole = sidecar.recommend(model="popularity", top_k=3)  # no candidates: the whole catalog
        assert [i.item_id for i in whole.items] == ITEM_IDS[np.argsort(-popularity, kind="stable")[:3]].tolist()
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert failures == [] and calls[0] > 20
    assert sidecar.process.pid == pid and sidecar.process.poll() is None
    plugins = sidecar.admin.ListPlugins(admin_pb2.ListPluginsRequest(), timeout=10).plugins
    loaded = {p.kind: p for p in plugins}
    assert loaded["popularity"].sha256 == sha256(directory / "librecsys-popularity.so")
    assert loaded["popularity"].version == "1.0.0" and loaded["popularity"].abi_version == "1.3"
    assert "kind=popularity" in sidecar.logs() and "sha256=" in sidecar.logs()


@pytest.mark.parametrize("case", ["wrong abi", "no entry point", "group-writable file", "world-writable directory"])
def test_unsafe_or_incompatible_plugins_are_refused_and_serving_goes_on(tmp_path, start_sidecar, case):
    directory = plugins_dir(tmp_path, "mlp")
    bad = directory / "libbad.so"
    if case == "wrong abi":
        build_c_plugin(bad, "-DABI_MAJOR=99")
        words = ["ABI 99.3", "ABI 1.3"]  # the plugin's major with this header's minor; the host's ABI
    elif case == "no entry point":
        build_c_plugin(bad, "-DNO_ENTRY")
        words = ["does not export recsys_plugin_entry"]
    elif case == "group-writable file":
        build_c_plugin(bad)
        os.chmod(bad, 0o775)
        words = ["writable by group or others", "chmod go-w"]
    else:
        build_c_plugin(bad)
        os.chmod(directory, 0o777)
        words = ["plugin directory", "writable by group or others"]
    store = tmp_path / "store"
    publish(store, "mlp", 1, MLP_MANIFEST, MLP_TENSORS)
    sidecar = start_sidecar(store, plugins=directory, wait_serving=case != "world-writable directory")
    reply = sidecar.admin.ListPlugins(admin_pb2.ListPluginsRequest(), timeout=10)
    refused = {pathlib.Path(r.path).name: r.reason for r in reply.refused}
    if case == "world-writable directory":
        # Every file in an unsafe directory is refused, the good one too.
        assert set(refused) == {"libbad.so", "librecsys-mlp.so"}
    else:
        assert list(refused) == ["libbad.so"]
        assert sidecar.recommend(**request_of(CASE)).model == "mlp"
    for word in words:
        assert word in refused["libbad.so"], refused
    assert "plugin refused" in sidecar.logs()
    assert sidecar.process.poll() is None


def test_a_newer_plugin_version_recreates_its_models_live(tmp_path, start_sidecar):
    directory = plugins_dir(tmp_path)
    build_c_plugin(directory / "libconstant-1.so")
    store = tmp_path / "store"
    publish(store, "const", 1, {"kind": "constant"}, {"item_ids": ITEM_IDS})
    sidecar = start_sidecar(store, default_model="const", plugins=directory, poll_interval=0.2)
    request = dict(candidate_item_ids=ITEM_IDS[:3].tolist(), top_k=3)
    assert sidecar.recommend(**request).items[0].score == pytest.approx(1.0)

    failures = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                sidecar.recommend(**request)
            except grpc.RpcError as error:
                failures.append(error.details())

    thread = threading.Thread(target=client)
    thread.start()
    try:
        staging = tmp_path / "libconstant-2.so"
        build_c_plugin(staging, "-DPLUGIN_VERSION=\"2.0.0\"", "-DSCORE=2")
        os.rename(staging, directory / "libconstant-2.so")
        wait_for(lambda: sidecar.recommend(**request).items[0].score == pytest.approx(2.0), what="version 2 to score")
        # An older file arriving later does not replace the newer one.
        build_c_plugin(directory / "libconstant-0.so", "-DPLUGIN_VERSION=\"0.9.0\"", "-DSCORE=9")
        time.sleep(1.8)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert sidecar.recommend(**request).items[0].score == pytest.approx(2.0)
    plugins = {pathlib.Path(p.path).name: p for p in
               sidecar.admin.ListPlugins(admin_pb2.ListPluginsRequest(), timeout=10).plugins}
    assert (plugins["libconstant-1.so"].active, plugins["libconstant-2.so"].active) == (False, True)
    assert plugins["libconstant-0.so"].active is False
