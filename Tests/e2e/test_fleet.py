"""Experiments that hold across a fleet (README "Fleet"): three real sidecar processes share one
real redis-server; Recommend goes round-robin, each Feedback to a replica other than the one that
served; replicas restart mid-run (SIGTERM and SIGKILL); every replica's report equals the ground
truth the client kept. Also: Thompson sampling learning from the whole fleet, Redis stopped for
10 s under load, a buffer too small for the outage, and the offline report from the logs."""
import random
import time

import grpc
import pytest

from conftest import recommender_pb2 as pb
from experiment_tools import arm_status, eventually, experiment_status, request, status
from fleet_tools import (Fleet, GroundTruth, Redis, observed, offline_report, state, wait_exposures_written,
                         wait_flushed)
from test_metrics import parse, sample

FIXED = dict(key="fleet", salt="1", match={"surface": ["home"]}, holdout=10, arms=[
    dict(name="control", model="alpha", weight=50), dict(name="treatment", model="beta", weight=50)])
ROWS = ("control", "treatment", "holdout")


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def fleet(tmp_path, redis):
    fleets = []

    def make(config, **kwargs):
        made = Fleet(tmp_path, redis, config, **kwargs)
        fleets.append(made)
        return made

    yield make
    for made in fleets:
        made.stop()


class Client:
    """Round-robin Recommend, Feedback to another replica later, with the ground truth kept."""

    def __init__(self, fleet, seed, click_rate=None, delay=8):
        self.fleet = fleet
        self.offset = 1  # Feedback goes to the replica after the one that served
        self.random = random.Random(seed)
        self.truth = GroundTruth()
        self.served_by = {}
        self.replies = {}
        self.waiting = []  # (due index, request id)
        self.click_rate = click_rate or {"alpha": 0.25, "beta": 0.35, "base": 0.3}
        self.delay = delay
        self.sent = 0
        self.duplicates = 0
        self.failed_recommends = 0
        self.latencies = []

    def recommend(self, index, **fields):
        replica = index % len(self.fleet.replicas)
        started = time.monotonic()
        try:
            reply = self.fleet.replicas[replica].recommend(
                **request(f"user-{index % 400}", request_id=f"r-{index}", **fields))
        except grpc.RpcError:
            self.failed_recommends += 1
            return None
        self.truth.served(reply, counted=not fields.get("forced_arm"))
        self.served_by[reply.request_id] = replica
        self.replies[reply.request_id] = reply
        self.waiting.append((index + self.delay, reply.request_id))
        self.latencies.append(time.monotonic() - started)
        return reply

    def send(self, request_id, item, kind, value=0.0, offset=1):
        """One Feedback to the replica `offset` after the one that served; True when acknowledged."""
        replica = self.fleet.replicas[(self.served_by[request_id] + offset) % len(self.fleet.replicas)]
        answer = replica.stub.Feedback(pb.FeedbackRequest(request_id=request_id, item_id=item, type=kind, value=value),
                                       timeout=10)
        reply = self.replies[request_id]
        assert (answer.experiment, answer.arm) == (reply.experiment, reply.arm)
        already = (request_id, item, kind) in self.truth.events
        assert answer.duplicate == already, (request_id, item, kind)
        self.truth.feedback(request_id, item, kind, value)
        self.sent += 1
        return True

    def react(self, request_id, offset=1):
        """What the simulated user does with a response: maybe clicks, maybe buys, sometimes twice (the
        repeat through yet another replica, or through the same one when `offset` is 0)."""
        again = offset + 1 if offset else 0
        reply = self.replies[request_id]
        if self.random.random() >= self.click_rate.get(reply.model, 0.0):
            return
        item = self.random.choice(reply.items).item_id
        self.send(request_id, item, pb.CLICK, offset=offset)
        if self.random.random() < 0.2:  # the same click again, through the third replica
            self.send(request_id, item, pb.CLICK, offset=again)
            self.duplicates += 1
        if self.random.random() < 0.3:
            value = round(self.random.uniform(5, 120), 2)
            self.send(request_id, item, pb.PURCHASE, value=value, offset=offset)
            if self.random.random() < 0.3:
                self.send(request_id, item, pb.PURCHASE, value=value, offset=again)
                self.duplicates += 1

    def due(self, index):
        ready = [w for w in self.waiting if w[0] <= index]
        self.waiting = [w for w in self.waiting if w[0] > index]
        for _, request_id in ready:
            self.react(request_id, offset=self.offset)

    def finish(self):
        self.due(float("inf"))


def assert_reports_equal_truth(fleet, truth, key="fleet", rows=ROWS):
    for replica in fleet.replicas:
        wait_flushed(replica)
    for replica in fleet.replicas:
        experiment = experiment_status(status(replica), key)
        got = {arm.name: observed(arm) for arm in experiment.arms}
        for name in rows:
            expected = truth.expected(key, name)
            assert got[name]["revenue"] == pytest.approx(expected["revenue"], abs=1e-6), (name, got, expected)
            assert dict(got[name], revenue=0) == dict(expected, revenue=0), (replica.address, name, got, expected)


def test_three_replicas_restarts_and_cross_replica_feedback_match_the_ground_truth(fleet):
    fleet = fleet({"default_model": "base", "experiments": [FIXED]})
    client = Client(fleet, seed=5)
    for index in range(900):
        if index == 300:
            fleet.restart(1)  # SIGTERM: drains, writes what it buffered
        if index == 600:
            fleet.restart(2, kill=True)  # SIGKILL once its buffer is written
        forced = index % 50 == 7
        client.recommend(index, **({"forced_arm": "fleet/treatment"} if forced else {}))
        client.due(index)
    client.finish()
    assert client.failed_recommends == 0
    assert client.duplicates > 10 and client.sent > 200
    truth = client.truth
    assert sum(truth.impressions.values()) == 900 - 18
    assert_reports_equal_truth(fleet, truth)
    # Feedback for a response no replica served is NOT_FOUND everywhere; an item it did not show is
    # INVALID_ARGUMENT on every replica, also those that did not serve it.
    for replica in fleet.replicas:
        with pytest.raises(grpc.RpcError) as failure:
            replica.stub.Feedback(pb.FeedbackRequest(request_id="never", item_id=1, type=pb.CLICK), timeout=10)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as failure:
            replica.stub.Feedback(pb.FeedbackRequest(request_id="r-0", item_id=-5, type=pb.CLICK), timeout=10)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The warehouse path: the same report from the three replicas' (and their predecessors') logs.
    for replica in fleet.replicas:
        wait_exposures_written(replica)
    offline = offline_report(fleet)
    online = experiment_status(status(fleet.replicas[0]), "fleet")
    [run] = offline["experiments"]
    assert (run["key"], run["salt"], run["control"]) == ("fleet", "1", "control")
    assert [arm["name"] for arm in run["arms"]] == [arm.name for arm in online.arms]
    for arm, mine in zip(online.arms, run["arms"]):
        assert {k: mine[k] for k in ("impressions", "clicks", "add_to_carts", "purchases")} == {
            k: getattr(arm, k) for k in ("impressions", "clicks", "add_to_carts", "purchases")}, arm.name
        assert mine["revenue"] == pytest.approx(arm.revenue, abs=1e-6)
        assert mine["ctr_p_value"] == pytest.approx(arm.ctr_p_value, abs=1e-9)
    assert offline["offline"]["feedback_unjoined"] == 0
    # The report says where the state lives; nothing was dropped.
    for replica in fleet.replicas:
        shared = state(replica)
        assert (shared.kind, shared.address, shared.dropped) == ("redis", fleet.redis.url, 0)
        code, out, err = replica.ctl("experiments", "report")
        assert code == 0, err
        assert f"experiment state: redis {fleet.redis.url}" in out, out


def test_thompson_learns_from_the_whole_fleet(fleet):
    # alpha 3 % vs beta 15 % CTR, each replica serving a third of the traffic and hearing about other
    # replicas' clicks only through Redis: the fleet's posterior still moves traffic to beta.
    bandit = dict(key="bandit", salt="1", mode="thompson", min_share=10,
                  arms=[dict(name="control", model="alpha"), dict(name="treatment", model="beta")])
    fleet = fleet({"default_model": "base", "experiments": [bandit]})
    client = Client(fleet, seed=11, click_rate={"alpha": 0.03, "beta": 0.15}, delay=6)
    arms = []
    for index in range(3000):
        reply = client.recommend(index)
        arms.append(reply.arm)
        client.due(index)
    client.finish()
    assert client.failed_recommends == 0
    share = arms[-1000:].count("treatment") / 1000
    assert share >= 0.70, share
    assert_reports_equal_truth(fleet, client.truth, key="bandit", rows=("control", "treatment"))
    for replica in fleet.replicas:
        control, treatment = experiment_status(status(replica), "bandit").arms[:2]
        assert treatment.serving_probability > 0.7, treatment


def dropped_metric(replica):
    return sample(parse(replica.metrics()), "recsys_experiment_state_dropped_total")


def test_redis_stopped_for_10_seconds_loses_nothing_and_recommend_never_fails(fleet, redis):
    fleet = fleet({"default_model": "base", "experiments": [FIXED]})
    client = Client(fleet, seed=23)
    index = 0
    for _ in range(150):
        client.recommend(index)
        client.due(index)
        index += 1
    before = sorted(client.latencies)
    # A response served before the outage, not yet fed back, to be clicked on another replica.
    late = client.replies[f"r-{index - 1}"]
    client.waiting = [w for w in client.waiting if w[1] != late.request_id]

    redis.stop()
    client.offset = 0  # only the serving replica can join feedback without Redis
    outage_started = time.monotonic()
    outage_latencies = len(client.latencies)
    while time.monotonic() - outage_started < 10:
        client.recommend(index)
        client.due(index)
        index += 1
    during = sorted(client.latencies[outage_latencies:])
    # Feedback another replica would have to look up in Redis cannot be recorded: UNAVAILABLE.
    other = fleet.replicas[(client.served_by[late.request_id] + 1) % 3]
    with pytest.raises(grpc.RpcError) as failure:
        other.stub.Feedback(pb.FeedbackRequest(request_id=late.request_id, item_id=late.items[0].item_id,
                                               type=pb.CLICK), timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value.details()
    assert not state(fleet.replicas[0]).reachable
    assert state(fleet.replicas[0]).pending_impressions > 0
    redis.start()

    client.offset = 1
    client.send(late.request_id, late.items[0].item_id, pb.CLICK)  # the retry, once Redis is back
    for _ in range(150):
        client.recommend(index)
        client.due(index)
        index += 1
    client.finish()
    assert client.failed_recommends == 0
    assert len(during) > 100, len(during)
    # Serving never waited on Redis: the outage's p99 stays in the normal range.
    p99 = lambda values: values[int(len(values) * 0.99)]
    assert p99(during) < max(10 * p99(before), 0.05), (p99(before), p99(during))
    assert_reports_equal_truth(fleet, client.truth)
    for replica in fleet.replicas:
        assert state(replica).dropped == 0
        assert dropped_metric(replica) == 0


def test_a_buffer_too_small_for_the_outage_drops_slates_but_never_impressions(fleet, redis):
    fleet = fleet({"default_model": "base", "experiments": [FIXED]}, size=1,
                  extra_args=("--experiment-state-buffer", "5"))
    client = Client(fleet, seed=3, click_rate={})
    replica = fleet.replicas[0]
    for index in range(20):
        client.recommend(index)
    wait_flushed(replica)
    before = state(replica).dropped  # five slates per flush interval: a fast client overflows it already
    redis.stop()
    for index in range(20, 80):
        client.recommend(index)
    eventually(lambda: not state(replica).reachable, what="the replica to notice Redis is down")
    assert state(replica).pending_slates == 5
    redis.start()
    wait_flushed(replica)
    # 60 responses while Redis was down, 5 slates kept: 55 dropped, every impression counted.
    dropped = state(replica).dropped
    assert dropped - before == 55
    assert dropped_metric(replica) == dropped
    assert_reports_equal_truth(fleet, client.truth)
    code, out, err = replica.ctl("experiments", "report")
    assert code == 0 and f"dropped {dropped}" in out, out + err


def test_file_state_keeps_one_instance_results_and_window_across_restarts(tmp_path, start_sidecar):
    """Without Redis: experiment_state file:PATH is written at shutdown (and every 2 s) and read at start."""
    from experiment_tools import start_with_experiments
    snapshot = tmp_path / "state.json"
    args = ("--experiment-state", f"file:{snapshot}")
    sidecar = start_with_experiments(start_sidecar, tmp_path, {"default_model": "base", "experiments": [FIXED]},
                                     extra_args=args)
    truth = GroundTruth()
    replies = [sidecar.recommend(**request(f"user-{i}", request_id=f"f-{i}")) for i in range(60)]
    for reply in replies:
        truth.served(reply)
    for reply in replies[:20]:
        sidecar.stub.Feedback(pb.FeedbackRequest(request_id=reply.request_id, item_id=reply.items[0].item_id,
                                                 type=pb.PURCHASE, value=10.25), timeout=10)
        truth.feedback(reply.request_id, reply.items[0].item_id, pb.PURCHASE, 10.25)
    before = {arm.name: observed(arm) for arm in experiment_status(status(sidecar), "fleet").arms}
    sidecar.stop()
    assert snapshot.exists()

    again = start_sidecar(tmp_path / "store", default_model="base",
                          extra_args=("--experiments", str(sidecar.experiments_path), *args))
    assert {arm.name: observed(arm) for arm in experiment_status(status(again), "fleet").arms} == before
    # The window came back too: a repeat is a duplicate, a new event on an old response joins.
    old = replies[0]
    answer = again.stub.Feedback(pb.FeedbackRequest(request_id=old.request_id, item_id=old.items[0].item_id,
                                                    type=pb.PURCHASE, value=10.25), timeout=10)
    assert answer.duplicate and answer.arm == old.arm
    late = replies[40]
    answer = again.stub.Feedback(pb.FeedbackRequest(request_id=late.request_id, item_id=late.items[1].item_id,
                                                    type=pb.CLICK), timeout=10)
    assert not answer.duplicate
    truth.feedback(late.request_id, late.items[1].item_id, pb.CLICK)
    experiment = experiment_status(status(again), "fleet")
    for arm in experiment.arms:
        expected = truth.expected("fleet", arm.name)
        assert observed(arm) == dict(expected, revenue=pytest.approx(expected["revenue"])), arm.name
    shared = state(again)
    assert (shared.kind, shared.address) == ("file", str(snapshot))


def test_a_hanging_redis_slows_no_recommend_and_loses_nothing(fleet, redis):
    """SIGSTOP: Redis accepts connections but never answers (the slow case, where every Redis call
    runs into its 500 ms timeout) for 3 s; SIGCONT. Commands it received while stopped run afterwards,
    and resends are harmless (batch markers, HSETNX): the counts still equal the ground truth."""
    import os
    import signal
    fleet = fleet({"default_model": "base", "experiments": [FIXED]})
    client = Client(fleet, seed=31)
    index = 0
    for _ in range(120):
        client.recommend(index)
        client.due(index)
        index += 1
    before = sorted(client.latencies)
    first = len(client.latencies)
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        hung = time.monotonic()
        while time.monotonic() - hung < 3:
            client.recommend(index)  # feedback waits until Redis answers again
            index += 1
        during = sorted(client.latencies[first:])
        # Feedback the serving replica can join is accepted (after Redis's timeout) and buffered.
        reply = client.replies[f"r-{index - 1}"]
        started = time.monotonic()
        client.send(reply.request_id, reply.items[0].item_id, pb.CLICK, offset=0)
        assert time.monotonic() - started < 5
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    for _ in range(120):
        client.recommend(index)
        client.due(index)
        index += 1
    client.finish()
    assert client.failed_recommends == 0
    p99 = lambda values: values[int(len(values) * 0.99)]
    assert p99(during) < max(10 * p99(before), 0.05), (p99(before), p99(during))
    assert_reports_equal_truth(fleet, client.truth)


def test_simulate_experiment_drives_a_fleet(fleet):
    """tools/simulate_experiment.py with several addresses: round-robin Recommend, Feedback to the next replica."""
    import json
    import subprocess
    import sys
    from conftest import ROOT
    from experiment_tools import CANDIDATES, HISTORY_ITEMS, item_range
    fleet = fleet({"default_model": "base", "experiments": [FIXED]}, size=2)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools/simulate_experiment.py"),
         "--address", ",".join(r.address for r in fleet.replicas), "--admin", fleet.replicas[1].admin_address,
         "--surface", "home", "--candidates", item_range(CANDIDATES), "--history-items", item_range(HISTORY_ITEMS),
         "--top-k", "5", "--requests", "200", "--users", "200", "--true-ctr", "alpha=0.3", "--true-ctr", "beta=0.3",
         "--true-ctr", "base=0.3", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr  # no failed call, cross-replica feedback included
    for replica in fleet.replicas:
        wait_flushed(replica)
        arms = experiment_status(status(replica), "fleet").arms
        assert sum(arm.impressions for arm in arms) == 200
        assert sum(arm.clicks for arm in arms) > 20
