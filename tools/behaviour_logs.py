#!/usr/bin/env python3
"""Synthetic e-commerce behaviour logs (catalog, event stream, impressions), seeded.

The files written (schema in tools/README.md, "Behaviour-log format"; real logs in the same
format can be dropped in instead) are

    <out>/items.csv          one row per catalog item (the row order is the model row order)
    <out>/events.csv         the event stream: VIEW / CLICK / ADD_TO_CART / PURCHASE per item
    <out>/impressions.jsonl  the slates shown by the logging policy, with what was clicked/purchased
    <out>/meta.json          generator parameters and counts (informational only)

The world behind them (never written; the models must recover it from behaviour):

* Items: ``n_items`` SKUs (ids ``100000 + 7*r``) in ``n_categories`` categories of skewed size.
  Each item has a latent vector (category centre + noise), a Zipf-like popularity (rank^-1 over a
  random order), a lognormal price around its category's level and a launch time (most before the
  log window, ~6 % during it: new arrivals get a novelty boost that fades over ~10 days).
* Users: a sparse mixture over 1-4 favourite categories, a latent taste vector, a price
  sensitivity, a device preference (mobile/desktop) and an activity level (number of sessions).
* Utility of item i for user u right after item p:
      taste(u,i) + log(cat-mixture(u, cat(i))) + 0.8 log popularity(i) + 2 cos(p, i)
      + novelty(i, t) - price sensitivity(u, device) * price_z(i)
  (the cos term is the sequential signal: the next item tends to resemble the previous one).
* Sessions: start hours follow the device (mobile evenings, desktop office hours), each category
  has a preferred hour; a session has an intent category and 1..30 item interactions.  At session
  start the home page shows a slate (surface "home"); every product page shows a "similar items"
  slate with probability 0.7 (surface "pdp").  The user scans a slate top-down (cascade model: looks
  at position j with prob 0.85^j, clicks with prob sigmoid(utility + 1)); a click opens that item.
  Otherwise the next item is organic (surface "browse"): same intent category w.p. 0.75, else a new
  category; the item is drawn with probability proportional to exp(utility) among launched items.
  Some sessions start by revisiting an item the user clicked or carted before.
* Funnel per opened item: VIEW; CLICK (engagement on the product page) w.p. sigmoid(-0.5 + fit);
  ADD_TO_CART after a click w.p. sigmoid(-2 + fit); purchase of carted items at checkout (end of
  session) w.p. 0.6.  fit = taste - price term.  Gaps: view->click ~8 s, click->cart ~40 s,
  item->item ~45 s, checkout ~90 s after the last item (lognormal); sessions >= 30 min apart.
* Logging policy (what the impressions show; not a model, so the data have exploration):
  home: 4 bestsellers (top 300 by popularity), 3 items from categories the user touched before,
  3 uniformly random items; pdp: 6 items of the anchor's category (popularity^0.5 weighted),
  2 bestsellers, 2 uniformly random; positions shuffled; only launched items; no duplicates.

Usage:  python tools/behaviour_logs.py [--out out/behaviour_logs] [--seed 7] [--items 20000]
            [--users 10000] [--days 28] [--categories 60] [--sample-out DIR --sample-users 25]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "out" / "behaviour_logs"
EVENT_NAMES = ("VIEW", "CLICK", "ADD_TO_CART", "PURCHASE")
WINDOW_START_MS = 1735689600000  # 2025-01-01T00:00:00Z
DAY_MS = 86_400_000
SLATE_SIZE = 10
LATENT = 16
CLICK_BIAS = 1.0  # slate click prob = sigmoid(utility + CLICK_BIAS) per examined position


def item_id_of_row(r):
    return 100000 + 7 * r


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class World:
    def __init__(self, n_items: int, n_categories: int, n_users: int, days: int, seed: int):
        self.rng = rng = np.random.default_rng(seed)
        self.n_items, self.n_cat, self.n_users, self.days = n_items, n_categories, n_users, days
        self.window_end = WINDOW_START_MS + days * DAY_MS

        # Categories: skewed sizes, a latent centre, a price level, a preferred hour.
        size_w = 1.0 / np.arange(1, n_categories + 1) ** 0.7
        size_w = rng.permutation(size_w)
        self.cat_of = rng.choice(n_categories, size=n_items, p=size_w / size_w.sum())
        self.cat_mu = rng.normal(size=(n_categories, LATENT))
        cat_price = rng.uniform(2.0, 6.0, size=n_categories)
        self.cat_hour = rng.uniform(0, 24, size=n_categories)

        # Items.
        raw = self.cat_mu[self.cat_of] + 0.8 * rng.normal(size=(n_items, LATENT))
        self.v = raw / np.linalg.norm(raw, axis=1, keepdims=True)  # unit vectors: cos similarity = dot
        rank = rng.permutation(n_items) + 1
        self.log_pop = -1.0 * np.log(rank)  # Zipf-like popularity
        logp = cat_price[self.cat_of] + 0.5 * rng.normal(size=n_items)
        self.price = np.round(np.exp(logp), 2).clip(0.99, None)
        self.price_z = (np.log(self.price) - np.log(self.price).mean()) / np.log(self.price).std()
        new = rng.random(n_items) < 0.06
        before = WINDOW_START_MS - rng.integers(1, 730, size=n_items) * DAY_MS - rng.integers(0, DAY_MS, size=n_items)
        during = WINDOW_START_MS + rng.integers(0, self.window_end - WINDOW_START_MS - DAY_MS, size=n_items)
        self.launch = np.where(new, during, before).astype(np.int64)
        self.new_rows = np.flatnonzero(self.launch > WINDOW_START_MS - 60 * DAY_MS)
        self._blocked = np.zeros(n_items, dtype=bool)
        self.bestsellers = np.argsort(-self.log_pop, kind="stable")[:300]
        self.cat_rows = [np.flatnonzero(self.cat_of == c) for c in range(n_categories)]
        self.cat_v = [np.ascontiguousarray(self.v[r]) for r in self.cat_rows]

        # Users.
        cat_pop = rng.dirichlet(np.ones(n_categories) * 2.0) * 0.5 + size_w / size_w.sum() * 0.5
        self.cat_pop = cat_pop / cat_pop.sum()
        self.theta = np.zeros((n_users, n_categories))
        for u in range(n_users):
            k = 1 + min(rng.poisson(1.2), 3)
            fav = rng.choice(n_categories, size=k, replace=False, p=self.cat_pop)
            self.theta[u, fav] = rng.dirichlet(np.ones(k)) * 0.9
            self.theta[u] += 0.1 * self.cat_pop
        self.theta /= self.theta.sum(axis=1, keepdims=True)
        w = self.theta @ self.cat_mu + 0.8 * rng.normal(size=(n_users, LATENT))
        self.w = w / np.linalg.norm(w, axis=1, keepdims=True) * 2.5  # taste(u,i) = w_u . v_i in [-2.5, 2.5]
        self.price_sens = rng.normal(0.4, 0.25, size=n_users).clip(0.0, None)
        self.p_mobile = rng.beta(2, 2, size=n_users)
        self.activity = rng.gamma(1.5, 2.0, size=n_users)  # mean sessions - 1

    # -------------------------------------------------------------------------- utility
    # utility(u, i | prev, t, device) = base(u, device)[i] + novelty(t)[i] + 2 cos(prev, i), with
    # base = taste + log cat-mixture + 0.8 log popularity - price sensitivity * price_z.  The parts
    # that do not depend on prev are computed once per session (launch/novelty at session start).

    def user_utility(self, u: int) -> np.ndarray:
        return (self.v @ self.w[u] + np.log(self.theta[u, self.cat_of]) + 0.8 * self.log_pop
                - self.price_sens[u] * self.price_z)

    def session_utility(self, base_u: np.ndarray, t: int, mobile: bool) -> np.ndarray:
        util = base_u - 0.3 * self.price_z if mobile else base_u.copy()
        rows = self.new_rows
        age_days = (t - self.launch[rows]) / DAY_MS
        util[rows] += np.where(age_days >= 0, np.exp(-np.clip(age_days, 0, None) / 10.0), -np.inf)
        return util  # -inf: not launched yet, cannot be seen

    def fit(self, u: int, row: int, mobile: bool) -> float:
        ps = self.price_sens[u] + (0.3 if mobile else 0.0)
        return float(self.v[row] @ self.w[u] - ps * self.price_z[row])

    def sample_category(self, u: int, hour: float) -> int:
        aff = np.exp(0.7 * np.cos(2 * math.pi * (hour - self.cat_hour) / 24.0))
        p = self.theta[u] * aff
        c = np.cumsum(p)
        return int(min(np.searchsorted(c, self.rng.random() * c[-1]), self.n_cat - 1))

    def organic_item(self, util_s: np.ndarray, cat: int, prev: int) -> int:
        rows = self.cat_rows[cat]
        util = util_s[rows]
        if prev >= 0:
            util = util + 2.0 * (self.cat_v[cat] @ self.v[prev])
        p = np.exp(util - util.max())
        c = np.cumsum(p)
        return int(rows[min(np.searchsorted(c, self.rng.random() * c[-1]), len(rows) - 1)])

    # ----------------------------------------------------------------------- logging policy

    def _pick(self, pool: np.ndarray, k: int, logw: np.ndarray, launched: np.ndarray, taken: list) -> list:
        """k distinct launched items of pool not in taken, without replacement, prob ~ exp(logw)
        (Gumbel top-k)."""
        keys = logw + self.rng.gumbel(size=len(pool))
        keys[~launched[pool]] = -np.inf
        if taken:
            self._blocked[taken] = True
            keys[self._blocked[pool]] = -np.inf
            self._blocked[taken] = False
        k = min(k, int(np.isfinite(keys).sum()))
        if k <= 0:
            return []
        idx = np.argpartition(-keys, k - 1)[:k]
        idx = idx[np.argsort(-keys[idx], kind="stable")]
        return [int(x) for x in pool[idx]]

    def slate(self, surface: str, launched: np.ndarray, anchor: int, touched_cats: list) -> list:
        taken: list = [anchor] if anchor >= 0 else []
        out: list = []
        if surface == "home":
            parts = [(self.bestsellers, 4, 1.0)]
            if touched_cats:
                cats = list(dict.fromkeys(touched_cats[::-1]))[:3]
                parts.append((np.concatenate([self.cat_rows[c] for c in cats]), 3, 1.0))
        else:
            parts = [(self.cat_rows[self.cat_of[anchor]], 6, 0.5), (self.bestsellers, 2, 1.0)]
        for pool, k, alpha in parts:
            picked = self._pick(pool, k, alpha * self.log_pop[pool], launched, taken)
            out += picked
            taken += picked
        while len(out) < SLATE_SIZE:
            r = int(self.rng.integers(self.n_items))
            if r not in taken and launched[r]:
                out.append(r)
                taken.append(r)
        return [out[i] for i in self.rng.permutation(len(out))]

    def cascade_click(self, util_s: np.ndarray, slate: list, prev: int) -> int:
        """Index in the slate of the clicked item, or -1."""
        rows = np.asarray(slate)
        util = util_s[rows]
        if prev >= 0:
            util = util + 2.0 * (self.v[rows] @ self.v[prev])
        attract = _sigmoid(util + CLICK_BIAS)
        for j, a in enumerate(attract):
            if j > 0 and self.rng.random() > 0.85:
                return -1
            if self.rng.random() < a:
                return j
        return -1

    # --------------------------------------------------------------------------- sessions

    def session_starts(self, u: int) -> list:
        n = 1 + min(int(self.rng.poisson(self.activity[u])), 19)
        days = np.sort(self.rng.integers(0, self.days, size=n))
        starts = []
        for d in days:
            mobile = self.rng.random() < self.p_mobile[u]
            if mobile:
                hour = (20.0 + 3.0 * self.rng.normal()) if self.rng.random() < 0.7 else (12.5 + 1.5 * self.rng.normal())
            else:
                hour = 14.0 + 3.0 * self.rng.normal()
            ms = int(d) * DAY_MS + int((hour % 24.0) * 3_600_000)
            starts.append((WINDOW_START_MS + ms, mobile))
        starts.sort()
        return starts

    def lognormal_ms(self, median_s: float, sigma: float = 0.6) -> int:
        return max(1000, int(1000 * median_s * math.exp(sigma * self.rng.normal())))


def generate(out: Path, n_items=20000, n_users=10000, days=28, n_categories=60, seed=7, log=print) -> dict:
    t_start = time.time()
    world = World(n_items, n_categories, n_users, days, seed)
    rng = world.rng
    out.mkdir(parents=True, exist_ok=True)

    events = []  # (user_idx, session_no, ts, row, type, device, surface)
    impressions = []
    n_sessions = 0
    for u in range(n_users):
        user_id = f"u{u:06d}"
        touched_cats: list = []
        base_u = world.user_utility(u)
        revisit_pool: list = []  # rows clicked or carted before (not purchased)
        last_end = 0
        for s_no, (start, mobile) in enumerate(world.session_starts(u)):
            t = max(start, last_end + 30 * 60_000)
            if t >= world.window_end - 3_600_000:
                break
            session_id = f"{user_id}-s{s_no:02d}"
            n_sessions += 1
            device = "mobile" if mobile else "desktop"
            hour = (t % DAY_MS) / 3_600_000
            util_s = world.session_utility(base_u, t, mobile)
            launched = np.isfinite(util_s)
            intent = world.sample_category(u, hour)
            n_steps = 1 + min(int(rng.geometric(1 / 5.0)) - 1, 29)
            prev = -1
            cart: list = []
            for step in range(n_steps):
                # The slate shown before choosing the next item: home at session start, pdp on a
                # product page (with probability 0.7).
                slate, surface_slate = None, None
                if step == 0:
                    surface_slate = "home"
                elif rng.random() < 0.7:
                    surface_slate = "pdp"
                if surface_slate:
                    slate = world.slate(surface_slate, launched, prev, touched_cats)
                    click = world.cascade_click(util_s, slate, prev)
                    imp = {"impression_id": f"{session_id}-i{step:02d}", "user_id": user_id,
                           "session_id": session_id, "timestamp_ms": t, "surface": surface_slate,
                           "device": device, "anchor_item_id": item_id_of_row(prev) if prev >= 0 else None,
                           "item_ids": [item_id_of_row(r) for r in slate],
                           "clicked": [0] * SLATE_SIZE, "purchased": [0] * SLATE_SIZE, "_rows": slate}
                    impressions.append(imp)
                    t += world.lognormal_ms(6.0)
                else:
                    click = -1
                if click >= 0:
                    row, surface = slate[click], surface_slate
                    imp["clicked"][click] = 1
                    imp["_click_row"] = row
                elif step == 0 and revisit_pool and rng.random() < 0.25:
                    row, surface = revisit_pool[-1 - int(rng.integers(min(5, len(revisit_pool))))], "browse"
                else:
                    if step > 0 and rng.random() > 0.75:
                        intent = world.sample_category(u, hour)
                    row, surface = world.organic_item(util_s, intent, prev), "browse"
                # Funnel.
                events.append((u, s_no, t, row, 0, device, surface))
                fit = world.fit(u, row, mobile)
                touched_cats.append(int(world.cat_of[row]))
                if rng.random() < _sigmoid(-0.5 + fit):
                    t += world.lognormal_ms(8.0)
                    events.append((u, s_no, t, row, 1, device, "pdp"))
                    revisit_pool.append(row)
                    if rng.random() < _sigmoid(-2.0 + fit) and row not in cart:
                        t += world.lognormal_ms(40.0)
                        events.append((u, s_no, t, row, 2, device, "pdp"))
                        cart.append(row)
                prev = row
                t += world.lognormal_ms(45.0, 0.8)
            # Checkout.
            bought = [r for r in cart if rng.random() < 0.6]
            if bought:
                t += world.lognormal_ms(90.0)
                for k, r in enumerate(bought):
                    events.append((u, s_no, t + 1000 * k, r, 3, device, "checkout"))
                    if r in revisit_pool:
                        revisit_pool = [x for x in revisit_pool if x != r]
                t += 1000 * len(bought)
                bought_set = set(bought)
                for imp in impressions[::-1]:
                    if imp["session_id"] != session_id:
                        break
                    for j, r in enumerate(imp["_rows"]):
                        if r in bought_set and imp["clicked"][j]:
                            imp["purchased"][j] = 1
            last_end = t
        if (u + 1) % 2000 == 0:
            log(f"  users {u + 1}/{n_users}: {len(events)} events, {len(impressions)} impressions "
                f"({time.time() - t_start:.0f} s)")

    # ---------------------------------------------------------------------------- write
    with open(out / "items.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["item_id", "category", "price", "launch_ts_ms"])
        for r in range(n_items):
            wr.writerow([item_id_of_row(r), f"c{int(world.cat_of[r]):03d}", f"{world.price[r]:.2f}",
                         int(world.launch[r])])
    with open(out / "events.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["user_id", "session_id", "timestamp_ms", "item_id", "event", "device", "surface"])
        for (u, s_no, t, row, typ, device, surface) in events:
            wr.writerow([f"u{u:06d}", f"u{u:06d}-s{s_no:02d}", t, item_id_of_row(row), EVENT_NAMES[typ],
                         device, surface])
    with open(out / "impressions.jsonl", "w") as f:
        for imp in impressions:
            rec = {k: v for k, v in imp.items() if not k.startswith("_")}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    types = np.array([e[4] for e in events])
    clicks = sum(sum(i["clicked"]) for i in impressions)
    meta = {
        "generator": "tools/behaviour_logs.py", "seed": seed, "n_items": n_items, "n_categories": n_categories,
        "n_users": n_users, "days": days, "window_start_ms": WINDOW_START_MS, "window_end_ms": world.window_end,
        "n_sessions": n_sessions, "n_events": len(events),
        "events_by_type": {EVENT_NAMES[k]: int((types == k).sum()) for k in range(4)},
        "n_impressions": len(impressions), "slate_size": SLATE_SIZE,
        "slate_ctr": round(clicks / max(1, len(impressions)), 4),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    log(f"  wrote {out} in {time.time() - t_start:.1f} s: {meta['n_events']} events "
        f"{meta['events_by_type']}, {meta['n_impressions']} impressions (slate CTR {meta['slate_ctr']})")
    return meta


def write_sample(full: Path, sample: Path, n_users: int = 25) -> None:
    """A small excerpt of a generated log (the first n_users users, the items they touched) for the
    repository, to show the format."""
    sample.mkdir(parents=True, exist_ok=True)
    users = {f"u{u:06d}" for u in range(n_users)}
    items = set()
    with open(full / "events.csv") as f, open(sample / "events.csv", "w") as g:
        rd = csv.reader(f)
        header = next(rd)
        wr = csv.writer(g)
        wr.writerow(header)
        for row in rd:
            if row[0] in users:
                wr.writerow(row)
                items.add(row[3])
    with open(full / "impressions.jsonl") as f, open(sample / "impressions.jsonl", "w") as g:
        for line in f:
            rec = json.loads(line)
            if rec["user_id"] in users:
                g.write(line)
                items.update(str(i) for i in rec["item_ids"])
    with open(full / "items.csv") as f, open(sample / "items.csv", "w") as g:
        rd = csv.reader(f)
        wr = csv.writer(g)
        wr.writerow(next(rd))
        for row in rd:
            if row[0] in items:
                wr.writerow(row)
    (sample / "README.md").write_text(
        f"An excerpt of `tools/behaviour_logs.py` output (seeded; the first {n_users} users and the items\n"
        "their events and impressions mention), written by `tools/make_demo_store.py` to show the\n"
        "behaviour-log format described in `tools/README.md`. Not used for training: the full logs are\n"
        "regenerated under `out/behaviour_logs/` (git-ignored).\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--categories", type=int, default=60)
    ap.add_argument("--sample-out", type=Path, help="also write a small excerpt here")
    ap.add_argument("--sample-users", type=int, default=25)
    a = ap.parse_args(argv)
    generate(a.out, a.items, a.users, a.days, a.categories, a.seed)
    if a.sample_out:
        write_sample(a.out, a.sample_out, a.sample_users)


if __name__ == "__main__":
    main()
