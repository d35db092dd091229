"""Configuration backups: SSM parameters exported to S3, SecureStrings re-encrypted under the backup CMK."""
from __future__ import annotations

import json

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport, TargetOutcome
from churnguard_ops.backup.policy import BackupPolicy
from churnguard_ops.backup.ports import Encryptor, ParameterSource
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.ports import ObjectWriter


class ConfigurationExport:
    def __init__(self, settings: BackupSettings, *, parameters: ParameterSource, encryptor: Encryptor,
                 objects: ObjectWriter, clock: Clock) -> None:
        self.settings = settings
        self.parameters = parameters
        self.encryptor = encryptor
        self.objects = objects
        self.clock = clock

    def run(self, report: BackupReport, policy: BackupPolicy, tick: BackupTick) -> None:
        if not self.settings.ssm_paths:
            report.outcomes.append(TargetOutcome(target="ssm", action="export", status="skipped",
                                                 detail="no SSM paths configured"))
            return
        exported: list[dict] = []
        for path in self.settings.ssm_paths:
            try:
                parameters = self.parameters.parameters_under(path)
            except OpsError as exc:
                report.outcomes.append(TargetOutcome(target=path, action="export", status="failed",
                                                     detail=str(exc)))
                continue
            for parameter in parameters:  # one parameter that cannot be exported must not drop the rest
                try:
                    exported.append(self._export_parameter(parameter))
                except OpsError as exc:
                    report.outcomes.append(TargetOutcome(target=parameter["Name"], action="export",
                                                         status="failed", detail=str(exc)))
        document = {
            "schema": "churnguard-ops/config-export/v1",
            "slot": report.slot.isoformat(),
            "exported_at": self.clock().isoformat(),
            "paths": self.settings.ssm_paths,
            "secure_string_encryption": {"key": self.settings.kms_key_arn,
                                         "context": "churnguard:parameter=<Name>"},
            "parameters": exported,
        }
        body = json.dumps(document, indent=1, sort_keys=True, default=str).encode()
        key = f"{contracts.CONFIGURATION_PREFIX}ssm/{report.slot:%Y/%m/%d}/{report.slot:%Y%m%dT%H%M}Z.json"
        destinations: list[tuple[str, str | None]] = [(self.settings.bucket, None)]
        if policy.cross_region and self.settings.dr_bucket:
            destinations.append((self.settings.dr_bucket, self.settings.dr_region))
        for bucket, region in destinations:
            try:
                version = self.objects.put_json(bucket, key, body, region=region)
                report.outcomes.append(TargetOutcome(
                    target=f"s3://{bucket}/{key}", action="export", status="succeeded",
                    detail=f"{len(exported)} parameter(s)",
                    data={"bucket": bucket, "key": key, "version_id": version, "parameters": len(exported)}))
            except OpsError as exc:
                report.outcomes.append(TargetOutcome(target=f"s3://{bucket}/{key}", action="export",
                                                     status="failed", detail=str(exc)))

    def _export_parameter(self, parameter: dict) -> dict:
        entry = {k: parameter.get(k) for k in ("Name", "Type", "Version", "LastModifiedDate", "DataType")}
        if parameter.get("Type") == "SecureString":
            # SecureString values never land in plaintext: re-encrypted under the backup CMK, bound
            # to the parameter name by the encryption context, so a restore can decrypt them.
            entry["CiphertextBlob"] = self.encryptor.encrypt(parameter["Value"],
                                                             {"churnguard:parameter": parameter["Name"]})
        else:
            entry["Value"] = parameter.get("Value")
        return entry
