"""The ``dbadvisor`` context: which databases the PostgreSQL advisor reads, how, and when."""
from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from churnguard_ops.core.postgres import SslMode
from churnguard_ops.dbadvisor.thresholds import Thresholds
from infra_cdk.context_types import DbInstanceId, ScheduleExpression, SecretArn, VpcPlacement, _Strict

# A PostgreSQL database name (any name fits in 63 bytes; the connection passes it as a parameter, not SQL).
DatabaseName = Annotated[str, StringConstraints(min_length=1, max_length=63)]


class DbAdvisorContext(_Strict):
    """The PostgreSQL advisor.

    ``db_secrets``: instance id -> the Secrets Manager secret of a monitoring role (``pg_monitor``, plus SELECT
    on the tables whose statistics it should weigh); only these instances are advised. ``databases``: the
    database to advise per instance (default: the instance's DBName, else the secret's ``dbname``).
    ``vpc``: where the function runs to reach the databases. ``analyze_stale``: ANALYZE the tables found
    with stale statistics (and only those); off by default, the advisor otherwise only reads.
    """

    schedule: ScheduleExpression = "cron(0 5 ? * SUN *)"
    db_secrets: dict[DbInstanceId, SecretArn] = Field(default_factory=dict)
    databases: dict[DbInstanceId, DatabaseName] = Field(default_factory=dict)
    vpc: VpcPlacement | None = None
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: Annotated[str, StringConstraints(min_length=1)] | None = None
    statement_timeout_ms: int = Field(default=30_000, ge=1000, le=600_000)
    analyze_stale: bool = False
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("db_secrets")
    @classmethod
    def _rds_identifier_rules(cls, value: dict[str, str]) -> dict[str, str]:
        for ident in value:
            if "--" in ident or ident.endswith("-"):
                raise ValueError(f"{ident!r}: RDS identifiers contain no '--' and do not end with '-'")
        return value

    @model_validator(mode="after")
    def _databases_of_advised_instances(self) -> DbAdvisorContext:
        unknown = sorted(set(self.databases) - set(self.db_secrets))
        if unknown:
            raise ValueError(f"databases names {unknown}, which have no entry in db_secrets (only those are advised)")
        return self

    def lambda_environment(self) -> dict[str, str]:
        def compact(value: object) -> str:
            return json.dumps(value, separators=(",", ":"), sort_keys=True)

        env = {
            "DBADVISOR_DB_SECRETS": compact(self.db_secrets),
            "DBADVISOR_DATABASES": compact(self.databases),
            "DBADVISOR_DB_SSLMODE": self.db_sslmode,
            "DBADVISOR_STATEMENT_TIMEOUT_MS": str(self.statement_timeout_ms),
            "DBADVISOR_ANALYZE_STALE": "true" if self.analyze_stale else "false",
            "DBADVISOR_THRESHOLDS": compact(self.thresholds.model_dump()),
        }
        if self.db_sslrootcert:
            env["DBADVISOR_DB_SSLROOTCERT"] = self.db_sslrootcert
        return env
