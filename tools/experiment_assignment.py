#!/usr/bin/env python3
"""The sidecar's A/B assignment, written out independently so any service can reproduce it.

The Swift implementation is Sources/Experiments/Bucketing.swift; this file generated
Tests/ExperimentsTests/Vectors/assignment-vectors.json, which the Swift tests compare against.
Standard library only.

    h              = FNV-1a 64-bit over the UTF-8 bytes of key + ":" + salt + ":" + user_id
                     (offset basis 0xcbf29ce484222325, prime 0x100000001b3; no Unicode normalisation)
    bucket         = mix64(h) mod 10000
    holdout_bucket = the same with key + "#holdout" in place of key
    mix64(z)       = SplitMix64's finaliser: z ^= z >> 30; z *= 0xbf58476d1ce4e5b9;
                     z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31   (all mod 2^64)

mix64 is there because FNV-1a's low bits are a function of the low bits of its input alone: raw
FNV mod 10000 is lumpy over ids like "user-1".."user-100000" and, worse, the bucket and the
holdout bucket of one user agree mod 16, so the holdout would not draw evenly from the arms.

Arms (fixed mode) take cumulative ranges of [0, 10000) in config order: arm i gets the buckets
[round(100 * sum of weights before i), round(100 * sum through i)), round half away from zero,
the last arm ending at 10000. A user is in the holdout iff holdout_bucket < round(100 * holdout).

Usage:
    python3 tools/experiment_assignment.py KEY SALT USER_ID      # prints hash, bucket, holdout bucket
    python3 tools/experiment_assignment.py --vectors FILE        # checks a vectors file; exit 1 on a mismatch
    python3 tools/experiment_assignment.py --write-vectors FILE  # writes the published vectors
"""

from __future__ import annotations

import json
import math
import sys

BUCKETS = 10_000
FNV_OFFSET_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a64(text: str) -> int:
    h = FNV_OFFSET_BASIS
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * FNV_PRIME) & MASK64
    return h


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def bucket(key: str, salt: str, user_id: str) -> int:
    return mix64(fnv1a64(f"{key}:{salt}:{user_id}")) % BUCKETS


def holdout_bucket(key: str, salt: str, user_id: str) -> int:
    return bucket(key + "#holdout", salt, user_id)


def round_half_away(x: float) -> int:
    # Python's round() is round-half-even; the published rule (and Swift's .rounded()) is not.
    whole = math.floor(x)
    return int(whole) + (1 if x - whole >= 0.5 else 0)


def arm_upper_bounds(weights: list[float]) -> list[int]:
    bounds, cumulative = [], 0.0
    for weight in weights:
        cumulative += weight
        bounds.append(round_half_away(100 * cumulative))
    bounds[-1] = BUCKETS
    return bounds


def arm_index(weights: list[float], user_bucket: int) -> int:
    return next(i for i, upper in enumerate(arm_upper_bounds(weights)) if user_bucket < upper)


def in_holdout(holdout_percent: float, user_holdout_bucket: int) -> bool:
    return user_holdout_bucket < round_half_away(100 * holdout_percent)


def vector(key: str, salt: str, user_id: str) -> dict:
    h = fnv1a64(f"{key}:{salt}:{user_id}")
    return {
        "key": key,
        "salt": salt,
        "user_id": user_id,
        "hash": f"{h:016x}",
        "mixed": f"{mix64(h):016x}",
        "bucket": bucket(key, salt, user_id),
        "holdout_bucket": holdout_bucket(key, salt, user_id),
    }


def published_cases() -> list[tuple[str, str, str]]:
    cases = []
    for key, salt in [("home-ranker", "2026-11"), ("pdp.reranker_v2", ""), ("a", "s"), ("Exp_9", "salt with spaces")]:
        for user_id in ["user-1", "user-2", "user-42", "user-100000", "u"]:
            cases.append((key, salt, user_id))
    cases += [
        ("home-ranker", "2026-11", ""),                       # defined, though the sidecar never enrolls ""
        ("home-ranker", "2026-12", "user-1"),                 # a new salt re-randomises
        ("home-ranker", "2026-11", "ユーザー"),
        ("home-ranker", "2026-11", "jos\u00e9"),              # NFC é ...
        ("home-ranker", "2026-11", "jose\u0301"),             # ... and NFD é hash differently: bytes, no normalisation
        ("home-ranker", "2026-11", "🦊-7"),
        ("home-ranker", "ünï-çødé", "user-1"),
        ("home-ranker", "2026-11", "a:b"),
        ("home-ranker", "2026-11", " user-1 "),               # whitespace is part of the id
        ("home-ranker", "2026-11", "x" * 200),
        ("search", "0", "9f8e7d6c-5b4a-3210-fedc-ba9876543210"),
        ("search", "0", "12345678901234567890"),
        ("k", "", ""),
        ("k", ":", ":"),
        ("-", "-", "-"),
        ("home-ranker#holdout", "2026-11", "user-1"),          # equals home-ranker's holdout hash input
        ("x.y.z", "2026-11", "Ω≈ç√∫"),
        ("ab", "c", "d\u0000e"),                              # NUL is just a byte
        ("long-key-" + "k" * 50, "s", "user-7"),
        ("home-ranker", "2026-11", "USER-1"),                 # case-sensitive
    ]
    return cases


def check(path: str) -> int:
    with open(path, encoding="utf-8") as file:
        vectors = json.load(file)["vectors"]
    mismatches = 0
    for expected in vectors:
        actual = vector(expected["key"], expected["salt"], expected["user_id"])
        for field in ("hash", "mixed", "bucket", "holdout_bucket"):
            if field in expected and expected[field] != actual[field]:
                mismatches += 1
                print(f"mismatch {field} for {expected['key']!r} {expected['salt']!r} {expected['user_id']!r}: "
                      f"file {expected[field]!r}, computed {actual[field]!r}", file=sys.stderr)
    print(f"{len(vectors)} vectors, {mismatches} mismatches")
    return 1 if mismatches else 0


def write(path: str) -> None:
    document = {
        "about": "bucket = mix64(fnv1a64(key + ':' + salt + ':' + user_id)) % 10000; holdout_bucket uses "
                 "key + '#holdout'. hash is the FNV-1a 64 value, mixed its SplitMix64 finalisation, both hex. "
                 "See tools/experiment_assignment.py.",
        "vectors": [vector(*case) for case in published_cases()],
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(document, file, ensure_ascii=False, indent=1)
        file.write("\n")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--vectors":
        return check(argv[1])
    if len(argv) == 2 and argv[0] == "--write-vectors":
        write(argv[1])
        return 0
    if len(argv) == 3:
        result = vector(*argv)
        print(f"hash={result['hash']} mixed={result['mixed']} bucket={result['bucket']} "
              f"holdout_bucket={result['holdout_bucket']}")
        return 0
    print(__doc__.split("Usage:")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
