"""The Shutdown phase of an execution environment, with Lambda's figures.

Lambda's "Extensions API" page: the Shutdown phase lasts at most 0 ms with no registered extension, 500 ms with
internal extensions only, 2,000 ms with one or more external extensions; of those 2,000 ms the runtime gets up
to 300 ms (500 ms when it also has an internal extension) to shut down gracefully, the external extensions the
rest. The order is AWS's emulator's (``rapid/shutdown.go``): without extensions the runtime is killed at once
(no SIGTERM); with extensions it gets SIGTERM and its share of the time, then SIGKILL; then each external
extension registered for SHUTDOWN gets the event (``shutdownReason`` and ``deadlineMs``) and may exit by
itself until the deadline, while the other external extensions are killed at once; whatever is left at the
deadline is killed. A reset after a timeout or a crash is the same phase with another reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from runtime_scaffold.emulator.process import BootstrapProcess

SPINDOWN, TIMEOUT, FAILURE = "spindown", "timeout", "failure"
WITH_EXTERNAL_S = 2.0
INTERNAL_ONLY_S = 0.5
RUNTIME_SHARE_S = 0.3  # of the 2,000 ms, for the runtime, with external extensions only
RUNTIME_SHARE_WITH_INTERNAL_S = 0.5
# What telemetry still buffered gets, of the extensions' share, before SHUTDOWN is sent.
TELEMETRY_FLUSH_SHARE = 0.25


def phase_length_s(*, external: int, internal: int) -> float:
    if external:
        return WITH_EXTERNAL_S
    return INTERNAL_ONLY_S if internal else 0.0


def runtime_share_s(*, external: int, internal: int) -> float:
    if not external:
        return INTERNAL_ONLY_S if internal else 0.0
    return RUNTIME_SHARE_WITH_INTERNAL_S if internal else RUNTIME_SHARE_S


@dataclass
class ShutdownReport:
    """What happened, for the log: which processes ended by themselves and which had to be killed."""

    reason: str
    runtime_exited: bool = True  # on SIGTERM, within its share (True when there was nothing to stop)
    killed: list[str] = field(default_factory=list)  # names of the external extensions that had to be killed
    exited: list[str] = field(default_factory=list)  # names of those that exited after SHUTDOWN
    duration_ms: float = 0.0


async def _exit_within(process: BootstrapProcess, seconds: float) -> bool:
    if process.exited.done():
        return True
    if seconds > 0:
        await asyncio.wait([process.exited], timeout=seconds)
    return process.exited.done()


async def shut_down(
    *,
    reason: str,
    runtime: BootstrapProcess | None,
    externals: Sequence[tuple[str, BootstrapProcess, bool]],  # (name, process, registered for SHUTDOWN)
    internal: int,
    send_shutdown: Callable[[str, int], object],
    flush_telemetry: Callable[[float], Awaitable[None]],
) -> ShutdownReport:
    """Run the phase to its end: every process of the environment has exited or been killed when it returns."""
    started = time.monotonic()
    report = ShutdownReport(reason)
    external = len(externals)
    length = phase_length_s(external=external, internal=internal)
    deadline = started + length
    if runtime is not None and not runtime.exited.done():
        if length == 0:
            runtime.kill_group()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                runtime.popen.send_signal(signal.SIGTERM)
            share = runtime_share_s(external=external, internal=internal)
            report.runtime_exited = await _exit_within(runtime, share)
            runtime.kill_group()
    if externals:
        await flush_telemetry(max(deadline - time.monotonic(), 0.0) * TELEMETRY_FLUSH_SHARE)
        deadline_ms = int((time.time() + max(deadline - time.monotonic(), 0.0)) * 1000)
        send_shutdown(reason, deadline_ms)
        waiting = []
        for name, process, subscribed in externals:
            if subscribed and not process.exited.done():
                waiting.append((name, process))
            elif not process.exited.done():
                process.kill_group()  # not registered for SHUTDOWN: nothing to wait for
        if waiting:
            await asyncio.wait([process.exited for _, process in waiting],
                               timeout=max(deadline - time.monotonic(), 0.0))
        for name, process in waiting:
            (report.exited if process.exited.done() else report.killed).append(name)
            process.kill_group()
    report.duration_ms = (time.monotonic() - started) * 1000
    return report
