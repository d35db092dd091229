"""The backup tick's behaviour, on in-memory ports."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.service import BackupService, UnknownTarget
from churnguard_ops.backup.settings import BackupSettings
from tests.events import load_event
from tests.unit.fakes import (
    FakeParameters,
    FakeSnapshotStore,
    MemoryBuckets,
    MemoryObjects,
    RecordingMetrics,
    ReversibleEncryptor,
    instance,
)

NOW = datetime(2026, 11, 28, 10, 5, tzinfo=timezone.utc)
DR_KEY = "arn:aws:kms:us-west-2:123456789012:key/dr"
CONFIG_KEY = "configuration/ssm/2026/11/28/20261128T0000Z.json"
SLOT_ID = "churnguard-ops-{}-database-20261128t1000"


def settings(**overrides) -> BackupSettings:
    values = dict(db_instance_ids=["db1", "db2"], dr_region="us-west-2", dr_kms_key_id="alias/dr", bucket="backups",
                  kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/backup", dr_bucket="backups-dr",
                  ssm_paths=["/churnguard/"], app_data_buckets=["app-data"], max_copies_in_flight=5)
    values.update(overrides)
    return BackupSettings(**values)


class World:
    def __init__(self, **setting_overrides) -> None:
        self.primary = FakeSnapshotStore("us-east-1", [instance("db1"), instance("db2", multi_az=False)],
                                         clock=lambda: NOW)
        self.dr = FakeSnapshotStore("us-west-2", clock=lambda: NOW)
        self.metrics = RecordingMetrics()
        self.parameters = FakeParameters({"/churnguard/api/url": ("String", "https://api"),
                                          "/churnguard/db/password": ("SecureString", "hunter2-secret")})
        self.objects = MemoryObjects()
        self.buckets = MemoryBuckets()
        self.service = BackupService(settings(**setting_overrides), primary=self.primary, dr=self.dr,
                                     metrics=self.metrics, parameters=self.parameters,
                                     encryptor=ReversibleEncryptor(), objects=self.objects, buckets=self.buckets,
                                     clock=lambda: NOW, dr_encryptor=ReversibleEncryptor(DR_KEY, "us-west-2"))

    def tick(self, name: str = "backup/scheduled-tick-database.json", **overrides):
        return self.service.run(BackupTick.model_validate(load_event(name, **overrides)))


def test_tick_snapshots_every_instance_tagged_and_copies_it_to_the_dr_region():
    world = World()
    report = world.tick()
    assert not report.failures
    for db in ("db1", "db2"):
        snapshot = world.primary.snapshots_by_id[SLOT_ID.format(db)]
        assert snapshot.tags["Purpose"] == "DisasterRecovery"
        assert snapshot.tags["CreatedBy"] == "churnguard-ops"
        assert snapshot.tags["Policy"] == "database"
        assert snapshot.tags["RetentionDate"] == "2026-12-28T10:00:00+00:00"
        copy = world.dr.snapshots_by_id[SLOT_ID.format(db)]
        assert copy.tags["RetentionDate"] == snapshot.tags["RetentionDate"]
        assert copy.tags["CopiedFrom"] == snapshot.arn


def test_duplicate_delivery_of_the_same_tick_leaves_one_snapshot_and_succeeds():
    world = World()
    world.tick()
    second = world.tick(time="2026-11-28T10:00:07Z")  # redelivered event, same hourly slot
    assert not second.failures
    assert {o.status for o in second.outcomes if o.action == "snapshot"} == {"exists"}
    assert len([s for s in world.primary.snapshots_by_id.values() if s.source_instance == "db1"]) == 1


def test_throttled_instance_fails_alone_and_the_next_delivery_retries_it():
    world = World()
    world.primary.throttle_instances.add("db1")
    report = world.tick()
    by_target = {o.target: o for o in report.outcomes if o.action == "snapshot"}
    assert by_target["db1"].status == "failed" and "Throttling" in by_target["db1"].detail
    assert by_target["db2"].status == "succeeded"
    assert world.metrics.value("BackupTargetsFailed", Policy="database") == 1

    world.primary.throttle_instances.clear()
    retry = world.tick()
    assert not retry.failures
    assert SLOT_ID.format("db1") in world.primary.snapshots_by_id


def test_expired_own_snapshots_are_pruned_in_both_regions_and_foreign_ones_are_left_alone():
    world = World()
    expired = (NOW - timedelta(days=2)).isoformat()
    for store in (world.primary, world.dr):
        for days in (1, 2, 3):
            store.add_backup("db1", NOW - timedelta(hours=days), RetentionDate=(NOW + timedelta(days=20)).isoformat())
        old_own = store.add_backup("db1", NOW - timedelta(days=40), RetentionDate=expired).snapshot_id
        store.add("old-foreign", "db1", ours=False, RetentionDate=expired)
    world.tick()
    assert world.primary.deleted_snapshots == [old_own] and world.dr.deleted_snapshots == [old_own]
    assert "old-foreign" in world.primary.snapshots_by_id and "old-foreign" in world.dr.snapshots_by_id


def test_copies_beyond_the_in_flight_limit_are_deferred_not_failed():
    world = World(max_copies_in_flight=1)
    world.dr.copy_status = "creating"
    report = world.tick()
    copies = {o.target: o.status for o in report.outcomes if o.action == "copy"}
    assert copies == {"db1": "succeeded", "db2": "deferred"}
    assert not report.failures


def test_quota_exhausted_region_fails_the_snapshot_with_a_clear_reason_and_warns():
    world = World(manual_snapshot_quota=3)
    for i in range(3):
        world.primary.add(f"foreign-{i}", "other", ours=False)
    report = world.tick()
    failed = [o for o in report.outcomes if o.failed and o.action == "snapshot"]
    assert len(failed) == 2 and "no manual-snapshot headroom" in failed[0].detail
    assert world.metrics.value("ManualSnapshotQuotaUsedRatio", Region="us-east-1") == 1.0


def test_freshness_restorable_lag_and_posture_are_published_per_instance():
    world = World()
    world.primary.instances_by_id["db1"] = instance("db1", latest_restorable_time=NOW - timedelta(minutes=4),
                                              performance_insights=False)
    report = world.tick()
    assert world.metrics.value("RestorableLagSeconds", DBInstanceIdentifier="db1") == 240
    assert world.metrics.value("SnapshotAgeSeconds", DBInstanceIdentifier="db1") == 0
    assert world.metrics.value("PostureViolations", DBInstanceIdentifier="db1") == 1
    assert world.metrics.value("PostureViolations", DBInstanceIdentifier="db2") == 1  # single-AZ
    failing = {(f.instance_id, f.check) for f in report.posture if not f.passed}
    assert failing == {("db1", "performance_insights"), ("db2", "multi_az")}


def test_manual_event_naming_an_unconfigured_instance_is_refused():
    world = World()
    event = load_event("backup/manual-run-database.json", time=NOW.isoformat())
    event["detail"]["db_instance_ids"] = ["someone-elses-db"]
    with pytest.raises(UnknownTarget, match="someone-elses-db"):
        world.service.run(BackupTick.model_validate(event))
    assert world.primary.snapshots_by_id == {}


def test_configuration_export_goes_to_both_buckets_without_plaintext_secrets():
    world = World()
    report = world.tick("backup/scheduled-tick-configuration.json")
    assert not report.failures
    assert {o.data["bucket"] for o in report.outcomes} == {"backups", "backups-dr"}
    body = world.objects.objects[("backups", "configuration/ssm/2026/11/28/20261128T0000Z.json")]
    assert b"hunter2-secret" not in body
    exported = {p["Name"]: p for p in json.loads(body)["parameters"]}
    assert exported["/churnguard/api/url"]["Value"] == "https://api"
    secret = exported["/churnguard/db/password"]
    assert "Value" not in secret and ReversibleEncryptor.decrypt(secret["CiphertextBlob"]) == "hunter2-secret"
    assert world.objects.regions["backups-dr"] == "us-west-2"


def test_dr_configuration_copy_encrypts_secure_strings_under_the_dr_key_and_names_it():
    world = World()
    report = world.tick("backup/scheduled-tick-configuration.json")
    assert not report.failures
    primary = json.loads(world.objects.objects[("backups", CONFIG_KEY)])
    dr = json.loads(world.objects.objects[("backups-dr", CONFIG_KEY)])
    context = {"churnguard:parameter": "/churnguard/db/password"}
    secret = {p["Name"]: p for p in dr["parameters"]}["/churnguard/db/password"]
    assert ReversibleEncryptor.decrypt(secret["CiphertextBlob"], DR_KEY, context) == "hunter2-secret"
    assert dr["secure_string_encryption"] == {"key": DR_KEY, "region": "us-west-2",
                                              "context": "churnguard:parameter=<Name>"}
    assert primary["secure_string_encryption"]["key"] == "arn:aws:kms:us-east-1:123456789012:key/backup"
    assert {p["Name"] for p in dr["parameters"]} == {p["Name"] for p in primary["parameters"]}


def test_dr_encryption_failure_fails_only_the_dr_copy_and_keeps_the_primary_export():
    world = World()

    class UnreachableDrKms(ReversibleEncryptor):
        def encrypt(self, plaintext, context):
            from churnguard_ops.core.errors import Unavailable
            raise Unavailable("encrypt SecureString under alias/dr in us-west-2: KMSInvalidStateException")

    world.service.dr_encryptor = UnreachableDrKms(DR_KEY, "us-west-2")
    report = world.tick("backup/scheduled-tick-configuration.json")
    (failure,) = report.failures
    assert failure.target == f"s3://backups-dr/{CONFIG_KEY}" and "KMSInvalidStateException" in failure.detail
    assert ("backups-dr", CONFIG_KEY) not in world.objects.objects, "no DR document without its SecureStrings"
    primary = json.loads(world.objects.objects[("backups", CONFIG_KEY)])
    assert {p["Name"] for p in primary["parameters"]} == {"/churnguard/api/url", "/churnguard/db/password"}
    assert [o.status for o in report.outcomes if o.target == f"s3://backups/{CONFIG_KEY}"] == ["succeeded"]


def test_dr_copy_without_a_dr_key_fails_only_when_it_holds_secure_strings():
    world = World()
    world.service.dr_encryptor = None
    report = world.tick("backup/scheduled-tick-configuration.json")
    assert [o.target for o in report.failures] == [f"s3://backups-dr/{CONFIG_KEY}"]
    assert "BACKUP_DR_KMS_KEY_ID" in report.failures[0].detail
    world = World()
    world.service.dr_encryptor = None
    del world.parameters.parameters["/churnguard/db/password"]
    assert not world.tick("backup/scheduled-tick-configuration.json").failures


def test_unreadable_ssm_path_fails_the_export_target_but_still_writes_the_rest():
    world = World(ssm_paths=["/churnguard/", "/broken/"])
    world.parameters.failing_paths.add("/broken/")
    report = world.tick("backup/scheduled-tick-configuration.json")
    assert [o.target for o in report.failures] == ["/broken/"]
    assert ("backups", "configuration/ssm/2026/11/28/20261128T0000Z.json") in world.objects.objects


def test_application_data_buckets_get_versioning_and_policy_retention():
    world = World()
    report = world.tick("backup/scheduled-tick-application-data.json")
    assert not report.failures
    assert world.buckets.protected == {"app-data": 90}


def test_application_data_policy_demanding_cross_region_fails_buckets_without_replication():
    world = World(policies={"application_data": {"schedule_minutes": 1440, "retention_days": 90,
                                                 "cross_region": True}})
    report = world.tick("backup/scheduled-tick-application-data.json")
    assert [o.target for o in report.failures] == ["s3://app-data"]
    assert "requires cross-region replication" in report.failures[0].detail


class _Baselines:
    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.recorded: list[tuple[str, str]] = []
        self.failing = failing

    def configured(self, instance_id: str) -> bool:
        return instance_id != "db2"

    def record(self, instance_id: str, snapshot_id: str) -> str:
        if instance_id in self.failing:
            raise RuntimeError("connection refused")
        self.recorded.append((instance_id, snapshot_id))
        return f"s3://backups/baselines/{instance_id}/{snapshot_id}.json"


def test_row_count_baseline_is_recorded_for_each_new_snapshot_of_a_configured_instance():
    world = World()
    world.service.baselines = _Baselines()
    report = world.tick()
    assert world.service.baselines.recorded == [("db1", SLOT_ID.format("db1"))]
    assert [o.status for o in report.outcomes if o.action == "baseline"] == ["succeeded"]


def test_unreachable_source_fails_the_baseline_target_but_keeps_the_snapshot():
    world = World()
    world.service.baselines = _Baselines(failing={"db1"})
    report = world.tick()
    assert [(o.target, o.action) for o in report.failures] == [("db1", "baseline")]
    assert SLOT_ID.format("db1") in world.primary.snapshots_by_id


def test_a_network_error_on_one_instance_is_isolated_like_a_throttle():
    from botocore.exceptions import ReadTimeoutError

    from churnguard_ops.core.errors import raise_translated

    world = World()
    real = world.primary.instance

    def flaky(instance_id):
        if instance_id == "db1":
            try:
                raise ReadTimeoutError(endpoint_url="https://rds.us-east-1.amazonaws.com")
            except ReadTimeoutError as exc:
                raise_translated(exc, f"describe {instance_id}")
        return real(instance_id)

    world.primary.instance = flaky
    report = world.tick()
    assert [(o.target, o.action) for o in report.failures] == [("db1", "snapshot")]
    assert "ReadTimeoutError" in report.failures[0].detail
    assert SLOT_ID.format("db2") in world.primary.snapshots_by_id


def test_a_drill_snapshot_is_never_copied_to_dr_in_place_of_the_backup():
    world = World()
    world.primary.add("churnguard-ops-dr-test-d1", "db1", Purpose="RestoreDrill",
                      created_at=NOW + timedelta(minutes=1))
    world.tick()
    assert SLOT_ID.format("db1") in world.dr.snapshots_by_id
    assert "churnguard-ops-dr-test-d1" not in world.dr.snapshots_by_id


def test_an_unreadable_snapshot_listing_does_not_pose_as_a_full_quota():
    from churnguard_ops.core.errors import Throttled

    world = World()
    real = world.primary.snapshots

    def failing_list(instance_id=None, *, manual_only=True):
        if instance_id is None:  # the region-wide listing fails; per-instance freshness still reads
            raise Throttled("list snapshots in us-east-1: Throttling")
        return real(instance_id, manual_only=manual_only)

    world.primary.snapshots = failing_list
    report = world.tick()
    snapshots = [o for o in report.outcomes if o.action == "snapshot"]
    assert {o.status for o in snapshots} == {"succeeded"}
    assert [o.target for o in report.failures if o.action == "prune"] == ["region:us-east-1"]


def test_one_unencryptable_secure_string_fails_alone_and_is_named():
    world = World()
    world.parameters.parameters["/churnguard/zz/other"] = ("String", "kept")

    class PickyEncryptor(ReversibleEncryptor):
        def encrypt(self, plaintext, context):
            if context["churnguard:parameter"] == "/churnguard/db/password":
                from churnguard_ops.core.errors import OpsError
                raise OpsError("encrypt SecureString: ValidationException: too large")
            return super().encrypt(plaintext, context)

    world.service.encryptor = PickyEncryptor()
    report = world.tick("backup/scheduled-tick-configuration.json")
    assert [o.target for o in report.failures] == ["/churnguard/db/password"]
    body = json.loads(world.objects.objects[("backups", "configuration/ssm/2026/11/28/20261128T0000Z.json")])
    assert {p["Name"] for p in body["parameters"]} == {"/churnguard/api/url", "/churnguard/zz/other"}


def test_an_instance_in_its_backup_window_is_deferred_not_failed():
    world = World()
    world.primary.instances_by_id["db1"] = instance("db1", status="backing-up")
    report = world.tick()
    snapshots = {o.target: o for o in report.outcomes if o.action == "snapshot"}
    assert snapshots["db1"].status == "deferred" and "backing-up" in snapshots["db1"].detail
    assert snapshots["db2"].status == "succeeded" and not report.failures


def test_a_stopped_instance_is_a_failure_not_a_deferral():
    world = World()
    world.primary.instances_by_id["db1"] = instance("db1", status="stopped")
    world.primary.create_snapshot = _refuse_stopped(world.primary.create_snapshot)
    report = world.tick()
    assert [(o.target, o.action) for o in report.failures] == [("db1", "snapshot")]


def _refuse_stopped(create):
    from churnguard_ops.core.errors import Conflict

    def wrapped(instance_id, snapshot_id, tags):
        if instance_id == "db1":
            raise Conflict("snapshot db1: InvalidDBInstanceStateFault: stopped instances cannot be snapshotted")
        return create(instance_id, snapshot_id, tags)
    return wrapped
