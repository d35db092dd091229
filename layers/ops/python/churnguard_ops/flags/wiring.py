"""Composition root of the flags library: settings + the AppConfig data plane -> one FlagClient per process.

The client is cached so a warm Lambda keeps its document cache (and AppConfig session) between invocations.
"""
from __future__ import annotations

import functools
import random

from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.contracts import FLAGS_METRICS_NAMESPACE
from churnguard_ops.flags.adapters import AppConfigDataSource, FlagEmfMetrics
from churnguard_ops.flags.client import FlagClient
from churnguard_ops.flags.settings import FlagsSettings
from churnguard_ops.flags.store import FlagStore


def build(config: FlagsSettings) -> FlagClient:
    source = AppConfigDataSource(config.application, config.environment, config.profile, config.cache_seconds)
    metrics = FlagEmfMetrics(FLAGS_METRICS_NAMESPACE)
    store = FlagStore(source, utcnow, metrics, cache_seconds=config.cache_seconds,
                      max_stale_seconds=config.max_stale_seconds, application=config.application,
                      environment=config.environment)
    return FlagClient(store, metrics, random.random, exposure_sample_rate=config.exposure_sample_rate)


@functools.cache
def client() -> FlagClient:
    return build(FlagsSettings())
