"""What the canary stack needs to know of the feature-flag AppConfig resources the flags stack creates.

The flags stack builds one; the canary stack grants its release function the AppConfig actions on exactly
these resources and passes the ids to it (so a flag rollout writes only ChurnGuard's flag profile).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FlagsTarget:
    application_id: str
    profile_id: str
    deployment_strategy_id: str
    #: environment name (``production``) -> AppConfig environment id
    environment_ids: Mapping[str, str]
    #: When every application has seen a deployment: the flags' cache period + 1 s (a flag release's bake
    #: starts this long after each deployment completed, unless its request says otherwise).
    propagation_seconds: int = 0
