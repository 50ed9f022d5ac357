#!/usr/bin/env python3
"""Off-policy estimators against Open Bandit Pipeline: the oracle for issue 15.

Simulates logged slates (an epsilon-greedy logging policy, or a greedy one), writes them as the
sidecar's exposure log (with the shadow's "ope" records) and feedback log, computes OBP's
InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting and DoublyRobust on the
same rounds (each (request, position) a round, action = the item shown there, pscore = the logging
policy's marginal probability of that item at that position, found here by enumerating every slate
the policy can draw), and:

  --fixtures DIR      writes DIR/<case>/{exposures.jsonl,feedback.jsonl,expected.json} (the Swift
                      unit tests and the e2e test assert the sidecar's estimators equal OBP's there);
  --recsysctl PATH    runs `recsysctl experiments evaluate --json` on the logs and compares its
                      point estimates with OBP's (the live comparison; exit 1 beyond --tolerance).

Needs numpy and obp (the tools venv: `make ope-oracle`). OBP imports torch at the top of
obp/utils.py, which is why this never runs in `make test`.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile

import numpy as np

CASES = {
    # name: (requests, eligible items, slots, epsilon, seed)
    "epsilon_greedy": (400, 8, 3, 0.3, 11),
    "greedy": (300, 8, 3, 0.0, 12),
}
LOGGING_MODEL = "dqn@1"
CANDIDATE = "candidate@2"


def marginals(greedy_order, epsilon, slots):
    """{(item, slot): P(the epsilon-greedy policy shows item at slot)} by enumerating every slate."""
    result = {}

    def walk(chosen, probability):
        slot = len(chosen)
        if slot == slots or probability == 0.0:
            return
        remaining = [item for item in greedy_order if item not in chosen]
        best = remaining[0]
        for item in remaining:
            p = (1 - epsilon) * (item == best) + epsilon / len(remaining)
            if p == 0.0:
                continue
            result[(item, slot)] = result.get((item, slot), 0.0) + probability * p
            walk(chosen + [item], probability * p)

    walk([], 1.0)
    return result


def draw_slate(rng, greedy_order, epsilon, slots):
    """One slate and its conditional propensities, as RecSysKernels' epsilonGreedySlate draws it."""
    chosen, conditional = [], []
    for _ in range(slots):
        remaining = [item for item in greedy_order if item not in chosen]
        pick = remaining[0]
        if epsilon > 0 and rng.random() < epsilon:
            pick = rng.choice(remaining)
        conditional.append((1 - epsilon) * (pick == remaining[0]) + epsilon / len(remaining))
        chosen.append(pick)
    return chosen, conditional


def simulate(name):
    """Logged slates of one case: per request a greedy order, the slate, clicks, the candidate's list."""
    requests, eligible, slots, epsilon, seed = CASES[name]
    rng = random.Random(seed)
    catalog = list(range(1000, 1000 + 3 * eligible))
    attraction = {item: rng.uniform(0.05, 0.6) for item in catalog}
    examination = [1.0 / (1 + k) ** 0.8 for k in range(slots)]
    slates = []
    for index in range(requests):
        items = rng.sample(catalog, eligible)
        greedy_order = sorted(items, key=lambda item: -(attraction[item] + rng.gauss(0, 0.2)))
        candidate = sorted(items, key=lambda item: -(attraction[item] + rng.gauss(0, 0.15)))[:slots]
        shown, conditional = draw_slate(rng, greedy_order, epsilon, slots)
        clicked = [rng.random() < attraction[item] * examination[k] for k, item in enumerate(shown)]
        table = marginals(greedy_order, epsilon, slots)
        slates.append({
            "request_id": f"{name}-{index}",
            "shown": shown,
            "clicked": clicked,
            "conditional_propensities": conditional,
            "logging_ranking": greedy_order,
            "shown_propensities": [table[(item, k)] for k, item in enumerate(shown)],
            "candidate": candidate,
            "candidate_propensities": [table.get((item, k), 0.0) for k, item in enumerate(candidate)],
        })
    return slates


def reward_model(slates, slots):
    """The sidecar's RewardModel: (clicks(item, k) + rate_k) / (shows(item, k) + 1)."""
    clicks, shows = {}, {}
    position_clicks, position_shows = [0.0] * slots, [0.0] * slots
    for slate in slates:
        for k, item in enumerate(slate["shown"]):
            reward = 1.0 if slate["clicked"][k] else 0.0
            position_clicks[k] += reward
            position_shows[k] += 1
            clicks[(item, k)] = clicks.get((item, k), 0.0) + reward
            shows[(item, k)] = shows.get((item, k), 0.0) + 1
    rates = [c / s if s else 0.0 for c, s in zip(position_clicks, position_shows)]

    def q(item, k):
        if (item, k) not in shows:
            return rates[k]
        return (clicks[(item, k)] + rates[k]) / (shows[(item, k)] + 1)

    return q


def obp_estimates(slates, slots):
    """OBP's IPS, SNIPS and DR on the item-position rounds of `slates`."""
    from obp.ope import DoublyRobust, InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting

    items = sorted({item for s in slates for item in s["shown"] + s["candidate"]})
    index = {item: i for i, item in enumerate(items)}
    q = reward_model(slates, slots)
    rounds = [(s, k) for s in slates for k in range(slots)]
    n = len(rounds)
    action = np.array([index[s["shown"][k]] for s, k in rounds])
    position = np.array([k for _, k in rounds])
    reward = np.array([1.0 if s["clicked"][k] else 0.0 for s, k in rounds])
    pscore = np.array([s["shown_propensities"][k] for s, k in rounds])
    action_dist = np.zeros((n, len(items), slots))
    rewards_hat = np.zeros((n, len(items), slots))
    q_table = np.array([[q(item, k) for k in range(slots)] for item in items])
    for row, (s, _) in enumerate(rounds):
        for k, item in enumerate(s["candidate"]):
            action_dist[row, index[item], k] = 1.0
        rewards_hat[row] = q_table
    common = dict(reward=reward, action=action, position=position, pscore=pscore, action_dist=action_dist)
    return {
        "ips": float(InverseProbabilityWeighting().estimate_policy_value(**common)),
        "snips": float(SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**common)),
        "dr": float(DoublyRobust().estimate_policy_value(**common, estimated_rewards_by_reg_model=rewards_hat)),
        "rounds": n,
    }


def write_logs(slates, directory: pathlib.Path):
    """The sidecar's exposure log (exposure + "ope" record per request) and feedback log."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "exposures.jsonl", "w") as exposures, open(directory / "feedback.jsonl", "w") as feedback:
        for s in slates:
            exposures.write(json.dumps({
                "request_id": s["request_id"], "experiment": "ope", "arm": "control", "forced": False,
                "model": LOGGING_MODEL, "items": s["shown"], "propensities": s["conditional_propensities"],
                "shadow": CANDIDATE}) + "\n")
            deterministic = all(p == 1.0 for p in s["conditional_propensities"])
            record = {"candidate": CANDIDATE, "ranking": s["candidate"]}
            if not deterministic:
                record["logging_ranking"] = s["logging_ranking"]
            exposures.write(json.dumps({"request_id": s["request_id"], "ope": record}) + "\n")
            for item, clicked in zip(s["shown"], s["clicked"]):
                if clicked:
                    feedback.write(json.dumps({"request_id": s["request_id"], "item_id": item, "type": "CLICK",
                                               "value": 0.0}) + "\n")


def sidecar_estimates(recsysctl, directory: pathlib.Path):
    output = subprocess.run(
        [recsysctl, "experiments", "evaluate", "--exposures", str(directory / "exposures.jsonl"),
         "--feedback", str(directory / "feedback.jsonl"), "--candidate", CANDIDATE, "--json"],
        check=True, capture_output=True, text=True).stdout
    group = json.loads(output)["logging_policies"][0]
    return {key: group["point_estimates"][key] for key in ("ips", "snips", "dr")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=pathlib.Path, help="write the golden fixtures here")
    parser.add_argument("--recsysctl", help="compare `recsysctl experiments evaluate` with OBP")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args(argv)
    import obp

    failed = False
    for name, (requests, eligible, slots, epsilon, _) in CASES.items():
        slates = simulate(name)
        expected = obp_estimates(slates, slots)
        print(f"{name}: {requests} requests, {eligible} eligible items, {slots} slots, epsilon {epsilon}; "
              f"obp {obp.__version__}: IPS {expected['ips']:.12f}  SNIPS {expected['snips']:.12f}  "
              f"DR {expected['dr']:.12f}")
        if args.fixtures:
            directory = args.fixtures / name
            write_logs(slates, directory)
            (directory / "expected.json").write_text(json.dumps({
                "generated_by": "tools/ope_oracle.py", "obp_version": obp.__version__,
                "candidate": CANDIDATE, "logging_model": LOGGING_MODEL, "epsilon": epsilon, "slots": slots,
                "obp": expected,
                "slates": [{key: s[key] for key in ("request_id", "shown", "clicked", "shown_propensities",
                                                    "candidate", "candidate_propensities")} for s in slates],
            }) + "\n")
        if args.recsysctl:
            with tempfile.TemporaryDirectory() as work:
                write_logs(slates, pathlib.Path(work))
                got = sidecar_estimates(args.recsysctl, pathlib.Path(work))
            for key in ("ips", "snips", "dr"):
                difference = abs(got[key] - expected[key])
                verdict = "ok" if difference <= args.tolerance else "MISMATCH"
                failed |= difference > args.tolerance
                print(f"  {key:<5} obp {expected[key]:.15f}  recsysctl {got[key]:.15f}  |diff| {difference:.1e}  "
                      f"{verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
