"""Guards that keep a drill away from production: it may only create, read and delete drill resources."""
from __future__ import annotations

from churnguard_ops.core import contracts
from churnguard_ops.core.contracts import DRILL_INSTANCE_PREFIX, DRILL_SNAPSHOT_PREFIX, MARKER_VALUE
from churnguard_ops.core.rds_model import tags_match
from churnguard_ops.drill.errors import GuardViolation

PURPOSE = contracts.PURPOSE_DRILL


def drill_tags(drill_id: str, source_instance: str, expires_at: str) -> dict[str, str]:
    return {**contracts.DRILL_TAGS, contracts.DRILL_ID_TAG: drill_id, contracts.EXPIRY_TAG: expires_at,
            contracts.SOURCE_INSTANCE_TAG: source_instance}


def is_drill_resource(tags: dict[str, str]) -> bool:
    return tags_match(tags, contracts.DRILL_TAGS)


def require_drill_instance(instance_id: str, source_instance: str, configured: list[str], *,
                           field: str = "restore.instance_id") -> None:
    """The temporary instance must be named as a drill instance and never be a configured source.

    ``field`` names where the id came from in the execution state, so a refusal says what to fix.
    """
    if not instance_id.startswith(DRILL_INSTANCE_PREFIX):
        raise GuardViolation(f"{field}: {instance_id} is not a drill instance (prefix {DRILL_INSTANCE_PREFIX})")
    if instance_id == source_instance or instance_id in configured:
        raise GuardViolation(f"{field}: refusing to use source instance {instance_id} as a drill target")


def require_drill_owned(kind: str, resource_id: str, tags: dict[str, str], drill_id: str | None = None) -> None:
    prefix = DRILL_INSTANCE_PREFIX if kind == "instance" else DRILL_SNAPSHOT_PREFIX
    if not resource_id.startswith(prefix) or not is_drill_resource(tags):
        raise GuardViolation(f"refusing to touch {kind} {resource_id}: not tagged Purpose={PURPOSE} by {MARKER_VALUE}")
    if drill_id is not None and tags.get(contracts.DRILL_ID_TAG) != drill_id:
        raise GuardViolation(f"{kind} {resource_id} belongs to drill {tags.get(contracts.DRILL_ID_TAG)}, "
                             f"not {drill_id}")


def require_distinct_endpoint(restored: tuple[str, int, str], source: tuple[str, int, str]) -> None:
    """Validation must never connect to the source: host, port and database must not all match."""
    if restored == source:
        raise GuardViolation(f"restored endpoint {restored[0]}:{restored[1]}/{restored[2]} is the source's")
