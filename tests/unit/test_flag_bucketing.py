"""Rollout buckets are sticky (same in every process), monotonic in the percentage, and match the shipped vectors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.flags.bucketing import bucket, in_rollout, threshold
from churnguard_ops.flags.evaluator import evaluate

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "flag-bucketing-vectors.json").read_text())["vectors"]
PERCENT = st.integers(min_value=0, max_value=100_000).map(lambda n: n / 1000)


def test_every_shipped_vector_gets_its_bucket_and_membership() -> None:
    assert len(VECTORS) >= 30
    for vector in VECTORS:
        assert bucket(vector["flag"], vector["salt"], vector["id"]) == vector["bucket"], vector
        if "percentage" in vector:
            assert in_rollout(vector["bucket"], vector["percentage"]) is vector["in_rollout"], vector


def test_the_vectors_cover_unicode_empty_salts_and_both_sides_of_each_edge() -> None:
    assert any(not v["id"].isascii() for v in VECTORS)
    assert any(v["salt"] == "" for v in VECTORS)
    edges = {v["bucket"] for v in VECTORS if "percentage" in v}
    assert {124, 125, 9999, 10000} <= edges


def test_thresholds_are_thousandths_of_a_percent() -> None:
    assert (threshold(0), threshold(0.125), threshold(10), threshold(100)) == (0, 125, 10_000, 100_000)


_CHILD = """
import json, sys
from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.flags.evaluator import evaluate
doc = FlagDocument.parse_json(sys.stdin.read())
decisions = [[e.bucket, e.value] for e in
             (evaluate(doc, "new_dashboard_ui", {"user_id": f"u-{n}"}, False) for n in range(300))]
print(json.dumps({"decisions": decisions, "seed_way": [hash(f"u-{n}") % 100 for n in range(300)]}))
"""


def test_buckets_and_decisions_are_the_same_in_processes_with_different_hash_seeds() -> None:
    document = json.dumps({"new_dashboard_ui": {"default": False, "rollout": {"percentage": 50, "value": True}}})
    answers = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "layers" / "ops" / "python")}
        run = subprocess.run([sys.executable, "-c", _CHILD], input=document, env=env, capture_output=True,
                             text=True, check=True)
        answers.append(json.loads(run.stdout))
    assert answers[0]["decisions"] == answers[1]["decisions"]
    here = FlagDocument.parse_json(document)
    assert answers[0]["decisions"] == [[e.bucket, e.value] for e in (
        evaluate(here, "new_dashboard_ui", {"user_id": f"u-{n}"}, False) for n in range(300))]
    assert {value for _, value in answers[0]["decisions"]} == {True, False}  # both sides of 50 % occur
    # the seed's hash(user_id) % 100 in the same two processes: membership moves between them
    assert answers[0]["seed_way"] != answers[1]["seed_way"]


@given(flag=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), salt=st.text(max_size=20),
       user=st.text(min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_a_bucket_is_always_in_range(flag: str, salt: str, user: str) -> None:
    assert 0 <= bucket(flag, salt, user) < 100_000


@given(user=st.text(min_size=1, max_size=40), p=PERCENT, q=PERCENT)
@settings(max_examples=200, deadline=None)
def test_ramps_are_monotonic_a_user_in_at_p_is_in_at_every_higher_percentage(user: str, p: float, q: float) -> None:
    low, high = sorted((p, q))
    user_bucket = bucket("new_dashboard_ui", "new_dashboard_ui", user)
    if in_rollout(user_bucket, low):
        assert in_rollout(user_bucket, high)


@given(percentage=st.sampled_from([0.125, 1, 10, 33.333, 50, 90]), salt=st.text(max_size=8))
@settings(max_examples=6, deadline=None)
def test_the_in_share_of_20000_random_ids_is_close_to_the_percentage(percentage: float, salt: str) -> None:
    ids = [f"user-{n:08d}-{salt}" for n in range(20_000)]
    share = sum(in_rollout(bucket("new_dashboard_ui", salt, i), percentage) for i in ids) / len(ids) * 100
    # binomial sd at 50 % over 20k ids is 0.35 points; 5 sd for every percentage
    tolerance = 5 * (percentage * (100 - percentage) / len(ids)) ** 0.5 + 0.05
    assert abs(share - percentage) <= tolerance, (share, percentage)
