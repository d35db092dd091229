"""Detectors: one registry, one module per detector.

Importing this package registers every built-in detector (each module uses ``@DETECTORS.register``).
"""
from . import brute_force_login, data_exfiltration, gdpr_violation_risk, privilege_escalation, unusual_access  # noqa: F401
from .base import DETECTORS, Detector, DetectorContext, Finding
from .windowed import WindowedCountDetector, WindowedCountParams

#: The detectors an engine runs when its configuration names none (application events).
DEFAULT_DETECTORS = ["brute_force_login", "data_exfiltration", "privilege_escalation", "gdpr_violation_risk",
                     "unusual_access"]

__all__ = ["DEFAULT_DETECTORS", "DETECTORS", "Detector", "DetectorContext", "Finding", "WindowedCountDetector",
           "WindowedCountParams"]
