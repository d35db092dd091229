"""Guards that keep a drill away from the source database, and the sample drill inputs in events/drill/."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from churnguard_ops.drill.errors import GuardViolation
from churnguard_ops.drill.model import DrillInput, DrillState
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.validation import DrillValidator
from churnguard_ops.drill.workflow import DrillWorkflow
from tests.events import EVENTS_DIR, event_files
from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

RUN = execution("g1")
RESTORED = "churnguard-ops-drill-" + RUN.drill_id


class _Credentials:
    def __init__(self) -> None:
        self.reads = 0

    def get(self, secret_id: str) -> dict:
        self.reads += 1
        return {"username": "churnguard", "password": "not-logged", "dbname": "churnguard"}


def _restored_state(rds: FakeDrillRds, settings: DrillSettings) -> DrillState:
    rds.add_snapshot("snap", "churnguard-prod", T0)
    workflow = DrillWorkflow(settings, lambda region: rds, "us-east-1", clock=lambda: T0)
    state = DrillState.model_validate({"poll_seconds": 1})
    state.plan = workflow.plan(state, RUN)
    state.restore = workflow.restore(state)
    return state


def test_validation_refuses_to_connect_when_the_restored_endpoint_is_the_source():
    rds = FakeDrillRds()
    rds.add_instance(source_instance())
    settings = DrillSettings(db_instance_ids=["churnguard-prod"], db_secrets={"churnguard-prod": "secret"})
    state = _restored_state(rds, settings)
    restored = rds.instance(RESTORED)
    source = rds.instance("churnguard-prod")
    # A misconfigured restore that points at the production endpoint and database:
    rds.add_instance(replace(restored, status="available", address=source.address, port=source.port,
                             db_name=source.db_name))
    validator = DrillValidator(settings, lambda region: rds, "us-east-1", _Credentials(), documents=None)
    with pytest.raises(GuardViolation, match="is the source's"):
        validator.validate(state)


def test_validation_refuses_an_instance_without_this_drills_tags():
    rds = FakeDrillRds()
    rds.add_instance(source_instance())
    settings = DrillSettings(db_instance_ids=["churnguard-prod"], db_secrets={"churnguard-prod": "secret"})
    state = _restored_state(rds, settings)
    untagged = replace(rds.instance(RESTORED), tags={})
    rds.add_instance(untagged)
    credentials = _Credentials()
    validator = DrillValidator(settings, lambda region: rds, "us-east-1", credentials, documents=None)
    with pytest.raises(GuardViolation, match="not tagged Purpose=RestoreDrill"):
        validator.measure(state)
    assert credentials.reads == 0  # refused before any secret was read


EXECUTION_INPUTS = [p for p in event_files("drill")
                    if "scheduled-tick" not in p.name and not p.name.startswith("task-")]


@pytest.mark.parametrize("path", EXECUTION_INPUTS, ids=lambda p: p.name)
def test_sample_drill_inputs_are_valid_execution_inputs(path):
    DrillInput.model_validate(json.loads(path.read_text()))


def test_sample_task_payloads_are_what_the_state_machine_passes_its_tasks():
    from churnguard_ops.drill.model import PollRequest

    state = DrillState.model_validate(json.loads((EVENTS_DIR / "drill/task-state-after-restore.json").read_text()))
    assert state.plan is not None and state.restore is not None and state.restore.wait.ready
    poll = PollRequest.model_validate(json.loads((EVENTS_DIR / "drill/task-poll-instance.json").read_text()))
    assert poll.target == "instance" and poll.drill == state
