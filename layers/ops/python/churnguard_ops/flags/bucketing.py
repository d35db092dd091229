"""Sticky rollout buckets: the same user, flag and salt give the same bucket in every process and language.

The algorithm (reproduce it exactly in another SDK; ``docs/flag-bucketing-vectors.json`` holds vectors)::

    text   = f"{flag_key}:{salt}:{id}"             # the id is the rollout attribute's value as text
    digest = sha1(text encoded as UTF-8).hexdigest()  # 40 lowercase hex digits
    bucket = int(digest[:15], 16) % 100000            # the first 15 hex digits (60 bits) as an integer

``salt`` is the rollout's ``salt``, or the flag key when the rollout names none (an explicit empty salt is
the empty string). A user is in the rollout when ``bucket < threshold`` with ``threshold = round(percentage
* 1000)``: 10 % is buckets 0..9,999, 0.125 % is 0..124. Raising the percentage only adds buckets, so a user in
at 10 % is in at 50 % (monotonic ramps), and nothing depends on the process (Python's ``hash()`` is salted
per process; SHA-1 is not), so a restart never re-randomises membership.
"""
from __future__ import annotations

import hashlib

from churnguard_ops.core.contracts import FLAG_BUCKETS
from churnguard_ops.core.flag_document import BUCKETS_PER_PERCENT


def bucket(flag_key: str, salt: str, user_id: str) -> int:
    """The user's bucket for this flag and salt, in [0, 100000)."""
    digest = hashlib.sha1(f"{flag_key}:{salt}:{user_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:15], 16) % FLAG_BUCKETS


def threshold(percentage: float) -> int:
    """Buckets below this are in a rollout at ``percentage`` (0..100, at most 3 decimals)."""
    return round(percentage * BUCKETS_PER_PERCENT)


def in_rollout(user_bucket: int, percentage: float) -> bool:
    return user_bucket < threshold(percentage)
