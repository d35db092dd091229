"""opsctl security replay: the detectors offline over a file of events, with the engine that runs live."""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
from collections import Counter, OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from opsctl.commands.common import UsageError
from opsctl.console import progress

#: Alert ids remembered to skip a redelivered event's repeated alert (alerts are rare next to events).
_SEEN_ALERTS = 100_000
_PROGRESS_EVERY = 200_000
_SHOWN = 10  # alerts listed on the terminal when they go to a file


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("security", help="security event analysis (detectors over app and CloudTrail events)")
    actions = parser.add_subparsers(dest="action", required=True)
    replay = actions.add_parser(
        "replay", help="run the detectors over a file of events; write alerts as JSONL, print a summary",
        description="FILE: JSONL of application security events, JSONL of EventBridge envelopes (detail = an "
                    "application event or a CloudTrail record), or a CloudTrail log file ({\"Records\": [...]}, "
                    "gzipped or not). Every detector runs by default: the application ones (brute_force_login, "
                    "data_exfiltration, ...) on application events, the CloudTrail ones (root_activity, "
                    "snapshot_shared_externally, backup_tampering, console_brute_force, ...) on CloudTrail records. "
                    "Streams: a million events in bounded memory. Event time only: windows, dedup and lateness "
                    "follow the events' own timestamps. Exit 0 (alerts or not), 2 on bad input.")
    replay.add_argument("file", metavar="FILE", help="the events to replay")
    replay.add_argument("--dedup-minutes", type=float, default=60.0,
                        help="one alert per detector and entity per this many minutes of event time (0: every "
                             "qualifying event alerts; default 60)")
    replay.add_argument("--lateness-seconds", type=float, default=900.0,
                        help="events up to this much older than the newest one still count (default 900)")
    replay.add_argument("--detector", dest="detectors", action="append", metavar="NAME",
                        help="run only this detector (repeatable; default: every detector, application and "
                             "CloudTrail alike: each judges only its own kind of event; `opsctl plugins list "
                             "--kind detector` lists them)")
    replay.add_argument("--config", metavar="FILE",
                        help="detector configuration, as the live analyzer takes it (SECURITY_DETECTORS): a JSON "
                             "list of {\"detector\": NAME, \"params\": {...}}; only these run, unless --detector "
                             "names others (which then run with default params)")
    replay.add_argument("--out", metavar="FILE", help="write the alerts as JSONL to FILE ('-': standard output)")
    replay.set_defaults(run=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from churnguard_ops.core.registry import PluginSpecError
    from churnguard_ops.security.engine import DetectorSpec, Engine, build_detectors
    from churnguard_ops.security.state import MemoryDetectorState

    if args.dedup_minutes < 0 or args.lateness_seconds < 0:
        raise UsageError("--dedup-minutes and --lateness-seconds must be 0 or more")
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if args.out and args.out != "-" and Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a directory; name the alerts file")
    specs = _configured(args.config) if args.config else None
    if args.detectors:
        by_name = {spec.detector: spec for spec in specs or []}
        specs = [by_name.get(name) or DetectorSpec(detector=name) for name in args.detectors]
    try:
        detectors = build_detectors(specs)
    except (PluginSpecError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    engine = Engine(detectors, MemoryDetectorState(), dedup_seconds=args.dedup_minutes * 60,
                    lateness_seconds=args.lateness_seconds)
    seen: OrderedDict[str, None] = OrderedDict()
    per_detector: Counter[str] = Counter()
    entities: dict[str, set[str]] = {}
    shown = 0
    with _alert_sink(args.out) as sink:
        for event in _events(path):
            for alert in engine.process(event):
                if alert.alert_id in seen:
                    continue
                seen[alert.alert_id] = None
                if len(seen) > _SEEN_ALERTS:
                    seen.popitem(last=False)
                per_detector[alert.detector] += 1
                known = entities.setdefault(alert.detector, set())
                if len(known) < 10_000:
                    known.add(alert.entity)
                if sink is not None:
                    sink.write(json.dumps(alert.line(), sort_keys=True) + "\n")
                if sink is not sys.stdout and shown < _SHOWN:
                    shown += 1
                    print(f"  {alert.timestamp.isoformat()}  {alert.severity:<8} {alert.detector:<28} "
                          f"{alert.entity}  (count {alert.count}, event {alert.event_id})")
            if engine.stats.events % _PROGRESS_EVERY == 0:
                progress(f"{engine.stats.events:,} events, {engine.stats.alerts:,} alerts")
    _summary(engine, per_detector, entities, args.out, shown)
    return 0


def _configured(config: str) -> list[Any]:
    """The detector specs of a ``--config`` file; one line and exit 2 for anything wrong with it."""
    from pydantic import ValidationError

    from churnguard_ops.core.registry import describe_errors
    from churnguard_ops.security.engine import DetectorSpec

    path = Path(config)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--config {config}: cannot read it ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {config}: not JSON ({exc})") from None
    if not isinstance(loaded, list):
        raise UsageError(f"--config {config}: expected a JSON list of detector specs "
                         '([{"detector": NAME, "params": {...}}]), not a JSON ' + type(loaded).__name__)
    specs = []
    for number, spec in enumerate(loaded, start=1):
        try:
            specs.append(DetectorSpec.model_validate(spec))
        except ValidationError as exc:
            raise UsageError(f"--config {config}: entry {number}: {describe_errors(exc)}") from None
    return specs


def _summary(engine: Any, per_detector: Counter[str], entities: dict[str, set[str]], out: str | None,
             shown: int) -> None:
    stats = engine.stats
    total = sum(per_detector.values())
    stream = sys.stderr if out == "-" else sys.stdout
    if shown < total and out != "-":
        print(f"  ... {total - shown} more" + (f" in {out}" if out else " (--out FILE writes them all)"), file=stream)
    print(f"{stats.events:,} events, {total:,} alerts (dedup {engine.dedup_seconds / 60:g} min, "
          f"{stats.deduplicated:,} deduplicated, {stats.suppressed:,} suppressed)", file=stream)
    width = max((len(d.name) for d in engine.detectors), default=10)
    for detector in engine.detectors:
        count = per_detector.get(detector.name, 0)
        print(f"  {detector.name:<{width}}  {detector.severity:<8}  {count:>7,} alerts  "
              f"{len(entities.get(detector.name, ())):>6,} entities", file=stream)
    if out and out != "-":
        print(f"alerts: {out}", file=stream)


@contextlib.contextmanager
def _alert_sink(out: str | None) -> Iterator[IO[str] | None]:
    if not out:
        yield None
    elif out == "-":
        yield sys.stdout
    else:
        try:
            handle = open(out, "w")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"--out {out}: cannot write it ({exc.strerror})") from None
        with handle:
            yield handle


def _events(path: Path) -> Iterator[Any]:
    """Events of the file, streamed: JSONL line by line; a whole JSON document (a CloudTrail log file) at once."""
    from churnguard_ops.security.sources import UnsupportedInput, to_events

    with _open(path) as handle:
        first = _first_line(handle)
        if first is None:
            raise UsageError(f"{path}: empty file")
        try:
            json.loads(first)
            whole = False
        except json.JSONDecodeError:
            whole = True  # a pretty-printed document, e.g. a CloudTrail log file
        handle.seek(0)
        if whole:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}: not JSON or JSON lines (line {exc.lineno}: {exc.msg})") from None
            except UnicodeDecodeError:
                raise UsageError(f"{path}: not UTF-8 text") from None
            try:
                yield from to_events(document)
            except UnsupportedInput as exc:
                raise UsageError(f"{path}: {exc}") from None
            return
        number = 0
        try:
            for number, line in enumerate(handle, start=1):  # noqa: B007 - named in errors
                if not line.strip():
                    continue
                try:
                    yield from to_events(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path} line {number}: not JSON ({exc.msg})") from None
                except UnsupportedInput as exc:
                    raise UsageError(f"{path} line {number}: {exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} line {number + 1}: not UTF-8 text") from None


def _open(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _first_line(handle: IO[str]) -> str | None:
    try:
        for line in handle:
            if line.strip():
                return line
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise UsageError(f"cannot read the file: {exc}") from None
    return None
