#!/usr/bin/env python3
"""Golden fixtures for the Swift plugin tests: Tests/Fixtures/golden/<fixture>/.

Each fixture directory holds a store-shaped model version ``model/1/{model.json,
weights.safetensors}`` (written with export_store.export_version) and ``cases.json``, a list of
requests with the scores and top-k the PyTorch reference computes for them (float32,
torch.inference_mode).  Expected values are computed from the model *as reloaded from disk*.

Before writing, every case is cross-checked against an independent float64 NumPy implementation of
models.md (tools/recsys_ref/manual.py), and a set of deliberate bugs ("mutations") is checked to
move some expected score by far more than the 1e-4 tolerance, so the fixtures would catch them.
Cases are generated so that adjacent scores around the top-k cut differ by >= MIN_GAP, i.e. the
expected order cannot flip within the tolerance.  Everything is seeded: re-running reproduces the
files byte for byte.

Usage (from anywhere):  python tools/make_fixtures.py [--out Tests/Fixtures/golden]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch

TOOLS = Path(__file__).resolve().parent
from export_store import export_version, load_version, verify_version  # noqa: E402
from recsys_ref.explain import occlusion, sasrec_attention  # noqa: E402
from recsys_ref.kinds import kind as kind_named  # noqa: E402
from recsys_ref.models import (  # noqa: E402
    Request, epsilon_greedy_propensities, epsilon_greedy_slate, init_nontrivial_,
)

REPO = TOOLS.parent
DEFAULT_OUT = REPO / "Tests" / "Fixtures" / "golden"
CREATED = "2025-01-01T00:00:00Z"  # fixed so regeneration is byte-identical
MIN_GAP = 1e-3  # min score gap between neighbours around the top-k cut
CROSS_TOL = 2e-5  # float32 torch vs float64 numpy
MUTATION_MIN = 3e-4  # a mutation must move some score by more than this (3x the 1e-4 tolerance)

N_ITEMS, DIM = 300, 16  # a fixture may set its own "dim"

FIXTURES = [
    dict(name="mlp", kind="mlp", seed=101, hp=dict(context_dim=4, candidate_feature_dim=3, max_history=8),
         arch=dict(hidden=(32, 16)),
         description="golden fixture: mlp, C=4, F=3, hidden 32-16"),
    dict(name="mlp_nofeat", kind="mlp", seed=102, hp=dict(context_dim=0, candidate_feature_dim=0, max_history=8),
         arch=dict(hidden=(24,)), skip_mutations=("features_indexed_by_known_candidates",),
         description="golden fixture: mlp, C=0, F=0, one hidden layer of 24"),
    dict(name="lstm", kind="lstm", seed=201, hp=dict(num_layers=1, max_history=10), arch=dict(lstm_hidden=24),
         description="golden fixture: lstm, 1 layer, hidden 24"),
    dict(name="lstm_2layer", kind="lstm", seed=202, hp=dict(num_layers=2, max_history=10), arch=dict(lstm_hidden=20),
         description="golden fixture: lstm, 2 layers, hidden 20"),
    dict(name="sasrec", kind="sasrec", seed=301, hp=dict(num_blocks=2, num_heads=2, max_history=10),
         arch=dict(d_ff=32), description="golden fixture: sasrec, 2 blocks, 2 heads, d_ff 32"),
    # One block: the last position attends to everything, so the causal mask cannot matter.
    dict(name="sasrec_1block", kind="sasrec", seed=302, hp=dict(num_blocks=1, num_heads=1, max_history=6),
         arch=dict(d_ff=24), skip_mutations=("no_causal_mask",),
         description="golden fixture: sasrec, 1 block, 1 head, d_ff 24"),
    dict(name="dqn", kind="dqn", seed=401, hp=dict(context_dim=4, max_history=8, epsilon=0.0),
         arch=dict(state_hidden=(32, 24), adv_hidden=16),
         description="golden fixture: dqn, C=4, state 32-24, adv hidden 16, epsilon 0"),
    dict(name="two_tower", kind="two_tower", seed=501, hp=dict(context_dim=3, item_feature_dim=2, max_history=8),
         arch=dict(user_hidden=(24,), item_hidden=(20,), tower_dim=12),
         description="golden fixture: two_tower, C=3, item features 2, towers 24 / 20 -> 12"),
    # Issue 19's shape sweep (bench/sweep.py): one point per kind, at the sweep's factor values and
    # max_history 50, with N and d kept small where the factor allows (files stay a few hundred KB).
    dict(name="mlp_sweep_F32", kind="mlp", seed=111, hp=dict(context_dim=16, candidate_feature_dim=32, max_history=50),
         arch=dict(hidden=(256, 128)),
         description="golden fixture: mlp, C=16, F=32, hidden 256-128 (sweep point mlp_A_F32 at d 16)"),
    dict(name="lstm_sweep_layers2", kind="lstm", seed=211, hp=dict(num_layers=2, max_history=50),
         arch=dict(lstm_hidden=64),
         description="golden fixture: lstm, 2 layers, hidden 64 (sweep point lstm_B_layers2 at d 16)"),
    # d 32 (not 16) so that 4 heads keep a head size of 8.
    dict(name="sasrec_sweep_heads4_blocks3", kind="sasrec", seed=311, dim=32,
         hp=dict(num_blocks=3, num_heads=4, max_history=50), arch=dict(d_ff=128),
         description="golden fixture: sasrec, 3 blocks, 4 heads, d 32, d_ff 128 = 4d (sweep points "
                     "sasrec_A_heads4 and sasrec_A_blocks3 at d 32)"),
]

UNKNOWN_POOL = [0, 1, 99999, 100001, 100002, 100003, 100004, 100005, 123456789, 987654321012, 7, 42]


def f32(x):
    """Shortest decimal that round-trips the float32 value (9 significant digits)."""
    return None if x is None else float(f"{x:.9g}")


def make_module(fx, gen):
    torch.manual_seed(fx["seed"])  # buffers (two_tower's item_features) draw from the global generator
    m = kind_named(fx["kind"]).make(N_ITEMS, fx.get("dim", DIM), fx["hp"], fx["arch"])
    return init_nontrivial_(m, gen).eval()


def make_item_ids(rng):
    """Arbitrary int64 SKUs in shuffled order; a few above 2^32 (all < 2^53 so JSON stays exact)."""
    perm = rng.permutation(N_ITEMS)
    ids = [100000 + 7 * int(p) for p in perm]
    for r in range(5, N_ITEMS, 37):
        ids[r] = 5_000_000_000 + 11 * r
    assert len(set(ids)) == N_ITEMS and not set(ids) & set(UNKNOWN_POOL)
    return ids


class CaseGen:
    """Random request pieces over a catalog; every draw comes from one seeded rng."""

    def __init__(self, ref, rng):
        self.ref, self.rng = ref, rng
        self.ids = ref.item_ids
        self.L = ref.max_history
        self.big = [i for i in self.ids if i >= 2 ** 32]
        self.C = ref.hparams.get("context_dim", 0)
        self.F = ref.hparams.get("candidate_feature_dim", 0)

    def known(self, k, avoid=()):
        pool = [i for i in self.ids if i not in set(avoid)]
        return [pool[j] for j in self.rng.choice(len(pool), size=k, replace=False)]

    def unknown(self, k):
        return [UNKNOWN_POOL[j] for j in self.rng.choice(len(UNKNOWN_POOL), size=k, replace=False)]

    def types(self, n):
        return [int(t) for t in self.rng.integers(0, 4, size=n)]

    def floats(self, n):
        return [round(float(x), 3) for x in self.rng.normal(0.0, 1.0, size=n)]

    def insert_randomly(self, base, extra, allow_end=True):
        out = list(base)
        for x in extra:
            out.insert(int(self.rng.integers(0, len(out) + (1 if allow_end else 0))), x)
        return out

    def case(self, name, note, hist, cands, top_k, exclude=False, types=None, context=True, features=True):
        return dict(
            name=name, note=note,
            history_item_ids=[int(i) for i in hist],
            history_types=types if types is not None else self.types(len(hist)),
            candidate_item_ids=[int(c) for c in cands],
            candidate_features=self.floats(len(cands) * self.F) if (features and self.F) else [],
            context=self.floats(self.C) if (context and self.C) else [],
            top_k=int(top_k), exclude_history=bool(exclude))


def run_case(ref, c):
    req = Request(c["history_item_ids"], c["history_types"], c["candidate_item_ids"],
                  c["candidate_features"], c["context"])
    return ref.recommend(req, c["top_k"], c["exclude_history"])


def tie_free(res, c):
    excl = set(c["history_item_ids"]) if c["exclude_history"] else set()
    s = sorted((v for v, i in zip(res.scores, res.item_ids) if v is not None and i not in excl), reverse=True)
    return all(s[i] - s[i + 1] >= MIN_GAP for i in range(min(c["top_k"], len(s) - 1)))


def history_in_top(ref, c, items=None):
    """Would some history item (or one of `items`) be returned if exclusion were off?"""
    res, top = ref.recommend(Request(c["history_item_ids"], c["history_types"], c["candidate_item_ids"],
                                     c["candidate_features"], c["context"]), c["top_k"], False)
    return bool(set(items if items is not None else c["history_item_ids"]) & set(top.item_ids))


def candidate_specs(g: CaseGen):
    """(spec(rng-driven) -> case, requirement(case) -> bool) for candidate-list requests."""
    L = g.L
    specs = []

    def add(fn, req=None):
        specs.append((fn, req))

    add(lambda: g.case("empty_history", "no history: user part is zeros", [], g.known(12), 5))
    add(lambda: g.case("short_history", "3 known history events", g.known(3), g.known(12), 5))
    add(lambda: g.case("history_exactly_L", "len(history) == max_history", g.known(L), g.known(12), 5))
    add(lambda: g.case("history_longer_than_L", "max_history+6 events: only the last max_history count",
                       g.known(L + 6), g.known(12), 5))
    add(lambda: g.case("unknown_history_items", "2 unknown ids inside the history are skipped",
                       g.insert_randomly(g.known(6), g.unknown(2), allow_end=False), g.known(12), 5))

    def skip_before_truncate():
        head, tail = g.known(3), g.known(L - 4)
        hist = head + g.insert_randomly(tail, g.unknown(4))
        return g.case("unknown_history_skipped_before_truncation",
                      "max_history+3 raw events, 4 unknown among the last max_history: skipping unknown ids "
                      "first keeps max_history-1 known events, including the 3 oldest", hist, g.known(12), 5)
    add(skip_before_truncate)
    add(lambda: g.case("unknown_last_history_item", "history ends with 2 unknown ids: the last *known* event is last",
                       g.known(4) + g.unknown(2), g.known(12), 5))
    add(lambda: g.case("all_history_unknown", "every history id unknown: same as empty history",
                       g.unknown(3), g.known(12), 5))

    def repeated():
        a, b, c = g.known(3)
        return g.case("repeated_history_item", "the same item several times counts once per event",
                      [a, b, a, a, c], g.known(12), 5)
    add(repeated)

    def unknown_cands():
        known = g.known(9)
        cands = g.unknown(1) + g.insert_randomly(known, g.unknown(2))
        return g.case("unknown_candidates", "3 unknown candidates (first one at index 0): null scores, listed in "
                      "unknown_item_ids in request order; feature rows stay aligned with request positions",
                      g.known(4), cands, 5)
    add(unknown_cands)
    add(lambda: g.case("all_candidates_unknown", "nothing scored, empty result", g.known(3), g.unknown(3), 5))
    add(lambda: g.case("single_candidate", "one candidate, top_k 3", g.known(3), g.known(1), 3))
    add(lambda: g.case("top_k_larger_than_candidates", "top_k 20 > 6 candidates (one unknown): all known returned",
                       g.known(4), g.insert_randomly(g.known(5), g.unknown(1)), 20))
    add(lambda: g.case("many_candidates", "60 candidates, top_k 10", g.known(5), g.known(60), 10))

    def large_ids():
        big = [g.big[j] for j in g.rng.choice(len(g.big), size=4, replace=False)]
        return g.case("large_item_ids", "item ids above 2^32 in history and candidates",
                      [big[0]] + g.known(2, avoid=big) + [big[1]],
                      g.insert_randomly(g.known(8, avoid=big), big[2:] + [big[0]]), 5)
    add(large_ids)

    def exclude(flag):
        def fn():
            hist = g.known(5)
            picked = [hist[j] for j in g.rng.choice(5, size=3, replace=False)]
            cands = g.insert_randomly(g.known(9, avoid=hist), picked)
            if flag:
                return g.case("exclude_history", "3 history items among the candidates are left out of the result "
                              "(their scores are still in expected.scores)", hist, cands, 5, exclude=True)
            return g.case("history_items_not_excluded_by_default", "exclude_history false: history items "
                          "among the candidates may be returned", hist, cands, 5, exclude=False)
        return fn
    add(exclude(True), lambda c: history_in_top(g.ref, c))
    add(exclude(False), lambda c: history_in_top(g.ref, c))

    def exclude_old():
        hist = g.known(L + 4)
        cands = g.insert_randomly(g.known(8, avoid=hist), [hist[0], hist[-1]])
        return g.case("exclude_history_includes_events_older_than_L",
                      "exclude_history removes every item id of the request's history, also events older than "
                      "the last max_history (here history[0])", hist, cands, 5, exclude=True)
    add(exclude_old, lambda c: history_in_top(g.ref, c, [c["history_item_ids"][0]]))

    if g.C:
        add(lambda: g.case("context_omitted_is_zeros", "empty context -> zeros(C)", g.known(4), g.known(12), 5,
                           context=False))
    if g.F:
        add(lambda: g.case("candidate_features_omitted_are_zeros", "empty candidate_features -> zeros",
                           g.known(4), g.known(12), 5, features=False))
    return specs


def catalog_specs(g: CaseGen):
    """Whole-catalog requests (empty candidate_item_ids) for the sequence kinds."""
    L = g.L
    specs = []

    def k():
        return int(g.rng.integers(2, 16))

    specs.append((lambda: g.case("catalog_empty_history", "whole catalog, no history", [], [], k()), None))
    specs.append((lambda: g.case("catalog_short_history", "whole catalog, 3 events", g.known(3), [], k()), None))
    specs.append((lambda: g.case("catalog_history_shorter_than_L", "whole catalog, max_history-2 events",
                                 g.known(L - 2), [], k()), None))
    specs.append((lambda: g.case("catalog_history_longer_than_L", "whole catalog, max_history+5 events",
                                 g.known(L + 5), [], k()), None))
    specs.append((lambda: g.case("catalog_unknown_history_items", "whole catalog, unknown ids in the history "
                                 "(also last) are skipped", g.insert_randomly(g.known(5), g.unknown(2)) + g.unknown(1),
                                 [], k()), None))
    specs.append((lambda: g.case("catalog_top_k_1", "whole catalog, top_k 1", g.known(4), [], 1), None))
    specs.append((lambda: g.case("catalog_history_not_excluded_by_default", "whole catalog, exclude_history false: "
                                 "a history item is among the top", g.known(int(g.rng.integers(3, L + 1))), [], 20),
                  lambda c: history_in_top(g.ref, c)))
    specs.append((lambda: g.case("catalog_exclude_history", "whole catalog, exclude_history: history items that "
                                 "would rank in the top are skipped", g.known(int(g.rng.integers(3, L + 1))), [], 20,
                                 exclude=True), lambda c: history_in_top(g.ref, c)))
    specs.append((lambda: g.case("catalog_exclude_history_longer_than_L", "whole catalog, max_history+4 events, "
                                 "exclude_history (also the events older than max_history)", g.known(L + 4), [], 20,
                                 exclude=True), lambda c: history_in_top(g.ref, c, c["history_item_ids"][:4])))
    if g.ref.kind == "lstm":
        items = g.known(5)
        specs.append((lambda: g.case("catalog_event_types_all_view", "same items as the next case, all VIEW",
                                     items, [], k(), types=[0] * 5), None))
        specs.append((lambda: g.case("catalog_event_types_all_purchase", "same items as the previous case, "
                                     "all PURCHASE", items, [], k(), types=[3] * 5), None))
    return specs


def generate_cases(ref, rng):
    g = CaseGen(ref, rng)
    specs = candidate_specs(g)
    if ref.registered.whole_catalog:
        specs += catalog_specs(g)
    cases = []
    for fn, req in specs:
        for _ in range(500):
            c = fn()
            res, top = run_case(ref, c)
            if tie_free(res, c) and (req is None or req(c)):
                break
        else:
            raise RuntimeError(f"{ref.kind}: could not generate a tie-free case {c['name']}")
        expected = dict(scores=[f32(s) for s in res.scores], unknown_item_ids=res.unknown_item_ids,
                        top_item_ids=top.item_ids, top_scores=[f32(s) for s in top.scores])
        if ref.kind == "dqn":
            expected["top_propensities"] = epsilon_greedy_propensities(
                res.scores, top.indices, ref.hparams["epsilon"],
                [i for i, iid in enumerate(res.item_ids) if not (c["exclude_history"] and
                                                                 iid in set(c["history_item_ids"]))])
        expected["explanation"] = explanation(ref, c, top.item_ids)
        c["expected"] = expected
        cases.append(c)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), names
    return cases


def explanation(ref, c, items):
    """What explain=true must report for the returned items (tools/recsys_ref/explain.py): the kept
    history positions, each item's occlusion contribution per kept position, and for sasrec the last
    block's head-averaged attention per kept position."""
    positions, contributions = occlusion(ref, c, items)
    out = dict(positions=positions, contributions=[[f32(v) for v in row] for row in contributions])
    if ref.kind == "sasrec":
        out["attention"] = [f32(v) for v in sasrec_attention(ref, c)]
    return out


def cross_check(fx, ref, version_dir, cases):
    """float64 NumPy re-implementation vs the torch expected values, plus bug sensitivity."""
    from safetensors.numpy import load_file as np_load
    sd = {k: v.astype(np.float64) for k, v in np_load(str(version_dir / "weights.safetensors")).items()
          if k != "item_ids"}
    kind = fx["kind"]
    registered = kind_named(kind)

    def max_diff(mut=()):
        worst = 0.0
        for c in cases:
            got = registered.manual_score(sd, ref.item_ids, ref.hparams, c, mut)
            exp = c["expected"]["scores"]
            assert len(got) == len(exp), c["name"]
            for a, b in zip(got, exp):
                assert (a is None) == (b is None), c["name"]
                if a is not None:
                    worst = max(worst, abs(a - b))
        return worst

    base = max_diff()
    if base > CROSS_TOL:
        raise AssertionError(f"{fx['name']}: torch vs numpy float64 differ by {base:.3g}")
    muts = {}
    for m in registered.mutations:
        if m in fx.get("skip_mutations", ()) or (kind == "sasrec" and m == "no_history_limit"):
            continue  # (sasrec cannot run past max_history: pos_emb has max_history rows)
        muts[m] = max_diff((m,))
        if muts[m] < MUTATION_MIN:
            raise AssertionError(f"{fx['name']}: fixtures do not catch mutation {m} (max diff {muts[m]:.3g})")
    return base, muts


def check_lstm_stepwise(ref, cases):
    """nn.LSTM on the whole sequence (reference) == the same nn.LSTM fed one step at a time."""
    m = ref.module
    worst = 0.0
    with torch.inference_mode():
        for c in cases:
            rows, types = ref.kept_history(c["history_item_ids"], c["history_types"])
            if not rows:
                continue
            e = m.item_emb(torch.tensor(rows)) + m.event_emb(torch.tensor(types))
            state = None
            for t in range(len(rows)):
                out, state = m.lstm(e[t].view(1, 1, -1), state)
            z_step = m.proj(out[0, -1])
            z_ref = m.user_vector(torch.tensor(rows), torch.tensor(types))
            worst = max(worst, float((z_step - z_ref).abs().max()))
    assert worst < 1e-5, worst
    return worst


def check_sasrec_masked_batch(ref, cases):
    """Reference (per request) == one padded batch through the same blocks with a causal+padding mask
    built for nn.MultiheadAttention (right padding; padded keys masked)."""
    m = ref.module
    seqs = [ref.kept_history(c["history_item_ids"], c["history_types"])[0] for c in cases]
    seqs = [s for s in seqs if s]
    n = max(len(s) for s in seqs)
    d = m.dim
    with torch.inference_mode():
        x = torch.zeros(len(seqs), n, d)
        for b, s in enumerate(seqs):
            x[b, :len(s)] = m.item_emb(torch.tensor(s)) * d ** 0.5 + m.pos_emb(torch.arange(len(s)))
        causal = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        for blk in m.blocks:
            h = blk.ln1(x)
            a, _ = blk.attn(h, h, h, attn_mask=causal, need_weights=False)
            x = x + a
            x = x + blk.ffn(blk.ln2(x))
        worst = 0.0
        for b, s in enumerate(seqs):
            z_batch = m.ln_f(x[b, len(s) - 1])
            z_ref = m.user_vector(torch.tensor(s))
            worst = max(worst, float((z_batch - z_ref).abs().max()))
    assert worst < 1e-5, worst
    return worst


def propensity_cases():
    """Pure-function fixture for the dqn epsilon-greedy propensities, with a Monte Carlo check."""
    q = [0.9, None, 1.7, -0.3, 1.7, 0.2]  # index 1 unknown; indices 2 and 4 tie -> 2 is greedy first
    specs = [
        ("greedy_epsilon_0", q, 0.0, None, [2, 4, 0]),
        ("greedy_slate_epsilon_0.1", q, 0.1, None, [2, 4, 0, 5]),
        ("explored_slots_epsilon_0.2", q, 0.2, None, [3, 2, 5]),
        ("tie_second_is_not_greedy", q, 0.3, None, [4, 2]),
        ("excluded_candidates_not_eligible", q, 0.25, [0, 3, 4, 5], [4, 5, 0, 3]),
        ("epsilon_1_uniform", q, 1.0, None, [5, 3, 0, 2, 4]),
    ]
    out = []
    for name, qv, eps, elig, chosen in specs:
        out.append(dict(name=name, q_values=qv, epsilon=eps,
                        eligible_indices=elig if elig is not None else [i for i, v in enumerate(qv) if v is not None],
                        chosen_indices=chosen,
                        expected_propensities=[round(p, 12) for p in epsilon_greedy_propensities(qv, chosen, eps,
                                                                                                 elig)]))
    # Monte Carlo: the sampler's empirical per-slot conditional frequencies match the formula.
    rnd = random.Random(7)
    eps, trials = 0.3, 60000
    first, second_given = {}, {}
    for _ in range(trials):
        ch, _ = epsilon_greedy_slate(q, 2, eps, rnd)
        first[ch[0]] = first.get(ch[0], 0) + 1
        if ch[0] == 2:
            second_given[ch[1]] = second_given.get(ch[1], 0) + 1
    for i in (0, 2, 3, 4, 5):
        p = epsilon_greedy_propensities(q, [i], eps)[0]
        assert abs(first.get(i, 0) / trials - p) < 0.01, (i, first.get(i, 0) / trials, p)
    tot = sum(second_given.values())
    for i in (0, 3, 4, 5):
        p = epsilon_greedy_propensities(q, [2, i], eps)[1]
        assert abs(second_given.get(i, 0) / tot - p) < 0.015, (i, second_given.get(i, 0) / tot, p)
    return out


def dump_json(path: Path, obj):
    """A JSON array with one element per line (compact, diff-friendly)."""
    path.write_text("[\n" + ",\n".join(json.dumps(x, separators=(",", ":")) for x in obj) + "\n]\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    index = []
    for fx in FIXTURES:
        fdir = out / fx["name"]
        if fdir.exists():
            shutil.rmtree(fdir)
        gen = torch.Generator().manual_seed(fx["seed"])
        rng = np.random.default_rng(fx["seed"])
        module = make_module(fx, gen)
        ids = make_item_ids(rng)
        vdir = export_version(fdir, "model", 1, fx["kind"], module, ids, fx["hp"], fx["description"], CREATED)
        verify_version(vdir)
        ref, meta = load_version(vdir)  # expected values come from the files on disk
        cases = generate_cases(ref, rng)
        base, muts = cross_check(fx, ref, vdir, cases)
        extra = ""
        if fx["kind"] == "lstm":
            extra = f", stepwise nn.LSTM {check_lstm_stepwise(ref, cases):.1e}"
        if fx["kind"] == "sasrec":
            extra = f", padded batch MHA {check_sasrec_masked_batch(ref, cases):.1e}"
        dump_json(fdir / "cases.json", cases)
        if fx["kind"] == "dqn":
            dump_json(fdir / "propensities.json", propensity_cases())
        all_scores = [abs(s) for c in cases for s in c["expected"]["scores"] if s is not None]
        print(f"{fx['name']:14s} {len(cases):2d} cases, |score| <= {max(all_scores):.2f}, "
              f"numpy64 max diff {base:.1e}{extra}; smallest mutation effect "
              f"{min(muts.values()):.2e} ({min(muts, key=muts.get)})")
        index.append(dict(name=fx["name"], kind=fx["kind"], model_dir=f"{fx['name']}/model/1",
                          cases=f"{fx['name']}/cases.json", num_cases=len(cases), num_items=N_ITEMS,
                          dim=fx.get("dim", DIM),
                          **{k: v for k, v in meta.items() if k not in ("kind", "sha256", "created", "description")},
                          **({"propensities": "dqn/propensities.json"} if fx["kind"] == "dqn" else {})))
    dump_json(out / "index.json", index)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
