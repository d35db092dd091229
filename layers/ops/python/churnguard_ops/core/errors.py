"""Domain errors. Adapters translate botocore ``ClientError`` codes into these."""
from __future__ import annotations

from typing import Any, NoReturn


class OpsError(Exception):
    """Base class: an operation failed in a way the domain understands."""


class Throttled(OpsError):
    """The AWS API kept throttling after botocore's adaptive retries gave up."""


class NotFound(OpsError):
    """The resource does not exist (or is not visible to us)."""


class AlreadyExists(OpsError):
    """A create call found the resource already there; idempotent callers treat it as success."""


class Conflict(OpsError):
    """The resource is in a state that does not allow the operation (quota, invalid state)."""


class AccessDenied(OpsError):
    """IAM or a resource policy refused the call."""


class Unavailable(OpsError):
    """The endpoint could not be reached or did not answer in time (after botocore's retries)."""


class InvalidEvent(OpsError, ValueError):
    """An event that parsed but must not be acted on (stale, from the future); the message names the field."""


class RefusedDeletion(OpsError):
    """A guarded delete found the resource is not ours (its live tags do not prove it)."""


#: Errors worth retrying later; their class names are contracts.TRANSIENT_ERROR_NAMES.
TRANSIENT_ERRORS: tuple[type[OpsError], ...] = (Throttled, Unavailable)


_THROTTLING = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
               "SlowDown", "RequestThrottled", "RequestThrottledException"}
_NOT_FOUND_SUFFIXES = ("NotFound", "NotFoundFault", "NoSuchBucket", "NoSuchKey", "ParameterNotFound")
_ALREADY_EXISTS_SUFFIXES = ("AlreadyExists", "AlreadyExistsFault")
_CONFLICT_MARKERS = ("QuotaExceeded", "InvalidDBSnapshotState", "InvalidDBInstanceState", "LimitExceeded",
                     "InvalidState")


def translate(exc: Exception, what: str) -> Exception:
    """Map a botocore ClientError to a domain error; anything else is returned unchanged."""
    from botocore.exceptions import BotoCoreError

    if isinstance(exc, BotoCoreError):  # connection refused, read timeout, ...: one target's problem
        return Unavailable(f"{what}: {type(exc).__name__}: {exc}")
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return exc
    code = response.get("Error", {}).get("Code", "")
    message = f"{what}: {code}: {response.get('Error', {}).get('Message', '')}".rstrip(": ")
    if code in _THROTTLING:
        return Throttled(message)
    if code.endswith(_NOT_FOUND_SUFFIXES):
        return NotFound(message)
    if code.endswith(_ALREADY_EXISTS_SUFFIXES):
        return AlreadyExists(message)
    if any(marker in code for marker in _CONFLICT_MARKERS):
        return Conflict(message)
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return AccessDenied(message)
    return OpsError(message)


def guarded(what: str, call: Any, **kwargs: Any) -> Any:
    """Call an AWS API; a ClientError comes out as the matching domain error, naming ``what``."""
    try:
        return call(**kwargs)
    except Exception as exc:
        raise_translated(exc, what)


def raise_translated(exc: Exception, what: str) -> NoReturn:
    """Raise the domain error for ``exc``, or ``exc`` itself when it is not an AWS error."""
    translated = translate(exc, what)
    if translated is exc:
        raise exc
    raise translated from exc
