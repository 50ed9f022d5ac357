"""The two_tower kind (docs/models.md) through the real binary over gRPC: candidate requests and
whole-catalog requests answer what PyTorch computed for the golden fixture, and exclude_item_ids
is honoured in whole-catalog mode with top_k still filled."""
import json

import grpc
import pytest

from conftest import GOLDEN, recommender_pb2, store_with

FIXTURE = GOLDEN / "two_tower"
CASES = json.loads((FIXTURE / "cases.json").read_text())


@pytest.fixture
def sidecar(tmp_path, start_sidecar):
    return start_sidecar(store_with(tmp_path, two_tower=(1, FIXTURE / "model/1")), default_model="two_tower")


def request_of(case):
    return dict(history=[recommender_pb2.Event(item_id=i, type=t)
                         for i, t in zip(case["history_item_ids"], case["history_types"])],
                candidate_item_ids=case["candidate_item_ids"], candidate_features=case["candidate_features"],
                context=case["context"], top_k=case["top_k"], exclude_history=case["exclude_history"])


def served(case):
    """Cases the sidecar answers (an omitted context is refused, not read as zeros)."""
    return bool(case["context"])


def check_case(sidecar, case):
    reply = sidecar.recommend(**request_of(case))
    assert reply.model == "two_tower"
    assert [item.item_id for item in reply.items] == case["expected"]["top_item_ids"], case["name"]
    for item, want in zip(reply.items, case["expected"]["top_scores"]):
        assert item.score == pytest.approx(want, abs=1e-4), case["name"]
    assert list(reply.unknown_item_ids) == case["expected"]["unknown_item_ids"], case["name"]


def test_candidate_mode_matches_pytorch(sidecar):
    cases = [c for c in CASES if c["candidate_item_ids"] and served(c)]
    assert len(cases) > 10
    for case in cases:
        check_case(sidecar, case)


def test_whole_catalog_mode_matches_pytorch(sidecar):
    cases = [c for c in CASES if not c["candidate_item_ids"] and served(c)]
    assert len(cases) > 5
    for case in cases:
        check_case(sidecar, case)


def test_whole_catalog_mode_honours_exclude_item_ids(sidecar):
    case = next(c for c in CASES if not c["candidate_item_ids"] and c["history_item_ids"] and served(c))
    request = request_of(case) | dict(top_k=30, exclude_history=False)
    unfiltered = [item.item_id for item in sidecar.recommend(**request).items]
    assert len(unfiltered) == 30
    excluded = unfiltered[:5] + unfiltered[12:14]
    got = [item.item_id for item in sidecar.recommend(**request | dict(top_k=20, exclude_item_ids=excluded)).items]
    assert got == [i for i in unfiltered if i not in excluded][:20]


def test_missing_context_is_refused(sidecar):
    case = next(c for c in CASES if served(c))
    with pytest.raises(grpc.RpcError) as refused:
        sidecar.recommend(**request_of(case) | dict(context=[]))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "context" in refused.value.details()
