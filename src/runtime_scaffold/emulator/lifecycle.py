"""The Init, Invoke and Shutdown phases of one execution environment with its extensions, as the sandbox
drives them (one :class:`Lifecycle` per cold start, from launch to shutdown).

- **Init**: external extensions start first and must all register; then the runtime starts. Its first event
  waits (:attr:`RuntimeApi.hold`) until the runtime has called ``/next`` and every registered extension has
  called ``event/next``; registration closes at the runtime's first ``/next``. An extension that crashes, cannot
  be launched or reports an init error fails the invocation with ``Extension.Crash``, ``Extension.LaunchError``
  or its error type; one that never registers or never polls keeps init from ending until the deadline.
- **Invoke**: each invocation goes to every extension registered for ``INVOKE`` when it goes to the runtime;
  the caller gets the runtime's answer at once, and the invocation ends (its REPORT is written, the sandbox
  takes the next event) when every one of them has called ``event/next`` again.
- **Shutdown**: :mod:`shutdown`, with the reason the sandbox gives.

Telemetry (:mod:`telemetry`) is fed here with every platform event and the function's and extensions' lines.
A sandbox whose environment has no extension pays for none of it: with nothing launched and nothing
registered when the runtime first asks for an event, the held event is released in the same call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.emulator import logs, shutdown, telemetry_records
from runtime_scaffold.emulator.extension_launch import (
    LaunchedExtension,
    describe_extension_exit,
    discover,
    start_processes,
    watch,
)
from runtime_scaffold.emulator.extensions import INVOKE, SHUTDOWN, Extension, ExtensionsApi, Failure
from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, Invocation, InvocationResult
from runtime_scaffold.emulator.process import BootstrapProcess
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.runtime_api import RuntimeApi
from runtime_scaffold.emulator.sandbox_hosts import HostsView, hosts_view
from runtime_scaffold.emulator.telemetry import TelemetryApi
from runtime_scaffold.emulator.telemetry_records import Event, span
from runtime_scaffold.project import Function


@dataclass(frozen=True)
class ExtensionInfo:
    """What an observer is told about one extension."""

    name: str
    external: bool
    events: tuple[str, ...]
    state: str
    error_type: str | None


class ExtensionObserver:
    """Told what the extensions did, phase by phase (the conformance suite's window on them). Called on the
    emulator's loop: return at once. The default observes nothing."""

    def initialized(self, sandbox_id: str, extensions: list[ExtensionInfo]) -> None:
        """The Init phase is over (the runtime and every extension asked for their first event)."""

    def invocation_over(self, sandbox_id: str, request_id: str, *, after_runtime_ms: float,
                        late: list[str]) -> None:
        """The extensions are done with an invocation ``after_runtime_ms`` after the runtime answered it;
        ``late`` names those that had not asked for their next event by its deadline."""

    def shut_down(self, sandbox_id: str, reason: str, *, exited: list[str], killed: list[str],
                  not_told: list[str]) -> None:
        """The Shutdown phase is over: which extensions exited after SHUTDOWN, which were killed at its end, and
        which were killed at its start, not being registered for SHUTDOWN."""


def _info(extension: Extension) -> ExtensionInfo:
    return ExtensionInfo(extension.name, extension.external, extension.events, extension.state, extension.error_type)


def extension_line(extension: Extension) -> str:
    """Lambda's log line for an extension at the end of init (the same facts as ``platform.extension``)."""
    line = f"EXTENSION\tName: {extension.name}\tState: {extension.state}\tEvents: [{','.join(extension.events)}]"
    return line + (f"\tError Type: {extension.error_type}" if extension.error_type else "")


class Lifecycle:
    """One environment generation's extensions, telemetry and phases."""

    def __init__(self, *, sandbox_id: str, function: Function, account_id: str, log_sink: logs.LogSink,
                 first_generation: bool, observer: ExtensionObserver | None = None) -> None:
        self.sandbox_id = sandbox_id
        self._observer = observer
        self.function = function
        self._log_sink = log_sink
        self.phase = "init" if first_generation else "invoke"
        self.api = ExtensionsApi(function_name=function.name, function_version=FUNCTION_VERSION,
                                 handler=function.handler, account_id=account_id)
        self.view = HostsView("127.0.0.1")
        self.telemetry = TelemetryApi(extensions=self.api, sandbox_address=self.view.address,
                                      json_logs=function.environment.get("AWS_LAMBDA_LOG_FORMAT") == "JSON",
                                      note=self.note)
        self.launched: list[LaunchedExtension] = []
        self.started_at = time.monotonic()
        self.init_done_at: float | None = None
        self._runtime: BootstrapProcess | None = None
        self._runtime_api: RuntimeApi | None = None
        self._stream: logs.LogStream | None = None
        self._held: Invocation | None = None
        self._gate: asyncio.Task[None] | None = None
        self._working: list[Extension] = []
        self._delivered_at: dict[str, tuple[float, float]] = {}  # request id -> (monotonic, epoch) at hand-over
        self._shutting_down = False
        self._emit(Event("platform.initStart", {"initialization_type": "on-demand", "phase": self.phase,
                                       "function_name": function.name, "function_version": FUNCTION_VERSION}))

    # -- plumbing -----------------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        self._log_sink(f"scaffold: {text}\n".encode())

    def _emit(self, event: Event) -> None:
        if self.telemetry.wanted:
            self.telemetry.emit(event)

    def add_routes(self, routes: Routes) -> None:
        self.api.add_routes(routes)
        self.telemetry.add_routes(routes)

    def function_output(self, data: bytes) -> None:
        """The runtime's own lines (not the platform's START/END/REPORT): ``function`` records."""
        if self.telemetry.wanted:
            self.telemetry.log_lines(telemetry_records.FUNCTION, data)

    def _extension_sink(self, name: str) -> logs.LogSink:
        def sink(data: bytes) -> None:
            self._log_sink(data)
            if self.telemetry.wanted:
                self.telemetry.log_lines(telemetry_records.EXTENSION, data)

        return sink

    @property
    def active(self) -> bool:
        return self.api.active

    @property
    def prefix(self) -> tuple[str, ...]:
        """The command that starts a process of this sandbox with its view of sandbox.localdomain."""
        return self.view.prefix

    # -- Init -----------------------------------------------------------------------------------------------

    async def start_extensions(self, *, opt: Path, folder: Path, environment: Mapping[str, str], cwd: Path,
                               host_path: str) -> None:
        """Launch the external extensions and wait until each has registered or one has failed."""
        loop = asyncio.get_running_loop()
        paths = await loop.run_in_executor(None, discover, opt)
        if not paths:
            return
        self.view = await loop.run_in_executor(None, hosts_view, folder)
        self.telemetry.set_address(self.view.address)
        if self.view.note:
            self.note(self.view.note)
        self.api.extensions = [Extension(path.name, external=True) for path in paths]
        started = await loop.run_in_executor(None, lambda: start_processes(
            paths, environment=environment, cwd=cwd, opt=opt, host_path=host_path, prefix=self.view.prefix))
        for text in started.notes:
            self.note(text)
        self.launched = watch(started, loop=loop, sink_for=self._extension_sink)
        for extension in self.launched:
            extension.process.exited.add_done_callback(self._exit_watcher(extension.name))
        for name, message in started.failures:
            self.api.launch_failed(name, message)
        while not self.api.all_external_registered and self.api.failure is None:
            await self.api.changed()

    def _exit_watcher(self, name: str) -> Callable[[asyncio.Future[int]], None]:
        return lambda done: self._extension_exited(name, done.result())

    def _extension_exited(self, name: str, returncode: int) -> None:
        self.api.exited(name, describe_extension_exit(returncode), expected=self._shutting_down)
        if self.api.failure is not None and self._runtime_api is not None and not self._shutting_down:
            self._fail_runtime(self.api.failure)

    def runtime_started(self, *, process: BootstrapProcess, api: RuntimeApi, stream: logs.LogStream,
                        on_init_done: Callable[[], object]) -> None:
        self._runtime, self._runtime_api, self._stream = process, api, stream

        def init_done() -> None:
            on_init_done()
            self._runtime_ready()

        api.on_init_done = init_done

    def begin(self, invocation: Invocation, *, cold: bool) -> None:
        """Before the sandbox submits ``invocation``: hold it for the end of init, or send it to the extensions."""
        api = self._runtime_api
        assert api is not None
        if cold and self.init_done_at is None:  # (the sandbox may have waited for the runtime's Init already)
            self._held = invocation
            api.hold = True
            if api.first_next_at is not None:  # the runtime already asked (a retried event)
                self._runtime_ready()
        else:
            self._deliver(invocation)

    def _runtime_ready(self) -> None:
        api = self._runtime_api
        if api is None or self.init_done_at is not None or self._gate is not None:
            return
        self.api.close_registration()
        self._emit(Event("platform.initRuntimeDone", {"initialization_type": "on-demand", "phase": self.phase,
                                             "status": "success"}))
        if self.api.failure is not None:
            self._fail_runtime(self.api.failure)
        elif self.api.all_ready:
            self._init_over()
        else:
            self._gate = asyncio.get_running_loop().create_task(self._await_ready())

    async def _await_ready(self) -> None:
        while not self.api.all_ready and self.api.failure is None:
            await self.api.changed()
        if self.api.failure is not None:
            self._fail_runtime(self.api.failure)
        else:
            self._init_over()

    def _init_over(self) -> None:
        self.init_done_at = time.monotonic()
        for extension in self.api.extensions:
            if self._stream is not None:
                self._stream.line(extension_line(extension))
            self._emit(Event("platform.extension", {"name": extension.name, "state": extension.state,
                                                    "events": extension.events, "error_type": extension.error_type}))
        self._emit(Event("platform.initReport", {
            "initialization_type": "on-demand", "phase": self.phase, "status": "success",
            "duration_ms": (self.init_done_at - self.started_at) * 1000}))
        self.telemetry.close_subscriptions()
        if self._observer is not None:
            self._observer.initialized(self.sandbox_id, [_info(e) for e in self.api.extensions])
        held, self._held = self._held, None
        api = self._runtime_api
        if held is not None and api is not None:
            self._deliver(held)
            api.release()

    def _fail_runtime(self, failure: Failure) -> None:
        """An extension failed: the invocation waiting (or running) ends with its error; the environment goes."""
        if self._runtime_api is not None:
            self._runtime_api.end(failure.error_type, failure.message)

    # -- Invoke ---------------------------------------------------------------------------------------------

    def _deliver(self, invocation: Invocation) -> None:
        self._delivered_at[invocation.request_id] = (time.monotonic(), time.time())
        self._emit(Event("platform.start", {"request_id": invocation.request_id, "version": FUNCTION_VERSION,
                                   "trace_id": invocation.trace_id}))
        self._working = self.api.dispatch_invoke(invocation) if self.api.active else []

    @property
    def waits_for_extensions(self) -> bool:
        """Whether the current invocation has extensions still working on it."""
        return bool(self._working)

    def runtime_done(self, invocation: Invocation, result: InvocationResult, *, status: str) -> None:
        """The runtime answered (or failed): ``platform.runtimeDone``."""
        delivered_mono, delivered_epoch = self._delivered_at.get(invocation.request_id, (time.monotonic(),
                                                                                         time.time()))
        duration_ms = (time.monotonic() - delivered_mono) * 1000
        facts = {"request_id": invocation.request_id, "status": status, "error_type": result.error_type,
                 "duration_ms": duration_ms, "produced_bytes": len(result.payload),
                 "spans": [span("responseLatency", delivered_epoch, duration_ms),
                           span("responseDuration", delivered_epoch + duration_ms / 1000, 0.0)],
                 "trace_id": invocation.trace_id}
        self._emit(Event("platform.runtimeDone", facts))

    async def invoke_finished(self, invocation: Invocation) -> str | None:
        """Wait (until the invocation's deadline) for the extensions working on it to call event/next again;
        the reason the environment must be reset instead ("timeout", "failure"), or None."""
        deadline = invocation.started + invocation.timeout_s
        answered = time.monotonic()
        late: list[str] = []
        while self._working and not self.api.all_ready and self.api.failure is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                late = self.api.pending_names()
                self.note(f"extensions {', '.join(late)} did not call event/next before "
                          f"the deadline of request {invocation.request_id}")
                break
            await self.api.changed(timeout_s=remaining)
        self._working = []
        if self._observer is not None:
            self._observer.invocation_over(self.sandbox_id, invocation.request_id,
                                           after_runtime_ms=(time.monotonic() - answered) * 1000, late=late)
        if late:
            return shutdown.TIMEOUT
        return shutdown.FAILURE if self.api.failure is not None else None

    def report(self, invocation: Invocation, result: InvocationResult, *, status: str, memory_size_mb: int) -> None:
        """The invocation is over: ``platform.report`` (and the Logs API's ``platform.end``)."""
        self._delivered_at.pop(invocation.request_id, None)
        metrics: dict[str, float | int] = {
            "durationMs": round(result.duration_ms, 3),
            "billedDurationMs": int(-(-(result.duration_ms + (result.init_duration_ms or 0)) // 1)),
            "memorySizeMB": memory_size_mb, "maxMemoryUsedMB": result.max_memory_used_mb}
        if result.init_duration_ms is not None:
            metrics["initDurationMs"] = round(result.init_duration_ms, 3)
        self._emit(Event("platform.end", {"request_id": invocation.request_id}))
        self._emit(Event("platform.report", {"request_id": invocation.request_id, "status": status,
                                    "error_type": result.error_type, "metrics": metrics,
                                    "trace_id": invocation.trace_id}))
        if status in ("timeout", "failure"):
            self._emit(Event("platform.fault", {"message": f"RequestId: {invocation.request_id} Process exited before "
                                                  "completing request"}))

    # -- Shutdown -------------------------------------------------------------------------------------------

    @property
    def graceful(self) -> bool:
        """Whether the runtime gets SIGTERM (and time) at shutdown: only with a registered extension."""
        return bool(self.api.registered) or bool(self.launched)

    async def shut_down(self, reason: str) -> None:
        self._shutting_down = True
        if self._gate is not None:
            self._gate.cancel()
        registered = self.api.registered
        internal = sum(1 for e in registered if not e.external)
        externals = [(ext.name, ext.process, any(e.name == ext.name and e.subscribed(SHUTDOWN) for e in registered))
                     for ext in self.launched]
        if not registered and not externals:
            if self._runtime is not None:
                self._runtime.kill_group()
        else:
            report = await shutdown.shut_down(
                reason=reason, runtime=self._runtime, externals=externals, internal=internal,
                send_shutdown=self.api.dispatch_shutdown,
                flush_telemetry=lambda seconds: self.telemetry.flush(timeout_s=seconds))
            if report.killed:
                self.note(f"extension{'s' if len(report.killed) > 1 else ''} {', '.join(report.killed)} did not "
                          f"exit within the {shutdown.WITH_EXTERNAL_S * 1000:.0f} ms Shutdown phase ({reason}): "
                          "killed")
            if not report.runtime_exited:
                self.note("the runtime did not exit on SIGTERM within its share of the Shutdown phase: killed")
            if self._observer is not None:
                told = set(report.exited) | set(report.killed)
                self._observer.shut_down(self.sandbox_id, reason, exited=report.exited, killed=report.killed,
                                         not_told=[name for name, _, _ in externals if name not in told])
        for extension in self.launched:
            extension.process.kill_group()
            await asyncio.wait([extension.process.exited], timeout=5.0)
            extension.process.close()
            extension.stream.close()
        await self.telemetry.close()
        self.api.close()
        self.view.release()

    def uses(self, event: str) -> bool:
        return any(e.subscribed(event) for e in self.api.registered)


__all__ = ["INVOKE", "SHUTDOWN", "ExtensionInfo", "ExtensionObserver", "Lifecycle", "extension_line"]
