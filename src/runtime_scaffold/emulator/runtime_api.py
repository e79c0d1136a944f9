"""The Runtime API (2018-06-01) one sandbox's bootstrap talks to, as a state machine over plain requests.

A sandbox runs one invocation at a time, as a standard Lambda execution environment does: an event is
*queued* by the sandbox, *delivered* by ``GET /next``, and *answered* by one ``POST .../response`` or
``.../error``. Status codes and error bodies follow AWS's Runtime Interface Emulator (docs/runtime-api.md §2).

:class:`RuntimeHooks` is the seam for fault injection and observation (the conformance suite delays or fails
``/next`` and reads what the bootstrap posted); the default hooks behave exactly like Lambda.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from runtime_scaffold.emulator.invocation import MAX_RESPONSE_BYTES, Invocation, InvocationResult, error_body
from runtime_scaffold.emulator.server import Reply, Request, json_reply

PREFIX = "/2018-06-01/runtime/"
_INVOCATION_PATH = re.compile(r"invocation/([^/]+)/(response|error)")
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


def _route(path: str) -> tuple[str, str | None, str]:
    """(kind, request id, the one method allowed) for a Runtime API path; kind "unknown" when it is none."""
    rest = path[len(PREFIX):] if path.startswith(PREFIX) else ""
    if rest == "invocation/next":
        return "next", None, "GET"
    if rest == "init/error":
        return "init_error", None, "POST"
    match = _INVOCATION_PATH.fullmatch(rest)
    if match:
        return match.group(2), match.group(1), "POST"
    return "unknown", None, ""


@dataclass(frozen=True)
class RuntimeCall:
    """One request a bootstrap made, and the status it was answered with."""

    sandbox_id: str
    kind: str  # next | response | error | init_error | unknown
    method: str
    path: str
    request_id: str | None
    headers: Mapping[str, str]
    body: bytes
    status: int


class RuntimeHooks:
    """Lambda's behaviour; subclass to inject faults or watch the bootstrap."""

    def next_reply(self, sandbox_id: str, invocation: Invocation) -> Reply | None:
        """Called when ``/next`` is about to hand out ``invocation``.

        May sleep to delay the event (the invocation's deadline keeps running), or return a reply to send
        instead, such as a 500; the event then stays queued for the next ``/next``.
        """
        return None

    def post_reply(self, sandbox_id: str, kind: str, request_id: str | None, request: Request) -> Reply | None:
        """Called before a ``response``, ``error`` or ``init_error`` post is taken in.

        Return a reply (a 500, say) to send it instead; the post is then ignored and the invocation stays open,
        so a bootstrap that does not exit as the contract asks runs into its deadline.
        """
        return None

    def observe(self, call: RuntimeCall) -> None:
        """Called after every Runtime API request with what was asked and answered."""

    def exited(self, sandbox_id: str, returncode: int) -> None:
        """Called when a sandbox's bootstrap has ended, with its status (negative: the signal that ended it).

        The conformance suite tells a bootstrap that exits by itself, as the contract asks after an init error
        or a 500, from one the sandbox had to kill (``-SIGKILL``).
        """


def _error(status: int, error_type: str, message: str) -> Reply:
    return json_reply(status, {"errorMessage": message, "errorType": error_type})


def _function_error(request: Request, fallback_type: str) -> tuple[bytes, str]:
    """The error JSON a caller sees and its type, from a bootstrap's /error or /init/error post.

    Lambda passes a JSON body through; without one it builds the error from the error-type header.
    """
    header_type = request.headers.get(ERROR_TYPE_HEADER) or ""
    try:
        document = json.loads(request.body) if request.body else None
    except ValueError:
        document = None
    if isinstance(document, dict):
        return request.body, header_type or str(document.get("errorType") or fallback_type)
    error_type = header_type or fallback_type
    message = request.body.decode("utf-8", "replace")
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode(), error_type


class RuntimeApi:
    """The Runtime API state of one sandbox; :meth:`handle` is its HTTP application."""

    def __init__(self, *, sandbox_id: str, hooks: RuntimeHooks | None = None) -> None:
        self.sandbox_id = sandbox_id
        self.hooks = hooks or RuntimeHooks()
        self._lock = threading.Condition()
        self._queued: Invocation | None = None
        self._active: Invocation | None = None
        self._answered: deque[str] = deque(maxlen=64)
        self._init_error: tuple[bytes, str] | None = None
        self._closed = False
        self._ended: tuple[str, str] | None = None  # (error type, message) once the environment is gone
        self._waiter = 0
        self.first_next_at: float | None = None  # time.monotonic() of the first /next: init is over

    # -- the sandbox's side --------------------------------------------------------------------------

    def submit(self, invocation: Invocation) -> None:
        with self._lock:
            self._queued = invocation
            self._lock.notify_all()
            ended, init_failed = self._ended, self._init_error is not None
        if ended is not None or init_failed:  # init already failed, the bootstrap died or the sandbox closed
            self.fail(*(ended or ("Runtime.ExitError", "")))

    def fail(self, error_type: str, message: str) -> None:
        """End the queued or delivered invocation with a platform error; an init error wins."""
        with self._lock:
            invocation = self._active or self._queued
            self._active = self._queued = None
            if invocation is None:
                return
            self._answered.append(invocation.request_id)
            if self._init_error is not None:
                body, init_type = self._init_error
                invocation.finish(InvocationResult(invocation.request_id, body, init_type))
            else:
                text = f"RequestId: {invocation.request_id} Error: {message}"
                body = error_body(error_type, text)
                invocation.finish(InvocationResult(invocation.request_id, body, error_type))

    def exited(self, message: str) -> None:
        """The bootstrap is gone: fail what it held, and what comes later, with ``message``."""
        self.end("Runtime.ExitError", message)

    def end(self, error_type: str, message: str) -> None:
        """No more invocations here: fail what is queued or delivered now, and what comes later, with this error.

        The first reason wins: the sandbox shutting down kills the bootstrap, whose exit is not the cause.
        """
        with self._lock:
            if self._ended is None:
                self._ended = (error_type, message)
            error_type, message = self._ended
        self.fail(error_type, message)
        self.close()

    def close(self) -> None:
        """Wake any /next still waiting: the environment is going away."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    @property
    def init_error(self) -> tuple[bytes, str] | None:
        return self._init_error

    # -- the bootstrap's side -------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        kind, request_id, method = _route(request.path)
        if kind == "unknown":
            reply = _error(404, "NotFound", f"unknown path {request.path}")
        elif request.method != method:
            reply = _error(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.path}")
        elif kind == "next":
            reply = self._next()
        else:
            reply = self.hooks.post_reply(self.sandbox_id, kind, request_id, request) or self._take_post(
                request, kind, request_id)
        self.hooks.observe(RuntimeCall(self.sandbox_id, kind, request.method, request.path, request_id,
                                       dict(request.headers.items()), request.body, reply.status))
        return reply

    def _take_post(self, request: Request, kind: str, request_id: str | None) -> Reply:
        if kind == "init_error":
            return self._init_error_post(request)
        assert request_id is not None
        return self._answer(request, request_id, kind)

    def _next(self) -> Reply:
        with self._lock:
            if self.first_next_at is None:
                self.first_next_at = time.monotonic()
            if self._active is not None:
                return _error(403, "InvalidStateTransition",
                              f"/next called before answering request {self._active.request_id}")
            # A newer /next (a client that reconnected) takes over from an older one still waiting.
            self._waiter += 1
            me = self._waiter
            self._lock.notify_all()  # the older one gives up now, not when an event wakes both and it may win
            while self._queued is None and not self._closed and self._waiter == me:
                self._lock.wait()
            if self._waiter != me:  # its client reconnected: the event is the newer /next's
                return _error(500, "Sandbox.Failure", "a newer /next from this runtime took over")
            if self._queued is None:
                return _error(500, "Sandbox.Failure", "the execution environment is shutting down")
            invocation = self._active = self._queued
            self._queued = None
        override = self.hooks.next_reply(self.sandbox_id, invocation)
        if override is not None:
            with self._lock:
                if self._active is invocation:
                    self._active, self._queued = None, invocation
            return override
        invocation.delivered = time.monotonic()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        return Reply(200, invocation.payload, headers)

    def _answer(self, request: Request, request_id: str, kind: str) -> Reply:
        with self._lock:
            invocation = self._active
            if invocation is None or invocation.request_id != request_id:
                if request_id in self._answered:
                    return _error(403, "InvalidStateTransition",
                                  f"request {request_id} was already answered")
                return _error(400, "InvalidRequestID", "Invalid request ID")
            self._active = None
            self._answered.append(request_id)
        if kind == "response" and request.too_large:
            message = ("Response payload size exceeded maximum allowed payload size "
                       f"({MAX_RESPONSE_BYTES} bytes).")
            too_large = "Function.ResponseSizeTooLarge"
            invocation.finish(InvocationResult(request_id, error_body(too_large, message), too_large))
            return _error(413, "RequestEntityTooLarge",
                          f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).")
        if kind == "response":
            invocation.finish(InvocationResult(request_id, request.body))
        else:
            body, error_type = _function_error(request, "Unhandled")
            invocation.finish(InvocationResult(request_id, body, error_type))
        return json_reply(202, {"status": "OK"})

    def _init_error_post(self, request: Request) -> Reply:
        with self._lock:
            if self.first_next_at is not None or self._init_error is not None:
                return _error(403, "InvalidStateTransition", "init error posted after init was over")
            self._init_error = _function_error(request, "Runtime.Unknown")
            body, error_type = self._init_error
            invocation, self._queued = self._queued, None
            if invocation is not None:
                self._answered.append(invocation.request_id)
        if invocation is not None:
            invocation.finish(InvocationResult(invocation.request_id, body, error_type))
        return json_reply(202, {"status": "OK"})
