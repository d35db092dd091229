"""Demo steps of feature flags: a healthy ramp promoted, a broken flag rolled back, membership stable."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from opsctl import flags_runner
from opsctl.commands.demo_steps import Step
from opsctl.console import progress, write_json

ENVIRONMENT = "production"
HEALTHY_FLAG, HEALTHY_STEPS = "new_dashboard_ui", [50, 100]  # from cdk.json's 10 % (two steps keep the demo short)
BROKEN_FLAG, BROKEN_STEPS, BROKEN_ERROR_RATE = "churn_model_v2", [20, 50, 100], 0.5  # the local 0 % flag
MEMBERSHIP_PERCENTAGES = [10.0, 50.0, 100.0]  # the ramp's documents
MEMBERSHIP_USERS = 1000
HASH_SEEDS = ("1", "2", "3")

#: One cold start: evaluate every user on each document with the flags library (argv[1]: a JSON job file).
_COLD_START = """
import json, sys
from churnguard_ops.core.flag_document import FlagDocument
from churnguard_ops.flags.evaluator import evaluate
job = json.load(open(sys.argv[1]))
out = {"hash": hash("u-0001"), "by_percentage": {}}
for pct, raw in job["documents"].items():
    document = FlagDocument.from_data(raw)
    answers = [evaluate(document, job["key"], {"user_id": user}, False) for user in job["users"]]
    out["by_percentage"][pct] = [[a.bucket, a.variant] for a in answers]
print(json.dumps(out))
"""


def _save(out: str | None, name: str, release: flags_runner.LocalFlagRelease) -> None:
    if out:
        write_json(str(Path(out) / "flags"), f"{name}.json", {
            **release.result.as_dict(), "records": release.records, "traffic": release.traffic,
            "percentage_before": release.before, "percentage_after": release.after})


def _release(flag: str, steps: list[int], env: Any, error_rate: float = 0.0) -> flags_runner.LocalFlagRelease:
    request = flags_runner.flag_request(flag, ENVIRONMENT, steps, local=True)
    return flags_runner.local_flag_release(env, request, flag_on_error_rate=error_rate, seed=13)


def healthy_ramp(env: Any, out: str | None) -> Step:
    step = Step(f"Flags: {HEALTHY_FLAG} ramps 10 -> {' -> '.join(map(str, HEALTHY_STEPS))} %, judged on its on vs "
                "off cohorts, and is promoted")
    release = _release(HEALTHY_FLAG, HEALTHY_STEPS, env)
    result = release.result
    _save(out, "healthy-ramp", release)
    step.expect("flag release promoted", result.outcome == "promoted", f"{result.outcome}: {result.reason}")
    passed = [r["weight"] for r in release.records if r.get("verdict") == "PASS"]
    step.expect("a PASS decision at every step", passed == HEALTHY_STEPS, f"passed at {passed}")
    split = [r for r in release.records if r["weight"] < 100]
    both = all(r["canary"]["invocations"] > 0 and r["baseline"]["invocations"] > 0 for r in split)
    step.expect("both cohorts judged below 100 %", bool(split) and both,
                "; ".join(f"{r['weight']} %: on {r['canary']['invocations']:.0f} / off "
                          f"{r['baseline']['invocations']:.0f}" for r in split))
    srm = [flags_runner.srm_note(r) for r in split]
    step.expect("the sample-ratio check passed at every split step",
                bool(srm) and all(n.startswith("sample ratio ok") for n in srm), " | ".join(srm))
    step.expect("the deployed document ends at 100 %", release.after == 100,
                f"{release.before:g} % -> {release.after} %" if release.before is not None else str(release.after))
    return step


def broken_flag(env: Any, out: str | None) -> Step:
    step = Step(f"Flags: {BROKEN_FLAG}, whose flag-on code path fails {BROKEN_ERROR_RATE:.0%} of requests, is "
                f"rolled back at {BROKEN_STEPS[0]} %")
    release = _release(BROKEN_FLAG, BROKEN_STEPS, env, BROKEN_ERROR_RATE)
    result = release.result
    _save(out, "broken-flag", release)
    step.expect("flag release rolled back", result.outcome == "rolled_back", f"{result.outcome}")
    failed = [r["weight"] for r in release.records if r.get("verdict") == "FAIL"]
    step.expect(f"FAIL decided at {BROKEN_STEPS[0]} %", failed == BROKEN_STEPS[:1],
                f"{[(r['weight'], r['verdict']) for r in release.records]}")
    step.expect("the reason names the on cohort's error rate", "error rate of version on" in (result.reason or ""),
                (result.reason or "")[:160])
    step.expect("the deployed percentage is back where it started", release.before is not None
                and release.after == release.before, f"{release.before} % -> {release.after} %")
    return step


def stable_membership(env: Any, out: str | None) -> Step:
    step = Step(f"Flags: {MEMBERSHIP_USERS:,} users keep their buckets across cold starts, and a ramp only adds "
                "users")
    documents = flags_runner.ramp_documents(HEALTHY_FLAG, MEMBERSHIP_PERCENTAGES)
    step.expect(f"the ramp's documents at {', '.join(f'{p:g}' for p in MEMBERSHIP_PERCENTAGES)} % are hosted",
                sorted(documents) == MEMBERSHIP_PERCENTAGES,
                ", ".join(f"{p:g} %: version {v}" for p, (v, _) in sorted(documents.items())))
    if sorted(documents) != MEMBERSHIP_PERCENTAGES:
        return step
    users = [f"u-{n:04d}" for n in range(MEMBERSHIP_USERS)]
    runs = _cold_starts({f"{p:g}": doc.model_dump(mode="json") for p, (_, doc) in documents.items()}, users)
    first = runs[0]["by_percentage"]
    step.expect(f"{len(HASH_SEEDS)} processes (PYTHONHASHSEED {', '.join(HASH_SEEDS)}) give identical buckets and "
                "variants", all(run["by_percentage"] == first for run in runs),
                f"{len(users)} users x {len(first)} documents each")
    hashes = {run["hash"] for run in runs}
    step.expect("Python's hash() differed between them (hash(user_id) % 100 would have moved users)",
                len(hashes) == len(runs), f"{len(hashes)} distinct hash('u-0001') values")
    inside = {f"{pct:g}": {users[i] for i, (_, variant) in enumerate(first[f"{pct:g}"]) if variant == "on"}
              for pct in MEMBERSHIP_PERCENTAGES}
    ramp = [f"{p:g}" for p in MEMBERSHIP_PERCENTAGES]
    monotonic = all(inside[lower] <= inside[higher] for lower, higher in zip(ramp, ramp[1:], strict=False))
    step.expect(f"every user in at {ramp[0]} % is still in at {' % and '.join(ramp[1:])} %", monotonic,
                ", ".join(f"{pct} %: {len(users_in)} in" for pct, users_in in inside.items()))
    near = all(abs(len(inside[f"{p:g}"]) / len(users) * 100 - p) < 5 for p in MEMBERSHIP_PERCENTAGES)
    step.expect("each share in is within 5 points of its percentage", near,
                ", ".join(f"{len(inside[f'{p:g}']) / len(users):.1%} at {p:g} %" for p in MEMBERSHIP_PERCENTAGES))
    user = sorted(inside["10"])[0] if inside["10"] else users[0]
    version, document = documents[10.0]
    served = flags_runner.Deployed(ENVIRONMENT, document, version, 0)
    result, why = flags_runner.evaluate_explained(served, HEALTHY_FLAG, {"user_id": user})
    print(f"    opsctl flags evaluate {HEALTHY_FLAG} --context '{{\"user_id\": \"{user}\"}}' (on version {version}):")
    for line in [flags_runner.headline(result), *("  " + w for w in why)]:
        print(f"      {line}")
    step.expect(f"{user}'s explanation names its bucket below the 10 % threshold",
                result.variant == "on" and f"bucket {result.bucket:,} of 100,000 < 10,000" in why[-1], why[-1][:140])
    write_json(str(Path(out) / "flags") if out else None, "membership.json", {
        "users": len(users), "hash_seeds": list(HASH_SEEDS), "in_by_percentage": {
            p: sorted(u) for p, u in inside.items()}, "explained": {"user": user, "lines": why}})
    return step


def _cold_starts(documents: dict[str, Any], users: list[str]) -> list[dict[str, Any]]:
    """Evaluate ``users`` on ``documents`` in one fresh interpreter per hash seed, all at once."""
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / "job.json"
        job.write_text(json.dumps({"documents": documents, "users": users, "key": HEALTHY_FLAG}))
        progress(f"evaluating {len(users)} users in {len(HASH_SEEDS)} fresh processes")
        processes = [subprocess.Popen([sys.executable, "-c", _COLD_START, str(job)], stdout=subprocess.PIPE,
                                      text=True, env={**os.environ, "PYTHONHASHSEED": seed}) for seed in HASH_SEEDS]
        outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise RuntimeError(f"a cold-start evaluation failed (exit codes {[p.returncode for p in processes]})")
    return [json.loads(output) for output in outputs]


FLAGS_SCENARIOS = [healthy_ramp, broken_flag, stable_membership]
