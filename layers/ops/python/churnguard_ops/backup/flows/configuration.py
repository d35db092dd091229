"""Configuration backups: SSM parameters exported to S3, SecureStrings re-encrypted under a CMK.

Each destination gets its own document, its SecureStrings encrypted under a key of the region it is
stored in: the backup CMK for the primary bucket, the DR CMK for the DR bucket. A DR copy encrypted
under the primary key could not be read when the primary region is lost, which is when it is needed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport, TargetOutcome
from churnguard_ops.backup.policy import BackupPolicy
from churnguard_ops.backup.ports import Encryptor, ParameterSource
from churnguard_ops.backup.settings import SECURE_STRING_CONTEXT_KEY as CONTEXT_KEY
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.ports import ObjectWriter

SCHEMA = "churnguard-ops/config-export/v1"


@dataclass(frozen=True)
class _Destination:
    bucket: str
    region: str | None  # None: the home region
    encryptor: Encryptor | None  # None: no key for this destination (fails only if a SecureString needs one)


@dataclass(frozen=True)
class _Entry:
    fields: dict  # what the document lists for the parameter
    key: str | None  # the key its SecureString value was encrypted under


class ConfigurationExport:
    def __init__(self, settings: BackupSettings, *, parameters: ParameterSource, encryptor: Encryptor,
                 objects: ObjectWriter, clock: Clock, dr_encryptor: Encryptor | None = None) -> None:
        self.settings = settings
        self.parameters = parameters
        self.encryptor = encryptor
        self.dr_encryptor = dr_encryptor
        self.objects = objects
        self.clock = clock

    def run(self, report: BackupReport, policy: BackupPolicy, tick: BackupTick) -> None:
        if not self.settings.ssm_paths:
            report.outcomes.append(TargetOutcome(target="ssm", action="export", status="skipped",
                                                 detail="no SSM paths configured"))
            return
        parameters = self._read(report)
        key = f"{contracts.CONFIGURATION_PREFIX}ssm/{report.slot:%Y/%m/%d}/{report.slot:%Y%m%dT%H%M}Z.json"
        exported_at = self.clock().isoformat()

        primary = _Destination(self.settings.bucket, None, self.encryptor)
        # The primary document decides which parameters are exported: one that cannot be encrypted there
        # fails alone (named) and is left out of every copy, so both documents list the same parameters.
        entries: list[_Entry] = []
        kept: list[dict] = []
        for parameter in parameters:
            try:
                entries.append(self._entry(parameter, primary))
                kept.append(parameter)
            except OpsError as exc:
                report.outcomes.append(TargetOutcome(target=parameter["Name"], action="export",
                                                     status="failed", detail=str(exc)))
        self._write(report, primary, key, exported_at, entries)

        if not (policy.cross_region and self.settings.dr_bucket):
            return
        dr = _Destination(self.settings.dr_bucket, self.settings.dr_region, self.dr_encryptor)
        try:
            # Encrypted anew under the DR key: the primary ciphertext is readable only in the primary region.
            dr_entries = [self._entry(parameter, dr) for parameter in kept]
        except OpsError as exc:
            # No partial DR document: the newest one there stays the last complete, decryptable export.
            report.outcomes.append(TargetOutcome(target=f"s3://{dr.bucket}/{key}", action="export", status="failed",
                                                 detail=f"not written, SecureStrings cannot be encrypted for "
                                                        f"{dr.region or 'the DR region'}: {exc}"))
            return
        self._write(report, dr, key, exported_at, dr_entries)

    def _read(self, report: BackupReport) -> list[dict]:
        parameters: list[dict] = []
        for path in self.settings.ssm_paths:
            try:
                parameters += self.parameters.parameters_under(path)
            except OpsError as exc:
                report.outcomes.append(TargetOutcome(target=path, action="export", status="failed",
                                                     detail=str(exc)))
        return parameters

    def _document(self, report: BackupReport, exported_at: str, destination: _Destination,
                  entries: list[_Entry]) -> bytes:
        encryptor = destination.encryptor
        # The key KMS reports for the ciphertexts (an ARN, which names its region); the configured key when
        # the document holds no SecureString.
        used = sorted({e.key for e in entries if e.key})
        document = {
            "schema": SCHEMA,
            "slot": report.slot.isoformat(),
            "exported_at": exported_at,
            "paths": self.settings.ssm_paths,
            "secure_string_encryption": {
                "key": ", ".join(used) if used else (encryptor.key_id if encryptor else None),
                "region": destination.region or (encryptor.region if encryptor else None),
                "context": f"{CONTEXT_KEY}=<Name>",
            },
            "parameters": [e.fields for e in entries],
        }
        return json.dumps(document, indent=1, sort_keys=True, default=str).encode()

    def _write(self, report: BackupReport, destination: _Destination, key: str, exported_at: str,
               entries: list[_Entry]) -> None:
        target = f"s3://{destination.bucket}/{key}"
        body = self._document(report, exported_at, destination, entries)
        try:
            version = self.objects.put_json(destination.bucket, key, body, region=destination.region)
        except OpsError as exc:
            report.outcomes.append(TargetOutcome(target=target, action="export", status="failed", detail=str(exc)))
            return
        report.outcomes.append(TargetOutcome(
            target=target, action="export", status="succeeded", detail=f"{len(entries)} parameter(s)",
            data={"bucket": destination.bucket, "key": key, "version_id": version, "parameters": len(entries)}))

    @staticmethod
    def _entry(parameter: dict, destination: _Destination) -> _Entry:
        fields = {k: parameter.get(k) for k in ("Name", "Type", "Version", "LastModifiedDate", "DataType")}
        if parameter.get("Type") != "SecureString":
            return _Entry({**fields, "Value": parameter.get("Value")}, None)
        if destination.encryptor is None:
            raise OpsError(f"no KMS key configured for s3://{destination.bucket} (BACKUP_DR_KMS_KEY_ID)")
        # SecureString values never land in plaintext: encrypted under the destination's key, bound to the
        # parameter name by the encryption context, so a restore in that region can decrypt them.
        sealed = destination.encryptor.encrypt(parameter["Value"], {CONTEXT_KEY: parameter["Name"]})
        return _Entry({**fields, "CiphertextBlob": sealed.blob}, sealed.key)
