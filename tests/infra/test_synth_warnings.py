"""What a real synth warns about (opsctl acknowledges some of these for its local synth only)."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

pytestmark = pytest.mark.infra


def test_database_functions_without_drill_vpc_are_warned_about(synth) -> None:
    for stack in (synth.backup, synth.drill):
        warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp(".*drill.vpc is not set.*"))
        assert warnings, f"{stack.stack_name}: a real synth must keep the churnguard:no-database-vpc warning"
