#!/usr/bin/env python3
"""Simulated users against a running recsys-sidecar's A/B experiment.

Each request picks a user ("sim-user-<n>" of --users), asks Recommend, and with the true CTR of the
model that served it (--true-ctr name=p, keyed by the response's model name) reports a Feedback CLICK
on one returned item, then with --purchase-rate a PURCHASE with a value. At the end it reads
GetExperiments over the admin listener and prints per-arm impressions, CTR with its 95 % interval
and the p-value against the control (or, with --json, the ExperimentsStatus as JSON on stdout).

Off-policy evaluation has its own simulator beside this one, tools/ope_check.py: users with a known
click probability per item and position, an exploring dqn as the logging policy and a shadowed
candidate whose estimate from the logs is checked against its true CTR (make ope-check).

Needs grpcio and grpcio-tools (the e2e venv has both: .venv/bin/python); the Python stubs are
generated from protos/ at start. Exit status 0 when every call succeeded, 1 otherwise.

    .venv/bin/python tools/simulate_experiment.py --address 127.0.0.1:50051 --admin 127.0.0.1:50052 \\
        --requests 3000 --users 3000 --true-ctr alpha=0.05 --true-ctr beta=0.20 \\
        --surface home --candidates 100000-100133:7 --history-items 100000-100133:7
"""
import argparse
import collections
import json
import pathlib
import random
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

from proto_stubs import generate_stubs  # noqa: E402  (tools/, this script's folder)


def item_ids(text: str) -> list:
    """"1,2,3", "100000-100133:7" (first-last, inclusive, :step) or a mix: "100000-100070:7,5000000000"."""
    ids = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        span, _, step = part.partition(":")
        first, dash, last = span.partition("-")
        try:
            if dash:
                ids.extend(range(int(first), int(last) + 1, int(step or 1)))
            elif step:
                raise ValueError
            else:
                ids.append(int(first))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not an item id or a range first-last[:step]") from None
    return ids


def true_ctr(text: str):
    name, equals, value = text.partition("=")
    try:
        p = float(value)
    except ValueError:
        p = -1.0
    if not equals or not name or not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected model=probability, e.g. beta=0.2")
    return name, p


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in [0, 1]")
    return value


def floats(text: str) -> list:
    return [float(v) for v in text.split(",") if v.strip()]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1:50051",
                        help="the Recommender listener; several, comma-separated, simulate a fleet: Recommend "
                             "goes round-robin and each Feedback to the next address (the replicas need a shared "
                             "experiment_state, see the README's Fleet)")
    parser.add_argument("--admin", default="127.0.0.1:50052", help="the ModelAdmin listener")
    parser.add_argument("--admin-token", help="bearer token for the admin listener, if it requires one")
    parser.add_argument("--requests", type=int, default=2000, help="Recommend calls to make (default 2000)")
    parser.add_argument("--users", type=int, default=1000, help="distinct users sim-user-0 ... (default 1000)")
    parser.add_argument("--true-ctr", type=true_ctr, action="append", default=[], metavar="MODEL=P",
                        help="probability that a response served by MODEL (the response's model name) gets a "
                             "click; repeatable. A model without one gets no clicks (and is named at the end).")
    parser.add_argument("--purchase-rate", type=probability, default=0.1,
                        help="probability that a click is followed by a PURCHASE (default 0.1)")
    parser.add_argument("--surface", default="", help="the requests' surface (default none)")
    parser.add_argument("--candidates", type=item_ids, default=[],
                        help="item ids to send as candidates, e.g. 100000-100133:7 (default none: the whole "
                             "catalog, for the kinds that rank it)")
    parser.add_argument("--history-items", type=item_ids, default=[],
                        help="item ids each user's history is drawn from (default none: empty histories)")
    parser.add_argument("--history-length", type=int, default=5, help="events per user history (default 5)")
    parser.add_argument("--context", type=floats, default=[], help="context values sent with every request, "
                                                                   "comma-separated (models with C > 0)")
    parser.add_argument("--feature-dim", type=int, default=0,
                        help="F random features per candidate (models with F > 0; default 0)")
    parser.add_argument("--top-k", type=int, default=10, help="items per response (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default 10)")
    parser.add_argument("--json", action="store_true",
                        help="print the final ExperimentsStatus as JSON on stdout (the summary goes to stderr)")
    args = parser.parse_args(argv)
    if args.requests < 0 or args.users < 1 or args.history_length < 0 or args.feature_dim < 0 or args.top_k < 1:
        parser.error("--requests >= 0, --users >= 1, --history-length >= 0, --feature-dim >= 0, --top-k >= 1")
    return args


class Simulation:
    """The users, their fixed histories, and the counts of what was sent."""

    def __init__(self, args, pb):
        self.args, self.pb = args, pb
        # Two streams: which user asks (and the features) does not depend on what earlier users clicked.
        self.rng = random.Random(f"{args.seed}:users")
        self.behaviour = random.Random(f"{args.seed}:clicks")
        self.ctr = dict(args.true_ctr)
        self.served = collections.Counter()     # model name -> responses
        self.arms = collections.Counter()       # (experiment, arm) -> responses
        self.clicks = collections.Counter()     # model name -> responses clicked
        self.purchases = 0
        self.failures = collections.Counter()   # "Recommend NOT_FOUND: ..." -> count
        self.duplicates = 0

    def history(self, user: int):
        """The same history for a user on every request (a seeded draw per user)."""
        pool = self.args.history_items
        if not pool or not self.args.history_length:
            return []
        draw = random.Random(f"{self.args.seed}:{user}")
        items = [draw.choice(pool) for _ in range(self.args.history_length)]
        return [self.pb.Event(item_id=item, type=self.pb.VIEW, timestamp_ms=1_700_000_000_000 + 1000 * i)
                for i, item in enumerate(items)]

    def request(self, index: int):
        user = self.rng.randrange(self.args.users)
        candidates = self.args.candidates
        features = [self.rng.random() for _ in range(len(candidates) * self.args.feature_dim)]
        return self.pb.RecommendRequest(
            request_id=f"sim-{self.args.seed}-{index}", user_id=f"sim-user-{user}", history=self.history(user),
            candidate_item_ids=candidates, candidate_features=features, context=self.args.context,
            top_k=self.args.top_k, surface=self.args.surface)

    def run(self, stubs, grpc):
        for index in range(self.args.requests):
            stub, feedback_stub = stubs[index % len(stubs)], stubs[(index + 1) % len(stubs)]
            try:
                reply = stub.Recommend(self.request(index), timeout=self.args.timeout)
            except grpc.RpcError as error:
                self.failures[f"Recommend {error.code().name}: {error.details()}"] += 1
                continue
            self.served[reply.model] += 1
            self.arms[(reply.experiment, reply.arm)] += 1
            if not reply.items or self.behaviour.random() >= self.ctr.get(reply.model, 0.0):
                continue
            self.clicks[reply.model] += 1
            item = self.behaviour.choice(reply.items).item_id
            events = [(self.pb.CLICK, 0.0)]
            if self.behaviour.random() < self.args.purchase_rate:
                events.append((self.pb.PURCHASE, round(self.behaviour.uniform(5, 100), 2)))
                self.purchases += 1
            for kind, value in events:
                try:
                    answer = feedback_stub.Feedback(self.pb.FeedbackRequest(request_id=reply.request_id, item_id=item,
                                                                   type=kind, value=value),
                                           timeout=self.args.timeout)
                    self.duplicates += answer.duplicate
                except grpc.RpcError as error:
                    self.failures[f"Feedback {error.code().name}: {error.details()}"] += 1

    def summary(self) -> str:
        lines = [f"simulated {self.args.requests} requests from {self.args.users} users (seed {self.args.seed})"]
        for model, count in sorted(self.served.items()):
            lines.append(f"  served by {model or '?'}: {count}, clicked {self.clicks[model]}"
                         f" (true CTR {self.ctr[model] if model in self.ctr else 'not given: no clicks'})")
        for (experiment, arm), count in sorted(self.arms.items()):
            lines.append(f"  routed {experiment or '(no experiment)'}/{arm or '-'}: {count}")
        lines.append(f"  purchases sent: {self.purchases}")
        if self.duplicates:
            lines.append(f"  ! feedback answered duplicate: {self.duplicates}")
        for failure, count in sorted(self.failures.items()):
            lines.append(f"  ! {count} x {failure}")
        return "\n".join(lines)


def results_table(status) -> str:
    """Per experiment and arm: impressions, CTR [95% CI], p against the control (* for p < 0.05)."""
    lines = []
    for experiment in status.experiments:
        lines.append(f"experiment {experiment.key} ({experiment.mode}), control {experiment.control}")
        lines.append(f"  {'arm':<14} {'model':<14} {'impressions':>11} {'clicks':>7}  {'CTR [95% CI]':<26} {'p':>9}"
                     f" {'share':>7}")
        for arm in experiment.arms:
            name = arm.name + (" (holdout)" if arm.holdout and arm.name != "holdout" else "")
            ctr = f"{arm.ctr:.2%} [{arm.ctr_low:.2%}, {arm.ctr_high:.2%}]" if arm.impressions else "-"
            control = arm.name == experiment.control and not arm.holdout
            p = "-" if control or not arm.impressions else (
                "<0.0001" if arm.ctr_p_value < 1e-4 else f"{arm.ctr_p_value:.4f}") + (
                " *" if arm.ctr_p_value < 0.05 else "")
            lines.append(f"  {name:<14} {arm.model:<14} {arm.impressions:>11} {arm.clicks:>7}  {ctr:<26} {p:>9}"
                         f" {arm.traffic_share:>7.1%}")
        if experiment.shadow.model:
            shadow = experiment.shadow
            lines.append(f"  shadow {shadow.model}: compared {shadow.compared}, dropped {shadow.dropped}, "
                         f"mean overlap@k {shadow.mean_overlap_at_k:.3f}, "
                         f"mean rank correlation {shadow.mean_rank_correlation:.3f}")
    log = status.exposure_log
    lines.append(f"exposure log {log.path or '(off)'}: written {log.written}, dropped {log.dropped}; "
                 f"feedback unjoined {status.feedback_unjoined}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    generate_stubs()
    import grpc
    from google.protobuf import json_format
    from recsys.v1 import admin_pb2, admin_pb2_grpc, recommender_pb2, recommender_pb2_grpc

    simulation = Simulation(args, recommender_pb2)
    channels = [grpc.insecure_channel(address.strip()) for address in args.address.split(",") if address.strip()]
    with grpc.insecure_channel(args.admin) as admin_channel:
        simulation.run([recommender_pb2_grpc.RecommenderStub(channel) for channel in channels], grpc)
        for channel in channels:
            channel.close()
        metadata = [("authorization", f"Bearer {args.admin_token}")] if args.admin_token else None
        try:
            status = admin_pb2_grpc.ModelAdminStub(admin_channel).GetExperiments(
                admin_pb2.GetExperimentsRequest(), timeout=args.timeout, metadata=metadata)
        except grpc.RpcError as error:
            print(simulation.summary(), file=sys.stderr)
            print(f"GetExperiments failed: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    if args.json:
        print(simulation.summary(), file=sys.stderr)
        print(json.dumps(json_format.MessageToDict(status, always_print_fields_with_no_presence=True,
                                                   preserving_proto_field_name=True), indent=2))
    else:
        print(simulation.summary())
        print(results_table(status))
    return 1 if simulation.failures else 0


if __name__ == "__main__":
    sys.exit(main())
