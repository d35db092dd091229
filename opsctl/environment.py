"""The embedded default: embedded AWS (moto server) + embedded PostgreSQL + our CDK stacks deployed.

The CDK app is synthesized exactly as for a real deployment, except that asset bundling is skipped
(CDK's own ``aws:cdk:bundling-stacks`` context): the shared library is already importable here,
so building the arm64 layer would only cost time. The handlers run from the synthesized assets.
Templates are re-synthesized only when their inputs change (a digest is kept in cdk.out).
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra_cdk.flags_settings import FlagsContext
from infra_cdk.settings import CONTEXT_KEY, ChurnGuardContext
from opsctl.console import progress, still_running
from opsctl.errors import UsageError
from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import LocalDeployment, deploy_cloud_assembly
from opsctl.local.postgres import EmbeddedPostgres
from opsctl.world import SeededWorld, load_source_database, local_secret_arn, seed_world

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = ROOT / ".opsctl"


# The CDK app imports the layer's contracts, policies and plugin registries, so its code is an input too.
SYNTH_INPUTS = ("cdk.json", "infra_cdk", "functions", "layers/ops/requirements.txt", "layers/ops/requirements.lock",
                "layers/ops/python", "vulnerability-exceptions.toml")

# Warnings that describe a real account, not the embedded one. Acknowledged for the local synth only;
# `cdk synth` still reports them. no-database-vpc: locally the functions reach PostgreSQL without a VPC.
LOCAL_ACKNOWLEDGED_WARNINGS = {
    "churnguard:no-database-vpc": "the embedded default serves its databases without a VPC",
}


def _inputs_digest(extra: str) -> str:
    """What the synthesized templates depend on; unchanged inputs reuse the previous cdk.out."""
    digest = hashlib.sha256(extra.encode())
    for name in SYNTH_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


# A database nobody configured checks for (--source-dsn): only checks that read the catalog and the
# baseline, and a query that works on any schema. Users name their own in drill.checks / queries.
SCHEMA_AGNOSTIC_CHECKS = [{"check": "critical_tables_non_empty"}, {"check": "foreign_key_orphans"},
                          {"check": "sequences_not_behind"},
                          {"check": "row_counts_vs_baseline", "params": {"tolerance_pct": 1.0}}, {"check": "amcheck"}]
SCHEMA_AGNOSTIC_QUERIES = [{"name": "user_table_statistics", "max_ms": 1000.0,
                            "sql": "SELECT count(*), sum(n_live_tup) FROM pg_stat_user_tables"}]


#: Flags only the local account deploys (besides cdk.json's).
LOCAL_FLAGS = {"churn_model_v2": {"default": False, "description": "The next churn model (dark launch)",
                                  "rollout": {"percentage": 0, "value": True, "attribute": "user_id"}}}


def local_context(region: str, source_dsn: str | None = None) -> dict[str, Any]:
    """cdk.json's context plus what only the local account has: the secret of the database it serves.

    The first configured instance is backed by the embedded PostgreSQL; its credentials live in a
    local Secrets Manager secret, named to the functions exactly as a user's context would name one.
    """
    from infra_cdk.paths import cdk_json_context

    churnguard = copy.deepcopy(cdk_json_context().get(CONTEXT_KEY, {}))
    primary = ChurnGuardContext.model_validate(churnguard).backup.db_instance_ids[0]
    drill = churnguard.setdefault("drill", {})
    drill["db_secrets"] = {**drill.get("db_secrets", {}), primary: local_secret_arn(primary, region)}
    drill["db_sslmode"] = "disable"  # the embedded PostgreSQL serves no TLS (on AWS: verify-full, cdk.json)
    churnguard.setdefault("backup", {})["db_sslmode"] = "disable"  # its row-count baselines read the same database
    advisor = churnguard.setdefault("dbadvisor", {})  # the PostgreSQL advisor reads the same database
    advisor["db_secrets"] = {**advisor.get("db_secrets", {}), primary: local_secret_arn(primary, region)}
    advisor["db_sslmode"] = "disable"
    # The demo's incident resolves itself right after its alarms clear (on AWS: auto_resolve_minutes, cdk.json).
    churnguard.setdefault("incidents", {})["auto_resolve_minutes"] = 0
    # Every evaluation records its exposure, so the demo's cohorts are exact (on AWS: exposure_sample_rate, 0.1).
    flags = churnguard.setdefault("flags", {})
    flags["exposure_sample_rate"] = 1.0
    # A dark-launched flag at 0 %: the demo ramps it with a broken flag-on code path and sees it rolled back.
    flags["flags"] = {**flags.get("flags", FlagsContext().flags), **LOCAL_FLAGS}
    if source_dsn and not drill.get("checks"):
        drill["checks"] = SCHEMA_AGNOSTIC_CHECKS
    if source_dsn and not drill.get("performance_queries"):
        drill["performance_queries"] = SCHEMA_AGNOSTIC_QUERIES
    return {CONTEXT_KEY: churnguard}


def synthesize(outdir: Path, region: str, source_dsn: str | None = None) -> ChurnGuardContext:
    """Synthesize the CDK app into ``outdir`` (or reuse it) and return its validated context.

    The synth writes into a private temporary directory that replaces ``outdir`` only when complete, so a
    second opsctl process never reads a half-written assembly; processes that start together (the test
    suite's workers) wait for one synth instead of each running their own.
    """
    context = local_context(region, source_dsn)
    digest = _inputs_digest(json.dumps([context, sorted(LOCAL_ACKNOWLEDGED_WARNINGS)], sort_keys=True))
    stamp = outdir / ".inputs-sha256"
    with _exclusive(outdir.parent / f".{outdir.name}.lock"):  # one synth at a time; the others then reuse it
        if not (stamp.exists() and stamp.read_text() == digest):
            _synthesize_into(outdir, context, digest)
    return ChurnGuardContext.model_validate(context[CONTEXT_KEY])


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """An advisory lock between opsctl processes (released when the process ends, however it ends)."""
    import fcntl

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another opsctl is synthesizing the CDK app; waiting for it")
            with still_running("waiting for the other synth"):
                fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _synthesize_into(outdir: Path, context: dict[str, Any], digest: str) -> None:
    from aws_cdk import Annotations

    from infra_cdk.app import build_app

    where = outdir.relative_to(ROOT) if outdir.is_relative_to(ROOT) else outdir
    progress(f"synthesizing the CDK app into {where} (its inputs changed; takes ~15 s)")
    building = outdir.parent / f".{outdir.name}.{os.getpid()}.building"
    shutil.rmtree(building, ignore_errors=True)
    with still_running("synthesizing the CDK app"):
        # No cdk-nag and no CDK template validation (seconds per synth): `make test` runs both on the same app.
        app = build_app(outdir=building, context={**context, "aws:cdk:bundling-stacks": []}, nag=False,
                        cloudformation_validation=False)
        for warning_id, reason in LOCAL_ACKNOWLEDGED_WARNINGS.items():
            Annotations.of(app).acknowledge_warning(warning_id, reason)
        app.synth()
    (building / ".inputs-sha256").write_text(digest)
    _replace_dir(building, outdir)


def assembly_dir(region: str, source_dsn: str | None = None) -> Path:
    """Where the embedded default's cloud assembly for this context lives: one directory per context, so
    processes with different contexts (say, a --source-dsn drill) never overwrite each other's."""
    context = local_context(region, source_dsn)
    key = hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:12]
    return STATE_DIR / "cdk.out" / key


def _replace_dir(new: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.parent / f".{target.name}.{os.getpid()}.old"
    with contextlib.suppress(FileNotFoundError):
        target.rename(old)
    try:
        new.rename(target)
    except OSError:  # another process put its (equivalent) assembly there first: use that one
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def synthesized_functions(outdir: Path) -> list[str]:
    """Physical names of the Lambda functions in the synthesized templates (what a deploy creates)."""
    names = set()
    for template in outdir.glob("*.template.json"):
        for resource in json.loads(template.read_text()).get("Resources", {}).values():
            name = resource.get("Properties", {}).get("FunctionName")
            if resource.get("Type") == "AWS::Lambda::Function" and isinstance(name, str):
                names.add(name)
    return sorted(names)


@dataclass
class LocalEnvironment:
    """Start everything; ``with LocalEnvironment() as env:`` stops everything, even on Ctrl-C."""

    with_postgres: bool = True
    seed: bool = True
    region: str = "us-east-1"
    source_dsn: str | None = None  # copy this database in as the "production" one (else the seeded schema)
    aws: EmbeddedAws = field(init=False)
    postgres: EmbeddedPostgres | None = field(init=False, default=None)
    context: ChurnGuardContext = field(init=False)
    deployments: dict[str, LocalDeployment] = field(init=False, default_factory=dict)
    world: SeededWorld | None = field(init=False, default=None)
    functions: list[str] = field(init=False, default_factory=list)  # from the templates, known before deploying
    _synthesized: bool = field(init=False, default=False)
    _stack: contextlib.ExitStack = field(init=False, default_factory=contextlib.ExitStack)

    @property
    def cdk_out(self) -> Path:
        return assembly_dir(self.region, self.source_dsn)

    def synthesize(self) -> LocalEnvironment:
        """Synthesize (or reuse) the CDK app without starting anything.

        Commands call this first so that function and instance names are checked against what
        would be deployed before the embedded AWS (several seconds) is started.
        """
        if not self._synthesized:
            self.context = synthesize(self.cdk_out, self.region, self.source_dsn)
            self.functions = synthesized_functions(self.cdk_out)
            self._synthesized = True
        return self

    def __enter__(self) -> LocalEnvironment:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        progress("stopping embedded AWS and PostgreSQL")
        self._stack.close()

    def _start(self) -> None:
        self.synthesize()
        progress("starting embedded AWS (moto server)")
        self.aws = self._stack.enter_context(EmbeddedAws(region=self.region))
        self.aws.lambdas.log_dir = STATE_DIR / "logs"
        self._stack.callback(self.aws.lambdas.close_logs)
        from churnguard_ops.core import aws as ops_aws

        ops_aws.reset_clients()  # clients made before now point at another endpoint
        self._stack.callback(ops_aws.reset_clients)
        if self.with_postgres:
            progress("starting embedded PostgreSQL")
            self.postgres = self._stack.enter_context(EmbeddedPostgres())
            self.aws.attach_postgres(self.postgres)  # RDS instances bound below get real databases
        progress("deploying the synthesized stacks into the embedded AWS")
        with still_running("deploying the stacks"):
            self.deployments = deploy_cloud_assembly(self.aws, self.cdk_out)
        if self.seed:
            progress("seeding the local account (RDS instances, SSM parameters, app-data buckets, history)")
            with still_running("seeding the local account"):  # a large --source-dsn copy takes a while
                self.world = seed_world(self.context, self.region, bind=self._bind_database)

    def _bind_database(self, instance_id: str) -> str | None:
        """Give the instances that have credentials configured a real database behind them."""
        if self.postgres is None or instance_id not in self.context.drill.db_secrets:
            return None
        database = instance_id.replace("-", "_")
        source = self.source_dsn or "the seeded ChurnGuard schema"
        progress(f"loading {source} into PostgreSQL database {database} behind RDS instance {instance_id}")
        load_source_database(self.postgres, database, self.source_dsn)
        assert self.aws.rds_dataplane is not None
        self.aws.rds_dataplane.bind(instance_id, database, region=self.region)
        return database

    def function_name(self, short_name: str) -> str:
        """``backup`` -> ``churnguard-ops-backup``; full names and ARNs pass through; unknown names are refused."""
        self.synthesize()
        prefix = f"{self.context.prefix}-"
        if ":function:" in short_name:  # an ARN: check its name, keep the ARN
            name, full = short_name, short_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        else:
            name = full = short_name if short_name.startswith(prefix) else prefix + short_name
        if full not in self.functions:
            known = ", ".join(f.removeprefix(prefix) for f in self.functions)
            raise UsageError(f"no function named {short_name!r} in the synthesized app; known: {known}")
        return name

    def output(self, key_fragment: str) -> Any:
        for deployment in self.deployments.values():
            for key, value in deployment.outputs.items():
                if key_fragment.lower() in key.lower():
                    return value
        raise KeyError(f"no stack output matching {key_fragment!r}")

    def describe(self) -> dict[str, Any]:
        return {
            "aws_endpoint_url": self.aws.endpoint_url,
            "region": self.region,
            "postgres_dsn": self.postgres.dsn() if self.postgres else None,
            "databases": self.world.databases if self.world else {},
            "functions": sorted(n for d in self.deployments.values() for n in d.functions),
            "function_logs": str(STATE_DIR / "logs"),
            "stacks": {d.stack_name: d.region for d in self.deployments.values()},
            "outputs": {k: v for d in self.deployments.values() for k, v in d.outputs.items()},
        }
