"""Recommend over gRPC against the real binary: golden scores, ordering, naming,
every bad input's status, health and reflection."""
import concurrent.futures
import json
import math
import re

import grpc
import numpy as np
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from conftest import GOLDEN, ROOT, recommender_pb2 as pb, store_with


def golden_cases(fixture):
    return json.loads((GOLDEN / fixture / "cases.json").read_text())


def request_of(case, **overrides):
    fields = dict(
        history=[pb.Event(item_id=i, type=t) for i, t in zip(case["history_item_ids"], case["history_types"])],
        candidate_item_ids=case["candidate_item_ids"],
        candidate_features=case["candidate_features"],
        context=case["context"],
        top_k=case["top_k"],
        exclude_history=case["exclude_history"],
    )
    fields.update(overrides)
    return fields


@pytest.fixture
def golden_mlp(tmp_path, start_sidecar):
    store = store_with(tmp_path, mlp=(1, GOLDEN / "mlp/model/1"), mlp_nofeat=(1, GOLDEN / "mlp_nofeat/model/1"))
    return start_sidecar(store, default_model="mlp")


@pytest.mark.parametrize("fixture", ["mlp", "mlp_nofeat"])
def test_scores_match_pytorch_golden_fixture(golden_mlp, fixture):
    checked = 0
    for case in golden_cases(fixture):
        fields = request_of(case, model=fixture)
        if not case["context"] and fixture == "mlp":
            continue  # the sidecar refuses a missing context (covered below)
        if not case["candidate_features"] and fixture == "mlp":
            continue
        reply = golden_mlp.recommend(**fields)
        got_ids = [item.item_id for item in reply.items]
        got_scores = [item.score for item in reply.items]
        assert got_ids == case["expected"]["top_item_ids"], case["name"]
        assert got_scores == pytest.approx(case["expected"]["top_scores"], abs=1e-4), case["name"]
        assert got_scores == sorted(got_scores, reverse=True), case["name"]
        assert list(reply.unknown_item_ids) == case["expected"]["unknown_item_ids"], case["name"]
        assert all(item.propensity == 1.0 for item in reply.items)
        assert (reply.model, reply.model_version) == (fixture, 1)
        checked += 1
    assert checked >= 15


def test_default_model_serves_unnamed_requests_and_request_ids(golden_mlp):
    case = golden_cases("mlp")[1]
    reply = golden_mlp.recommend(**request_of(case))
    assert (reply.model, reply.model_version) == ("mlp", 1)
    assert re.fullmatch(r"[0-9a-f]{32}", reply.request_id)
    assert reply.experiment == "" and reply.arm == ""
    echoed = golden_mlp.recommend(**request_of(case, request_id="req-123"))
    assert echoed.request_id == "req-123"
    assert [i.item_id for i in echoed.items] == [i.item_id for i in reply.items]


def bad_inputs():
    case = golden_cases("mlp")[1]
    n = len(case["candidate_item_ids"])
    base = request_of(case)
    nan_features = list(base["candidate_features"])
    nan_features[4] = math.nan
    inf_context = list(base["context"])
    inf_context[2] = math.inf
    # The check reads 16 values at a time and the rest one by one: one bad value in each part.
    assert len(nan_features) > 16
    minus_inf_features = list(base["candidate_features"])
    minus_inf_features[15] = -math.inf
    nan_tail_features = list(base["candidate_features"])
    nan_tail_features[-1] = math.nan
    invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    return [
        ("top_k zero", dict(base, top_k=0), invalid, "top_k"),
        ("top_k negative", dict(base, top_k=-3), invalid, "top_k"),
        ("top_k over limit", dict(base, top_k=1001), invalid, "top_k"),
        ("too many candidates", dict(base, candidate_item_ids=list(range(10_001)), candidate_features=[]), invalid,
         "candidate_item_ids"),
        ("features not candidates x F", dict(base, candidate_features=base["candidate_features"][:-1]), invalid,
         "candidate_features"),
        ("features F wrong", dict(base, candidate_features=[0.5] * (2 * n)), invalid, "candidate_features"),
        ("features missing", dict(base, candidate_features=[]), invalid, "candidate_features"),
        ("context too short", dict(base, context=[1.0]), invalid, "context"),
        ("context missing", dict(base, context=[]), invalid, "context"),
        ("NaN feature", dict(base, candidate_features=nan_features), invalid, "candidate_features[4]"),
        ("Inf context", dict(base, context=inf_context), invalid, "context[2]"),
        ("-Inf feature in the first 16", dict(base, candidate_features=minus_inf_features), invalid,
         "candidate_features[15]"),
        ("NaN last feature", dict(base, candidate_features=nan_tail_features), invalid,
         f"candidate_features[{len(nan_tail_features) - 1}]"),
        ("history over limit", dict(base, history=[pb.Event(item_id=1)] * 1001), invalid, "history"),
        ("bad event type", dict(base, history=[pb.Event(item_id=1, type=9)]), invalid, "history[0].type"),
        ("unknown model", dict(base, model="nope"), not_found, "nope"),
        ("version not loaded", dict(base, model="mlp@9"), not_found, "version 9"),
        ("unknown label", dict(base, model="mlp@stable"), not_found, "stable"),
        ("malformed selector", dict(base, model="mlp@"), invalid, "model"),
        ("no candidates for a ranker", dict(base, candidate_item_ids=[], candidate_features=[]), invalid,
         "candidate_item_ids"),
    ]


@pytest.mark.parametrize("name,fields,code,mentions", bad_inputs(), ids=[b[0] for b in bad_inputs()])
def test_bad_input_gets_its_status_and_names_the_field(golden_mlp, name, fields, code, mentions):
    with pytest.raises(grpc.RpcError) as failure:
        golden_mlp.recommend(**fields)
    assert failure.value.code() == code, failure.value.details()
    assert mentions in failure.value.details()
    # The server is still up and still right.
    assert golden_mlp.recommend(**request_of(golden_cases("mlp")[1])).items


def test_health_and_reflection(golden_mlp):
    for service in ("", "recsys.v1.Recommender"):
        reply = golden_mlp.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(golden_mlp.channel)
    responses = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    services = {s.name for r in responses for s in r.list_services_response.service}
    assert {"recsys.v1.Recommender", "grpc.health.v1.Health"} <= services


def test_not_serving_until_the_default_model_loads(tmp_path, start_sidecar):
    store = store_with(tmp_path, mlp=(1, GOLDEN / "mlp/model/1"))
    sidecar = start_sidecar(store, default_model="absent", wait_serving=False)
    reply = sidecar.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    # Named models still answer.
    assert sidecar.recommend(**request_of(golden_cases("mlp")[1], model="mlp")).items


def test_highest_version_serves(tmp_path, start_sidecar):
    store = store_with(tmp_path, mlp=(3, GOLDEN / "mlp/model/1"))
    (store / "mlp" / "2").symlink_to(GOLDEN / "mlp_nofeat/model/1", target_is_directory=True)
    (store / "mlp" / ".staging-9").mkdir()
    sidecar = start_sidecar(store, default_model="mlp")
    reply = sidecar.recommend(**request_of(golden_cases("mlp")[1]))
    assert reply.model_version == 3


def test_concurrent_clients_get_consistent_answers(golden_mlp):
    cases = [c for c in golden_cases("mlp") if c["context"] and c["candidate_features"]]
    expected = {c["name"]: c["expected"]["top_item_ids"] for c in cases}

    def call(index):
        case = cases[index % len(cases)]
        reply = golden_mlp.recommend(**request_of(case))
        return [i.item_id for i in reply.items] == expected[case["name"]]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(call, range(400)))


@pytest.fixture(scope="module")
def demo_sidecar():
    from conftest import Sidecar
    sidecar = Sidecar(ROOT / "demo/store", default_model="mlp")
    yield sidecar
    sidecar.stop()


@pytest.mark.parametrize("request_file", sorted(p.name for p in (ROOT / "demo/requests").glob("*.json")))
def test_demo_store_answers_every_example_request(demo_sidecar, request_file):
    """The README's examples work after `make run`: every demo request gets ranked items."""
    request = json_format.Parse((ROOT / "demo/requests" / request_file).read_text(), pb.RecommendRequest())
    reply = demo_sidecar.stub.Recommend(request, timeout=10)
    assert len(reply.items) == request.top_k
    assert reply.model == (request.model.split("@")[0] or "mlp") and reply.model_version >= 1
    if "epsilon" not in (ROOT / "demo/store" / reply.model / str(reply.model_version) / "model.json").read_text():
        scores = [item.score for item in reply.items]
        assert scores == sorted(scores, reverse=True)
    if request.candidate_item_ids:
        assert set(i.item_id for i in reply.items) <= set(request.candidate_item_ids)
    assert all(0 < i.propensity <= 1 for i in reply.items)


@pytest.mark.parametrize("fixture", ["lstm", "lstm_2layer", "sasrec", "sasrec_1block"])
def test_no_candidates_returns_the_true_top_k_of_the_whole_catalog(tmp_path, start_sidecar, fixture):
    from safetensors.numpy import load_file
    item_ids = load_file(str(GOLDEN / fixture / "model/1/weights.safetensors"))["item_ids"]
    store = store_with(tmp_path, seq=(1, GOLDEN / fixture / "model/1"))
    sidecar = start_sidecar(store, default_model="seq")
    whole_catalog = [c for c in golden_cases(fixture) if not c["candidate_item_ids"]]
    assert len(whole_catalog) >= 5
    for case in whole_catalog:
        reply = sidecar.recommend(**request_of(case))
        # The true top-k from PyTorch's full score vector: descending, ties to the lower row,
        # history items left out when asked.
        scores = np.array(case["expected"]["scores"], dtype=np.float64)
        eligible = np.ones(len(scores), bool)
        if case["exclude_history"]:
            eligible &= ~np.isin(item_ids, case["history_item_ids"])
        rows = [r for r in np.lexsort((np.arange(len(scores)), -scores)) if eligible[r]][: case["top_k"]]
        assert [i.item_id for i in reply.items] == item_ids[rows].tolist(), case["name"]
        assert [i.score for i in reply.items] == pytest.approx(scores[rows].tolist(), abs=1e-4), case["name"]
        assert list(reply.unknown_item_ids) == []
