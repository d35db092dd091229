"""The one place AWS clients are made (Cloud Custodian's ``local_session`` idea).

Clients are created lazily and cached per (service, region). botocore's *adaptive* retry mode
handles throttling with client-side rate limiting; boto3 itself honours ``AWS_ENDPOINT_URL``, which
is how local runs reach the embedded AWS without any branch in runtime code. ``AWS_MAX_ATTEMPTS`` (botocore's
own variable, which an explicit retry config would otherwise override) changes the default of 7 attempts
(the call and 6 retries).
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any

DEFAULT_MAX_ATTEMPTS = 7  # the call and 6 retries
_lock = threading.Lock()


@functools.cache
def _session() -> Any:
    import boto3  # lazy: keeps handler import time close to bare boto3

    return boto3.session.Session()


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    from botocore.config import Config

    with _lock:  # boto3 sessions are not thread-safe while creating clients
        return _session().client(
            service,
            region_name=region,
            config=Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts()}, connect_timeout=5,
                          read_timeout=30),
        )


def max_attempts() -> int:
    """Attempts per call, the first included: ``AWS_MAX_ATTEMPTS`` when it is a whole number >= 1, else 7."""
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) >= 1 else DEFAULT_MAX_ATTEMPTS


def reset_clients() -> None:
    """Forget cached clients (tests and the local runner change endpoints between runs)."""
    client.cache_clear()
    _session.cache_clear()


def default_region() -> str:
    return _session().region_name or "us-east-1"
