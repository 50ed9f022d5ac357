"""Behaviour logs -> arrays the trainers and the evaluator share: loading, the leave-last-out split,
and the context / candidate-feature definitions the demo models are trained with.

Format of the log folder: tools/README.md, "Behaviour-log format".

Split (leave-last-out per user): for every user with >= MIN_VIEWS VIEW events the *last VIEW* is the
held-out next item; that event and everything the user did after it are removed from training.
The history of the held-out example is every earlier event of the user.  Impressions of that user at
or after the held-out VIEW are removed too, and so are the impressions of the held-out session shown
at or after the previous VIEW of that session (or all of them when the held-out item is the
session's first): one of them may be the slate whose click led to the held-out item.  Users with
fewer VIEWs are used for training only.

Context (C = 4), computed from the time, device and page of a request:
    [sin(2 pi hour/24), cos(2 pi hour/24), 1 if mobile else 0, 1 if on a product page else 0]
    hour = UTC hour of day (fractional); "on a product page" = the request comes from a product
    detail page (pdp slate; for the held-out next item: the session already had a VIEW before it).
Candidate features (F = 2), per candidate item at request time t:
    [(ln(price) - 4) / 1.5, clip(age_days, 0, 365) / 365]     age_days = (t - launch_ts_ms) / 86 400 000
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EVENT_INDEX = {"VIEW": 0, "CLICK": 1, "ADD_TO_CART": 2, "PURCHASE": 3}
EVENT_NAMES = ("VIEW", "CLICK", "ADD_TO_CART", "PURCHASE")
CONTEXT_DIM = 4
FEATURE_DIM = 2
MIN_VIEWS = 3
DAY_MS = 86_400_000
CONTEXT_DOC = "[sin(2pi h/24), cos(2pi h/24), is_mobile, on_product_page] (h = UTC hour of day)"
FEATURE_DOC = "[(ln(price)-4)/1.5, clip(age_days,0,365)/365] (age from items.csv launch_ts_ms)"


def context_vector(ts_ms, mobile, on_pdp) -> np.ndarray:
    """[..., 4] float32 context for arrays (or scalars) of times, devices and page flags."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    hour = (ts % DAY_MS).astype(np.float64) / 3_600_000.0
    ang = 2.0 * math.pi * hour / 24.0
    return np.stack([np.sin(ang), np.cos(ang), np.asarray(mobile, dtype=np.float64) * np.ones_like(ang),
                     np.asarray(on_pdp, dtype=np.float64) * np.ones_like(ang)], axis=-1).astype(np.float32)


@dataclass
class Logs:
    folder: Path
    # catalog (row r <-> item_ids[r], the order of items.csv)
    item_ids: np.ndarray  # int64 [N]
    category: np.ndarray  # int32 [N]
    categories: list
    price: np.ndarray  # float64 [N]
    launch_ts: np.ndarray  # int64 [N]
    # events, sorted by (user, timestamp, file order)
    users: list  # user index -> user_id
    ev_user: np.ndarray
    ev_session: np.ndarray  # global session index
    ev_ts: np.ndarray
    ev_row: np.ndarray
    ev_type: np.ndarray
    ev_mobile: np.ndarray
    user_start: np.ndarray  # [U + 1] offsets into the event arrays
    sessions: list  # session index -> session_id
    # impressions, sorted by (user, timestamp); slates padded with -1
    imp_user: np.ndarray
    imp_session: np.ndarray
    imp_ts: np.ndarray
    imp_pdp: np.ndarray
    imp_mobile: np.ndarray
    imp_anchor: np.ndarray  # row or -1
    imp_rows: np.ndarray  # [M, S] rows, -1 = padding / unknown item
    imp_click: np.ndarray  # [M, S] 0/1
    imp_purchase: np.ndarray  # [M, S] 0/1
    dropped_unknown_events: int = 0

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def features(self, rows: np.ndarray, ts_ms) -> np.ndarray:
        """[..., 2] float32 candidate features of rows at time(s) ts_ms (broadcast)."""
        rows = np.asarray(rows)
        age = (np.asarray(ts_ms, dtype=np.int64) - self.launch_ts[rows]) / DAY_MS
        return np.stack([(np.log(self.price[rows]) - 4.0) / 1.5, np.clip(age, 0.0, 365.0) / 365.0],
                        axis=-1).astype(np.float32)


def load_logs(folder) -> Logs:
    folder = Path(folder)
    ids, cats, prices, launches = [], [], [], []
    with open(folder / "items.csv", newline="") as f:
        for rec in csv.DictReader(f):
            ids.append(int(rec["item_id"]))
            cats.append(rec["category"])
            prices.append(float(rec["price"]))
            launches.append(int(rec["launch_ts_ms"]))
    item_ids = np.array(ids, dtype=np.int64)
    if len(set(ids)) != len(ids):
        raise ValueError("items.csv: duplicate item_id")
    row_of = {iid: r for r, iid in enumerate(ids)}
    categories = sorted(set(cats))
    cat_index = {c: i for i, c in enumerate(categories)}

    user_index: dict = {}
    session_index: dict = {}
    cols = {k: [] for k in ("user", "session", "ts", "row", "type", "mobile", "order")}
    dropped = 0
    with open(folder / "events.csv", newline="") as f:
        for n, rec in enumerate(csv.DictReader(f)):
            r = row_of.get(int(rec["item_id"]))
            if r is None:
                dropped += 1
                continue
            cols["user"].append(user_index.setdefault(rec["user_id"], len(user_index)))
            cols["session"].append(session_index.setdefault(rec["session_id"], len(session_index)))
            cols["ts"].append(int(rec["timestamp_ms"]))
            cols["row"].append(r)
            cols["type"].append(EVENT_INDEX[rec["event"]])
            cols["mobile"].append(1 if rec.get("device") == "mobile" else 0)
            cols["order"].append(n)
    ev = {k: np.array(v, dtype=np.int64) for k, v in cols.items()}
    order = np.lexsort((ev["order"], ev["ts"], ev["user"]))
    ev = {k: v[order] for k, v in ev.items()}
    n_users = len(user_index)
    user_start = np.searchsorted(ev["user"], np.arange(n_users + 1)).astype(np.int64)

    icols = {k: [] for k in ("user", "session", "ts", "pdp", "mobile", "anchor", "rows", "click", "purchase")}
    max_len = 0
    with open(folder / "impressions.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            u = user_index.get(rec["user_id"])
            if u is None:
                user_index[rec["user_id"]] = u = len(user_index)
            icols["user"].append(u)
            icols["session"].append(session_index.setdefault(rec["session_id"], len(session_index)))
            icols["ts"].append(int(rec["timestamp_ms"]))
            icols["pdp"].append(1 if rec.get("surface") == "pdp" else 0)
            icols["mobile"].append(1 if rec.get("device") == "mobile" else 0)
            a = rec.get("anchor_item_id")
            icols["anchor"].append(row_of.get(int(a), -1) if a is not None else -1)
            icols["rows"].append([row_of.get(int(i), -1) for i in rec["item_ids"]])
            icols["click"].append([int(x) for x in rec["clicked"]])
            icols["purchase"].append([int(x) for x in rec.get("purchased", [0] * len(rec["item_ids"]))])
            max_len = max(max_len, len(rec["item_ids"]))
    m = len(icols["user"])

    def pad(lists, fill):
        out = np.full((m, max_len), fill, dtype=np.int64)
        for i, xs in enumerate(lists):
            out[i, :len(xs)] = xs
        return out

    imp = {k: np.array(icols[k], dtype=np.int64) for k in ("user", "session", "ts", "pdp", "mobile", "anchor")}
    imp_rows, imp_click, imp_purchase = pad(icols["rows"], -1), pad(icols["click"], 0), pad(icols["purchase"], 0)
    order = np.lexsort((imp["ts"], imp["user"]))
    users = [None] * len(user_index)
    for name, i in user_index.items():
        users[i] = name
    sessions = [None] * len(session_index)
    for name, i in session_index.items():
        sessions[i] = name
    if len(users) > n_users:  # users with impressions but no events
        user_start = np.concatenate([user_start, np.full(len(users) - n_users, user_start[-1])])
    return Logs(
        folder, item_ids, np.array([cat_index[c] for c in cats], dtype=np.int32), categories,
        np.array(prices), np.array(launches, dtype=np.int64),
        users, ev["user"], ev["session"], ev["ts"], ev["row"], ev["type"], ev["mobile"], user_start, sessions,
        imp["user"][order], imp["session"][order], imp["ts"][order], imp["pdp"][order], imp["mobile"][order],
        imp["anchor"][order], imp_rows[order], imp_click[order], imp_purchase[order], dropped)


@dataclass
class Split:
    """Training events (a boolean mask over the log's events), training impressions, and one
    held-out example per evaluated user."""

    train_event: np.ndarray  # bool [E]
    train_imp: np.ndarray  # bool [M]
    eval_user: np.ndarray  # [K] user index
    eval_target_row: np.ndarray  # [K]
    eval_hist_end: np.ndarray  # [K] exclusive end (global event index) of the history = target index
    eval_ts: np.ndarray
    eval_mobile: np.ndarray
    eval_pdp: np.ndarray

    def eval_context(self) -> np.ndarray:
        return context_vector(self.eval_ts, self.eval_mobile, self.eval_pdp)


def leave_last_out(logs: Logs, min_views: int = MIN_VIEWS) -> Split:
    train_event = np.ones(len(logs.ev_ts), dtype=bool)
    train_imp = np.ones(len(logs.imp_ts), dtype=bool)
    imp_start = np.searchsorted(logs.imp_user, np.arange(len(logs.users) + 1))
    out = {k: [] for k in ("user", "row", "end", "ts", "mobile", "pdp")}
    for u in range(len(logs.users)):
        s, e = logs.user_start[u], logs.user_start[u + 1]
        views = s + np.flatnonzero(logs.ev_type[s:e] == 0)
        if len(views) < min_views:
            continue
        tgt = int(views[-1])
        sess = logs.ev_session[tgt]
        train_event[tgt:e] = False
        prev_views = views[:-1]
        same = prev_views[logs.ev_session[prev_views] == sess]
        cut_ts = logs.ev_ts[tgt]
        i0, i1 = imp_start[u], imp_start[u + 1]
        its, isess = logs.imp_ts[i0:i1], logs.imp_session[i0:i1]
        drop = its >= cut_ts
        if len(same):
            drop |= (isess == sess) & (its >= logs.ev_ts[same[-1]])
        else:
            drop |= isess == sess
        train_imp[i0:i1] &= ~drop
        out["user"].append(u)
        out["row"].append(int(logs.ev_row[tgt]))
        out["end"].append(tgt)
        out["ts"].append(int(cut_ts))
        out["mobile"].append(int(logs.ev_mobile[tgt]))
        out["pdp"].append(1 if len(same) else 0)
    a = {k: np.array(v, dtype=np.int64) for k, v in out.items()}
    return Split(train_event, train_imp, a["user"], a["row"], a["end"], a["ts"], a["mobile"], a["pdp"])


def history_slice(logs: Logs, user: int, end: int, max_history: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and types of the user's last max_history events before global index end."""
    s = max(int(logs.user_start[user]), end - max_history)
    return logs.ev_row[s:end], logs.ev_type[s:end]
