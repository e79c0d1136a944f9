"""The Runtime API (2018-06-01) one sandbox's bootstrap talks to, as a state machine over plain requests.

An event is *queued* by the sandbox, *delivered* by ``GET /next``, and *answered* by one ``POST .../response``
or ``.../error``, matched by request id. A standard Lambda execution environment holds one delivered invocation at
a time (``max_concurrency=1``: a ``/next`` before the answer is refused); a Managed Instances one holds up to
``max_concurrency`` at once, answered in any order. Every ``/next`` hands out a fresh per-attempt
``Lambda-Runtime-Invocation-Id``; an answer naming another attempt, or coming for an attempt whose deadline passed,
is 410 ``ErrorRuntimeInvokeTimeout`` (docs/runtime-api.md §8.1). Status codes and error bodies follow AWS's
Runtime Interface Emulator (docs/runtime-api.md §2).

All of it runs on the emulator's event loop, so it needs no locks: a ``/next`` with nothing queued is answered
with a future that :meth:`RuntimeApi.submit` resolves (several wait at once under concurrency, served in the
order they came), and every other request is answered at once.
:meth:`RuntimeApi.routes` is the table served on the sandbox's port; the Extensions and Telemetry APIs, which
share that host:port on Lambda, add their routes to it.

:class:`RuntimeHooks` is the seam for fault injection and observation (the conformance suite delays or fails
``/next`` and reads what the bootstrap posted); the default hooks behave exactly like Lambda and cost nothing:
only the hooks a subclass overrides are called, each on the sandbox's hook thread (so a ``next_reply`` that
sleeps delays its own sandbox only), in the order the requests came.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from runtime_scaffold.emulator import streaming
from runtime_scaffold.emulator.invocation import (
    MAX_RESPONSE_BYTES,
    Invocation,
    InvocationResult,
    error_body,
    new_request_id,
)
from runtime_scaffold.emulator.messages import Reply, Request, json_reply
from runtime_scaffold.emulator.routes import Routes

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
# Per attempt: sent on /next, echoed by the runtime on /response and /error (docs/runtime-api.md §8.1).
INVOCATION_ID_HEADER = "Lambda-Runtime-Invocation-Id"
TENANT_ID_HEADER = "Lambda-Runtime-Aws-Tenant-Id"
T = TypeVar("T")
_ACCEPTED = json_reply(202, {"status": "OK"})


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


@dataclass(frozen=True)
class Shutdown:
    """How a bootstrap took the end of its environment: SIGTERM, then SIGKILL after ``grace_s``."""

    returncode: int | None  # its exit status (negative: the signal that ended it); None if it was not reaped
    in_grace: bool  # it exited before the SIGKILL
    leftovers: tuple[int, ...] | None  # processes of its group still alive when it exited (None: not known)
    grace_s: float


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

    def shut_down(self, sandbox_id: str, shutdown: Shutdown) -> None:
        """Called when the environment was shut down (closed or retired, not reset after a failure): the
        bootstrap got SIGTERM, and SIGKILL after the grace period."""


def overridden(hooks: RuntimeHooks, name: str) -> bool:
    """Whether ``hooks`` replaces the default ``name`` hook (which then costs nothing, not even a call)."""
    return getattr(type(hooks), name) is not getattr(RuntimeHooks, name)


class HookRunner:
    """Runs a sandbox's overridden hooks one at a time on a thread of their own, in the order they were asked."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="hooks")
        self._closed = False

    async def call(self, function: Callable[..., T | None], *args: Any) -> T | None:
        """``function(*args)`` on the hook thread; None once the sandbox is closed (no hook runs then)."""
        if self._closed:
            return None
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def fire(self, function: Callable[..., object], *args: Any) -> None:
        """Run ``function`` after the hooks already asked for, without waiting for it."""
        if not self._closed:
            self._executor.submit(function, *args)

    async def barrier(self) -> None:
        """Wait until every hook asked for so far has run (a caller then sees all its observations)."""
        await self.call(lambda: None)

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False)


def _error(status: int, error_type: str, message: str) -> Reply:
    return json_reply(status, {"errorMessage": message, "errorType": error_type})


def _function_error(request: Request, fallback_type: str) -> tuple[bytes, str]:
    """The error JSON a caller sees and its type, from a bootstrap's /error or /init/error post.

    Lambda passes a JSON body through; without one it builds the error from the error-type header.
    """
    header_type = request.headers.get(ERROR_TYPE_HEADER) or ""
    try:
        document = json.loads(request.body) if request.body else None
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        return request.body, header_type or str(document.get("errorType") or fallback_type)
    error_type = header_type or fallback_type
    message = request.body.decode("utf-8", "replace")
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode(), error_type


class RuntimeApi:
    """The Runtime API state of one sandbox's bootstrap; :meth:`routes` serves it, :meth:`handle` answers one
    request (tests)."""

    def __init__(self, *, sandbox_id: str, hooks: RuntimeHooks | None = None,
                 hook_runner: HookRunner | None = None, max_concurrency: int = 1) -> None:
        self.sandbox_id = sandbox_id
        self.max_concurrency = max_concurrency
        self.hooks = hooks or RuntimeHooks()
        self._hook_next = overridden(self.hooks, "next_reply")
        self._hook_post = overridden(self.hooks, "post_reply")
        self._hook_observe = overridden(self.hooks, "observe")
        self.hooked = self._hook_next or self._hook_post or self._hook_observe
        self._own_runner = hook_runner is None and self.hooked
        self.hook_runner = hook_runner or (HookRunner() if self.hooked else None)
        self._queued: deque[Invocation] = deque()  # submitted, not yet taken by a /next, oldest first
        self._delivered: dict[str, Invocation] = {}  # request id -> handed out by /next, not yet answered
        # /next calls waiting for an event, oldest first: each a future of its reply (no hooks), or of a wake-up
        # (None) or a final reply (next_reply hooked). A cancelled one (its client went away) is skipped.
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._answered: deque[str] = deque(maxlen=64)
        # Request ids whose delivered attempt ended without the runtime's answer (its deadline passed while the
        # environment lives on): a late answer is 410, not a wrong id.
        self._expired: deque[str] = deque(maxlen=64)
        self._init_error: tuple[bytes, str] | None = None
        self._closed = False
        self._ended: tuple[str, str] | None = None  # (error type, message) once the environment is gone
        self.first_next_at: float | None = None  # time.monotonic() of the first /next: init is over
        self.on_init_done: Callable[[], object] | None = None
        # After an /init/error post is taken in, or the environment ended during Init.
        self.on_init_error: Callable[[], object] | None = None
        # While set, a queued event is not handed to /next: the Init phase waits for the extensions too
        # (:mod:`lifecycle` sets it for a cold start and calls release()).
        self.hold = False
        self._routes = self.routes()

    def routes(self) -> Routes:
        """The Runtime API's route table; a feature on the same port (extensions, telemetry) adds to it."""
        routes = Routes(max_body_bytes=MAX_RESPONSE_BYTES, not_found=self._not_found,
                        method_not_allowed=self._not_allowed)
        base = PREFIX.rstrip("/")
        routes.add("GET", f"{base}/invocation/next", self._route_next)
        routes.add("POST", f"{base}/invocation/{{request_id}}/response", self._route_response,
                   streaming=streaming.wants_stream)
        routes.add("POST", f"{base}/invocation/{{request_id}}/error", self._route_error)
        routes.add("POST", f"{base}/init/error", self._route_init_error)
        return routes

    def handle(self, request: Request) -> Reply | Awaitable[Reply]:
        """Answer one request through the route table, as the server would."""
        resolved = self._routes.resolve(request.method, request.path)
        if not isinstance(resolved, tuple):
            return resolved(request)
        route, request.params = resolved
        if request.too_large is False and len(request.body) > self._routes.body_limit(route):
            request.too_large = True
        return route.handler(request)  # type: ignore[return-value]

    # -- the sandbox's side --------------------------------------------------------------------------

    def submit(self, invocation: Invocation) -> None:
        """Queue ``invocation``, handing it at once to a /next that waits for one."""
        self._queued.append(invocation)
        if self._ended is not None or self._init_error is not None:  # init failed, the bootstrap died, or closed
            self.fail(*(self._ended or ("Runtime.ExitError", "")))
            return
        if not self.hold:
            self._wake_waiter()

    def release(self) -> None:
        """Stop holding: the queued events go to the /next calls that wait for them, if any do."""
        self.hold = False
        for _ in range(len(self._queued)):
            if not self._wake_waiter():
                break

    def _wake_waiter(self) -> bool:
        """Hand the oldest queued event to the oldest /next still waiting; False when none waits."""
        waiter = self._next_waiter()
        if waiter is None:
            return False
        waiter.set_result(None if self._hook_next else self._hand_over(self._queued[0]))
        return True

    def _next_waiter(self) -> asyncio.Future[Any] | None:
        """The oldest /next still waiting (those whose client went away are dropped), taken off the line."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def fail(self, error_type: str, message: str) -> None:
        """End every queued and delivered invocation with a platform error; an init error wins."""
        invocations = [*self._delivered.values(), *self._queued]
        self._delivered.clear()
        self._queued.clear()
        for invocation in invocations:
            self._fail_one(invocation, error_type, message)

    def fail_invocation(self, invocation: Invocation, error_type: str, message: str) -> None:
        """End one queued or delivered invocation with a platform error (its deadline passed), not the others."""
        if self._delivered.get(invocation.request_id) is invocation:
            del self._delivered[invocation.request_id]
            self._expired.append(invocation.request_id)
        elif invocation in self._queued:
            self._queued.remove(invocation)
        else:
            return
        self._fail_one(invocation, error_type, message)

    def _fail_one(self, invocation: Invocation, error_type: str, message: str) -> None:
        self._answered.append(invocation.request_id)
        if self._init_error is not None:
            body, init_type = self._init_error
            invocation.finish(InvocationResult(invocation.request_id, body, init_type))
        else:
            text = f"RequestId: {invocation.request_id} Error: {message}"
            invocation.finish(InvocationResult(invocation.request_id, error_body(error_type, text), error_type))

    def take_unoffered(self) -> list[Invocation]:
        """The queued invocations no /next has taken yet, removed from the queue (the sandbox starts a fresh
        bootstrap for them when this one died before asking)."""
        unoffered = [invocation for invocation in self._queued if not invocation.offered]
        for invocation in unoffered:
            self._queued.remove(invocation)
        return unoffered

    def exited(self, message: str) -> None:
        """The bootstrap is gone: fail what it held, and what comes later, with ``message``."""
        self.end("Runtime.ExitError", message)

    def end(self, error_type: str, message: str, *, close: bool = True) -> None:
        """No more invocations here: fail what is queued or delivered now, and what comes later, with this error.

        The first reason wins: the sandbox shutting down kills the bootstrap, whose exit is not the cause.
        ``close=False`` leaves the /next calls waiting (a shutdown signals the bootstrap first).
        """
        if self._ended is None:
            self._ended = (error_type, message)
            if self.first_next_at is None and self.on_init_error is not None:  # during Init: it failed
                self.on_init_error()
        self.fail(*self._ended)
        if close:
            self.close()

    def close(self) -> None:
        """Wake any /next still waiting: the environment is going away."""
        self._closed = True
        while (waiter := self._next_waiter()) is not None:
            waiter.set_result(self._shutting_down())
        if self._own_runner and self.hook_runner is not None:
            self.hook_runner.close()

    @property
    def waiting(self) -> int:
        """How many /next calls wait for an event now (the runtime is idle, polling)."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def init_error(self) -> tuple[bytes, str] | None:
        return self._init_error

    @property
    def ended(self) -> tuple[str, str] | None:
        """(error type, message) once the environment is gone (an extension failed, the bootstrap exited...)."""
        return self._ended

    # -- the bootstrap's side -------------------------------------------------------------------------

    @staticmethod
    def _shutting_down() -> Reply:
        return _error(500, "Sandbox.Failure", "the execution environment is shutting down")

    def _not_found(self, request: Request) -> Reply:
        return self._observed_now(request, "unknown", None, _error(404, "NotFound", f"unknown path {request.path}"))

    def _not_allowed(self, request: Request) -> Reply:
        reply = _error(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.path}")
        return self._observed_now(request, "unknown", None, reply)

    def _observed_now(self, request: Request, kind: str, request_id: str | None, reply: Reply) -> Reply:
        if self._hook_observe and self.hook_runner is not None:
            call = RuntimeCall(self.sandbox_id, kind, request.method, request.path, request_id,
                               dict(request.headers.items()), request.body, reply.status)
            self.hook_runner.fire(self.hooks.observe, call)
        return reply

    async def _observed(self, request: Request, kind: str, request_id: str | None,
                        reply: Reply | Awaitable[Reply]) -> Reply:
        answer = reply if isinstance(reply, Reply) else await reply
        return self._observed_now(request, kind, request_id, answer)

    def _route_next(self, request: Request) -> Reply | Awaitable[Reply]:
        if self.first_next_at is None:
            self.first_next_at = time.monotonic()
            if self.on_init_done is not None:
                self.on_init_done()
        if len(self._delivered) >= self.max_concurrency:
            unanswered = next(iter(self._delivered))
            message = (f"/next called before answering request {unanswered}" if self.max_concurrency == 1 else
                       f"/next called while {len(self._delivered)} invocations (AWS_LAMBDA_MAX_CONCURRENCY) "
                       "are unanswered")
            return self._observed_now(request, "next", None, _error(403, "InvalidStateTransition", message))
        if self._hook_next:
            return self._observed(request, "next", None, self._next_hooked())
        if self._queued and not self.hold:
            return self._observed_now(request, "next", None, self._hand_over(self._queued[0]))
        if self._closed:
            return self._observed_now(request, "next", None, self._shutting_down())
        waiter = self._new_waiter()
        return self._observed(request, "next", None, waiter) if self._hook_observe else waiter

    def _new_waiter(self) -> asyncio.Future[Any]:
        # Every /next holds a place (a delivered invocation, or a wait), at most max_concurrency in all: past
        # that, a newer /next (a client that reconnected) takes over from the oldest one still waiting.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        waiting = [each for each in self._waiters if not each.done()]
        if len(waiting) + len(self._delivered) > self.max_concurrency:
            oldest = waiting[0]
            self._waiters.remove(oldest)
            oldest.set_result(self._shutting_down())
        return waiter

    async def _next_hooked(self) -> Reply:
        while not self._queued or self.hold:
            if self._closed:
                return self._shutting_down()
            woken = await self._new_waiter()
            if woken is not None:  # superseded by a newer /next, or the environment is going away
                return woken  # type: ignore[no-any-return]
        invocation = self._queued.popleft()
        self._delivered[invocation.request_id] = invocation
        offered, invocation.offered = invocation.offered, True
        assert self.hook_runner is not None
        try:
            override = await self.hook_runner.call(self.hooks.next_reply, self.sandbox_id, invocation)
        except asyncio.CancelledError:  # its connection was lost while the hook held the event: not handed over
            if self._delivered.get(invocation.request_id) is invocation:
                del self._delivered[invocation.request_id]
                self._queued.appendleft(invocation)
                invocation.offered = offered
            raise
        if override is not None:
            if self._delivered.get(invocation.request_id) is invocation:  # not failed meanwhile: queued again
                del self._delivered[invocation.request_id]
                self._queued.appendleft(invocation)
            return override
        return self._hand_over(invocation)

    def _hand_over(self, invocation: Invocation) -> Reply:
        if self._queued and self._queued[0] is invocation:
            self._queued.popleft()
        self._delivered[invocation.request_id] = invocation
        invocation.offered = True
        invocation.delivered = time.monotonic()
        invocation.invocation_id = new_request_id()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
            INVOCATION_ID_HEADER: invocation.invocation_id,
        }
        if invocation.trace_id:  # optional, as the client context is: a runtime must do without it
            headers["Lambda-Runtime-Trace-Id"] = invocation.trace_id
        if invocation.tenant_id is not None:
            headers[TENANT_ID_HEADER] = invocation.tenant_id
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        return Reply(200, invocation.payload, headers)

    def _route_response(self, request: Request) -> Reply | Awaitable[Reply]:
        return self._post(request, "response", request.params.get("request_id"))

    def _route_error(self, request: Request) -> Reply | Awaitable[Reply]:
        return self._post(request, "error", request.params.get("request_id"))

    def _route_init_error(self, request: Request) -> Reply | Awaitable[Reply]:
        return self._post(request, "init_error", None)

    def _post(self, request: Request, kind: str, request_id: str | None) -> Reply | Awaitable[Reply]:
        if kind == "response" and streaming.mode_given(request):
            assert request_id is not None
            hook = (lambda: self._post_hook(request, kind, request_id)) if self._hook_post else None
            return self._observed(request, kind, request_id,
                                  streaming.take_response(self, request, request_id, hook=hook))
        if kind == "error":
            refused = streaming.error_refused(self, request_id)
            if refused is not None:
                return self._observed_now(request, kind, request_id, refused)
        if self._hook_post:
            return self._observed(request, kind, request_id, self._post_hooked(request, kind, request_id))
        return self._observed_now(request, kind, request_id, self._take_post(request, kind, request_id))

    async def _post_hooked(self, request: Request, kind: str, request_id: str | None) -> Reply:
        override = await self._post_hook(request, kind, request_id)
        return override or self._take_post(request, kind, request_id)

    async def _post_hook(self, request: Request, kind: str, request_id: str | None) -> Reply | None:
        assert self.hook_runner is not None
        return await self.hook_runner.call(self.hooks.post_reply, self.sandbox_id, kind, request_id, request)

    def current_invocation(self, request_id: str, request: Request | None = None) -> Invocation | Reply:
        """The delivered invocation ``request_id`` names, or the 410, 400 or 403 that a post for it gets (410:
        the post's Lambda-Runtime-Invocation-Id names an attempt that is no longer current; a post without the
        header is taken for the current attempt, so runtimes from before it keep working)."""
        invocation = self._delivered.get(request_id)
        attempt = request.headers.get(INVOCATION_ID_HEADER) if request is not None else None
        stale = (request_id in self._expired if invocation is None
                 else bool(attempt) and attempt != invocation.invocation_id)
        if stale:
            return _error(410, "ErrorRuntimeInvokeTimeout",
                          f"invocation {attempt or '(no Lambda-Runtime-Invocation-Id)'} of request {request_id} is "
                          "no longer current: it timed out")
        if invocation is None:
            if request_id in self._answered:
                return _error(403, "InvalidStateTransition", f"request {request_id} was already answered")
            return _error(400, "InvalidRequestID", "Invalid request ID")
        return invocation

    def settle(self, invocation: Invocation) -> None:
        """``invocation`` has had its answer (a post, or a streamed response that ended): it leaves the
        delivered ones, and its /next place is free."""
        if self._delivered.get(invocation.request_id) is invocation:
            del self._delivered[invocation.request_id]
            self._answered.append(invocation.request_id)

    def _take_post(self, request: Request, kind: str, request_id: str | None) -> Reply:
        if kind == "init_error":
            return self._init_error_post(request)
        assert request_id is not None
        return self._answer(request, request_id, kind)

    def _answer(self, request: Request, request_id: str, kind: str) -> Reply:
        invocation = self.current_invocation(request_id, request)
        if not isinstance(invocation, Invocation):
            return invocation
        self.settle(invocation)
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
        return _ACCEPTED

    def _init_error_post(self, request: Request) -> Reply:
        if self.first_next_at is not None or self._init_error is not None:
            return _error(403, "InvalidStateTransition", "init error posted after init was over")
        self._init_error = _function_error(request, "Runtime.Unknown")
        if self.on_init_error is not None:
            self.on_init_error()
        body, error_type = self._init_error
        queued, self._queued = self._queued, deque()
        for invocation in queued:
            self._answered.append(invocation.request_id)
            invocation.finish(InvocationResult(invocation.request_id, body, error_type))
        return _ACCEPTED
