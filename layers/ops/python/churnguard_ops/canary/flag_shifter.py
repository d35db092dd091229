"""Set one flag's rollout percentage in one environment, and nothing else.

AppConfig deploys one version of the whole profile per environment at a time, so two releases ramping two
flags of one environment would each read the deployed document, change their flag and deploy: the second
would silently undo the first. The shifter therefore reads, modifies and deploys under a short
per-environment write lock (an item in the release lock table), and refuses to write while a deployment
is in progress; both are ``FlagDeploymentBusy``, which the state machine retries with backoff (queued).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from churnguard_ops.canary.errors import FlagDeploymentBusy, ReleaseInProgress
from churnguard_ops.canary.ports import FlagConfigurations, FlagDeployment, LockEntry, ReleaseLock
from churnguard_ops.core.clock import Clock, utcnow

#: Lock keys of the per-environment write lock (releases hold ``flag:<env>:<key>`` for their whole run).
WRITE_LOCK_PREFIX = "flag-write:"
#: Long enough for read + create version + start deployment; a crashed writer blocks no longer than this.
WRITE_LOCK_SECONDS = 120


class FlagShifter:
    def __init__(self, store: FlagConfigurations, lock: ReleaseLock, clock: Clock = utcnow,
                 propagation_seconds: int = 0) -> None:
        self.store = store
        self.lock = lock
        self.clock = clock
        #: How long after a deployment completes every application has polled it (their cache period + 1 s):
        #: a request's own ``propagation_seconds`` overrides it.
        self.propagation_seconds = propagation_seconds

    def percentage(self, environment: str, key: str) -> float | None:
        """The deployed rollout percentage of ``key`` (None: the flag has no rollout). NotFound: no such flag."""
        from churnguard_ops.core.errors import NotFound

        flag = self.store.deployed(environment).document.get(key)
        if flag is None:
            raise NotFound(f"flag {key} is not in the document deployed to {environment}")
        return flag.rollout.percentage if flag.rollout else None

    def set_percentage(self, environment: str, key: str, percentage: float, release_id: str,
                       guard: Callable[[], bool] | None = None) -> FlagDeployment | None:
        """Deploy the environment's document with only ``key``'s rollout at ``percentage``. Idempotent: a
        retry after a deployment that already carries it returns that deployment. ``guard`` is asked under
        the write lock (the abort path restores under it too): False writes nothing and returns None."""
        with self._write_lock(environment, release_id):
            if guard is not None and not guard():
                return None
            running = self.store.in_progress(environment)
            if running is not None:
                raise FlagDeploymentBusy(f"{environment}: deployment {running.number} is {running.state}; "
                                         "one deployment per environment at a time")
            deployed = self.store.deployed(environment)
            flag = deployed.document.get(key)
            if flag is not None and flag.rollout is not None and flag.rollout.percentage == percentage:
                return deployed.deployment
            document = deployed.document.with_rollout_percentage(key, percentage)  # ValueError names the flag
            what = f"{key} rollout {percentage:g} % ({release_id})"
            version = self.store.create_version(document, what)
            return self.store.deploy(environment, version, what)

    def deployment(self, environment: str, number: int) -> FlagDeployment:
        return self.store.deployment(environment, number)

    @contextmanager
    def _write_lock(self, environment: str, release_id: str) -> Iterator[None]:
        now = self.clock()
        key = f"{WRITE_LOCK_PREFIX}{environment}"
        try:
            self.lock.acquire(LockEntry(key=key, release_id=release_id, new_version="", stable_version="",
                                        started_at=now, expires_at=now + timedelta(seconds=WRITE_LOCK_SECONDS)),
                              now)
        except ReleaseInProgress as exc:
            raise FlagDeploymentBusy(f"{environment}: another release is writing its flags ({exc})") from exc
        try:
            yield
        finally:
            self.lock.release(key, release_id)
