"""Issue 13, the request side: hostile calls get the right status with a short message that says what
to fix, and never take the sidecar down: bodies that do not parse, oversized text fields echoed in
errors, duplicate candidates, inputs that overflow a model, plugin symlinks out of a safe folder,
and idle connections on /metrics."""
import os
import pathlib
import shutil
import socket
import time
import urllib.request

import grpc
import pytest

from conftest import GOLDEN, admin_pb2, recommender_pb2 as pb, store_with
from experiment_tools import request as experiment_request, start_with_experiments
from test_plugins import ITEM_IDS, MLP_MANIFEST, MLP_TENSORS, build_c_plugin, plugins_dir
from store_tools import publish
from test_recommend import golden_cases, request_of

MLP_CASE = next(c for c in golden_cases("mlp") if c["name"] == "short_history")
# grpc's own limit on a status message travelling in trailers is 8-16 KiB; ours stays far below.
MESSAGE_LIMIT = 1_100


@pytest.fixture
def golden_mlp(tmp_path, start_sidecar):
    return start_sidecar(store_with(tmp_path, mlp=(1, GOLDEN / "mlp/model/1")), default_model="mlp")


def raw_call(sidecar, method, body: bytes):
    """Sends `body` as the request bytes of Recommender/<method>, whatever they hold."""
    call = sidecar.channel.unary_unary(f"/recsys.v1.Recommender/{method}",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return call(body, timeout=10)


@pytest.mark.parametrize("method", ["Recommend", "Feedback"])
@pytest.mark.parametrize("body", [b"\x0a\x64\x41", b"\xff\xff\xff\xff", b"\x0a\x02\xc3\x28"],
                         ids=["truncated field", "bad tag", "invalid utf-8 string"])
def test_a_body_that_does_not_parse_is_invalid_argument_saying_so(golden_mlp, method, body):
    with pytest.raises(grpc.RpcError) as raised:
        raw_call(golden_mlp, method, body)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"is not a valid recsys.v1.{method}Request" in raised.value.details()
    assert "protos/recsys/v1/recommender.proto" in raised.value.details()
    # libprotobuf's own complaint is not logged per request (a client could flood the log).
    assert "invalid UTF-8" not in golden_mlp.logs()
    # ... and the very next well-formed call is served.
    assert golden_mlp.recommend(**request_of(MLP_CASE)).model == "mlp"


@pytest.mark.parametrize("field,limit", [("model", 257), ("forced_arm", 257), ("request_id", 256),
                                         ("user_id", 256), ("surface", 128)])
def test_an_oversized_text_field_is_refused_with_a_short_message(golden_mlp, field, limit):
    with pytest.raises(grpc.RpcError) as raised:
        golden_mlp.recommend(**request_of(MLP_CASE, **{field: "x" * 100_000}))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"{field} is 100000 bytes; the limit is {limit}")
    assert len(raised.value.details()) < 200
    # At the limit the field is read as usual: a model of 257 bytes is simply not served.
    if field == "model":
        with pytest.raises(grpc.RpcError) as raised:
            golden_mlp.recommend(**request_of(MLP_CASE, model="m" * 128 + "@" + "l" * 128))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert len(raised.value.details()) < MESSAGE_LIMIT


def test_feedback_with_a_huge_request_id_is_refused_with_a_short_message(tmp_path, start_sidecar):
    config = {"experiments": [{"key": "ab", "salt": "1", "arms": [
        {"name": "alpha", "model": "alpha", "weight": 50}, {"name": "beta", "model": "beta", "weight": 50}]}]}
    sidecar = start_with_experiments(start_sidecar, tmp_path, config)
    with pytest.raises(grpc.RpcError) as raised:
        sidecar.stub.Feedback(pb.FeedbackRequest(request_id="r" * 1_000_000, item_id=1, type=pb.CLICK), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith("request_id is 1000000 bytes; the limit is 256")
    # A forced arm that names nothing: the message lists the arms, never the 250-byte input in full.
    with pytest.raises(grpc.RpcError) as raised:
        sidecar.recommend(**experiment_request("u1", forced_arm="z" * 250))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(raised.value.details()) < MESSAGE_LIMIT
    assert sidecar.recommend(**experiment_request("u1")).arm in ("alpha", "beta")


def test_duplicate_candidates_are_refused_naming_both_positions(golden_mlp):
    case = request_of(MLP_CASE)
    ids = list(case["candidate_item_ids"])
    features = list(case["candidate_features"])
    width = len(features) // len(ids)
    ids.append(ids[1])
    features += features[width:2 * width]
    with pytest.raises(grpc.RpcError) as raised:
        golden_mlp.recommend(**dict(case, candidate_item_ids=ids, candidate_features=features))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (f"candidate_item_ids[{len(ids) - 1}] is {ids[1]}, which already appears at "
                                      "candidate_item_ids[1]; send each candidate once")


def test_features_that_overflow_the_model_are_refused_not_scored_as_infinity(golden_mlp):
    case = request_of(MLP_CASE)
    huge = [-3.4e38] * len(case["candidate_features"])  # finite, but the first layer overflows
    with pytest.raises(grpc.RpcError) as raised:
        golden_mlp.recommend(**dict(case, candidate_features=huge))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "computed the score" in raised.value.details() and "too large" in raised.value.details()
    assert golden_mlp.recommend(**case).model == "mlp"


@pytest.mark.parametrize("where", ["world-writable folder", "safe folder"])
def test_a_plugin_symlink_is_judged_by_the_file_it_resolves_to(tmp_path, start_sidecar, where):
    directory = plugins_dir(tmp_path, "mlp")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    build_c_plugin(elsewhere / "libconstant.so")
    if where == "world-writable folder":
        os.chmod(elsewhere, 0o777)
    (directory / "libconstant.so").symlink_to(elsewhere / "libconstant.so")
    store = tmp_path / "store"
    publish(store, "mlp", 1, MLP_MANIFEST, MLP_TENSORS)
    publish(store, "const", 1, {"kind": "constant"}, {"item_ids": ITEM_IDS})
    sidecar = start_sidecar(store, plugins=directory)
    reply = sidecar.admin.ListPlugins(admin_pb2.ListPluginsRequest(), timeout=10)
    refused = {pathlib.Path(r.path).name: r.reason for r in reply.refused}
    loaded = {p.kind for p in reply.plugins}
    if where == "world-writable folder":
        assert "constant" not in loaded
        assert f"resolves into {elsewhere}" in refused["libconstant.so"]
        assert "writable by group or others" in refused["libconstant.so"]
    else:
        assert "constant" in loaded and refused == {}
        assert sidecar.recommend(model="const", candidate_item_ids=ITEM_IDS[:3].tolist(), top_k=3).model == "const"
    assert sidecar.recommend(**request_of(MLP_CASE)).model == "mlp"


def test_idle_connections_do_not_hold_up_a_scrape(golden_mlp):
    host, port = golden_mlp.metrics_address.rsplit(":", 1)
    idle = []
    for _ in range(40):  # more than the listener serves at once: the oldest are evicted
        connection = socket.create_connection((host, int(port)))
        connection.sendall(b"GET /metrics HTTP/1.1\r\n")  # ... and never the end of the headers
        idle.append(connection)
    try:
        # The scrape is answered at once, not after the idle connections time out (2 s each).
        with urllib.request.urlopen(f"http://{golden_mlp.metrics_address}/metrics", timeout=1.5) as reply:
            assert reply.status == 200 and b"recsys_build_info" in reply.read()
        # An idle connection is cut at its deadline with 408 (or was evicted: closed without a word).
        idle[-1].settimeout(10)
        answer = idle[-1].recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    finally:
        for connection in idle:
            connection.close()
    assert "recsys_build_info" in golden_mlp.metrics()
