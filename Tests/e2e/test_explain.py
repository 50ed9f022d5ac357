"""Explanations over gRPC (issue 17): explain=true adds each returned item's `because` (occlusion
contributions, checked against the PyTorch golden values) and sasrec's history attention; the
top_k limit; explain=false unchanged; the exposure log; `recsysctl recommend --explain`."""
import json

import grpc
import pytest

from conftest import GOLDEN, ROOT, admin_pb2, store_with
from experiment_tools import eventually, exposures
from store_tools import publish, read_version
from test_plugins import build_c_plugin, plugins_dir
from test_recommend import golden_cases, request_of

KINDS = ["mlp", "mlp_nofeat", "lstm", "lstm_2layer", "sasrec", "sasrec_1block", "dqn"]
TOLERANCE = 1e-4
EXPLAIN_TOP_K_LIMIT = 50


@pytest.fixture
def explaining(tmp_path, start_sidecar):
    store = store_with(tmp_path, popularity=(1, ROOT / "demo/store/popularity/1"),
                       **{name: (1, GOLDEN / name / "model/1") for name in KINDS})
    log = tmp_path / "exposures.jsonl"
    sidecar = start_sidecar(store, default_model="mlp", extra_args=("--exposure-log", str(log)))
    sidecar.exposure_path = log
    return sidecar


def refused_by_sidecar(fixture, case):
    """The sidecar refuses a missing context or missing features (the reference pads zeros) and a
    candidate sent twice."""
    needs_context = fixture in ("mlp", "dqn")
    repeated = len(set(case["candidate_item_ids"])) != len(case["candidate_item_ids"])
    return (needs_context and not case["context"]) or (fixture == "mlp" and not case["candidate_features"]) or repeated


def check_because(case, reply):
    """Every returned item's reasons: real history events, contributions equal to PyTorch's, positive,
    at most 3, largest first, and none left out that PyTorch ranks clearly higher."""
    expected = case["expected"]["explanation"]
    assert [item.item_id for item in reply.items] == case["expected"]["top_item_ids"], case["name"]
    checked = 0
    for index, item in enumerate(reply.items):
        want = dict(zip(expected["positions"], expected["contributions"][index]))
        because = list(item.because)
        assert len(because) <= 3, case["name"]
        for event in because:
            assert event.position in want, (case["name"], event.position)
            assert event.item_id == case["history_item_ids"][event.position]
            assert event.type == case["history_types"][event.position]
            assert event.contribution == pytest.approx(want[event.position], abs=TOLERANCE), case["name"]
            assert event.contribution > 0
            checked += 1
        values = [event.contribution for event in because]
        assert values == sorted(values, reverse=True), case["name"]
        weakest = min(values, default=0.0)
        named = {event.position for event in because}
        for position, value in want.items():
            if position not in named and value > TOLERANCE:
                assert len(because) == 3 and value <= weakest + 2 * TOLERANCE, (case["name"], position, value)
    return checked


@pytest.mark.parametrize("fixture", KINDS)
def test_because_matches_pytorch_occlusion(explaining, fixture):
    checked = 0
    for case in golden_cases(fixture):
        if refused_by_sidecar(fixture, case):
            continue
        reply = explaining.recommend(**request_of(case, model=fixture, explain=True))
        checked += check_because(case, reply)
        attention = case["expected"]["explanation"].get("attention")
        if attention is not None and reply.items:
            got = {event.position: event for event in reply.history_attention}
            assert sorted(got) == case["expected"]["explanation"]["positions"], case["name"]
            for position, weight in zip(case["expected"]["explanation"]["positions"], attention):
                assert got[position].weight == pytest.approx(weight, abs=TOLERANCE), case["name"]
                assert got[position].item_id == case["history_item_ids"][position]
        else:
            assert len(reply.history_attention) == 0, case["name"]
    assert checked > 10


def test_explain_is_refused_above_the_top_k_limit(explaining):
    case = next(c for c in golden_cases("sasrec") if c["name"] == "catalog_short_history")
    with pytest.raises(grpc.RpcError) as refused:
        explaining.recommend(**request_of(case, model="sasrec", explain=True, top_k=EXPLAIN_TOP_K_LIMIT + 1))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "explain" in refused.value.details() and str(EXPLAIN_TOP_K_LIMIT) in refused.value.details()
    at_limit = explaining.recommend(**request_of(case, model="sasrec", explain=True, top_k=EXPLAIN_TOP_K_LIMIT))
    assert len(at_limit.items) == EXPLAIN_TOP_K_LIMIT and any(item.because for item in at_limit.items)
    plain = explaining.recommend(**request_of(case, model="sasrec", top_k=EXPLAIN_TOP_K_LIMIT + 1))
    assert len(plain.items) == EXPLAIN_TOP_K_LIMIT + 1


@pytest.mark.parametrize("fixture", ["mlp", "lstm", "sasrec", "dqn"])
def test_without_explain_the_reply_is_unchanged(explaining, fixture):
    case = next(c for c in golden_cases(fixture) if c["name"] == "short_history")
    plain = explaining.recommend(**request_of(case, model=fixture))
    explained = explaining.recommend(**request_of(case, model=fixture, explain=True))
    assert [(i.item_id, i.score, i.propensity) for i in plain.items] == [
        (i.item_id, i.score, i.propensity) for i in explained.items]
    assert all(len(item.because) == 0 for item in plain.items)
    assert len(plain.history_attention) == 0
    assert any(item.because for item in explained.items)


def test_kinds_without_explain_return_no_explanations(explaining):
    reply = explaining.recommend(model="popularity", top_k=5, explain=True,
                                 history=request_of(golden_cases("mlp")[1])["history"])
    assert len(reply.items) == 5
    assert all(len(item.because) == 0 for item in reply.items) and len(reply.history_attention) == 0


@pytest.mark.parametrize("flags", [(), ("-DABI_1_0",)], ids=["abi-1.1-without-explain", "abi-1.0"])
def test_c_plugins_without_explain_load_and_explain_nothing(tmp_path, start_sidecar, flags):
    directory = plugins_dir(tmp_path, "mlp")
    build_c_plugin(directory / "libconstant.so", *flags)
    manifest, tensors = read_version(GOLDEN / "mlp/model/1")
    store = tmp_path / "store"
    publish(store, "mlp", 1, manifest, tensors)
    publish(store, "const", 1, {"kind": "constant"}, {"item_ids": tensors["item_ids"]})
    sidecar = start_sidecar(store, plugins=directory)
    case = next(c for c in golden_cases("mlp") if c["name"] == "short_history")
    reply = sidecar.recommend(model="const", top_k=3, explain=True, candidate_item_ids=case["candidate_item_ids"],
                              history=request_of(case)["history"])
    assert len(reply.items) == 3 and reply.model == "const"
    assert all(len(item.because) == 0 for item in reply.items) and len(reply.history_attention) == 0
    listed = {p.path.rsplit("/", 1)[-1]: p
              for p in sidecar.admin.ListPlugins(admin_pb2.ListPluginsRequest(), timeout=30).plugins}
    assert listed["libconstant.so"].abi_version == ("1.0" if flags else "1.3")


def test_exposure_log_records_the_explanations(explaining):
    case = next(c for c in golden_cases("sasrec") if c["name"] == "short_history")
    explained = explaining.recommend(**request_of(case, model="sasrec", explain=True, request_id="explained-1"))
    explaining.recommend(**request_of(case, model="sasrec", request_id="plain-1"))
    lines = eventually(lambda: (lines := {line["request_id"]: line for line in exposures(explaining.exposure_path)})
                       and {"explained-1", "plain-1"} <= lines.keys() and lines, what="both exposures to be written")
    line = lines["explained-1"]
    assert len(line["because"]) == len(explained.items)
    for item, logged in zip(explained.items, line["because"]):
        assert [(e["item_id"], e["position"]) for e in logged] == [(e.item_id, e.position) for e in item.because]
        assert [e["contribution"] for e in logged] == pytest.approx([e.contribution for e in item.because], abs=1e-6)
        assert all(e["type"] in ("VIEW", "CLICK", "ADD_TO_CART", "PURCHASE") for e in logged)
    assert [a["weight"] for a in line["attention"]] == pytest.approx(
        [a.weight for a in explained.history_attention], abs=1e-6)
    assert "because" not in lines["plain-1"] and "attention" not in lines["plain-1"]


def test_recsysctl_recommend_explain_prints_the_reasons(explaining, tmp_path):
    case = next(c for c in golden_cases("sasrec") if c["name"] == "short_history")
    request = dict(model="sasrec", top_k=3,
                   candidate_item_ids=[str(i) for i in case["candidate_item_ids"]],
                   history=[{"item_id": str(i), "type": ["VIEW", "CLICK", "ADD_TO_CART", "PURCHASE"][t]}
                            for i, t in zip(case["history_item_ids"], case["history_types"])])
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, err = explaining.ctl("recommend", "--explain", str(path))
    assert code == 0, err
    reply = explaining.recommend(**request_of(case, model="sasrec", top_k=3, explain=True))
    assert out.startswith("model sasrec@1")
    first = reply.items[0]
    assert f"1. item {first.item_id}  score {first.score:.4f}" in out
    reason = first.because[0]
    assert (f"because of {['VIEW', 'CLICK', 'ADD_TO_CART', 'PURCHASE'][reason.type]} of item {reason.item_id} "
            f"(history[{reason.position}]): contribution +{reason.contribution:.4f}") in out
    assert "attention of the last position over the history" in out and "not a contribution" in out
    assert "no reasons" not in out
    path.write_text(json.dumps(dict(request, model="popularity")))
    code, out, err = explaining.ctl("recommend", "--explain", str(path))
    assert code == 0, err
    assert out.startswith("model popularity@1") and "because of" not in out and "no reasons" in out
