"""One execution environment: a bootstrap process, its Runtime API, its deadlines and its crashes.

A sandbox runs one invocation at a time, or up to ``max_concurrency`` at once in the Managed Instances mode
(:mod:`concurrency`: the mode's variables, JSON logs, a deadline that fails its invocation alone). It starts the
bootstrap lazily on the first invocation (a cold start, whose Init is a phase of its own: :mod:`init_phase`) and
keeps it warm; a timeout (outside that mode), a crash or an init error throws the process group away so the next
invocation starts afresh, as Lambda resets an environment. A bootstrap found dead when an event is about to be
handed over (it died while idle, or before its /next took the event) means a cold start for that event, never an
error. Its /var/task and /opt are laid out from the function's package (:mod:`sandbox_files`).

Everything here runs on the local Lambda's event loop (:mod:`loop`): the Runtime API listener, the exit (a
pidfd), the log pipe and the deadline (a loop timer). :meth:`Sandbox.invoke` and :meth:`Sandbox.close` are
the blocking forms, for threads other than the loop's. Seams: the bootstrap is started in :func:`process.spawn`
only, the environment is reset in :meth:`Sandbox._reset` only, and ``accept`` (each Runtime API connection)
and ``route_providers`` (more routes on the Runtime API's port) are passed in.

Containment (:mod:`containment`, :mod:`folders`, :mod:`peers`; Linux): every process the bootstrap starts carries
the sandbox's marker, so a reset kills all of them, however they detached; the folder is locked for its life and
watched by the janitor, so a killed emulator's sandboxes are cleaned up too; and each Runtime API connection is
traced to its process once, when accepted: one that no process of this sandbox holds is answered 403.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

from runtime_scaffold.emulator import exec_wrapper, logs, peers, shutdown
from runtime_scaffold.emulator.concurrency import JsonLogs, managed_instances_environment
from runtime_scaffold.emulator.containment import SandboxProcesses
from runtime_scaffold.emulator.environment import InvalidEntrypoint, find_entrypoint, lambda_environment, missing_layers
from runtime_scaffold.emulator.folders import SandboxFolder
from runtime_scaffold.emulator.guard import request_screen
from runtime_scaffold.emulator.init_phase import (
    ERROR,
    READY,
    TIMEOUT,
    InitOutcome,
    failed_result,
    failure_lines,
    init_report_line,
    init_start_line,
    wait_for_init,
)
from runtime_scaffold.emulator.invocation import DEFAULT_ACCOUNT_ID, Invocation, InvocationResult, error_body
from runtime_scaffold.emulator.lifecycle import ExtensionObserver, Lifecycle
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.messages import Reply
from runtime_scaffold.emulator.process import MEMORY_SAMPLE_S, BootstrapProcess, describe_exit, spawn
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.runtime_api import HookRunner, RuntimeApi, RuntimeHooks, Shutdown, overridden
from runtime_scaffold.emulator.sandbox_files import PackageUnavailable, SandboxFiles
from runtime_scaffold.emulator.server import Accept, Listener, error_reply
from runtime_scaffold.lambda_limits import INIT_TIMEOUT_S
from runtime_scaffold.project import Function, Project

SHUTTING_DOWN = "the local Lambda is shutting down"
# A shutdown sends SIGTERM to the bootstrap, then SIGKILL to its group this much later: Lambda's Shutdown phase
# with internal extensions only (docs/runtime-api.md §8.5; 2,000 ms with external extensions; with none Lambda
# allows 0 ms, and no runtime could react).
SHUTDOWN_GRACE_S = 0.5
# How long a bootstrap that reported an init error may take to exit by itself before it is killed.
INIT_ERROR_GRACE_S = 1.0
# How long a killed bootstrap may take to be reaped before the sandbox stops waiting for it.
_REAP_S = 5.0
# How long closing waits for the extensions to finish the last invocation (its REPORT) before shutting down.
_TAIL_S = 2.0

RouteProvider = Callable[[Routes, "Sandbox"], None]
# No web page may reach a Runtime API either (a bootstrap sends no Origin, and names 127.0.0.1).
_RUNTIME_SCREEN = request_screen(listen_host="127.0.0.1", refuse=error_reply)
# What a connection from outside the sandbox gets to every request (Lambda's Runtime API is reachable only from
# inside its execution environment).
_OUTSIDER = error_reply(403, "AccessDeniedException", "this Runtime API answers only the processes of its own sandbox")
# Peer checks the bootstrap does not settle (a child holds the connection, or an outsider: every process is read)
# run here, one at a time: a burst of outsiders queues on this thread instead of stalling the loop.
_PEER_SEARCHES = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="peer-search")


class _Retry:
    """The bootstrap died before any /next took the event: start a fresh one for it."""


class _InitFailed(Exception):
    """The environment's init failed before the runtime started (an extension); the invocation gets this."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class _InitTimedOut(Exception):
    """The Init ran out of its time before the runtime started (an extension that never registered)."""


_RETRY = _Retry()


class Sandbox:
    """A warm-able execution environment for one function."""

    def __init__(
        self,
        *,
        project: Project,
        function: Function,
        sandbox_id: str,
        loop: LambdaLoop,
        hooks: RuntimeHooks | None = None,
        log_sink: logs.LogSink = logs.stderr_sink,
        host_environment: Mapping[str, str] | None = None,
        accept: Accept | None = None,
        route_providers: Sequence[RouteProvider] = (),
        init_timeout_s: float = INIT_TIMEOUT_S,
        account_id: str = DEFAULT_ACCOUNT_ID,
        extension_observer: ExtensionObserver | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        self.project = project
        self.max_concurrency = max_concurrency  # set: Lambda Managed Instances, that many invocations at once
        self.shutdown_grace_s = SHUTDOWN_GRACE_S
        self.function = function
        self.sandbox_id = sandbox_id
        self.hooks = hooks or RuntimeHooks()
        self.log_sink = log_sink
        self.host_environment = dict(os.environ if host_environment is None else host_environment)
        self.accept = accept
        self.route_providers = tuple(route_providers)
        self.account_id = account_id
        self.extension_observer = extension_observer
        self._lambda_loop = loop
        self._folder = SandboxFolder.create(prefix=f"scaffold-{function.key}-")  # swept if this emulator dies
        self._root = self._folder.path
        self._files = SandboxFiles(self._root)  # /var/task and /opt, laid out from the package at each cold start
        self._processes = SandboxProcesses(marker=self._folder.marker)
        self._process: BootstrapProcess | None = None
        self._api: RuntimeApi | None = None
        self._listener: Listener | None = None
        self._logs: logs.LogStream | None = None
        self._exit_task: asyncio.Task[None] | None = None
        # Each invocation between its submission and its answer, with the future of its outcome.
        self._running: dict[Invocation, asyncio.Future[InvocationResult | _Retry]] = {}
        self._killed: set[Invocation] = set()  # those whose deadline passed (outside Managed Instances: killed)
        self._starting: asyncio.Future[None] | None = None  # a cold start under way, which others wait for
        self._json_logs: JsonLogs | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._memory_timer: asyncio.TimerHandle | None = None
        self._deadline_due = 0.0
        self._spawned_at = 0.0
        self._notes_said: set[str] = set()
        self.init_timeout_s = init_timeout_s
        self._fresh = True  # no Init has run here yet: the next one is a phase of its own
        self._retired = False
        self._lifecycle: Lifecycle | None = None  # the extensions and telemetry of the running generation
        self._generations = 0
        self._tail: asyncio.Task[None] | None = None  # the last invocation's end, while extensions work on it
        names = ("next_reply", "post_reply", "observe", "exited", "shut_down")
        self._hooked = any(overridden(self.hooks, name) for name in names)
        self._hook_exited = overridden(self.hooks, "exited")
        self._hook_shut_down = overridden(self.hooks, "shut_down")
        self._hook_runner = HookRunner() if self._hooked else None

    @property
    def pid(self) -> int | None:
        """The bootstrap's pid (also its process group id) while it runs."""
        process = self._process
        return process.pid if process is not None else None

    @property
    def waiting_for_next(self) -> int:
        """How many /next calls of its bootstrap wait for an event now (on the loop: ``loop.call``)."""
        return self._api.waiting if self._api is not None else 0

    # -- blocking forms, for other threads -------------------------------------------------------------

    def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one invocation to its end: a response, a function error, or a platform error."""
        return self._lambda_loop.run(self.invoke_async(invocation))

    def retire(self) -> None:
        """End the invocation running here with ``Sandbox.Failure``, end the bootstrap and start no other."""
        self._lambda_loop.run(self.retire_async(), timeout=2 * _REAP_S)

    def close(self) -> None:
        """Retire the sandbox and delete its folder; safe to call again, and while an invocation runs."""
        self._lambda_loop.run(self.close_async(), timeout=2 * _REAP_S)

    # -- lifecycle ----------------------------------------------------------------------------------

    def _prepare(self, runtime_api: str) -> tuple[list[str], dict[str, str], str | None]:
        """The folders, entrypoint and environment of a cold start (file system work: off the loop)."""
        files = self._files
        try:
            files.sync(self.project, self.function)
        except PackageUnavailable as error:
            raise InvalidEntrypoint(str(error)) from None
        host_path = self.host_environment.get("PATH", os.defpath)
        try:
            entrypoint = find_entrypoint(files.task, files.opt, host_path=host_path, looked_at=files.looked_at,
                                         build_scripts=files.build_scripts, source=files.source)
        except InvalidEntrypoint as error:
            reasons = missing_layers(self.project, self.function)
            if reasons:  # the likely cause: the runtime's layer is not the one the function names
                raise InvalidEntrypoint(f"{error} ({'; '.join(reasons)})") from None
            raise
        environment = lambda_environment(
            function=self.function, region=self.project.region, task_root=files.task, opt=files.opt,
            runtime_dir=files.runtime, runtime_api=runtime_api, host_environment=self.host_environment)
        if self.max_concurrency is not None:
            environment.update(managed_instances_environment(self.max_concurrency))
        environment.update(self._processes.environment)  # last: a marker inherited from the host must not win
        return [*entrypoint.argv], environment, entrypoint.note

    def _spawn(self, argv: list[str], environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
        read_end, write_end = os.pipe()
        try:
            popen = spawn(argv, cwd=self._files.task, env=environment, output_fd=write_end)
        except OSError as error:
            os.close(read_end)
            reason = (error.strerror or str(error)).lower()
            if error.errno == errno.ENOEXEC:
                reason = "exec format error"
            raise InvalidEntrypoint(f"fork/exec {argv[-1]}: {reason}") from None
        finally:
            os.close(write_end)
        self._processes.started(popen.pid)
        return popen, read_end

    async def _start(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        api = RuntimeApi(sandbox_id=self.sandbox_id, hooks=self.hooks, hook_runner=self._hook_runner,
                         max_concurrency=self.max_concurrency or 1)
        self._generations += 1
        lifecycle = self._lifecycle = Lifecycle(sandbox_id=self.sandbox_id, function=self.function,
                                                account_id=self.account_id, log_sink=self.log_sink,
                                                first_generation=self._generations == 1,
                                                observer=self.extension_observer)
        routes = api.routes()
        lifecycle.add_routes(routes)
        for provide in self.route_providers:
            provide(routes, self)
        listener = await Listener(routes, accept=self._admit, screen=_RUNTIME_SCREEN).start()
        try:
            argv, environment, note = await loop.run_in_executor(None, self._prepare, listener.address)
            argv, wrapper_note = exec_wrapper.wrap(argv, runtime=self.function.runtime, environment=environment,
                                                   opt=self._files.opt, task_root=self._files.task)
            await self._start_extensions(lifecycle, environment, timeout_s)
            # The runtime's Init starts before the spawn: the loop serves its first /next while the executor thread
            # is still returning from it, and a clock read after that made a fast Init's duration negative.
            self._spawned_at = time.monotonic()
            popen, read_end = await loop.run_in_executor(None, self._spawn, [*lifecycle.prefix, *argv], environment)
        except BaseException:
            self._lifecycle = None
            await lifecycle.shut_down(shutdown.FAILURE)
            await listener.close()
            raise
        process = BootstrapProcess(popen, loop)
        json_logs = JsonLogs() if self.max_concurrency is not None else None
        stream = logs.LogStream(read_end, self.log_sink, add_reader=loop.add_reader,
                                remove_reader=loop.remove_reader, tap=lifecycle.function_output,
                                output_filter=json_logs.runtime_output if json_logs is not None else None,
                                rewrite=self._files.path_map.to_lambda)
        self._json_logs = json_logs
        lifecycle.runtime_started(process=process, api=api, stream=stream, on_init_done=process.sample_memory)
        self._process, self._api, self._listener, self._logs = process, api, listener, stream
        self._exit_task = loop.create_task(self._watch(process, api))
        stream.line(init_start_line(self.function.runtime))
        for text in (note, wrapper_note):
            # Said once: not again for an Init run again after a failure.
            if text and text not in self._notes_said:
                self._notes_said.add(text)
                stream.line(f"scaffold: {text}")
        if self._retired:  # closed while the bootstrap was being started
            await self._reset(reason=shutdown.SPINDOWN)

    async def _start_extensions(self, lifecycle: Lifecycle, environment: dict[str, str], timeout_s: float) -> None:
        """The external extensions start, and register, before the runtime, within the Init's limit."""
        try:
            await asyncio.wait_for(lifecycle.start_extensions(
                opt=self._files.opt, folder=self._root, environment=environment, cwd=self._files.task,
                host_path=self.host_environment.get("PATH", os.defpath)), max(timeout_s, 0.0))
        except asyncio.TimeoutError:
            pending = ", ".join(e.name for e in lifecycle.api.externals if not e.identifier)
            lifecycle.note(f"extension{'s' if ',' in pending else ''} {pending} did not register "
                           "(POST /2020-01-01/extension/register) before the deadline")
            raise _InitTimedOut() from None
        failure = lifecycle.api.failure
        if failure is not None:
            raise _InitFailed(failure.error_type, failure.message)

    def _admit(self, transport: asyncio.BaseTransport) -> Reply | asyncio.Future[Reply | None] | None:
        """Once per Runtime API connection, before any request: refuse it unless a process of this sandbox holds
        its client end. The bootstrap almost always does, which is told at once (one netlink query, one
        /proc/<pid>/fd); anything else is searched for off the loop, the connection unread until then."""
        endpoint = transport.get_extra_info("socket")
        verdict = peers.first_look(endpoint, self._processes) if endpoint is not None else True
        if isinstance(verdict, peers.Search):
            return asyncio.ensure_future(self._search(transport, verdict))
        if not verdict:
            return _OUTSIDER
        return self.accept(transport) if self.accept is not None else None

    async def _search(self, transport: asyncio.BaseTransport, search: peers.Search) -> Reply | None:
        if not await asyncio.get_running_loop().run_in_executor(_PEER_SEARCHES, search):
            return _OUTSIDER
        verdict = self.accept(transport) if self.accept is not None else None
        return await verdict if isinstance(verdict, asyncio.Future) else verdict

    async def _watch(self, process: BootstrapProcess, api: RuntimeApi) -> None:
        returncode = await process.exited
        if api.first_next_at is not None:
            for invocation in api.take_unoffered():  # events never taken: a cold start for each
                outcome = self._running.get(invocation)
                if outcome is not None and not outcome.done():
                    outcome.set_result(_RETRY)
        try:
            if self._hook_exited and self._hook_runner is not None:
                await self._hook_runner.call(self.hooks.exited, self.sandbox_id, returncode)
        except Exception:  # a failing hook must not leave the invocation waiting for its deadline
            pass
        api.exited(describe_exit(returncode))

    async def _reset(self, *, grace: float = 0.0, only: BootstrapProcess | None = None,
                     reason: str = shutdown.FAILURE) -> None:
        """End the bootstrap and everything it started, and reap it; the next invocation starts cold.

        With ``only``, nothing happens unless that bootstrap is still this sandbox's: an invocation of a
        bootstrap already replaced (invocations at once saw it die) must not end the new one. When the
        environment closes (``reason`` spindown) this is Lambda's Shutdown phase: the runtime gets SIGTERM, then
        SIGKILL after the grace period (with extensions, their SHUTDOWN event and the phase's longer limit); a
        reset after a failure kills at once, as Lambda does."""
        if only is not None and self._process is not only:
            return
        process, self._process = self._process, None
        api, listener, stream, watcher = self._api, self._listener, self._logs, self._exit_task
        lifecycle, self._lifecycle = self._lifecycle, None
        self._api = self._listener = self._logs = self._exit_task = None
        if process is not None and grace > 0:
            await asyncio.wait([process.exited], timeout=grace)
        terminated = reason == shutdown.SPINDOWN and process is not None and not process.exited.done()
        if terminated and process is not None and (lifecycle is None or not lifecycle.graceful):
            process.terminate()  # with extensions, the lifecycle's Shutdown phase sends it
            await asyncio.wait([process.exited], timeout=self.shutdown_grace_s)
        if lifecycle is not None:
            await lifecycle.shut_down(reason)
        if process is not None:
            in_grace = process.exited.done()
            process.kill_group()
            # And what left the group (setsid, a daemon's double fork): a scan of /proc, so off the loop.
            await asyncio.get_running_loop().run_in_executor(None, self._processes.kill_all)
            await asyncio.wait([process.exited], timeout=_REAP_S)
            process.close()
            if terminated and self._hook_shut_down and self._hook_runner is not None:
                report = Shutdown(process.returncode, in_grace, process.leftovers, self.shutdown_grace_s)
                with contextlib.suppress(Exception):
                    await self._hook_runner.call(self.hooks.shut_down, self.sandbox_id, report)
        if watcher is not None:
            await asyncio.wait([watcher], timeout=_REAP_S)
        if api is not None:
            api.close()
        if stream is not None:
            json_logs, self._json_logs = self._json_logs, None
            summary = json_logs.summary() if json_logs is not None else None
            if summary is not None:
                stream.line(summary)
            stream.close()
        if listener is not None:
            await listener.close()

    async def retire_async(self) -> None:
        self._retired = True
        if self._tail is not None:  # the last invocation's extensions finish it (its REPORT) first
            await asyncio.wait([self._tail], timeout=_TAIL_S)
        if self._api is not None:  # its caller gets an answer now rather than a dropped connection
            self._api.end("Sandbox.Failure", SHUTTING_DOWN, close=False)  # /next calls wait for the SIGTERM
        elif self._lifecycle is not None:  # still starting its extensions: stop waiting for them
            self._lifecycle.api.fail(None, "", "Sandbox.Failure", SHUTTING_DOWN)
        await self._reset(reason=shutdown.SPINDOWN)
        if self._hook_runner is not None:
            self._hook_runner.close()

    async def close_async(self) -> None:
        await self.retire_async()
        # After the kill, so that nothing of the sandbox still writes there.
        await asyncio.get_running_loop().run_in_executor(None, self._folder.remove)

    # -- one invocation ------------------------------------------------------------------------------

    async def invoke_async(self, invocation: Invocation) -> InvocationResult:
        """Run one invocation to its end: a response, a function error, or a platform error."""
        if self._tail is not None:  # the previous invocation is not over until its extensions are done
            await self._tail
        outcome = await self._attempt(invocation, announced=False)
        if isinstance(outcome, _Retry):
            outcome = await self._attempt(invocation, announced=True)
        assert isinstance(outcome, InvocationResult)
        return outcome

    def _shutting_down(self, invocation: Invocation) -> InvocationResult:
        message = f"RequestId: {invocation.request_id} Error: {SHUTTING_DOWN}"
        return InvocationResult(invocation.request_id, error_body("Sandbox.Failure", message), "Sandbox.Failure")

    async def _warm(self, invocation: Invocation, *, announced: bool) -> InitOutcome | InvocationResult | None:
        """Have a running, initialised bootstrap, starting one if needed: None when one was warm, the Init's
        outcome when this call ran it, or the invocation's answer when that Init failed (within the invocation
        too). Invocations that arrive together (Managed Instances) share one cold start, and wait for its end."""
        while self._starting is not None:
            await asyncio.wait([self._starting])
        if self._process is not None and self._process.alive():
            return None
        self._starting = asyncio.get_running_loop().create_future()
        try:
            if self._process is not None:
                await self._reset()  # it died while idle
            init = await self._initialise(invocation)
            if self._retired:
                return self._shutting_down(invocation)
            if init.status != READY:
                return await self._init_failure(invocation, init, announced=announced)
            return init
        finally:
            starting, self._starting = self._starting, None
            starting.set_result(None)

    async def _attempt(self, invocation: Invocation, *, announced: bool) -> InvocationResult | _Retry:
        if self._retired:
            return self._shutting_down(invocation)
        warmed = await self._warm(invocation, announced=announced)
        if isinstance(warmed, InvocationResult):
            return warmed
        init, cold = warmed, warmed is not None
        if self._retired:
            return self._shutting_down(invocation)
        if not invocation.started:  # the deadline starts as the event is handed over, after Init
            invocation.start_clock()
        api, stream, process, json_logs = self._api, self._logs, self._process, self._json_logs
        lifecycle = self._lifecycle
        assert api is not None and stream is not None and process is not None and lifecycle is not None
        if not announced:
            if json_logs is not None:
                stream.line(json_logs.start(invocation))
            else:
                stream.start_invocation(keep=cold)
                stream.line(logs.start_line(invocation.request_id))
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[InvocationResult | _Retry] = loop.create_future()
        def answered(result: InvocationResult) -> None:
            if not outcome.done():  # a _RETRY may have come first
                outcome.set_result(result)

        invocation.on_finish(answered)
        self._running[invocation] = outcome
        self._arm_deadline(loop, invocation)
        if self._memory_timer is None:
            self._memory_timer = loop.call_later(MEMORY_SAMPLE_S, self._sample_memory, loop)
        lifecycle.begin(invocation, cold=cold)
        api.submit(invocation)
        try:
            answer = await outcome
        finally:
            del self._running[invocation]
        killed = invocation in self._killed
        self._killed.discard(invocation)
        if isinstance(answer, _Retry):
            await self._reset(only=process)
            return answer
        if answer.error_type is not None:  # a stack trace shows Lambda's paths, not the sandbox's folders
            answer.payload = self._files.path_map.to_lambda(answer.payload)
        result = self._report(invocation, answer, init=init, process=process)
        lifecycle.runtime_done(invocation, result, status=self._telemetry_status(result, api))
        finish = self._finish(invocation, result, api=api, stream=stream, process=process, lifecycle=lifecycle,
                              killed=killed, json_logs=json_logs)
        if lifecycle.waits_for_extensions and not killed:
            result.log_tail = stream.tail()  # the caller is answered now; END and REPORT follow the extensions
            self._tail = loop.create_task(finish)
        else:
            await finish
        if self._hook_runner is not None:
            await self._hook_runner.barrier()  # the caller sees every call of this invocation observed
        return result

    async def _finish(self, invocation: Invocation, result: InvocationResult, *, api: RuntimeApi,
                      stream: logs.LogStream, process: BootstrapProcess, lifecycle: Lifecycle, killed: bool,
                      json_logs: JsonLogs | None) -> None:
        """The end of an invocation: once its extensions are done, END and REPORT, and a reset if it failed (in
        Managed Instances a timeout leaves the environment be)."""
        report, reason = result, None
        if lifecycle.waits_for_extensions:
            reason = await lifecycle.invoke_finished(invocation)
            since = invocation.delivered or invocation.started
            report = dataclasses.replace(result, duration_ms=(time.monotonic() - since) * 1000)
            if reason == shutdown.TIMEOUT and report.error_type is None:
                report.error_type = "Sandbox.Timedout"
        if result.error_type == "Runtime.ExitError":
            await asyncio.wait([process.exited], timeout=_REAP_S)
            self._exit_lines(invocation, stream, process)
        self._end_lines(invocation, report, api, stream, lifecycle, json_logs)
        lifecycle.report(invocation, report, status=self._telemetry_status(report, api),
                         memory_size_mb=self.function.memory_size)
        status = self._status(report, api, lifecycle)
        timed_out = killed or reason == shutdown.TIMEOUT or status == "timeout"
        if timed_out:
            if self.max_concurrency is None:
                await self._reset(reason=shutdown.TIMEOUT, only=process)
        elif reason is not None or status is not None:  # reset: the next invocation starts afresh
            await self._reset(grace=INIT_ERROR_GRACE_S if api.init_error is not None else 0.0, only=process)
        self._tail = None

    async def _initialise(self, invocation: Invocation) -> InitOutcome:
        """Start the bootstrap and wait for its Init: in a phase of its own in a fresh environment (10 s, apart
        from the invocation's timeout), then, when that fails, again within the invocation, as after a reset."""
        phase = "init" if self._fresh else "invoke"
        self._fresh = False
        if phase == "invoke" and not invocation.started:
            invocation.start_clock()
        outcome = await self._run_init(invocation, phase)
        if outcome.status != READY and phase == "init" and not self._retired:
            self._platform_lines(init_report_line(outcome, phase="init"))
            await self._reset(grace=INIT_ERROR_GRACE_S if outcome.body is not None else 0.0)
            invocation.start_clock()
            phase = "invoke"
            outcome = await self._run_init(invocation, phase)
        outcome.phase = phase
        return outcome

    async def _run_init(self, invocation: Invocation, phase: str) -> InitOutcome:
        started = time.monotonic()
        limit = self.init_timeout_s if phase == "init" else invocation.remaining_s
        try:
            await self._start(limit)
        except InvalidEntrypoint as error:
            return InitOutcome(ERROR, (time.monotonic() - started) * 1000, "Runtime.InvalidEntrypoint",
                               message=str(error))
        except _InitFailed as failure:  # an extension could not start, crashed or reported an init error
            return InitOutcome(ERROR, (time.monotonic() - started) * 1000, failure.error_type, message=str(failure))
        except _InitTimedOut:
            return InitOutcome(TIMEOUT, (time.monotonic() - started) * 1000)
        api, process, lifecycle = self._api, self._process, self._lifecycle
        if api is None or process is None:  # retired while starting
            return InitOutcome(ERROR, 0.0, "Sandbox.Failure", message=SHUTTING_DOWN)
        # With extensions, Init began with them (they start first); the runtime's part is what is left of the limit.
        since = lifecycle.started_at if lifecycle is not None and lifecycle.active else self._spawned_at
        outcome = await wait_for_init(api, process, spawned_at=since, limit_s=limit - (time.monotonic() - started))
        if outcome.status == TIMEOUT:
            process.kill_group()
        return outcome

    async def _init_failure(self, invocation: Invocation, init: InitOutcome, *, announced: bool) -> InvocationResult:
        """The invocation's answer when the Init within it failed too, with Lambda's lines for it."""
        if self._process is not None:  # a runtime that posted /init/error exits by itself: its peak memory then
            await asyncio.wait([self._process.exited], timeout=INIT_ERROR_GRACE_S if init.body else _REAP_S)
        result = failed_result(invocation, init)
        result.payload = self._files.path_map.to_lambda(result.payload)
        result.duration_ms = (time.monotonic() - invocation.started) * 1000
        result.init_duration_ms, result.init_in_invoke = init.duration_ms, True
        result.max_memory_used_mb = self._process.peak_mb if self._process is not None else 0
        lines = failure_lines(invocation, init, result, memory_size_mb=self.function.memory_size,
                              announced=announced)
        result.log_tail = self._platform_lines(*lines)
        await self._reset(grace=INIT_ERROR_GRACE_S if init.body is not None else 0.0)
        return result

    def _platform_lines(self, *lines: str) -> bytes:
        """Lambda's own lines, into the bootstrap's log stream when there is one (no bootstrap started: straight
        to the sink); the invocation's log tail."""
        if self._logs is not None:
            self._logs.lines(*lines)
            return self._logs.tail()
        data = self._files.path_map.to_lambda("".join(line + "\n" for line in lines).encode())
        self.log_sink(data)
        return data

    def _arm_deadline(self, loop: asyncio.AbstractEventLoop, invocation: Invocation) -> None:
        """One timer per sandbox, moved only when it would fire too late: invocations far shorter than their
        timeout (the usual case) cost no timer of their own."""
        due = loop.time() + max(invocation.remaining_s, 0.0)
        if self._deadline_timer is None or self._deadline_due > due:
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
            self._deadline_timer = loop.call_at(due, self._deadline, loop)
            self._deadline_due = due

    def _deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._deadline_timer = None
        api, process = self._api, self._process
        if not self._running or api is None or process is None:
            return
        remaining = {invocation: invocation.remaining_s for invocation in self._running}  # one clock reading each
        expired = [invocation for invocation, left in remaining.items() if left <= 0]
        later = [invocation for invocation, left in remaining.items() if left > 0]
        if later:  # the ones due then may have ended; the next deadline is the earliest of the rest
            self._arm_deadline(loop, min(later, key=remaining.__getitem__))
        for invocation in expired:
            self._killed.add(invocation)
            api.fail_invocation(invocation, "Sandbox.Timedout",
                                f"Task timed out after {invocation.timeout_s:.2f} seconds")
        lifecycle = self._lifecycle
        graceful = lifecycle is not None and lifecycle.graceful  # with extensions, the reset's SIGTERM comes first
        if expired and self.max_concurrency is None and not graceful:  # Managed Instances lets the handler run on
            process.kill_group()
            process.kill_group()

    def _sample_memory(self, loop: asyncio.AbstractEventLoop) -> None:
        """Peak memory from a timer, not from each invocation (VmHWM is a high-water mark: a read at most 100 ms
        old is at most that much behind); it stops while no invocation runs. A crash's peak comes from wait4."""
        self._memory_timer = None
        if self._process is not None:
            self._process.sample_memory()
            if self._running:
                self._memory_timer = loop.call_later(MEMORY_SAMPLE_S, self._sample_memory, loop)

    @staticmethod
    def _status(result: InvocationResult, api: RuntimeApi, lifecycle: Lifecycle | None = None) -> str | None:
        """The REPORT's Status: set when the environment has to be reset."""
        if result.error_type == "Sandbox.Timedout":
            return "timeout"
        if result.error_type in ("Runtime.ExitError", "Sandbox.Failure") or api.init_error is not None or (
                lifecycle is not None and lifecycle.api.failure is not None):
            return f"error\tError Type: {result.error_type}"
        return None

    def _telemetry_status(self, result: InvocationResult, api: RuntimeApi) -> str:
        """The status of platform.runtimeDone and platform.report: success, error (the function's), failure
        (the environment's), timeout."""
        if result.error_type is None:
            return "success"
        status = self._status(result, api, self._lifecycle)
        if status == "timeout":
            return "timeout"
        return "failure" if status is not None else "error"

    @staticmethod
    def _exit_lines(invocation: Invocation, stream: logs.LogStream, process: BootstrapProcess) -> None:
        returncode = process.returncode
        exit_text = describe_exit(returncode) if returncode is not None else "Runtime exited"
        stream.lines(f"RequestId: {invocation.request_id} Error: {exit_text}", "Runtime.ExitError")

    def _report(self, invocation: Invocation, result: InvocationResult, *, init: InitOutcome | None,
                process: BootstrapProcess) -> InvocationResult:
        """The result's durations and memory, as the REPORT line gives them."""
        timed_out = result.error_type == "Sandbox.Timedout"  # not when the answer beat the kill by a hair
        # A timeout lasts the whole timeout (from the deadline's start: the hand-over, or the start of an Init run
        # within the invocation), as Lambda reports it; otherwise the duration is the handler's, from delivery,
        # or, after an Init within the invocation, from its start.
        in_invoke = init is not None and init.phase == "invoke"
        since = invocation.started if timed_out or in_invoke else (invocation.delivered or invocation.started)
        result.duration_ms = (time.monotonic() - since) * 1000
        if init is not None:
            duration_ms, lifecycle = init.duration_ms, self._lifecycle
            if lifecycle is not None and lifecycle.active and lifecycle.init_done_at is not None:
                # With extensions, Init ends when they too have asked for their first event.
                duration_ms = (lifecycle.init_done_at - lifecycle.started_at) * 1000
            result.init_duration_ms, result.init_in_invoke = duration_ms, in_invoke
        result.max_memory_used_mb = process.peak_mb
        return result

    def _end_lines(self, invocation: Invocation, result: InvocationResult, api: RuntimeApi,
                   stream: logs.LogStream, lifecycle: Lifecycle | None = None,
                   json_logs: JsonLogs | None = None) -> None:
        if json_logs is not None:  # one record, and the invocation's own lines for its tail
            stream.line(json_logs.report(invocation, result, memory_size_mb=self.function.memory_size,
                                         init_failed=api.init_error is not None))
            result.log_tail = json_logs.tail(invocation.request_id)
            return
        status = self._status(result, api, lifecycle)
        lines = [logs.end_line(invocation.request_id),
                 logs.report_line(result, memory_size_mb=self.function.memory_size, status=status,
                                  tenant_id=invocation.tenant_id)]
        if result.error_type == "Sandbox.Timedout":
            lines.append(logs.timed_out_line(invocation.request_id, invocation.timeout_s))
        stream.lines(*lines)
        result.log_tail = stream.tail()
