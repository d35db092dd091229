"""What every normalizer shares: severity from CVSS, tolerant time parsing, and one clear input error."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from churnguard_ops.vulns.model import Cvss, Severity


class ReportFormatError(ValueError):
    """A scanner report that is not the tool's output shape; the message names the tool and what is wrong."""


def severity_from_cvss(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating (FIRST): 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low, 0 none."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "informational"


def severity_without_source(cvss: Cvss | None) -> tuple[Severity, str]:
    """For sources that give no severity (pip-audit): from CVSS when known, else ``unknown`` with the note."""
    if cvss is not None:
        return severity_from_cvss(cvss.score), f"from CVSS {cvss.score} ({cvss.source})"
    return "unknown", "no severity from the source and no CVSS: treated as high for the SLA"


_EVENT_TIME_FORMATS = ("%a %b %d %H:%M:%S.%f UTC %Y", "%a %b %d %H:%M:%S UTC %Y")


def parse_time(value: Any, what: str) -> datetime:
    """A time as the APIs give it: a datetime (boto3), ISO 8601 text, epoch seconds, or the EventBridge detail
    form ``Wed Feb 08 19:24:09.402 UTC 2023``. Naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _EVENT_TIME_FORMATS:
                try:
                    parsed = datetime.strptime(value, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise ReportFormatError(f"{what}: not a time: {value!r}") from None
    else:
        raise ReportFormatError(f"{what}: not a time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def require(mapping: Any, field: str, what: str) -> Any:
    if not isinstance(mapping, dict) or field not in mapping or mapping[field] in (None, ""):
        raise ReportFormatError(f"{what}: missing {field!r}")
    return mapping[field]
