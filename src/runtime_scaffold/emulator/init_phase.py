"""Init as a phase of its own, as Lambda runs it for an on-demand function (lambda-runtime-environment).

A fresh execution environment's Init phase lasts from the bootstrap's start to its first ``/next`` and has its own
limit, 10 s (``INIT_TIMEOUT_S``), apart from the function's timeout: the invocation's deadline starts when the event
is handed to the runtime, and the REPORT line gives ``Init Duration`` apart. When Init fails (an ``/init/error``,
the bootstrap exiting before its first ``/next``, no bootstrap to start) or runs out of its 10 s, Lambda logs
``INIT_REPORT Init Duration: ... ms<TAB>Phase: init<TAB>Status: error<TAB>Error Type: ...`` (or
``Status: timeout``), resets the environment and runs Init again *within* the invocation, under the function's
timeout; a second failure is logged with ``Phase: invoke`` and is the invocation's answer. An environment reset
after an invocation (a crash, a timeout) also runs its next Init within the next invocation, as Lambda documents
("Lambda initializes the runtime and extensions as part of the next invocation").

:func:`wait_for_init` waits for the outcome of one Init; the sandbox decides which phase it runs in.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from runtime_scaffold.emulator import logs
from runtime_scaffold.emulator.invocation import Invocation, InvocationResult, error_body
from runtime_scaffold.emulator.process import BootstrapProcess, describe_exit
from runtime_scaffold.emulator.runtime_api import RuntimeApi

READY, ERROR, TIMEOUT = "ready", "error", "timeout"


@dataclass
class InitOutcome:
    """How one Init ended: ``ready`` (the first /next), ``error`` or ``timeout``, after ``duration_ms``."""

    status: str
    duration_ms: float
    error_type: str | None = None
    body: bytes | None = None  # the runtime's /init/error document, passed to the caller as Lambda does
    message: str | None = None  # Lambda's own words for a platform error ("Runtime exited with error: ...")
    phase: str = "init"  # "init": a phase of its own; "invoke": within the invocation, under its timeout

    @property
    def platform_error(self) -> bool:
        """The error is Lambda's to report (an exit, no bootstrap, a timeout), not a document the runtime posted."""
        return self.status != READY and self.body is None


def init_start_line(runtime: str) -> str:
    """Lambda's first line of an Init (``provided.al2023`` is written ``provided:al2023``; the version and its ARN,
    which name a build of Amazon's, have no local counterpart and are left out)."""
    return f"INIT_START Runtime Version: {runtime.replace('.', ':', 1) if runtime else 'provided'}"


def init_report_line(outcome: InitOutcome, *, phase: str) -> str:
    line = f"INIT_REPORT Init Duration: {outcome.duration_ms:.2f} ms\tPhase: {phase}\tStatus: {outcome.status}"
    if outcome.status == ERROR:
        line += f"\tError Type: {outcome.error_type}"
    return line


async def wait_for_init(api: RuntimeApi, process: BootstrapProcess, *, spawned_at: float,
                        limit_s: float) -> InitOutcome:
    """Wait until the bootstrap asks for its first event, posts /init/error, exits, or ``limit_s`` passes."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    errored: asyncio.Future[None] = loop.create_future()
    sample_memory = api.on_init_done

    def on_ready() -> None:
        if sample_memory is not None:
            sample_memory()
        if not ready.done():
            ready.set_result(None)

    def on_error() -> None:
        if not errored.done():
            errored.set_result(None)

    api.on_init_done, api.on_init_error = on_ready, on_error
    if api.first_next_at is not None:  # asked before anyone waited
        on_ready()
    if api.init_error is not None or api.ended is not None:
        on_error()
    waited: list[asyncio.Future[Any]] = [ready, errored, process.exited]
    await asyncio.wait(waited, timeout=max(limit_s, 0.0), return_when=asyncio.FIRST_COMPLETED)
    api.on_init_done, api.on_init_error = sample_memory, None
    if ready.done():
        return InitOutcome(READY, ((api.first_next_at or time.monotonic()) - spawned_at) * 1000)
    duration_ms = (time.monotonic() - spawned_at) * 1000
    if errored.done() and api.init_error is not None:
        body, error_type = api.init_error
        return InitOutcome(ERROR, duration_ms, error_type, body=body)
    if errored.done() and api.ended is not None and api.ended[0] != "Runtime.ExitError":  # an extension failed
        error_type, message = api.ended
        return InitOutcome(ERROR, duration_ms, error_type, message=message)
    if process.exited.done():
        return InitOutcome(ERROR, duration_ms, "Runtime.ExitError", message=describe_exit(process.exited.result()))
    for future in (ready, errored):
        future.cancel()
    return InitOutcome(TIMEOUT, duration_ms)


def failed_result(invocation: Invocation, outcome: InitOutcome) -> InvocationResult:
    """What the caller gets when the Init within its invocation failed: the runtime's init error document, or
    Lambda's own error (``Runtime.ExitError``, ``Runtime.InvalidEntrypoint``, a ``Sandbox.Timedout``)."""
    if outcome.status == TIMEOUT:
        text = f"RequestId: {invocation.request_id} Error: Task timed out after {invocation.timeout_s:.2f} seconds"
        return InvocationResult(invocation.request_id, error_body("Sandbox.Timedout", text), "Sandbox.Timedout")
    error_type = outcome.error_type or "Runtime.Unknown"
    if outcome.body is not None:
        return InvocationResult(invocation.request_id, outcome.body, error_type)
    text = f"RequestId: {invocation.request_id} Error: {outcome.message}"
    return InvocationResult(invocation.request_id, error_body(error_type, text), error_type)


def failure_lines(invocation: Invocation, init: InitOutcome, result: InvocationResult, *, memory_size_mb: int,
                  announced: bool) -> list[str]:
    """Lambda's log lines for an invocation whose Init failed: INIT_REPORT (Phase: invoke), START, its own error
    lines for a platform error, END, REPORT with the Status, and the timeout's line."""
    lines = [init_report_line(init, phase="invoke")]
    if not announced:
        lines.append(logs.start_line(invocation.request_id))
    if init.platform_error and init.status != TIMEOUT:
        lines += [f"RequestId: {invocation.request_id} Error: {init.message}", str(result.error_type)]
    status = "timeout" if init.status == TIMEOUT else f"error\tError Type: {result.error_type}"
    lines += [logs.end_line(invocation.request_id),
              logs.report_line(result, memory_size_mb=memory_size_mb, status=status, tenant_id=invocation.tenant_id)]
    if init.status == TIMEOUT:
        lines.append(logs.timed_out_line(invocation.request_id, invocation.timeout_s))
    return lines
