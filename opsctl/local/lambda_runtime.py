"""In-process Lambda runtime: a registry of handlers and a faithful-enough invoke.

What it mimics from the AWS Python runtime, because code under test depends on it:
- the handler module is imported once (a "cold start") from the function's code directory,
  under a unique module name (every function ships an ``app.py``);
- the function's environment variables are visible in ``os.environ`` while it runs,
  together with the runtime's own variables (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, ...);
- an exception becomes ``{"errorMessage", "errorType", "stackTrace"}`` with FunctionError
  "Unhandled", so Step Functions Retry/Catch on error names behaves as on AWS.

os.environ is process-global, so invocations are serialized with one lock.
"""

from __future__ import annotations

import contextlib
import importlib.util
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
    "parse_function_identifier",
]

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
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
        self.log_stream_name = f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"

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


@dataclass
class InvocationResult:
    payload: Any
    function_error: str | None = None  # "Unhandled" when the handler raised
    request_id: str = ""

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
    def invoke(self, identifier: str, event: Any, *, region: str | None = None) -> InvocationResult:
        fn = self.lookup(identifier, region)
        if not self._invoke_lock.acquire(timeout=self._lock_timeout):
            # A handler that synchronously waits on another local invoke would deadlock here.
            return _error_result(
                TimeoutError(f"{fn.name}: waited {self._lock_timeout}s for another local invocation"),
                "Local.InvocationLockTimeout",
            )
        try:
            context = LambdaContext(
                function_name=fn.name,
                invoked_function_arn=fn.arn,
                memory_limit_in_mb=fn.memory_mb,
                timeout_seconds=fn.timeout_seconds,
            )
            self.invocations.append((fn.name, context.aws_request_id))
            with _environment(_runtime_env(fn)), contextlib.redirect_stdout(self._log_stream(fn)):
                try:
                    handler = self._resolve(fn)
                    payload = handler(event, context)
                except Exception as exc:  # noqa: BLE001 - every handler failure becomes a Lambda error
                    return _error_result(exc, request_id=context.aws_request_id)
            try:
                json.dumps(payload)  # the runtime must serialize the result; fail as it does if not
            except (TypeError, ValueError) as exc:
                return _error_result(exc, "Runtime.MarshalError", context.aws_request_id)
            return InvocationResult(payload=payload, request_id=context.aws_request_id)
        finally:
            self._invoke_lock.release()

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


def _runtime_env(fn: RegisteredFunction) -> dict[str, str]:
    return {
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "_HANDLER": fn.handler if isinstance(fn.handler, str) else getattr(fn.handler, "__qualname__", "handler"),
        **fn.environment,
    }


@contextmanager
def _environment(overlay: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(overlay)
    try:
        yield
    finally:
        # Restore exactly, including removing keys the handler (or overlay) added.
        os.environ.clear()
        os.environ.update(saved)


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
