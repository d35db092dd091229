"""Composition root of the security functions: settings + AWS adapters -> the use cases.

The analyzer is built once per execution environment (its detectors and adapters hold no per-event
state in memory: windows and dedup live in DynamoDB), so a warm container pays for it once.
"""
from __future__ import annotations

import functools

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.stores import EventBridgePublisher, S3Documents, SnsNotifier
from churnguard_ops.security.adapters import DynamoAlertStore, DynamoDetectorState, DynamoEventTally
from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.pages import S3HtmlPages
from churnguard_ops.security.quarantine import SqsQuarantine
from churnguard_ops.security.remediation import RemediationPolicy, Remediator
from churnguard_ops.security.report import WeeklyReports
from churnguard_ops.security.service import Analyzer, RemediationActions
from churnguard_ops.security.settings import SecuritySettings
from churnguard_ops.security.waf import DynamoBlockRecords, WafIpSet


def settings() -> SecuritySettings:
    return SecuritySettings()  # tables and queue come from the environment (SECURITY_*)


def analyzer() -> Analyzer:
    return _analyzer(settings().model_dump_json(), aws.default_region())


@functools.lru_cache(maxsize=4)  # per configuration: a changed environment gets its own analyzer
def _analyzer(settings_json: str, region: str) -> Analyzer:
    config = SecuritySettings.model_validate_json(settings_json)
    engine = Engine(build_detectors(config.detectors), DynamoDetectorState(config.state_table, region),
                    dedup_seconds=config.dedup_seconds, suppressions=config.suppressions,
                    lateness_seconds=config.lateness_seconds)
    return Analyzer(engine, DynamoAlertStore(config.table, region, config.alert_retention_days),
                    DynamoEventTally(config.table, region, config.alert_retention_days),
                    EventBridgePublisher(contracts.SECURITY_EVENT_SOURCE, config.event_bus_name, region),
                    SnsNotifier(config.topic_arn, region) if config.topic_arn else None,
                    SqsQuarantine(config.quarantine_queue_url, region))


def remediation() -> RemediationActions:
    config = settings()
    region = aws.default_region()
    if not (config.waf_ip_set_name and config.waf_ip_set_id):
        raise ValueError("SECURITY_WAF_IP_SET_NAME and SECURITY_WAF_IP_SET_ID must be set for remediation")
    remediator = Remediator(RemediationPolicy.model_validate(config.remediation),
                            WafIpSet(config.waf_ip_set_name, config.waf_ip_set_id, config.waf_scope, region),
                            DynamoBlockRecords(config.table, region, audit_retention_days=config.alert_retention_days))
    return RemediationActions(remediator, EventBridgePublisher(contracts.SECURITY_EVENT_SOURCE,
                                                               config.event_bus_name, region),
                              SnsNotifier(config.topic_arn, region) if config.topic_arn else None, utcnow)


def weekly_reports() -> WeeklyReports:
    config = settings()
    region = aws.default_region()
    if not config.reports_bucket:
        raise ValueError("SECURITY_REPORTS_BUCKET must be set for the weekly reports")
    return WeeklyReports(DynamoAlertStore(config.table, region, config.alert_retention_days),
                         DynamoEventTally(config.table, region, config.alert_retention_days),
                         S3Documents(config.reports_bucket, region), S3HtmlPages(config.reports_bucket, region),
                         utcnow, prefix=contracts.SECURITY_REPORTS_PREFIX)
