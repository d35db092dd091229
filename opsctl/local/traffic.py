"""A traffic generator: a background thread invoking a function (``churnguard-api:live``) at N requests/second.

Each response's ``ExecutedVersion`` (Lambda's ``X-Amz-Executed-Version``) is counted, with the
function errors per version, so a canary demo can show how an alias split the traffic and what
each version did with it::

    with TrafficGenerator(aws, "churnguard-api:live", rate_per_second=20) as traffic:
        ...                                   # shift the alias, watch the metrics
    print(traffic.stats.by_version)          # Counter({"1": 180, "2": 20})

A flag demo sends requests of many distinct users, so both cohorts of a rollout fill::

    TrafficGenerator(aws, "churnguard-api:live", 20, payload=user_requests(users=3000, seed=7))

Requests are paced on a fixed schedule (no burst to catch up after a slow request), with up to
``concurrency`` in flight: one at a time, the HTTP round trip and the embedded AWS's bookkeeping around
each invocation (~90 ms on a loaded 2-core machine) capped a 50 ms function at ~7 requests/s; four in
flight reach ~17. The local Lambda runtime still runs one handler at a time (os.environ is
process-wide), so the rate stays at most 1000 / latency_ms; ``stats.achieved_rate`` says what it was.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aws import EmbeddedAws

__all__ = ["TIERS", "TrafficGenerator", "TrafficStats", "user_requests"]

#: ChurnGuard's subscription tiers, as a flag rule's condition sees them.
TIERS = ("free", "starter", "professional", "enterprise")


def user_requests(users: int = 3000, seed: int | None = None) -> Callable[[int], dict[str, Any]]:
    """Payloads of users drawn at random from ``users`` distinct ones (``u-0000`` ...), each with a fixed tier."""
    if users < 1:
        raise ValueError("users must be at least 1")
    draw = random.Random(seed)

    def payload(_: int) -> dict[str, Any]:
        user = draw.randrange(users)
        return {"customer_id": f"c-{user:04d}", "user_id": f"u-{user:04d}", "subscription_tier": TIERS[user % 4]}

    return payload


@dataclass
class TrafficStats:
    requests: int = 0
    by_version: Counter[str] = field(default_factory=Counter)
    errors_by_version: Counter[str] = field(default_factory=Counter)
    failed_calls: int = 0  # the Invoke call itself failed (throttled, not found, ...)
    last_failure: str | None = None
    started_at: float = 0.0
    stopped_at: float = 0.0

    @property
    def errors(self) -> int:
        return sum(self.errors_by_version.values())

    @property
    def achieved_rate(self) -> float:
        elapsed = (self.stopped_at or time.monotonic()) - self.started_at
        return self.requests / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_version": dict(self.by_version),
                "errors_by_version": dict(self.errors_by_version), "failed_calls": self.failed_calls,
                "achieved_rate": round(self.achieved_rate, 2)}


class TrafficGenerator:
    def __init__(
        self,
        aws: EmbeddedAws,
        function: str = "churnguard-api:live",
        rate_per_second: float = 10.0,
        *,
        region: str | None = None,
        payload: Callable[[int], dict[str, Any]] | None = None,
        max_requests: int | None = None,
        concurrency: int = 4,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.aws = aws
        self.function = function
        self.rate = rate_per_second
        self.region = region or aws.region
        self.payload = payload or (lambda i: {"customer_id": f"c-{i % 1000:04d}"})
        self.max_requests = max_requests
        self.concurrency = concurrency
        self.stats = TrafficStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TrafficGenerator:
        if self._thread is not None:
            raise RuntimeError("already started")
        self.stats.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.function}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TrafficStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.stats.stopped_at:
            self.stats.stopped_at = time.monotonic()
        return self.snapshot()

    def wait(self) -> TrafficStats:
        """Until ``max_requests`` were sent (a generator without a limit runs until stop())."""
        if self._thread is not None:
            self._thread.join()
        return self.snapshot()

    def snapshot(self) -> TrafficStats:
        with self._lock:
            return TrafficStats(self.stats.requests, Counter(self.stats.by_version),
                                Counter(self.stats.errors_by_version), self.stats.failed_calls,
                                self.stats.last_failure, self.stats.started_at, self.stats.stopped_at)

    def __enter__(self) -> TrafficGenerator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        client = self.aws.clients("lambda", self.region)
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        sent = 0
        in_flight = threading.BoundedSemaphore(self.concurrency)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"traffic-{self.function}") as pool:
            while not self._stop.is_set():
                if self.max_requests is not None and sent >= self.max_requests:
                    break
                delay = next_at - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                while not in_flight.acquire(timeout=0.1):  # all busy: wait for one, not queue more
                    if self._stop.is_set():
                        break
                else:
                    next_at = max(next_at + interval, time.monotonic())
                    pool.submit(self._sent_one, client, sent, in_flight)
                    sent += 1
        with self._lock:  # the pool has drained: every request sent is counted
            self.stats.stopped_at = time.monotonic()

    def _sent_one(self, client: Any, index: int, in_flight: threading.BoundedSemaphore) -> None:
        try:
            self._one(client, index)
        finally:
            in_flight.release()

    def _one(self, client: Any, index: int) -> None:
        try:
            response = client.invoke(FunctionName=self.function, Payload=json.dumps(self.payload(index)).encode())
            response["Payload"].read()
        except Exception as exc:  # noqa: BLE001 - counted: traffic keeps flowing, as a client's would
            with self._lock:
                self.stats.requests += 1
                self.stats.failed_calls += 1
                self.stats.last_failure = f"{type(exc).__name__}: {exc}"
            return
        version = response.get("ExecutedVersion", "$LATEST")
        with self._lock:
            self.stats.requests += 1
            self.stats.by_version[version] += 1
            if response.get("FunctionError"):
                self.stats.errors_by_version[version] += 1
