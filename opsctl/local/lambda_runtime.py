"""In-process Lambda runtime: a registry of handlers and a faithful-enough invoke.

What it mimics from the AWS Python runtime, because code under test depends on it:
- the handler module is imported once (a "cold start") from the function's code directory,
  under a unique module name (every function ships an ``app.py``);
- the function's environment variables are visible in ``os.environ`` while it runs,
  together with the runtime's own variables (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, ...);
- an exception becomes ``{"errorMessage", "errorType", "stackTrace"}`` with FunctionError
  "Unhandled", so Step Functions Retry/Catch on error names behaves as on AWS.

- a published version runs with *its* configuration (environment, memory, timeout, as
  published) and the code registered when it was published (``snapshot_version``), and
  sees its version in ``context.function_version`` / ``AWS_LAMBDA_FUNCTION_VERSION``;
- what the handler prints goes to the function's log stream; lines that are CloudWatch
  embedded-metric-format (EMF) records are also handed back with the result, so the caller
  can ingest them as CloudWatch does from the function's log group.

Invocations are serialized with one lock (handlers share modules and process state); the function's
variables are an overlay of ``os.environ`` seen by the invoking thread alone (``_ThreadEnviron``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "FunctionNotRegistered",
    "InvocationResult",
    "LambdaContext",
    "LambdaRegistry",
    "RegisteredFunction",
    "VersionConfig",
    "parse_function_identifier",
]

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
#: What Lambda sets in AWS_EXECUTION_ENV (botocore sends it in its User-Agent as ``exec-env/...``).
LAMBDA_EXECUTION_ENV = "AWS_Lambda_python3.11"
Handler = Callable[[Any, Any], Any]

# name | name:qualifier | 123456789012:function:name[:q] | arn:aws:lambda:region:acct:function:name[:q]
_ARN_RE = re.compile(
    r"^(?:arn:(?P<partition>[\w-]+):lambda:(?P<region>[\w-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[\w$-]+))?$"
)


class FunctionNotRegistered(KeyError):
    pass


def parse_function_identifier(identifier: str) -> tuple[str, str | None, str | None]:
    """Return (function name, region or None, qualifier or None) for any form AWS accepts."""
    match = _ARN_RE.match(identifier)
    if not match:
        raise ValueError(f"not a Lambda function name or ARN: {identifier!r}")
    return match["name"], match["region"], match["qualifier"]


@dataclass
class LambdaContext:
    """The attributes handlers (and Powertools' inject_lambda_context) read from the context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class RegisteredFunction:
    name: str
    region: str
    handler: Handler | str
    code_dir: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    memory_mb: int = 128
    timeout_seconds: int = 900
    account_id: str = DEFAULT_ACCOUNT_ID
    _resolved: Handler | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


@dataclass(frozen=True)
class VersionConfig:
    """What a qualified invocation runs: a published version's configuration, as the control plane holds it."""

    version: str  # "$LATEST" or "1", "2", ...
    environment: Mapping[str, str] | None = None  # None: the registered function's own
    memory_mb: int | None = None
    timeout_seconds: int | None = None
    invoked_arn: str | None = None  # the ARN the caller used, qualifier included


@dataclass
class InvocationResult:
    payload: Any
    function_error: str | None = None  # "Unhandled" when the handler raised
    request_id: str = ""
    executed_version: str = "$LATEST"
    started_at: float = 0.0  # epoch seconds when the handler started
    duration_ms: float = 0.0  # handler wall time, measured
    emf_records: list[dict[str, Any]] = field(default_factory=list)  # EMF lines the handler printed
    throttled: bool = False  # refused before running (no invocation happened)

    def body(self) -> bytes:
        return json.dumps(self.payload).encode()


class LambdaRegistry:
    """Functions by (region, name); invoke() runs one with its environment overlaid."""

    def __init__(self, default_region: str = "us-east-1", lock_timeout_seconds: float = 600) -> None:
        self.default_region = default_region
        self._functions: dict[tuple[str, str], RegisteredFunction] = {}
        self._invoke_lock = threading.Lock()
        self._lock_timeout = lock_timeout_seconds
        self.invocations: list[tuple[str, str]] = []  # (function name, request id): a cheap audit trail
        # Where handler stdout (Powertools logs, EMF metrics) goes, one file per function, as
        # CloudWatch Logs would hold it. None: the caller's stdout.
        self.log_dir: Path | None = None
        self._log_files: dict[str, Any] = {}
        self._tees: dict[tuple[str, str], _OutputTee] = {}
        # Published versions' code: the registration current when the version was published.
        self._versions: dict[tuple[str, str, str], RegisteredFunction] = {}

    # -- registration ------------------------------------------------------------------
    def register(
        self,
        function_name: str,
        handler: Handler | str,
        *,
        code_dir: str | os.PathLike[str] | None = None,
        environment: Mapping[str, str] | None = None,
        region: str | None = None,
        memory_mb: int = 128,
        timeout_seconds: int = 900,
    ) -> RegisteredFunction:
        if isinstance(handler, str) and code_dir is None:
            raise ValueError(f"handler {handler!r} given as a string needs code_dir")
        fn = RegisteredFunction(
            name=function_name,
            region=region or self.default_region,
            handler=handler,
            code_dir=Path(code_dir).resolve() if code_dir is not None else None,
            environment={k: str(v) for k, v in (environment or {}).items()},
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
        )
        self._functions[(fn.region, fn.name)] = fn
        return fn

    def clear(self) -> None:
        self._functions.clear()
        self._versions.clear()

    def snapshot_version(self, identifier: str, version: str, region: str | None = None) -> RegisteredFunction | None:
        """Freeze the code registered now as ``version``'s code (AWS: PublishVersion freezes $LATEST).

        The configuration is not frozen here: a version's configuration is the control plane's
        (moto keeps one per published version) and comes with each invocation (VersionConfig).
        """
        try:
            fn = self.lookup(identifier, region)
        except (FunctionNotRegistered, ValueError):
            return None
        key = (fn.region, fn.name, version)
        if key not in self._versions:
            self._versions[key] = dataclasses.replace(fn)  # shares the loaded module, like a warm copy
        return self._versions[key]

    def version_code(self, fn: RegisteredFunction, version: str) -> RegisteredFunction:
        """The registration that runs ``version`` (frozen on first use when not published through the API)."""
        if version == "$LATEST":
            return fn
        return self.snapshot_version(fn.arn, version, fn.region) or fn

    def __iter__(self) -> Iterator[RegisteredFunction]:
        return iter(list(self._functions.values()))

    def lookup(self, identifier: str, region: str | None = None) -> RegisteredFunction:
        """Find by name, partial or full ARN (qualifier ignored: only $LATEST exists locally).

        An ARN's own region wins; else the caller's region; else a name unique across regions.
        """
        name, arn_region, _qualifier = parse_function_identifier(identifier)
        for candidate_region in (arn_region, region):
            if candidate_region and (candidate_region, name) in self._functions:
                return self._functions[(candidate_region, name)]
        if arn_region is None:
            matches = [fn for (_, n), fn in self._functions.items() if n == name]
            if len(matches) == 1:
                return matches[0]
        raise FunctionNotRegistered(identifier)

    def is_registered(self, identifier: str, region: str | None = None) -> bool:
        try:
            self.lookup(identifier, region)
            return True
        except (FunctionNotRegistered, ValueError):
            return False

    # -- invocation --------------------------------------------------------------------
    def invoke(
        self, identifier: str, event: Any, *, region: str | None = None, version: VersionConfig | None = None,
        nested: bool = False,
    ) -> InvocationResult:
        """Run the function, one invocation at a time. ``nested``: called synchronously by the running
        function's own code, which holds the lock and waits for this answer, so it runs inside that one
        (taking the lock would deadlock). Without a running function, nested calls queue like any other."""
        registered = self.lookup(identifier, region)
        version = version or VersionConfig("$LATEST")
        fn = self.version_code(registered, version.version)
        if nested and self._invoke_lock.locked():
            return self._invoke_locked(fn, event, version)
        if not self._invoke_lock.acquire(timeout=self._lock_timeout):
            # A handler that synchronously waits on another local invoke would deadlock here.
            result = _error_result(
                TimeoutError(f"{fn.name}: waited {self._lock_timeout}s for another local invocation"),
                "Local.InvocationLockTimeout",
            )
            result.throttled = True
            result.executed_version = version.version
            return result
        try:
            return self._invoke_locked(fn, event, version)
        finally:
            self._invoke_lock.release()

    def _invoke_locked(self, fn: RegisteredFunction, event: Any, version: VersionConfig) -> InvocationResult:
        context = LambdaContext(
            function_name=fn.name,
            invoked_function_arn=version.invoked_arn or fn.arn,
            memory_limit_in_mb=version.memory_mb or fn.memory_mb,
            timeout_seconds=version.timeout_seconds or fn.timeout_seconds,
            function_version=version.version,
        )
        self.invocations.append((fn.name, context.aws_request_id))
        tee = self._tee(fn)
        started = time.time()
        clock = time.perf_counter()
        with _environment(_runtime_env(fn, version)), contextlib.redirect_stdout(tee.start()):
            try:
                handler = self._resolve(fn)
                payload = handler(event, context)
                result = InvocationResult(payload=payload, request_id=context.aws_request_id)
            except Exception as exc:  # noqa: BLE001 - every handler failure becomes a Lambda error
                result = _error_result(exc, request_id=context.aws_request_id)
            finally:
                duration_ms = (time.perf_counter() - clock) * 1000
                emf = tee.finish()
        if result.function_error is None:
            try:
                json.dumps(result.payload)  # the runtime must serialize the result; fail as it does if not
            except (TypeError, ValueError) as exc:
                result = _error_result(exc, "Runtime.MarshalError", context.aws_request_id)
        result.executed_version = version.version
        result.started_at = started
        result.duration_ms = duration_ms
        result.emf_records = emf
        return result

    def _tee(self, fn: RegisteredFunction) -> _OutputTee:
        """One tee per function (and log stream), kept: Powertools binds its log handler to the
        stream that was sys.stdout when the handler module was imported."""
        key = (fn.region, fn.name)
        tee = self._tees.get(key)
        if tee is None:
            tee = self._tees[key] = _OutputTee()
        tee.target = self._log_stream(fn)
        return tee

    def _log_stream(self, fn: RegisteredFunction) -> Any:
        """One stream per function, kept open: Powertools binds its log handler to the stream
        that was sys.stdout when the handler module was imported."""
        if self.log_dir is None:
            return sys.stdout
        if fn.name not in self._log_files:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log_files[fn.name] = open(self.log_path(fn.name), "a", buffering=1)  # noqa: SIM115
        return self._log_files[fn.name]

    def log_path(self, function_name: str) -> Path:
        assert self.log_dir is not None
        return self.log_dir / f"{function_name}.log"

    def close_logs(self) -> None:
        for stream in self._log_files.values():
            stream.close()
        self._log_files.clear()

    def _resolve(self, fn: RegisteredFunction) -> Handler:
        if fn._resolved is None:
            fn._resolved = fn.handler if callable(fn.handler) else _load_handler(fn)
        return fn._resolved


def _runtime_env(fn: RegisteredFunction, version: VersionConfig | None = None) -> dict[str, str]:
    version = version or VersionConfig("$LATEST")
    environment = fn.environment if version.environment is None else version.environment
    return {
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": version.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_mb or fn.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_EXECUTION_ENV": LAMBDA_EXECUTION_ENV,
        "_HANDLER": fn.handler if isinstance(fn.handler, str) else getattr(fn.handler, "__qualname__", "handler"),
        **{k: str(v) for k, v in environment.items()},
    }


class _OutputTee(io.TextIOBase):
    """sys.stdout during an invocation: writes through to the log stream, and keeps the
    complete lines that are EMF records (``{"_aws": {"CloudWatchMetrics": [...]}, ...}``)."""

    def __init__(self) -> None:
        super().__init__()
        self.target: Any = sys.stdout
        self._pending = ""
        self._emf: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def start(self) -> _OutputTee:
        with self._lock:
            self._pending, self._emf = "", []
        return self

    def finish(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._pending:
                self._scan(self._pending)
                self._pending = ""
            emf, self._emf = self._emf, []
        return emf

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.target.write(text)
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                *lines, self._pending = self._pending.split("\n")
                for line in lines:
                    self._scan(line)
        return len(text)

    def flush(self) -> None:
        flush = getattr(self.target, "flush", None)
        if flush is not None:
            flush()

    def _scan(self, line: str) -> None:
        line = line.strip()
        if not (line.startswith("{") and '"_aws"' in line):
            return
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict) and isinstance(record.get("_aws"), dict) \
                and "CloudWatchMetrics" in record["_aws"]:
            self._emf.append(record)


class _ThreadEnviron(os._Environ):  # type: ignore[type-arg,misc]
    """``os.environ`` whose contents are per thread while a function runs.

    A handler must see its function's variables in ``os.environ``; writing them into the process
    environment and removing them afterwards races with every other thread that reads it (the traffic
    generator, the Step Functions interpreter, the server): a key removed while another thread iterates
    ``os.environ`` (urllib's proxy lookup does, for each new boto3 client) raises KeyError there. So the
    invoking thread gets its own copy with the overlay; every other thread keeps seeing the process's.
    """

    def __init__(self, base: os._Environ) -> None:  # type: ignore[type-arg]
        self.__dict__.update({k: v for k, v in vars(base).items() if k != "_data"})
        self._process_data = base._data
        self._local = threading.local()

    @property  # type: ignore[override]
    def _data(self) -> dict[Any, Any]:
        return getattr(self._local, "data", None) or self._process_data

    @_data.setter
    def _data(self, value: dict[Any, Any]) -> None:
        self._process_data = value


def _thread_environ() -> _ThreadEnviron:
    if not isinstance(os.environ, _ThreadEnviron):
        os.environ = _ThreadEnviron(os.environ)  # noqa: B003 - same process data, per-thread overlay on top
    return os.environ


@contextmanager
def _environment(overlay: Mapping[str, str]) -> Iterator[None]:
    """``overlay`` on top of the process environment, visible to this thread only while it runs."""
    environ = _thread_environ()
    data = dict(environ._process_data)
    data.update({environ.encodekey(k): environ.encodevalue(v) for k, v in overlay.items()})
    environ._local.data = data
    try:
        yield
    finally:
        environ._local.data = None


def _load_handler(fn: RegisteredFunction) -> Handler:
    """Import "pkg.module.func" from fn.code_dir by file path, under a module name unique to fn."""
    assert isinstance(fn.handler, str) and fn.code_dir is not None
    module_path, _, func_name = fn.handler.rpartition(".")
    if not module_path:
        raise ValueError(f"handler {fn.handler!r} must look like 'module.function'")
    file = fn.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    unique = "_local_lambda_" + "_".join(_identifier(p) for p in (fn.region, fn.name, module_path))
    spec = importlib.util.spec_from_file_location(unique, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file} for function {fn.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    # Sibling imports (``import helpers``) resolve from the code dir, as in Lambda's /var/task.
    sys.path.insert(0, str(fn.code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    finally:
        sys.path.remove(str(fn.code_dir))
    return getattr(module, func_name)


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _error_result(exc: BaseException, error_type: str | None = None, request_id: str = "") -> InvocationResult:
    payload = {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }
    return InvocationResult(payload=payload, function_error="Unhandled", request_id=request_id)
