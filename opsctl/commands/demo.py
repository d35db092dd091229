"""opsctl demo: every capability once on the embedded default; exit 0 only if each behaved as expected.

Each step states what it expects and checks it against the embedded AWS afterwards, so the demo is
a runnable acceptance test a user can read.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from opsctl.commands.common import check_out_dir
from opsctl.commands.demo_alarms import ALARMS_SCENARIOS
from opsctl.commands.demo_backups import BACKUP_SCENARIOS
from opsctl.commands.demo_canary import CANARY_SCENARIOS
from opsctl.commands.demo_cost import COST_SCENARIOS
from opsctl.commands.demo_dbadvisor import DBADVISOR_SCENARIOS
from opsctl.commands.demo_drills import DRILL_SCENARIOS
from opsctl.commands.demo_flags import FLAGS_SCENARIOS
from opsctl.commands.demo_monitoring import MONITORING_SCENARIOS
from opsctl.commands.demo_performance import PERFORMANCE_SCENARIOS
from opsctl.commands.demo_security import SECURITY_SCENARIOS
from opsctl.commands.demo_steps import Step
from opsctl.commands.demo_vulns import VULNS_SCENARIOS
from opsctl.console import progress, write_json

#: Every capability's demo steps, in order: each is ``(env, out_dir) -> Step``. A new capability
#: appends its own list (``opsctl/commands/demo_<capability>.py``).
# Cost and performance first: moto's GetMetricData scans every point stored so far. The advisor before the
# drills: a drill proves the advisor's latest index proposals on its copy.
SCENARIOS: list[Callable[..., Step]] = [*COST_SCENARIOS, *PERFORMANCE_SCENARIOS, *BACKUP_SCENARIOS,
                                        *DBADVISOR_SCENARIOS, *DRILL_SCENARIOS, *CANARY_SCENARIOS,
                                        *FLAGS_SCENARIOS, *VULNS_SCENARIOS, *SECURITY_SCENARIOS, *ALARMS_SCENARIOS,
                                        *MONITORING_SCENARIOS]  # last: it checks what the others emitted


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run every capability once on the embedded default")
    parser.add_argument("--out", metavar="DIR", help="write demo-results.json into DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opsctl.environment import LocalEnvironment

    check_out_dir(args.out)
    steps: list[Step] = []
    with LocalEnvironment(with_postgres=True) as env:
        for scenario in SCENARIOS:
            started = time.monotonic()
            step = scenario(env, args.out)
            step.seconds = time.monotonic() - started
            steps.append(step)
    failed = [s for s in steps if not s.passed]
    print("\nDemo summary")
    for step in steps:
        print(f"  [{'PASS' if step.passed else 'FAIL'}] {step.title} "
              f"({sum(c.passed for c in step.checks)}/{len(step.checks)} checks, {step.seconds:.0f} s)")
    write_json(args.out, "demo-results.json", [
        {"step": s.title, "passed": s.passed, "seconds": round(s.seconds, 1),
         "checks": [c.__dict__ for c in s.checks]} for s in steps])
    progress("demo " + ("passed" if not failed else f"FAILED: {', '.join(s.title for s in failed)}"))
    return 1 if failed else 0
