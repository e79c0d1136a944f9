"""One execution environment: a bootstrap process, its Runtime API, its deadline and its crashes.

A sandbox runs one invocation at a time. It starts the bootstrap lazily on the first invocation (a cold start)
and keeps it warm; a timeout, a crash or an init error throws the process group away so the next invocation
starts afresh, as Lambda resets an environment.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping

from runtime_scaffold.emulator import containment, logs, peers
from runtime_scaffold.emulator.environment import (
    InvalidEntrypoint,
    find_entrypoint,
    lambda_environment,
    lay_out_opt,
    missing_layers,
)
from runtime_scaffold.emulator.folders import SandboxFolder
from runtime_scaffold.emulator.invocation import (
    MAX_RESPONSE_BYTES,
    Invocation,
    InvocationResult,
    error_body,
)
from runtime_scaffold.emulator.runtime_api import RuntimeApi, RuntimeHooks
from runtime_scaffold.emulator.server import LoopbackServer
from runtime_scaffold.project import Function, Project

SHUTTING_DOWN = "the local Lambda is shutting down"
# How often a running bootstrap's peak memory is read, so the REPORT of a crash still has one.
MEMORY_SAMPLE_S = 0.1
# How long a bootstrap that reported an init error may take to exit by itself before it is killed.
INIT_ERROR_GRACE_S = 1.0

# Process groups of running bootstraps. They live in their own sessions, so a terminal's Ctrl-C never reaches them;
# if cleanup itself is interrupted (a second Ctrl-C), the interpreter's exit still kills them.
_LIVE_GROUPS: set[int] = set()


@atexit.register
def _kill_live_groups() -> None:
    for group in list(_LIVE_GROUPS):
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


def describe_exit(returncode: int) -> str:
    """Lambda's words for how a runtime ended (Go's os.ProcessState as RIE prints it)."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name[3:].lower()
        except ValueError:
            name = str(-returncode)
        name = {"term": "terminated", "kill": "killed", "segv": "segmentation fault", "abrt": "aborted",
                "int": "interrupt", "hup": "hangup", "pipe": "broken pipe"}.get(name, name)
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {returncode}"


class Sandbox:
    """A warm-able execution environment for one function."""

    def __init__(
        self,
        *,
        project: Project,
        function: Function,
        sandbox_id: str,
        hooks: RuntimeHooks | None = None,
        log_sink: logs.LogSink = logs.stderr_sink,
        host_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.function = function
        self.sandbox_id = sandbox_id
        self.hooks = hooks or RuntimeHooks()
        self.log_sink = log_sink
        self.host_environment = dict(os.environ if host_environment is None else host_environment)
        self._folder = SandboxFolder.create(prefix=f"scaffold-{function.key}-")  # removed by a sweep if we die
        self._root = self._folder.path
        self._processes = containment.SandboxProcesses(marker=self._folder.marker)
        self._process: subprocess.Popen[bytes] | None = None
        self._api: RuntimeApi | None = None
        self._server: LoopbackServer | None = None
        self._logs: logs.LogStream | None = None
        self._watcher: threading.Thread | None = None
        self._spawned_at = 0.0
        self._peak_mb = 0
        self._lifecycle = threading.Lock()  # orders a cold start against retire() from another thread
        self._stopping = threading.Lock()  # stop() runs from the invoker and from close() on another thread
        self._retired = False

    @property
    def pid(self) -> int | None:
        """The bootstrap's pid (also its process group id) while it runs."""
        return self._process.pid if self._process is not None else None

    # -- lifecycle ----------------------------------------------------------------------------------

    def _start(self) -> None:
        opt, runtime_dir = self._root / "opt", self._root / "runtime"
        runtime_dir.mkdir(exist_ok=True)
        lay_out_opt([layer.path for layer in self.project.function_layers(self.function)], opt)
        host_path = self.host_environment.get("PATH", os.defpath)
        try:
            entrypoint = find_entrypoint(self.project.root, opt, host_path=host_path)
        except InvalidEntrypoint as error:
            reasons = missing_layers(self.project, self.function)
            if reasons:  # the likely cause: the runtime's layer is not the one the function names
                raise InvalidEntrypoint(f"{error} ({'; '.join(reasons)})") from None
            raise
        api = RuntimeApi(sandbox_id=self.sandbox_id, hooks=self.hooks)
        server = LoopbackServer(api.handle, max_body_bytes=MAX_RESPONSE_BYTES,
                                admit=lambda connection: peers.peer_inside(connection, self._processes)).start()
        environment = lambda_environment(
            function=self.function, region=self.project.region, task_root=self.project.root, opt=opt,
            runtime_dir=runtime_dir, runtime_api=server.address, host_environment=self.host_environment)
        environment.update(self._processes.environment)  # last: an inherited marker must not win
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                entrypoint.argv, cwd=self.project.root, env=environment, stdin=subprocess.DEVNULL,
                stdout=write_end, stderr=write_end, start_new_session=True)  # own group: killed as one
        except OSError as error:
            os.close(read_end)
            server.close()
            reason = (error.strerror or str(error)).lower()
            if error.errno == errno.ENOEXEC:
                reason = "exec format error"
            raise InvalidEntrypoint(f"fork/exec {entrypoint.bootstrap}: {reason}") from None
        finally:
            os.close(write_end)
        self._spawned_at = time.monotonic()
        self._processes.started(process.pid)
        _LIVE_GROUPS.add(process.pid)
        self._process, self._api, self._server = process, api, server
        self._logs = logs.LogStream(read_end, self.log_sink)
        self._peak_mb = 0
        if entrypoint.note:
            self._logs.line(f"scaffold: {entrypoint.note}")
        self._watcher = threading.Thread(target=self._watch, args=(process, api), daemon=True,
                                         name=f"watch-{process.pid}")
        self._watcher.start()

    def _watch(self, process: subprocess.Popen[bytes], api: RuntimeApi) -> None:
        # /proc forgets a process's peak when it dies: keep the last one seen while it ran
        returncode = logs.wait_sampling(process, lambda: self._sample_memory(process), every_s=MEMORY_SAMPLE_S)
        self._kill_group(process)  # Lambda resets the whole environment, helpers the bootstrap left included
        _LIVE_GROUPS.discard(process.pid)  # its number may be reused from now on
        try:
            self.hooks.exited(self.sandbox_id, returncode)
        finally:  # a failing hook must not leave the invocation waiting for its deadline
            api.exited(describe_exit(returncode))

    def _sample_memory(self, process: subprocess.Popen[bytes]) -> None:
        self._peak_mb = max(self._peak_mb, logs.peak_memory_mb(process.pid) or 0)

    def _kill_group(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        self._processes.kill_all()  # and what left the group: setsid, daemons' double forks

    def stop(self, *, grace: float = 0.0) -> None:
        """End the bootstrap and everything it started, and reap it; the next invocation starts cold."""
        with self._stopping:
            self._stop(grace)

    def _stop(self, grace: float) -> None:
        process, self._process = self._process, None
        if process is not None:
            if grace > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace)
            self._kill_group(process)
            process.wait()
            _LIVE_GROUPS.discard(process.pid)
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._logs is not None:
            self._logs.close()
        if self._server is not None:
            self._server.close()
        self._api = self._server = self._logs = self._watcher = None

    def retire(self) -> None:
        """From another thread, while an invocation may be running: end it with ``Sandbox.Failure``, end the
        bootstrap and start no other."""
        with self._lifecycle:  # waits for a cold start in progress, so its process is seen and killed
            self._retired = True
            api = self._api
        if api is not None:  # its caller gets an answer now rather than a dropped connection
            api.end("Sandbox.Failure", SHUTTING_DOWN)
        self.stop()

    def close(self) -> None:
        """Retire the sandbox and delete its folder; safe to call again, and while an invocation runs."""
        self.retire()  # its stop() killed every process of the sandbox, escaped ones included
        self._folder.remove()

    # -- one invocation ------------------------------------------------------------------------------

    def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one invocation to its end: a response, a function error, or a platform error."""
        invocation.start_clock()
        if self._process is not None and self._process.poll() is not None:
            self.stop()  # it died while idle
        with self._lifecycle:  # a retire() from another thread sees either no process or this one
            if self._retired:
                message = f"RequestId: {invocation.request_id} Error: {SHUTTING_DOWN}"
                return InvocationResult(invocation.request_id, error_body("Sandbox.Failure", message),
                                        "Sandbox.Failure")
            cold = self._process is None
            if cold:
                try:
                    self._start()
                except InvalidEntrypoint as error:
                    return self._entrypoint_failure(invocation, str(error))
            assert self._api is not None and self._logs is not None and self._process is not None
            api, stream, process = self._api, self._logs, self._process
        stream.start_invocation(keep=cold)
        stream.line(logs.start_line(invocation.request_id))
        api.submit(invocation)
        result = invocation.wait(max(invocation.remaining_s, 0.0))
        killed = result is None
        if killed:
            api.fail("Sandbox.Timedout", f"Task timed out after {invocation.timeout_s:.2f} seconds")
            self._kill_group(process)
            result = invocation.wait(5)
        assert result is not None
        timed_out = result.error_type == "Sandbox.Timedout"  # not when the answer beat the kill by a hair
        finished = time.monotonic()
        stream.sync()
        # A timeout lasts the whole timeout, cold start included (the deadline started before it), as Lambda
        # reports it; otherwise the duration is the handler's, from delivery.
        since = invocation.started if timed_out else (invocation.delivered or invocation.started)
        result.duration_ms = (finished - since) * 1000
        if cold:
            result.init_duration_ms = ((api.first_next_at or finished) - self._spawned_at) * 1000
        self._sample_memory(process)
        result.max_memory_used_mb = self._peak_mb
        status = None
        if timed_out:
            status = "timeout"
        elif result.error_type in ("Runtime.ExitError", "Sandbox.Failure") or api.init_error is not None:
            status = f"error\tError Type: {result.error_type}"
        if result.error_type == "Runtime.ExitError":
            stream.line(f"RequestId: {invocation.request_id} Error: {describe_exit(process.wait(5))}")
            stream.line("Runtime.ExitError")
        stream.line(logs.end_line(invocation.request_id))
        stream.line(logs.report_line(result, memory_size_mb=self.function.memory_size, status=status))
        if timed_out:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            seconds = f"{invocation.timeout_s:.2f}"
            stream.line(f"{stamp}Z {invocation.request_id} Task timed out after {seconds} seconds")
        result.log_tail = stream.tail()
        if killed or status is not None:  # the environment is reset: the next invocation starts afresh
            self.stop(grace=INIT_ERROR_GRACE_S if api.init_error is not None else 0.0)
        return result

    def _entrypoint_failure(self, invocation: Invocation, message: str) -> InvocationResult:
        text = f"RequestId: {invocation.request_id} Error: {message}"
        result = InvocationResult(invocation.request_id, error_body("Runtime.InvalidEntrypoint", text),
                                  "Runtime.InvalidEntrypoint", init_duration_ms=0.0)
        lines = [text, "Runtime.InvalidEntrypoint", logs.start_line(invocation.request_id),
                 logs.end_line(invocation.request_id),
                 logs.report_line(result, memory_size_mb=self.function.memory_size,
                                  status="error\tError Type: Runtime.InvalidEntrypoint")]
        data = "".join(line + "\n" for line in lines).encode()
        self.log_sink(data)
        result.log_tail = data
        return result
