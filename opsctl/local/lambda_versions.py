"""Lambda versions and aliases for in-process invocations: which version runs, with what configuration.

moto (5.2, no Docker) already keeps the control plane: PublishVersion copies $LATEST's configuration
into an immutable version (environment included), CreateAlias/UpdateAlias store ``FunctionVersion``
and ``RoutingConfig.AdditionalVersionWeights``. What it lacks is the data plane: Invoke of
``name:alias`` never picks a version. ``QualifierResolver`` asks moto through the public API
(GetAlias, GetFunctionConfiguration with a Qualifier) and picks the version as Lambda does: each
additional version with its weight, the alias's primary version with the rest; one random draw per
call, from a generator that tests can seed (``seed()``).

Published versions are immutable, so their configuration is cached until ``clear()``; aliases
change during a canary (that is the point), so they are read on every invocation.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .lambda_runtime import DEFAULT_ACCOUNT_ID, VersionConfig

__all__ = ["QualifierNotFound", "QualifierResolver", "ResolvedInvocation", "pick_version"]

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client on the embedded AWS


class QualifierNotFound(LookupError):
    """The function exists in the control plane, the alias or version does not (AWS: 404)."""


@dataclass(frozen=True)
class ResolvedInvocation:
    """How one invocation runs: the version executed, its configuration, and the metric dimensions."""

    function_name: str
    qualifier: str | None  # as the caller gave it
    alias: str | None  # set when the qualifier named an alias
    config: VersionConfig

    @property
    def executed_version(self) -> str:
        return self.config.version

    @property
    def resource(self) -> str | None:
        """AWS/Lambda's ``Resource`` dimension: ``name:qualifier`` for alias or version invocations."""
        if self.qualifier is None or self.qualifier == "$LATEST":
            return None
        return f"{self.function_name}:{self.qualifier}"


def pick_version(primary: str, weights: Mapping[str, float], draw: float) -> str:
    """The version an alias routes a call to, for a uniform ``draw`` in [0, 1).

    Each additional version takes its weight of the unit interval, in version order; the primary
    version takes the rest (AWS requires the weights to sum to less than 1).
    """
    edge = 0.0
    for version, weight in sorted(weights.items(), key=lambda item: item[0]):
        edge += float(weight)
        if draw < edge:
            return str(version)
    return primary


class QualifierResolver:
    def __init__(self, clients: ClientFactory, seed: int | None = None) -> None:
        self._clients = clients
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._versions: dict[tuple[str, str, str], VersionConfig] = {}

    def seed(self, seed: int | None) -> None:
        """Make alias routing repeatable (tests, demos): the same seed gives the same version sequence."""
        with self._random_lock:
            self._random.seed(seed)

    def clear(self) -> None:
        self._versions.clear()

    def resolve(self, region: str, function_name: str, qualifier: str | None) -> ResolvedInvocation | None:
        """The version to run for ``function_name[:qualifier]``; None when the control plane does not know
        the function (it is only registered in-process: it runs as $LATEST with its registered configuration).

        Raises QualifierNotFound when the function is known but the alias or version is not.
        """
        arn = f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT_ID}:function:{function_name}"
        if qualifier is None or qualifier == "$LATEST":
            return None
        lam = self._clients("lambda", region)
        if qualifier.isdigit():
            config = self._version_config(region, function_name, qualifier, f"{arn}:{qualifier}")
            return ResolvedInvocation(function_name, qualifier, None, config) if config else None
        try:
            alias = lam.get_alias(FunctionName=function_name, Name=qualifier)
        except lam.exceptions.ResourceNotFoundException as exc:
            if not self._known(region, function_name):
                return None
            raise QualifierNotFound(f"{arn}:{qualifier}") from exc
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        with self._random_lock:
            draw = self._random.random()
        version = pick_version(alias["FunctionVersion"], weights, draw)
        if version == "$LATEST":
            config = VersionConfig("$LATEST", invoked_arn=f"{arn}:{qualifier}")
        else:
            found = self._version_config(region, function_name, version, f"{arn}:{qualifier}")
            if found is None:
                raise QualifierNotFound(f"{arn}:{version}")
            config = found
        return ResolvedInvocation(function_name, qualifier, qualifier, config)

    def _known(self, region: str, function_name: str) -> bool:
        lam = self._clients("lambda", region)
        try:
            lam.get_function_configuration(FunctionName=function_name)
            return True
        except lam.exceptions.ResourceNotFoundException:
            return False

    def _version_config(self, region: str, function_name: str, version: str, invoked_arn: str) -> VersionConfig | None:
        key = (region, function_name, version)
        cached = self._versions.get(key)
        if cached is None:
            lam = self._clients("lambda", region)
            try:
                conf = lam.get_function_configuration(FunctionName=function_name, Qualifier=version)
            except lam.exceptions.ResourceNotFoundException as exc:
                if not self._known(region, function_name):
                    return None
                raise QualifierNotFound(f"{function_name}:{version}") from exc
            cached = VersionConfig(
                version=str(conf.get("Version", version)),
                environment=dict((conf.get("Environment") or {}).get("Variables") or {}),
                memory_mb=conf.get("MemorySize"),
                timeout_seconds=conf.get("Timeout"),
            )
            self._versions[key] = cached
        return VersionConfig(cached.version, cached.environment, cached.memory_mb, cached.timeout_seconds,
                             invoked_arn=invoked_arn)


class AliasRevisions:
    """UpdateAlias with ``RevisionId`` as Lambda does it: a stale id fails, every update makes a new one.

    moto 5.2 ignores the RevisionId of UpdateAlias and never changes an alias's RevisionId, so an
    optimistic-concurrency caller (a canary shifting weights) cannot see that someone else moved the
    alias. The precondition is checked through the public API (GetAlias); the new id is written into
    moto's alias object, because no public API sets it (it is the service's own bookkeeping).
    """

    PRECONDITION_MESSAGE = ("The Revision Id provided does not match the latest Revision Id. "
                            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

    def __init__(self, clients: ClientFactory, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._clients = clients
        self.account_id = account_id

    def is_stale(self, region: str, function_name: str, alias: str, revision_id: str) -> bool:
        lam = self._clients("lambda", region)
        try:
            current = lam.get_alias(FunctionName=function_name, Name=alias)
        except lam.exceptions.ResourceNotFoundException:
            return False  # let the control plane answer its own 404
        return bool(current.get("RevisionId")) and current["RevisionId"] != revision_id

    def rotate(self, region: str, function_name: str, alias: str) -> str | None:
        """Give the alias a new RevisionId (after a successful update); returns it."""
        import uuid

        from moto.awslambda.models import lambda_backends
        from moto.awslambda_simple.models import lambda_simple_backends

        # moto's server keeps Lambda in lambda_simple_backends when lambda.use_docker is False
        for backends in (lambda_simple_backends, lambda_backends):
            try:
                found = backends[self.account_id][region].get_alias(alias, function_name)
            except Exception:  # noqa: BLE001 - not in this backend (or gone meanwhile)
                continue
            found.revision_id = str(uuid.uuid4())
            return str(found.revision_id)
        return None
