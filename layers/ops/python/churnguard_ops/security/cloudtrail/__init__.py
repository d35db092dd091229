"""CloudTrail records as normalized security events, and the readers the CloudTrail detectors share.

Nothing here calls AWS. :func:`normalize` turns one CloudTrail record (an entry of a log file's ``Records``,
the ``detail`` of an EventBridge "AWS API Call via CloudTrail" / "AWS Console Sign In via CloudTrail" event,
or that whole envelope) into the engine's :class:`~churnguard_ops.security.model.Event`; :func:`iter_records`
yields the records of any of those documents. The rules that judge the events are detectors of the one
registry (``security/detectors/``: ``root_activity``, ``admin_policy_attached``, ``cloudtrail_tampering``,
``security_group_open_to_world``, ``s3_public_access``, ``snapshot_shared_externally``, ``backup_tampering``,
``console_brute_force``); they read events through :mod:`.fields`.
"""
from __future__ import annotations

from .fields import console_login_failed
from .record import CLOUDTRAIL_DETAIL_TYPES, CloudTrailRecord, UserIdentity, is_ip, iter_records, normalize

__all__ = ["CLOUDTRAIL_DETAIL_TYPES", "CloudTrailRecord", "UserIdentity", "console_login_failed", "is_ip",
           "iter_records", "normalize"]
