"""The layering the repository promises: handlers -> capability -> core, capabilities independent.

lint-imports enforces the contracts in pyproject.toml; these tests make sure the contracts cover
every capability package and every handler, so a new capability cannot slip past them.
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

import churnguard_ops
from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.policy import DEFAULT_POLICIES, POLICY_NAMES
from churnguard_ops.backup.service import FLOWS, BackupService, UnknownPolicy
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core.fakes import MemoryObjects, MemoryRds, RecordingMetrics
from tests.events import load_event

ROOT = Path(__file__).resolve().parents[2]
LAYER = Path(churnguard_ops.__file__).parent


def _capabilities() -> set[str]:
    return {p.name for p in LAYER.iterdir() if (p / "__init__.py").is_file() and p.name != "core"}


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_every_capability_package_is_in_the_independence_and_layers_contracts() -> None:
    capabilities = {f"churnguard_ops.{c}" for c in _capabilities()}
    independence = next(c for c in _contracts() if c["type"] == "independence")
    layers = next(c for c in _contracts() if c["type"] == "layers")
    assert set(independence["modules"]) == capabilities
    assert {m.strip() for m in layers["layers"][0].split("|")} == capabilities
    assert layers["layers"][-1] == "churnguard_ops.core"


def test_the_layer_holds_only_core_and_capability_packages() -> None:
    modules = {p.name for p in LAYER.glob("*.py")}
    assert modules == {"__init__.py"}, f"shared code belongs in churnguard_ops/core/: {modules}"


@pytest.mark.parametrize("handler", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_a_handler_imports_only_its_own_capability_and_core(handler: Path) -> None:
    capability = handler.parent.name
    imported = set()
    for node in ast.walk(ast.parse(handler.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    ours = {m for m in imported if m.startswith("churnguard_ops")}
    allowed = (f"churnguard_ops.{capability}", "churnguard_ops.core")
    assert ours, f"{handler} calls no use case"
    outside = {m for m in ours if not any(m == a or m.startswith(a + ".") for a in allowed)}
    assert not outside, f"{handler} reaches into another capability: {sorted(outside)}"
    assert not {m for m in imported if m.split(".")[0] in {"opsctl", "infra_cdk", "moto"}}


def test_every_backup_policy_has_exactly_one_flow_and_a_seed_default() -> None:
    assert set(FLOWS) == set(POLICY_NAMES) == set(DEFAULT_POLICIES)


def test_a_policy_without_a_flow_is_an_error_not_another_flow() -> None:
    settings = BackupSettings(db_instance_ids=["db1"], bucket="backups")
    service = BackupService(settings, primary=MemoryRds(), dr=None, metrics=RecordingMetrics(), parameters=None,
                            encryptor=None, objects=MemoryObjects(), buckets=None)  # type: ignore[arg-type]
    tick = BackupTick.model_validate(load_event("backup/scheduled-tick-database.json"))
    object.__setattr__(tick.detail, "policy", "archives")  # past validation, as a future bug would be
    with pytest.raises(UnknownPolicy, match="no backup flow for policy 'archives'"):
        service.run(tick)
