"""The dqn kind over gRPC: greedy with epsilon 0; with epsilon > 0 the slate explores,
every item carries its propensity, and the same request_id replays the same slate."""
import pytest

from conftest import GOLDEN
from store_tools import publish, read_version
from test_recommend import golden_cases, request_of

MANIFEST, TENSORS = read_version(GOLDEN / "dqn/model/1")
CASE = next(c for c in golden_cases("dqn") if c["name"] == "short_history")


def test_greedy_dqn_matches_pytorch_with_propensity_one(tmp_path, start_sidecar):
    store = tmp_path / "store"
    publish(store, "dqn", 1, MANIFEST, TENSORS)
    sidecar = start_sidecar(store, default_model="dqn")
    reply = sidecar.recommend(**request_of(CASE))
    assert [i.item_id for i in reply.items] == CASE["expected"]["top_item_ids"]
    assert [i.score for i in reply.items] == pytest.approx(CASE["expected"]["top_scores"], abs=1e-4)
    assert [i.propensity for i in reply.items] == [1.0] * len(reply.items)


def test_exploring_dqn_replays_by_request_id_and_reports_propensities(tmp_path, start_sidecar):
    store = tmp_path / "store"
    publish(store, "dqn", 1, dict(MANIFEST, epsilon=0.5), TENSORS)
    sidecar = start_sidecar(store, default_model="dqn")
    n = len([c for c in CASE["candidate_item_ids"] if c not in CASE["expected"]["unknown_item_ids"]])
    slates = {}
    for index in range(60):
        request_id = f"req-{index}"
        first = sidecar.recommend(**request_of(CASE, request_id=request_id))
        again = sidecar.recommend(**request_of(CASE, request_id=request_id))
        assert [(i.item_id, i.propensity) for i in first.items] == [(i.item_id, i.propensity) for i in again.items]
        slate = tuple(i.item_id for i in first.items)
        slates[slate] = slates.get(slate, 0) + 1
        # Slot 0 is either the greedy best, chosen with (1 - eps) + eps/n, or another one with eps/n.
        greedy_best = CASE["expected"]["top_item_ids"][0]
        expected = 0.5 + 0.5 / n if first.items[0].item_id == greedy_best else 0.5 / n
        assert first.items[0].propensity == pytest.approx(expected, abs=1e-6)
        assert all(0 < i.propensity <= 1 for i in first.items)
        assert len(set(slate)) == len(slate)
    assert len(slates) > 5, "epsilon 0.5 should explore"
