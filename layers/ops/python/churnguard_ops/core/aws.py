"""The one place AWS clients are made (Cloud Custodian's ``local_session`` idea).

Clients are created lazily and cached per (service, region). botocore's *adaptive* retry mode
handles throttling with client-side rate limiting; boto3 itself honours ``AWS_ENDPOINT_URL``, which
is how local runs reach the embedded AWS without any branch in runtime code.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

_RETRIES = {"mode": "adaptive", "max_attempts": 6}
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
            config=Config(retries=_RETRIES, connect_timeout=5, read_timeout=30),
        )


def reset_clients() -> None:
    """Forget cached clients (tests and the local runner change endpoints between runs)."""
    client.cache_clear()
    _session.cache_clear()


def default_region() -> str:
    return _session().region_name or "us-east-1"
