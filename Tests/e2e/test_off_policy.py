"""Off-policy evaluation (issue 15) with the real binaries: recsysctl's estimators equal Open Bandit
Pipeline's on the golden logs; a sidecar whose experiment shadows a candidate writes the records
the estimate needs, answers EvaluateCandidate, and on the simulator the candidate's estimate from
exploring logs covers its true CTR, while a greedy logging policy gives a missing-support warning."""
import json
import subprocess
import types

import pytest

from conftest import BINARY, CTL, PLUGINS_DIR, ROOT, admin_pb2, recommender_pb2
from experiment_tools import exposures
from ope_check import CANDIDATE, CANDIDATES, CONTEXT, LOGGING_MODEL, run_seed, write_experiments, write_store

FIXTURES = ROOT / "Tests/Fixtures/ope"


def evaluate(case, candidate="candidate@2"):
    done = subprocess.run([CTL, "experiments", "evaluate", "--exposures", str(FIXTURES / case / "exposures.jsonl"),
                           "--feedback", str(FIXTURES / case / "feedback.jsonl"), "--candidate", candidate, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("case", ["epsilon_greedy", "greedy"])
def test_recsysctl_evaluate_equals_obp_on_the_golden_logs(case):
    expected = json.loads((FIXTURES / case / "expected.json").read_text())
    [policy] = evaluate(case)["logging_policies"]
    assert policy["logging_model"] == expected["logging_model"]
    assert policy["rounds"] == expected["obp"]["rounds"]
    for key in ("ips", "snips", "dr"):
        assert policy["point_estimates"][key] == pytest.approx(expected["obp"][key], abs=1e-9), key
    if case == "greedy":
        assert "ips" not in policy and policy["warning"].startswith("missing support")
    else:
        assert policy["dr"]["low"] <= policy["dr"]["value"] <= policy["dr"]["high"]


def test_recsysctl_evaluate_prints_the_estimates_beside_the_observed_ctr():
    done = subprocess.run([CTL, "experiments", "evaluate", "--exposures", str(FIXTURES / "greedy/exposures.jsonl"),
                           "--feedback", str(FIXTURES / "greedy/feedback.jsonl"), "--candidate", "candidate"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "logging policy (observed)" in done.stdout and "candidate, doubly robust" in done.stdout
    assert "no estimate" in done.stdout and "! missing support" in done.stdout
    missing = subprocess.run([CTL, "experiments", "evaluate", "--exposures", "x"], capture_output=True, text=True)
    assert missing.returncode != 0 and "--candidate" in missing.stderr


def test_shadow_writes_off_policy_records_and_evaluate_candidate_answers(tmp_path, start_sidecar):
    write_store(tmp_path / "store", epsilon=0.3)
    write_experiments(tmp_path / "experiments.yaml", sample_percent=100)
    log, feedback = tmp_path / "exposures.jsonl", tmp_path / "feedback.jsonl"
    sidecar = start_sidecar(tmp_path / "store", default_model=LOGGING_MODEL, extra_args=[
        "--experiments", str(tmp_path / "experiments.yaml"), "--exposure-log", str(log), "--feedback-log",
        str(feedback)])
    for index in range(40):
        reply = sidecar.recommend(user_id=f"u{index}", request_id=f"r{index}", candidate_item_ids=CANDIDATES,
                                  context=CONTEXT, top_k=3)
        if index % 3 == 0:
            sidecar.stub.Feedback(recommender_pb2.FeedbackRequest(request_id=reply.request_id,
                                                                  item_id=reply.items[0].item_id,
                                                                  type=recommender_pb2.CLICK), timeout=10)
    metadata = sidecar.admin_metadata()
    bad = sidecar.admin.EvaluateCandidate
    with pytest.raises(Exception) as refused:
        bad(admin_pb2.EvaluateCandidateRequest(candidate="popularity@stable"), timeout=30, metadata=metadata)
    assert refused.value.code().name == "INVALID_ARGUMENT" and "MODEL@VERSION" in refused.value.details()
    sidecar.stop()  # drains: every queued line is in the files

    lines = exposures(log)
    records = [line for line in lines if "ope" in line]
    served = {line["request_id"]: line for line in lines if "ope" not in line}
    assert len(served) == 40 and 0 < len(records) <= 40  # the shadow runs only between calls: a sample
    for record in records:
        response = served[record["request_id"]]
        assert record["ope"]["candidate"] == f"{CANDIDATE}@1"
        assert len(record["ope"]["ranking"]) == 3
        if any(p != 1 for p in response["propensities"]):
            assert sorted(record["ope"]["logging_ranking"]) == sorted(CANDIDATES)
            assert set(response["items"]) <= set(record["ope"]["logging_ranking"])

    # The offline report is not confused by the records; the RPC answers from the same logs.
    code = subprocess.run([CTL, "experiments", "report", "--exposures", str(log), "--feedback", str(feedback),
                           "--json"], capture_output=True, text=True)
    [experiment] = json.loads(code.stdout)["experiments"]
    assert experiment["arms"][0]["impressions"] == 40
    restarted = start_sidecar(tmp_path / "store", default_model=LOGGING_MODEL, extra_args=[
        "--experiments", str(tmp_path / "experiments.yaml"), "--exposure-log", str(log), "--feedback-log",
        str(feedback)])
    answer = restarted.admin.EvaluateCandidate(admin_pb2.EvaluateCandidateRequest(candidate=CANDIDATE), timeout=60,
                                               metadata=restarted.admin_metadata())
    [policy] = answer.logging_policies
    assert policy.logging_model == f"{LOGGING_MODEL}@1" and policy.requests == len(records)
    assert policy.observed.low <= policy.observed.value <= policy.observed.high
    offline = json.loads(subprocess.run(
        [CTL, "experiments", "evaluate", "--exposures", str(log), "--feedback", str(feedback), "--candidate",
         CANDIDATE, "--json"], capture_output=True, text=True, check=True).stdout)["logging_policies"][0]
    assert policy.point_estimates.dr == pytest.approx(offline["point_estimates"]["dr"], abs=1e-12)


def test_simulator_estimate_covers_the_true_ctr_and_greedy_logs_have_missing_support(tmp_path):
    """A smaller run of `make ope-check` (20 seeds x 3000 requests there)."""
    args = types.SimpleNamespace(sidecar=BINARY, recsysctl=CTL, plugins=PLUGINS_DIR, users=200, top_k=3,
                                 requests=1000)
    results = [run_seed(args, seed, tmp_path / f"seed-{seed}", epsilon=0.3) for seed in range(1, 7)]
    # 95 % intervals: 6 of 6 in most runs. Which requests the shadow records depends on the load (it
    # runs only between calls), so the outcome is random: 4 of 6 fails about 1 run in 100 even at 90 %
    # coverage, and `make ope-check` holds the criterion (>= 90 % of 20 seeds).
    covered = sum(result["dr_covers"] for result in results)
    assert covered >= 4, results
    assert all(result["requests"] > 0 and result["dr"] for result in results)

    greedy = run_seed(args, 1, tmp_path / "greedy", epsilon=0.0)
    assert greedy["dr"] is None and greedy["ips"] is None
    assert greedy["warning"].startswith("missing support"), greedy
