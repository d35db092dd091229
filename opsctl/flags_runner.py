"""Feature flags for the operator: the deployed document of an environment, an explained evaluation, a rollout.

The deployed document is read through the AppConfig control plane (the version of the environment's newest
COMPLETE deployment), by the names the CDK app gives the resources (``core.contracts``), so the CLI needs no
stack output. Evaluations run the flags library's own evaluator on that document.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from churnguard_ops.core.contracts import FLAG_BUCKETS, FLAGS_APPLICATION, FLAGS_PROFILE
from churnguard_ops.core.flag_document import BUCKETS_PER_PERCENT, FlagDefinition, FlagDocument
from churnguard_ops.flags.evaluator import condition_matches, evaluate
from churnguard_ops.flags.model import Evaluation
from opsctl.errors import UsageError


@dataclass(frozen=True)
class Deployed:
    """What an environment serves: the document, its hosted version and the deployment that put it there."""

    environment: str
    document: FlagDocument
    version: str
    deployment: int


def locate(appconfig: Any) -> tuple[str, str, dict[str, str]]:
    """(application id, profile id, environment name -> id) of the flags application, found by name."""
    applications = [a for page in appconfig.get_paginator("list_applications").paginate() for a in page["Items"]] \
        if appconfig.can_paginate("list_applications") else appconfig.list_applications()["Items"]
    application = next((a for a in applications if a["Name"] == FLAGS_APPLICATION), None)
    if application is None:
        raise UsageError(f"no AppConfig application named {FLAGS_APPLICATION}: is the flags stack deployed?")
    app_id = application["Id"]
    profiles = appconfig.list_configuration_profiles(ApplicationId=app_id).get("Items", [])
    profile = next((p for p in profiles if p["Name"] == FLAGS_PROFILE), None)
    if profile is None:
        raise UsageError(f"{FLAGS_APPLICATION} has no configuration profile named {FLAGS_PROFILE}")
    environments = appconfig.list_environments(ApplicationId=app_id).get("Items", [])
    return app_id, profile["Id"], {e["Name"]: e["Id"] for e in environments}


def deployed(environment: str, region: str | None = None) -> Deployed:
    """The document ``environment`` serves now; an unknown environment is the operator's error."""
    from churnguard_ops.canary.flag_adapters import AppConfigFlags
    from churnguard_ops.core import aws
    from churnguard_ops.core.errors import NotFound

    app_id, profile_id, environments = locate(aws.client("appconfig", region))
    if environment not in environments:
        raise UsageError(f"--environment {environment}: not a flags environment (known: "
                         f"{', '.join(sorted(environments)) or 'none'})")
    store = AppConfigFlags(app_id, profile_id, "", environments, region)
    try:
        served = store.deployed(environment)
    except NotFound as exc:
        raise UsageError(f"--environment {environment}: {exc}") from None
    return Deployed(environment, served.document, served.deployment.version, served.deployment.number)


def hosted_document(version: str, region: str | None = None) -> FlagDocument:
    """One hosted version of the flag profile (a step of a past ramp, say)."""
    from churnguard_ops.core import aws

    appconfig = aws.client("appconfig", region)
    app_id, profile_id, _ = locate(appconfig)
    raw = appconfig.get_hosted_configuration_version(ApplicationId=app_id, ConfigurationProfileId=profile_id,
                                                      VersionNumber=int(version))
    return FlagDocument.parse_json(raw["Content"].read())


def flag_rows(served: Deployed) -> list[dict[str, Any]]:
    """One row per flag: default, rules, rollout, kill switch, deployed version."""
    rows = []
    for key, flag in served.document.flags.items():
        rollout = flag.rollout
        rows.append({
            "flag": key, "default": flag.default, "rules": list(flag.rules),
            "rollout_percentage": rollout.percentage if rollout else None,
            "rollout_salt": rollout.salt_for(key) if rollout else None,
            "rollout_attribute": rollout.attribute if rollout else None,
            "kill_switch": flag.kill_switch, "version": served.version, "deployment": served.deployment})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    header = ("FLAG", "DEFAULT", "RULES", "ROLLOUT", "KILL SWITCH", "VERSION")
    body = [(r["flag"], json.dumps(r["default"]), ", ".join(r["rules"]) or "-",
             "-" if r["rollout_percentage"] is None else
             f"{r['rollout_percentage']:g} % by {r['rollout_attribute']} (salt {r['rollout_salt']})",
             "ON" if r["kill_switch"] else "off", r["version"]) for r in rows]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in [header, *body])


def parse_context(text: str) -> dict[str, Any]:
    """``--context``: inline JSON or ``@file``; an object, else one clear error."""
    source = "--context"
    if text.startswith("@"):
        path = text[1:]
        source = f"--context {text}"
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise UsageError(f"{source}: cannot read the file ({exc.strerror or exc})") from None
    try:
        context = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(context, dict):
        raise UsageError(f"{source}: must be a JSON object such as {{\"user_id\": \"u-42\"}}, "
                         f"got {type(context).__name__}")
    return context


def evaluate_explained(served: Deployed, key: str, context: Mapping[str, Any]) -> tuple[Evaluation, list[str]]:
    """The flags library's evaluation of ``key`` for ``context`` on the served document, and why, in words."""
    flag = served.document.get(key)
    if flag is None:
        raise UsageError(f"{key}: no such flag in {served.environment} (flags: "
                         f"{', '.join(served.document.flags) or 'none'})")
    result = evaluate(served.document, key, context, flag.default).with_source(served.version, False)
    return result, explain(key, flag, context, result)


def _pct(threshold: int) -> str:
    return f"{threshold / BUCKETS_PER_PERCENT:g} %"


def explain(key: str, flag: FlagDefinition, context: Mapping[str, Any], result: Evaluation) -> list[str]:
    """Why ``result``: the kill switch, each rule in order (which condition failed), the rollout bucket."""
    lines: list[str] = []
    if flag.kill_switch:
        return [f"kill switch is ON: everyone gets the default {json.dumps(flag.default)} (rules and rollout "
                "are not consulted)"]
    for name, rule in flag.rules.items():
        failed = next((c for c in rule.conditions if not condition_matches(c, context)), None)
        if failed is None:
            lines.append(f"rule {name!r} matched (all {len(rule.conditions)} condition(s) hold): "
                         f"{json.dumps(rule.when_match)}")
            return lines
        seen = (f"{failed.key} = {json.dumps(context[failed.key])}" if failed.key in context
                else f"the context has no {failed.key}")
        lines.append(f"rule {name!r} did not match: {failed.key} {failed.action} {json.dumps(failed.value)} "
                     f"is false ({seen})")
    rollout = flag.rollout
    if rollout is None:
        lines.append(("no rule matched" if flag.rules else "no rules") + " and the flag has no rollout: "
                     f"the default {json.dumps(flag.default)}")
        return lines
    if result.bucket is None or result.threshold is None:
        lines.append(f"rollout by {rollout.attribute}: the context has no usable {rollout.attribute} (a string or "
                     f"an integer), so it cannot be placed: the default {json.dumps(flag.default)}")
        return lines
    inside = result.bucket < result.threshold
    lines.append(f"rollout by {rollout.attribute} = {json.dumps(context.get(rollout.attribute))}, salt "
                 f"{rollout.salt_for(key)!r}: bucket {result.bucket:,} of {FLAG_BUCKETS:,} "
                 f"{'<' if inside else '>='} {result.threshold:,} ({_pct(result.threshold)}): "
                 + (f"in the rollout -> {json.dumps(rollout.value)}" if inside
                    else f"not in the rollout -> the default {json.dumps(flag.default)}"))
    return lines


def headline(result: Evaluation) -> str:
    return (f"{result.flag} = {json.dumps(result.value)}  (reason {result.reason}, variant {result.variant}, "
            f"document version {result.version})")


# -- rollouts ---------------------------------------------------------------------------------------------
#: The sample API's flag cache period locally (AppConfig's shortest poll interval).
LOCAL_CACHE_SECONDS = 15
#: A step's bake starts this long after its deployment completed: every sample API process has polled by then.
LOCAL_PROPAGATION_SECONDS = LOCAL_CACHE_SECONDS + 1
#: Distinct users of the local traffic: enough that both cohorts of a small percentage fill.
LOCAL_USERS = 3000


def srm_note(record: Mapping[str, Any]) -> str:
    """The sample-ratio note of a decision record ('sample ratio ok: ...', '... mismatch ...', 'skipped ...')."""
    texts = [*record.get("reasons", []), *record.get("notes", [])]
    return next((t for t in texts if "sample ratio" in t or "sample-ratio" in t), "no sample-ratio check recorded")


def cohort_line(record: Mapping[str, Any]) -> str:
    """A decision on the ``on`` and ``off`` cohorts: requests, error rate, p99, and the sample-ratio check."""
    def cohort(name: str, samples: Mapping[str, Any]) -> str:
        requests = samples.get("invocations") or 0
        rate = f"{samples['errors'] / requests * 100:.2f} %" if requests else "-"
        p99 = "-" if samples.get("p99_ms") is None else f"{samples['p99_ms']:.0f} ms"
        return f"{name} {requests:.0f} requests, err {rate}, p99 {p99}"

    return (f"{record.get('weight')} %: {cohort('on', record.get('canary') or {})} | "
            f"{cohort('off', record.get('baseline') or {})} | {srm_note(record)} -> {record.get('verdict')}")


def decision_records(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The full decision records (S3) behind the release's decisions; a missing one is left out."""
    from opsctl.commands.common import read_s3

    records = []
    for decision in decisions:
        location = decision.get("location")
        if location:
            records.append(json.loads(read_s3(str(location))))
    return records


def flag_request(key: str, environment: str, steps: list[int] | None, *, local: bool) -> dict[str, Any]:
    """A flag release request (the canary state machine's input); locally with short bakes and the cohort
    business metric the sample API emits."""
    request: dict[str, Any] = {"kind": "feature_flag", "flag": {"environment": environment, "key": key}}
    if steps:
        request["steps"] = steps
    if local:
        from opsctl.commands.canary import with_local_defaults
        from opsctl.local.sample_api import API_NAMESPACE

        request = with_local_defaults(request)
        request["propagation_seconds"] = LOCAL_PROPAGATION_SECONDS
        request["thresholds"]["business"] = {"namespace": API_NAMESPACE, "name": "PredictionsServed",
                                             "dimensions": {"Flag": key}, "statistic": "Sum"}
    return request


@dataclass
class LocalFlagRelease:
    result: Any  # canary_runner.ReleaseRun
    records: list[dict[str, Any]]
    traffic: dict[str, Any]
    #: the rollout percentage of the flag in the deployed document before and after the release
    before: float | None
    after: float | None


def local_flag_release(env: Any, request: dict[str, Any], *, flag_on_error_rate: float = 0.0, rps: float = 20.0,
                       prefix: str = "churnguard-ops", seed: int | None = None) -> LocalFlagRelease:
    """Ramp a flag on the embedded AWS with the sample API serving users, followed to the end."""
    import contextlib

    from opsctl import canary_runner
    from opsctl.console import progress
    from opsctl.local.sample_api import SampleApi
    from opsctl.local.traffic import TrafficGenerator, user_requests

    key, environment = request["flag"]["key"], request["flag"]["environment"]
    before = _percentage(deployed(environment), key)
    progress(f"deploying the sample API churnguard-api reading flags of {environment}; the {key} on-cohort fails "
             f"{flag_on_error_rate:g} of its requests")
    lam = env.aws.client("lambda")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName="churnguard-api")  # a previous release in this account (the demo)
    api = SampleApi.deploy(env.aws, environment={
        "FLAGS_ENVIRONMENT": environment, "FLAGS_CACHE_SECONDS": str(LOCAL_CACHE_SECONDS),
        "FLAGS_EXPOSURE_SAMPLE_RATE": "1.0", "FLAG_UNDER_TEST": key, "FLAG_ON_ERROR_RATE": str(flag_on_error_rate)})
    traffic = TrafficGenerator(env.aws, api.qualified_name, rps, payload=user_requests(LOCAL_USERS, seed)).start()
    try:
        machine = canary_runner.state_machine_arn(prefix)
        arn = canary_runner.start(machine, request)
        progress(f"started flag release {arn.rsplit(':', 1)[-1]} with {rps:g} requests/s of {LOCAL_USERS} users")
        result = canary_runner.follow(arn, request.get("steps") or [], poll_interval=0.25,
                                      on_event=_cohorts_printer())
    finally:
        stats = traffic.stop().as_dict()
    return LocalFlagRelease(result, decision_records(result.decisions), stats, before,
                            _percentage(deployed(environment), key))


def follow_flag_release(arn: str, steps: list[int]) -> tuple[Any, list[dict[str, Any]]]:
    """Follow a flag release on AWS (as :func:`local_flag_release` does locally)."""
    from opsctl import canary_runner

    result = canary_runner.follow(arn, steps, poll_interval=5, on_event=_cohorts_printer())
    return result, decision_records(result.decisions)


def _cohorts_printer() -> Any:
    """An ``on_event`` hook of ``canary_runner.follow``: after each new decision, its cohorts from its record."""
    from opsctl.canary_runner import JUDGING_STATES
    from opsctl.commands.common import read_s3
    from opsctl.console import progress

    shown: set[str] = set()

    def on_event(event: dict[str, Any]) -> None:
        details = event.get("stateExitedEventDetails") or {}
        if event.get("type") != "TaskStateExited" or details.get("name") not in JUDGING_STATES:
            return
        try:
            location = (json.loads(details.get("output") or "{}").get("last_decision") or {}).get("location")
        except json.JSONDecodeError:
            return
        if location and location not in shown:
            shown.add(location)
            progress("        cohorts " + cohort_line(json.loads(read_s3(location))))

    return on_event


def _percentage(served: Deployed, key: str) -> float | None:
    flag = served.document.get(key)
    return flag.rollout.percentage if flag is not None and flag.rollout is not None else None


def ramp_documents(key: str, percentages: list[float], region: str | None = None) -> dict[float, tuple[str, Any]]:
    """The newest hosted version of the flag profile with ``key`` at each of ``percentages``: pct -> (version,
    document). A ramp leaves one version per step, so its documents can be evaluated again afterwards."""
    from churnguard_ops.core import aws

    appconfig = aws.client("appconfig", region)
    app_id, profile_id, _ = locate(appconfig)
    items = appconfig.list_hosted_configuration_versions(ApplicationId=app_id,
                                                         ConfigurationProfileId=profile_id).get("Items", [])
    found: dict[float, tuple[str, Any]] = {}
    for number in sorted((int(item["VersionNumber"]) for item in items), reverse=True):
        document = hosted_document(str(number), region)
        flag = document.get(key)
        pct = flag.rollout.percentage if flag is not None and flag.rollout is not None else None
        if pct in percentages and pct not in found:
            found[pct] = (str(number), document)
    return found
