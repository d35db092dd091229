"""Detectors: one registry, one module per detector, application and CloudTrail events alike.

Importing this package registers every built-in detector (each module uses ``@DETECTORS.register``).
Application detectors judge ``Event.kind == "app"``; the CloudTrail ones (``CloudTrailDetector`` for one
record at a time, ``console_brute_force`` windowed) judge ``kind == "cloudtrail"``.
"""
from . import (  # noqa: F401
    admin_policy_attached,
    backup_tampering,
    brute_force_login,
    cloudtrail_tampering,
    console_brute_force,
    data_exfiltration,
    gdpr_violation_risk,
    privilege_escalation,
    root_activity,
    s3_public_access,
    security_group_open_to_world,
    snapshot_shared_externally,
    unusual_access,
)
from .base import DETECTORS, Detector, DetectorContext, Finding
from .cloudtrail_base import CloudTrailDetector
from .windowed import WindowedCountDetector, WindowedCountParams

#: Detectors of application events.
APP_DETECTORS = ["brute_force_login", "data_exfiltration", "privilege_escalation", "gdpr_violation_risk",
                 "unusual_access"]
#: Detectors of CloudTrail records.
CLOUDTRAIL_DETECTORS = ["root_activity", "admin_policy_attached", "cloudtrail_tampering",
                        "security_group_open_to_world", "s3_public_access", "snapshot_shared_externally",
                        "backup_tampering", "console_brute_force"]
#: The detectors an engine runs when its configuration names none: all of them (each judges only its kind).
DEFAULT_DETECTORS = APP_DETECTORS + CLOUDTRAIL_DETECTORS

__all__ = ["APP_DETECTORS", "CLOUDTRAIL_DETECTORS", "DEFAULT_DETECTORS", "DETECTORS", "CloudTrailDetector", "Detector",
           "DetectorContext", "Finding", "WindowedCountDetector", "WindowedCountParams"]
