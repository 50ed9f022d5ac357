"""A fleet from a test: a real redis-server on a free port, several sidecar replicas sharing it
(one store, one experiments file), and a client that knows the ground truth of what it did."""
import pathlib
import random
import shutil
import socket
import subprocess
import time
import uuid

import grpc

from conftest import Sidecar, free_port, recommender_pb2 as pb
from experiment_tools import eventually, experiments_store, request, status, write_experiments

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    """redis-server --port N --save '' --appendonly no, in its own folder. stop() saves a snapshot
    first (SHUTDOWN SAVE) so that start() brings the same data back: a stopped Redis, not a lost one."""

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.folder / "redis.log", "a")
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--dbfilename", "dump.rdb"], stdout=self.log, stderr=subprocess.STDOUT)
        eventually(lambda: self.ping(), timeout=10, what="redis-server to answer PING")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *args):
        """One command over RESP; returns the raw reply bytes."""
        payload = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(str(a).encode())}\r\n".encode() + str(a).encode() + b"\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(payload)
            return connection.recv(1 << 16)

    def ping(self):
        try:
            return self.command("PING").startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            try:
                self.command("SHUTDOWN", "SAVE")
            except OSError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Fleet:
    """`size` sidecars on one Redis, store and experiments file; each has its own exposure and feedback log."""

    def __init__(self, tmp_path, redis, config, size=3, extra_args=()):
        self.tmp_path = tmp_path
        self.store = experiments_store(tmp_path)
        self.experiments = write_experiments(tmp_path / "experiments.yaml", config)
        self.prefix = f"test-{uuid.uuid4().hex[:8]}:"
        self.redis = redis
        self.extra_args = tuple(extra_args)
        self.logs = tmp_path / "logs"
        self.logs.mkdir(exist_ok=True)
        self.generation = 0
        self.replicas = [self.start(index) for index in range(size)]

    def start(self, index):
        self.generation += 1
        tag = f"{index}-{self.generation}"
        return Sidecar(self.store, default_model="base", extra_args=(
            "--experiments", str(self.experiments), "--experiment-state", self.redis.url,
            "--experiment-state-prefix", self.prefix, "--experiment-state-flush-ms", "20",
            "--exposure-log", str(self.logs / f"exposures-{tag}.jsonl"),
            "--feedback-log", str(self.logs / f"feedback-{tag}.jsonl"), *self.extra_args))

    def restart(self, index, kill=False):
        """SIGTERM (drains and writes what is buffered) or, with kill, SIGKILL after everything
        buffered was written (what SIGKILL loses is what was not yet flushed: README "Fleet")."""
        replica = self.replicas[index]
        if kill:
            wait_flushed(replica)
            wait_exposures_written(replica)
            replica.process.kill()
            replica.process.wait()
        replica.stop()
        self.replicas[index] = self.start(index)
        return self.replicas[index]

    def stop(self):
        for replica in self.replicas:
            replica.stop()


def state(replica):
    return status(replica).experiment_state


def wait_flushed(replica, timeout=30):
    def flushed():
        s = state(replica)
        return s.reachable and s.pending_slates == 0 and s.pending_impressions == 0 and s.pending_feedback == 0 and s
    return eventually(flushed, timeout=timeout, what="the replica's buffered experiment state to be written")


def wait_exposures_written(replica):
    """Until every call answered OK has its exposure line on disk (the log writes every 25 ms)."""
    from test_metrics import parse

    def written():
        served = sum(value for (name, labels), value in parse(replica.metrics()).items()
                     if name == "recsys_requests_total" and ("code", "OK") in labels)
        return status(replica).exposure_log.written == served
    eventually(written, what="every exposure line to be written")


def offline_report(fleet):
    """`recsysctl experiments report --exposures GLOB --feedback GLOB --json` over every replica's logs."""
    from conftest import CTL
    import json
    done = subprocess.run([CTL, "experiments", "report", "--exposures", str(fleet.logs / "exposures-*.jsonl"),
                           "--feedback", str(fleet.logs / "feedback-*.jsonl"), "--experiments",
                           str(fleet.experiments), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class GroundTruth:
    """Per (experiment, arm): what the client served and what it reported, counted the way the
    README defines the report (a response counts one click / add-to-cart / purchase at most;
    revenue sums the first value of each distinct (request, item, PURCHASE))."""

    def __init__(self):
        self.impressions = {}
        self.responses = {}  # request_id -> (experiment, arm, counted)
        self.flags = {}  # request_id -> set of kinds
        self.events = set()  # (request_id, item, kind)
        self.outcomes = {}  # (experiment, arm) -> dict

    def served(self, reply, counted=True):
        key = (reply.experiment, reply.arm)
        self.responses[reply.request_id] = (reply.experiment, reply.arm, counted and bool(reply.experiment))
        if counted and reply.experiment:
            self.impressions[key] = self.impressions.get(key, 0) + 1

    def feedback(self, request_id, item, kind, value=0.0):
        """Call after the sidecar acknowledged it."""
        experiment, arm, counted = self.responses[request_id]
        if (request_id, item, kind) in self.events:
            return
        self.events.add((request_id, item, kind))
        if not counted:
            return
        out = self.outcomes.setdefault((experiment, arm), dict(clicks=0, add_to_carts=0, purchases=0, revenue=0.0))
        flags = self.flags.setdefault(request_id, set())
        name = {pb.CLICK: "clicks", pb.ADD_TO_CART: "add_to_carts", pb.PURCHASE: "purchases"}[kind]
        if kind not in flags:
            flags.add(kind)
            out[name] += 1
        if kind == pb.PURCHASE:
            out["revenue"] += value

    def expected(self, experiment, arm):
        out = self.outcomes.get((experiment, arm), dict(clicks=0, add_to_carts=0, purchases=0, revenue=0.0))
        return dict(impressions=self.impressions.get((experiment, arm), 0), **out)


def observed(arm):
    return dict(impressions=arm.impressions, clicks=arm.clicks, add_to_carts=arm.add_to_carts,
                purchases=arm.purchases, revenue=round(arm.revenue, 6))


def rounded(expected):
    return dict(expected, revenue=round(expected["revenue"], 6))
