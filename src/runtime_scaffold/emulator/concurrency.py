"""Lambda Managed Instances in one execution environment: up to N invocations at once (docs/runtime-api.md §8.3).

A function in this mode gets ``AWS_LAMBDA_MAX_CONCURRENCY=N`` and ``AWS_LAMBDA_LOG_FORMAT=JSON`` (the mode only
supports JSON logs), may hold N ``/next`` requests at once, and answers them in any order; an invocation whose
deadline passes fails alone, and the environment lives on (Lambda does not stop the handler in this mode). The
log rules of the mode are applied here, by :class:`JsonLogs`:

- Lambda's own lines are JSON records (``platform.start``, ``platform.report``, as in CloudWatch with the JSON
  log format), one per invocation, with the tenant when there is one.
- Each line the runtime writes must be a JSON object (the contract: ``{"timestamp","level","message",
  "requestId"}``). A line that is not is passed on as it is, never dropped, and reported: the first few one by
  one, then counted, with the count said when the environment ends.
- ``X-Amz-Log-Type: Tail`` gets the invocation's own lines: its platform records and the runtime's lines whose
  ``requestId`` is its request id (lines of concurrent invocations interleave, so the environment's last 4 KB
  would mix them).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, LOG_TAIL_BYTES, Invocation, InvocationResult
from runtime_scaffold.errors import InvalidInput, ProjectError
from runtime_scaffold.project import Function, Project

# PerExecutionEnvironmentMaxConcurrency's bounds in Lambda's API (boto3's service model: 1-1600).
MAX_CONCURRENCY_LIMIT = 1600
# A function given a capacity provider without `maxConcurrency`: Lambda's default depends on the runtime (the
# Framework's page lists Node.js 64, Java and .NET 32, Python 16) and AWS documents none for OS-only runtimes; the
# smallest of those stands in.
DEFAULT_MAX_CONCURRENCY = 16
# How many of an environment's non-JSON lines are reported one by one before they are only counted.
_REPORTED_ONE_BY_ONE = 3


def check_max_concurrency(value: int, *, where: str = "--max-concurrency") -> int:
    """``value`` when Lambda accepts it as PerExecutionEnvironmentMaxConcurrency, else a one-line InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY_LIMIT:
        raise InvalidInput(f"{where} must be a whole number from 1 to {MAX_CONCURRENCY_LIMIT} "
                           f"(Lambda's PerExecutionEnvironmentMaxConcurrency), not {value!r}")
    return value


def function_max_concurrency(project: Project, function: Function) -> int | None:
    """The function's Managed Instances concurrency from its ``capacityProvider`` (Serverless Framework v4:
    a provider's name or ARN, or ``{name, maxConcurrency, ...}``), None for a standard function."""
    functions = project.config.get("functions")
    spec = functions.get(function.key) if isinstance(functions, dict) else None
    provider = spec.get("capacityProvider") if isinstance(spec, dict) else None
    if provider is None or provider is False:
        return None
    if not isinstance(provider, dict) or provider.get("maxConcurrency") is None:
        return DEFAULT_MAX_CONCURRENCY
    try:
        return check_max_concurrency(provider["maxConcurrency"],
                                     where=f"functions.{function.key}.capacityProvider.maxConcurrency")
    except InvalidInput as error:
        raise ProjectError(f"{project.config_path}: {error.message}") from None


def managed_instances_environment(max_concurrency: int) -> dict[str, str]:
    """The variables Lambda sets for a runtime in this mode (reserved: they win over the function's own)."""
    return {"AWS_LAMBDA_MAX_CONCURRENCY": str(max_concurrency), "AWS_LAMBDA_LOG_FORMAT": "JSON"}


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _record(kind: str, record: dict[str, Any]) -> str:
    return json.dumps({"time": _timestamp(), "type": kind, "record": record}, separators=(",", ":"))


def report_status(result: InvocationResult, *, init_failed: bool) -> tuple[str, str | None]:
    """platform.report's ``status`` and ``errorType``, as the Telemetry API names them."""
    error_type = result.error_type
    if error_type is None:
        return "success", None
    if error_type == "Sandbox.Timedout":
        return "timeout", error_type
    if init_failed or error_type in ("Runtime.ExitError", "Sandbox.Failure", "Runtime.InvalidEntrypoint"):
        return "failure", error_type
    return "error", error_type


class JsonLogs:
    """One environment's log in the JSON format: platform records, the check of the runtime's lines, tails."""

    def __init__(self) -> None:
        self._tails: dict[str, bytearray] = {}  # request id -> its lines, for the invocations running now
        self.non_json = 0  # how many of the runtime's lines were not JSON objects
        self.first_non_json: str | None = None  # the first of them (200 characters at most), for a reason

    # -- Lambda's own records --------------------------------------------------------------------------

    def start(self, invocation: Invocation) -> str:
        """platform.start for ``invocation``; from now on its lines are kept for its tail."""
        record: dict[str, Any] = {"requestId": invocation.request_id, "functionArn": invocation.function_arn,
                                  "version": FUNCTION_VERSION}
        if invocation.tenant_id is not None:
            record["tenantId"] = invocation.tenant_id
        line = _record("platform.start", record)
        self._tails[invocation.request_id] = bytearray(line.encode() + b"\n")
        return line

    def report(self, invocation: Invocation, result: InvocationResult, *, memory_size_mb: int,
               init_failed: bool) -> str:
        """platform.report, the JSON form of the REPORT line."""
        init = result.init_duration_ms
        metrics: dict[str, Any] = {
            "durationMs": round(result.duration_ms, 3),
            "billedDurationMs": math.ceil(result.duration_ms + (init or 0)),
            "memorySizeMB": memory_size_mb,
            "maxMemoryUsedMB": result.max_memory_used_mb,
        }
        if init is not None:
            metrics["initDurationMs"] = round(init, 3)
        status, error_type = report_status(result, init_failed=init_failed)
        record: dict[str, Any] = {"requestId": invocation.request_id, "metrics": metrics, "status": status}
        if error_type is not None:
            record["errorType"] = error_type
        if invocation.tenant_id is not None:
            record["tenantId"] = invocation.tenant_id
        line = _record("platform.report", record)
        self._keep(invocation.request_id, line.encode() + b"\n")
        return line

    def tail(self, request_id: str) -> bytes:
        """The invocation's own lines (the last 4 KB of them), once: it has ended."""
        lines = self._tails.pop(request_id, b"")
        return bytes(lines[-LOG_TAIL_BYTES:])

    def _keep(self, request_id: str, line: bytes) -> None:
        kept = self._tails.get(request_id)
        if kept is not None:
            kept += line
            if len(kept) > 2 * LOG_TAIL_BYTES:
                del kept[:-LOG_TAIL_BYTES]

    # -- the runtime's lines --------------------------------------------------------------------------

    def runtime_output(self, data: bytes) -> bytes:
        """Whole lines the runtime wrote, checked, as they go on to the log (with a report after a bad one)."""
        out: list[bytes] = []
        for line in data.splitlines(keepends=True):
            out.append(line)
            text = line.strip()
            if not text:
                continue
            document: object = None
            if text.startswith(b"{"):
                try:
                    document = json.loads(text)
                except (ValueError, RecursionError):
                    document = None
            if isinstance(document, dict):
                request_id = document.get("requestId")
                if isinstance(request_id, str):
                    self._keep(request_id, line if line.endswith(b"\n") else line + b"\n")
                continue
            out.append(self._not_json(text))
        return b"".join(out)

    def _not_json(self, text: bytes) -> bytes:
        self.non_json += 1
        if self.first_non_json is None:
            self.first_non_json = text[:200].decode("utf-8", "replace")
        if self.non_json < _REPORTED_ONE_BY_ONE:
            return (b"scaffold: the line above is not a JSON object: with AWS_LAMBDA_LOG_FORMAT=JSON every log "
                    b"line must be one\n")
        if self.non_json == _REPORTED_ONE_BY_ONE:
            return (b"scaffold: the line above is not a JSON object either; further ones are counted, and the "
                    b"count is given when the environment ends\n")
        return b""

    def summary(self) -> str | None:
        """The line that ends an environment whose runtime wrote lines that were not JSON objects."""
        if self.non_json <= _REPORTED_ONE_BY_ONE:
            return None
        return (f"scaffold: {self.non_json} of this environment's log lines were not JSON objects "
                "(AWS_LAMBDA_LOG_FORMAT=JSON)")
