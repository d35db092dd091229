"""Options, input checks and target selection shared by commands."""
from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsctl.errors import UsageError

if TYPE_CHECKING:
    from opsctl.environment import LocalEnvironment

__all__ = ["DEFAULT_PREFIX", "UsageError", "add_target_options", "check_out_dir", "copy_reports", "function_name",
           "local_target", "read_event", "read_s3", "running", "wants_local"]

DEFAULT_PREFIX = "churnguard-ops"


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", action="store_true",
                        help="run on the embedded default (moto + PostgreSQL), also implied without AWS credentials")
    parser.add_argument("--out", metavar="DIR", help="write machine-readable results into DIR")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="resource prefix of the deployed stacks")


def wants_local(args: argparse.Namespace) -> bool:
    if args.local:
        return True
    import boto3

    return boto3.session.Session().get_credentials() is None


def check_out_dir(out: str | None) -> None:
    """Refuse an --out that cannot hold files now, not after the work is done."""
    if out and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")


def read_event(path: Path) -> Any:
    """An event file's JSON; a missing file or bad JSON is the operator's error, named with the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"event file {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"event file {path}: is a directory, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"event file {path}: cannot read it ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"event file {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") \
            from None


def local_target(args: argparse.Namespace, *, source_dsn: str | None = None) -> LocalEnvironment | None:
    """The embedded default, synthesized but not started (so names can be checked first), or None for AWS."""
    if not wants_local(args):
        return None
    from opsctl.environment import LocalEnvironment

    return LocalEnvironment(source_dsn=source_dsn).synthesize()


@contextlib.contextmanager
def running(env: LocalEnvironment | None) -> Iterator[LocalEnvironment | None]:
    """Start the embedded default for the block (stopped afterwards, even on Ctrl-C); nothing on AWS."""
    if env is None:
        yield None
        return
    with env:
        yield env


def function_name(env: LocalEnvironment | None, args: argparse.Namespace, short: str) -> str:
    """``backup`` -> ``<prefix>-backup``; a full name passes through. Locally an unknown name is refused."""
    if env is not None:
        return env.function_name(short)
    return short if short.startswith(f"{args.prefix}-") or ":" in short else f"{args.prefix}-{short}"


def read_s3(location: str) -> bytes:
    """The object at ``s3://bucket/key`` (a report a function wrote), with the boto3 credential chain."""
    import boto3

    if not location.startswith("s3://"):
        raise ValueError(f"not an S3 location: {location}")
    bucket, key = location.removeprefix("s3://").split("/", 1)
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def copy_reports(locations: dict[str, str], files: dict[str, str], out: str) -> dict[str, Path]:
    """Copy the reports a function wrote (``locations``: kind -> S3 location) into ``out`` as ``files[kind]``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, filename in files.items():
        if locations.get(kind):
            paths[kind] = folder / filename
            paths[kind].write_bytes(read_s3(locations[kind]))
    return paths


def check_request(model: Any, request: dict[str, Any], option_of: Callable[[str], str]) -> dict[str, Any]:
    """``request`` if ``model`` accepts it; else one line naming the option that sets the first refused field
    (``option_of(field)``) and where in the request it is, e.g. ``--steps (steps): ...``."""
    from pydantic import ValidationError

    try:
        model.model_validate(request)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        where = ".".join(str(p) for p in error["loc"])
        raise UsageError(f"{option_of(field)} ({where}): {error['msg'].removeprefix('Value error, ')}") from None
    return request
