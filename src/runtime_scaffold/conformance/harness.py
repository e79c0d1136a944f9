"""What a scenario works with: a fresh local Lambda running the project's bootstrap with the conformance handler,
a recorder of every Runtime API call, fault injection, and the bootstrap's log for the reasons."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime_scaffold.conformance.handler import with_handler_packaged
from runtime_scaffold.emulator import (
    Invocation,
    InvocationResult,
    LocalLambda,
    Reply,
    RuntimeCall,
    RuntimeHooks,
    Shutdown,
)
from runtime_scaffold.emulator.lifecycle import ExtensionObserver
from runtime_scaffold.emulator.logs import LogSink
from runtime_scaffold.emulator.response_stream import invoke_streaming
from runtime_scaffold.project import Function, Project

ELLIPSIS = "..."


def clip(text: str, limit: int, *, keep_end: bool = False) -> str:
    """``text`` on one line in at most about ``limit`` characters, cut only between words, with an ellipsis where
    words were left out (at the start with ``keep_end``: an error's point is at its end). A first (or last) word
    longer than ``limit`` is left out whole rather than cut."""
    words = text.split()
    if len(" ".join(words)) <= limit:
        return " ".join(words)
    kept: list[str] = []
    length = 0
    for word in reversed(words) if keep_end else words:
        if length + len(word) + (1 if kept else 0) > limit:
            break
        kept.append(word)
        length += len(word) + (1 if len(kept) > 1 else 0)
    if keep_end:
        return " ".join([ELLIPSIS, *reversed(kept)])
    return " ".join([*kept, ELLIPSIS])


class Failed(Exception):
    """A scenario's verdict: the one-line reason says what was expected and what was seen."""


class Aborted(Exception):
    """The scenario's deadline passed; the runner has already recorded the failure."""


def injected_500(what: str) -> Reply:
    return Reply(500, json.dumps({"errorType": "Sandbox.Failure",
                                  "errorMessage": f"scaffold conform: injected container error on {what}"}).encode())


class Recorder(RuntimeHooks):
    """Every call a bootstrap makes, the deadline each event was handed out with, how each bootstrap ended
    (and was shut down); and the faults a scenario asks for (``on_next``, ``on_post``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[RuntimeCall] = []
        self.exits: list[int] = []
        self.shutdowns: list[Shutdown] = []
        self.deadlines: dict[str, int] = {}  # request id -> the Lambda-Runtime-Deadline-Ms it was given
        # request id -> the invocation handed out (its invocation_id is the attempt's Lambda-Runtime-Invocation-Id)
        self.invocations: dict[str, Invocation] = {}
        self.on_next: Callable[[Invocation], Reply | None] | None = None
        self.on_post: Callable[[str, str | None], Reply | None] | None = None

    def next_reply(self, sandbox_id: str, invocation: Invocation) -> Reply | None:
        reply = self.on_next(invocation) if self.on_next is not None else None
        if reply is None:
            with self._lock:
                self.deadlines[invocation.request_id] = invocation.deadline_ms
                self.invocations[invocation.request_id] = invocation
        return reply

    def post_reply(self, sandbox_id: str, kind: str, request_id: str | None, request: Any) -> Reply | None:
        return self.on_post(kind, request_id) if self.on_post is not None else None

    def observe(self, call: RuntimeCall) -> None:
        with self._lock:
            self.calls.append(call)

    def exited(self, sandbox_id: str, returncode: int) -> None:
        with self._lock:
            self.exits.append(returncode)

    def shut_down(self, sandbox_id: str, shutdown: Shutdown) -> None:
        with self._lock:
            self.shutdowns.append(shutdown)

    def posts(self, kind: str, request_id: str | None = None) -> list[RuntimeCall]:
        with self._lock:
            return [c for c in self.calls if c.kind == kind and (request_id is None or c.request_id == request_id)]

    def count(self, kind: str) -> int:
        return len(self.posts(kind))


class LogTail:
    """The bootstrap's output, kept (its end) to quote in a reason, and passed on to an optional sink."""

    _KEEP = 16384
    _LAMBDA_LINES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "RequestId:", "Runtime.ExitError",
                     "INIT_START ", "INIT_REPORT ",
                     "scaffold:")

    def __init__(self, sink: LogSink | None) -> None:
        self._sink = sink
        self._data = b""
        self._lock = threading.Lock()

    def __call__(self, data: bytes) -> None:
        with self._lock:
            self._data = (self._data + data)[-self._KEEP:]
        if self._sink is not None:
            self._sink(data)

    def runtime_lines(self) -> list[str]:
        """The bootstrap's own lines kept so far (not Lambda's START/END/REPORT or JSON platform records)."""
        with self._lock:
            lines = self._data.decode("utf-8", "replace").splitlines()
        return [text for text in (line.strip() for line in lines)
                if text and not text.startswith(self._LAMBDA_LINES) and "Task timed out after" not in text
                and not (text.startswith('{"time":') and '"type":"platform.' in text)]

    def last_line(self) -> str:
        """The bootstrap's last line of its own (not Lambda's START/END/REPORT), for a reason."""
        lines = self.runtime_lines()
        if not lines:
            return ""
        return clip(lines[-1], 200, keep_end=True)  # an error's point is at its end


@dataclass(frozen=True)
class StreamedAnswer:
    """What a streaming caller got: the pieces (as the Runtime API received them), the invocation's end, whether
    the bootstrap streamed at all, and when (time.monotonic()) the event was handed over and the first byte came."""

    pieces: list[bytes]
    result: InvocationResult
    streamed: bool
    content_type: str | None
    delivered_at: float
    first_byte_at: float | None

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


class Session:
    """One fresh local Lambda for one function variant; every invocation goes through :meth:`invoke`."""

    def __init__(self, local: LocalLambda, function: Function, recorder: Recorder, logs: LogTail,
                 aborted: threading.Event) -> None:
        self.local, self.function, self.recorder, self.logs = local, function, recorder, logs
        self._aborted = aborted

    def invoke(self, payload: bytes, *, trace_id: str | None = None,
               tenant_id: str | None = None) -> InvocationResult:
        if self._aborted.is_set():
            raise Aborted
        return self.local.invoke(self.function.key, payload, trace_id=trace_id, tenant_id=tenant_id)

    def wait_idle(self, *, timeout_s: float) -> bool:
        """Whether every bootstrap is back at a waiting /next within ``timeout_s`` (Lambda ends idle ones)."""
        sandboxes = self.local.pool(self.function).sandboxes

        def idle() -> bool:
            return all(sandbox.waiting_for_next for sandbox in sandboxes)

        deadline = time.monotonic() + timeout_s
        while not self.local.loop.call(idle):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def invoke_streaming(self, payload: bytes) -> StreamedAnswer:
        """Invoke as InvokeWithResponseStream does: the pieces of a streamed response as they came, and when."""
        if self._aborted.is_set():
            raise Aborted
        streamed = invoke_streaming(self.local, self.function.key, payload)
        pieces = list(streamed)
        result = streamed.result()
        stream = streamed.stream
        return StreamedAnswer(pieces, result, stream.begun, stream.content_type, streamed.invocation.delivered,
                              stream.first_byte_at)

    @property
    def pids(self) -> list[int]:
        return [s.pid for s in self.local.pool(self.function).sandboxes if s.pid is not None]

    @property
    def arn(self) -> str:
        return self.local.function_arn(self.function)

    def describe(self, result: InvocationResult) -> str:
        """An invocation that ended in an error, in a few words, with the bootstrap's last log line."""
        try:
            document = json.loads(result.payload)
            message = str(document.get("errorMessage", "")) if isinstance(document, dict) else ""
        except ValueError:
            message = result.payload[:4096].decode("utf-8", "replace")
        message = clip(message, 140)
        text = f"{result.error_type}" + (f" ({message})" if message else "")
        last = self.logs.last_line()
        return text + (f"; its log ends: {last}" if last else "")


class Harness:
    """Opens sessions for one scenario, and closes them all, on time or when its deadline passes."""

    def __init__(self, project: Project, function: Function, handler: str, *, tmp_invocations: int,
                 log_sink: LogSink | None = None, extension: str | None = None) -> None:
        self.project, self.function, self.handler = project, function, handler
        self.extension = extension  # the extension under test (scaffold conform --extension)
        self.tmp_invocations = tmp_invocations
        self.log_sink = log_sink
        self._sessions: list[Session] = []
        self._lock = threading.Lock()
        self._aborted = threading.Event()

    def open(self, *, timeout: int, handler: str | None = None, environment: Mapping[str, str] | None = None,
             extension_observer: ExtensionObserver | None = None, max_concurrency: int | None = None) -> Session:
        """A local Lambda whose function runs ``handler`` (the conformance handler by default) with ``timeout``
        seconds per invocation and extra environment variables (in the Managed Instances mode with
        ``max_concurrency``)."""
        if self._aborted.is_set():
            raise Aborted
        function = dataclasses.replace(
            self.function, handler=handler or self.handler, timeout=timeout,
            environment={**self.function.environment, **(environment or {})})
        project = dataclasses.replace(self.project, functions={**self.project.functions, function.key: function})
        project = with_handler_packaged(project, function, function.handler)
        recorder, logs = Recorder(), LogTail(self.log_sink)
        local = LocalLambda(project, hooks=recorder, log_sink=logs, extension_observer=extension_observer,
                            max_concurrency=max_concurrency)
        session = Session(local, function, recorder, logs, self._aborted)
        with self._lock:
            self._sessions.append(session)
        return session

    def close(self) -> None:
        """Stop every bootstrap the scenario started."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.local.close()

    def abort(self) -> None:
        """From the runner's thread, when the scenario's deadline passed: no new invocation, every bootstrap
        stopped (so a blocked invocation returns at once)."""
        self._aborted.set()
        self.close()
