"""The Extensions API (2020-01-01) of one execution environment, as a state machine over plain requests.

It lives on the same host:port as the sandbox's Runtime API (:meth:`ExtensionsApi.add_routes` adds its routes to
that table) and, like the Runtime API, runs on the emulator's event loop without locks. Status codes, error types
and messages follow AWS's Runtime Interface Emulator (``rapi/handler``), the contract docs/runtime-api.md §8.5:

- ``POST /2020-01-01/extension/register``: an *external* extension is one the environment launched from
  ``/opt/extensions`` (its ``Lambda-Extension-Name`` is the file name); any other name registers an *internal*
  extension (one that runs inside the runtime's process), which may not ask for ``SHUTDOWN``. Registration closes
  when the runtime's init is over (its first ``/next``); at most 10 extensions.
- ``GET /2020-01-01/extension/event/next``: blocks until the next event; a call after an ``INVOKE`` says the
  extension is done with that invocation.
- ``POST /2020-01-01/extension/init/error`` and ``/exit/error``: the environment fails with that error type.

The lifecycle (:mod:`lifecycle`) asks the questions the phases turn on (:attr:`all_external_registered`,
:attr:`all_ready`) and waits for their answers to change with :meth:`changed`.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field

from runtime_scaffold.emulator.invocation import Invocation
from runtime_scaffold.emulator.messages import Reply, Request, json_reply
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.lambda_limits import MAX_EXTENSIONS

BASE = "/2020-01-01/extension"
NAME_HEADER = "Lambda-Extension-Name"
IDENTIFIER_HEADER = "Lambda-Extension-Identifier"
ACCEPT_FEATURE_HEADER = "Lambda-Extension-Accept-Feature"
ERROR_TYPE_HEADER = "Lambda-Extension-Function-Error-Type"
EVENT_IDENTIFIER_HEADER = "Lambda-Extension-Event-Identifier"
INVOKE, SHUTDOWN = "INVOKE", "SHUTDOWN"
_EVENTS = (INVOKE, SHUTDOWN)
_REGISTER_BODY_BYTES = 64 * 1024
_VALID_ERROR_TYPE = re.compile(r"Extension\.[A-Z][a-zA-Z]+")
_ACCEPTED = json_reply(202, {"status": "OK"})

# Extension states, with the names Lambda gives them in platform.extension records and EXTENSION log lines.
LAUNCHED, REGISTERED, READY, INIT_ERROR, EXIT_ERROR, EXITED, CRASHED, LAUNCH_ERROR = (
    "Launched", "Registered", "Ready", "InitError", "ExitError", "Exited", "Crashed", "LaunchError")
_FAILED = (INIT_ERROR, EXIT_ERROR, EXITED, CRASHED, LAUNCH_ERROR)


def _forbidden(error_type: str, message: str) -> Reply:
    return json_reply(403, {"errorMessage": message, "errorType": error_type})


def _transition_refused(state: str, wanted: str, who: str) -> Reply:
    return _forbidden("Extension.InvalidExtensionState",
                      f"State transition from {state} to {wanted} failed for extension {who}. "
                      "Error: State transition is not allowed")


def valid_error_type(raw: str, default: str) -> str:
    """The error type an extension reported, kept when it reads ``Extension.Reason`` (as Lambda keeps it)."""
    return raw if _VALID_ERROR_TYPE.fullmatch(raw) else default


@dataclass(eq=False)
class Extension:
    """One extension of the environment, external (a process Lambda launched) or internal."""

    name: str
    external: bool
    identifier: str = ""
    events: tuple[str, ...] = ()
    state: str = LAUNCHED
    error_type: str | None = None
    ever_polled: bool = False  # has called event/next at least once (it is done with its init)
    working: bool = False  # was handed an INVOKE and has not asked for the next event since
    shut_down: bool = False  # was handed SHUTDOWN
    _pending: bytes | None = field(default=None, repr=False)  # the event for its next event/next
    _waiter: asyncio.Future[Reply] | None = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        return self.state in _FAILED

    def subscribed(self, event: str) -> bool:
        return event in self.events


@dataclass(frozen=True)
class Failure:
    """Why the environment cannot go on: an extension's error type and Lambda's message for it."""

    error_type: str
    message: str


class ExtensionsApi:
    """The extensions of one environment generation (from one cold start to its shutdown)."""

    def __init__(self, *, function_name: str, function_version: str, handler: str, account_id: str,
                 external_names: Iterable[str] = ()) -> None:
        self._metadata = {"functionName": function_name, "functionVersion": function_version, "handler": handler}
        self._account_id = account_id
        self.extensions: list[Extension] = [Extension(name, external=True) for name in external_names]
        self._by_id: dict[str, Extension] = {}
        self.registration_open = True
        self.failure: Failure | None = None  # the first fatal error an extension caused
        self._change: asyncio.Future[None] | None = None

    # -- what the lifecycle asks -----------------------------------------------------------------------

    @property
    def registered(self) -> list[Extension]:
        return [e for e in self.extensions if e.identifier]

    @property
    def active(self) -> bool:
        """Whether any extension exists at all (launched or registered): the phases wait for none otherwise."""
        return bool(self.extensions)

    @property
    def externals(self) -> list[Extension]:
        return [e for e in self.extensions if e.external]

    @property
    def all_external_registered(self) -> bool:
        return all(e.identifier or e.failed for e in self.externals)

    @property
    def all_ready(self) -> bool:
        """Every registered extension waits in event/next with nothing left to do (end of init or invoke)."""
        return all(e.failed or (e.ever_polled and not e.working and e._waiter is not None)
                   for e in self.registered)

    def pending_names(self) -> list[str]:
        """The registered extensions the current phase still waits for, for a reason."""
        return [e.name for e in self.registered
                if not e.failed and not (e.ever_polled and not e.working and e._waiter is not None)]

    async def changed(self, *, timeout_s: float | None = None) -> None:
        """Wait (at most ``timeout_s``) until the state of some extension changes. The future is made before
        the first suspension, so a change right after the caller's check is never missed; waiting through
        asyncio.wait leaves it to the other waiters when this one is cancelled or times out."""
        if self._change is None or self._change.done():
            self._change = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._change], timeout=timeout_s)

    def _notify(self) -> None:
        change, self._change = self._change, None
        if change is not None and not change.done():
            change.set_result(None)

    def fail(self, extension: Extension | None, state: str, error_type: str, message: str) -> None:
        """Record an extension's failure; the first one is the environment's."""
        if extension is not None:
            extension.state, extension.error_type = state, error_type
            self._release(extension, _forbidden("Extension.InvalidExtensionState",
                                                f"extension {extension.name} is in state {state}"))
        if self.failure is None:
            self.failure = Failure(error_type, message)
        self._notify()

    def close_registration(self) -> None:
        """The runtime's init is over: later registrations are refused (Extension.RegistrationClosed)."""
        self.registration_open = False

    # -- events ------------------------------------------------------------------------------------------

    def dispatch_invoke(self, invocation: Invocation) -> list[Extension]:
        """Hand ``invocation`` to every extension registered for INVOKE; the ones that now work on it."""
        body = json.dumps({
            "eventType": INVOKE,
            "deadlineMs": invocation.deadline_ms,
            "requestId": invocation.request_id,
            "invokedFunctionArn": invocation.function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": invocation.trace_id},
        }).encode()
        working = []
        for extension in self.registered:
            if extension.failed or not extension.subscribed(INVOKE):
                continue
            extension.working = True
            self._hand_over(extension, body)
            working.append(extension)
        self._notify()
        return working

    def dispatch_shutdown(self, reason: str, deadline_ms: int) -> list[Extension]:
        """Hand SHUTDOWN to every external extension registered for it; the ones that got it."""
        body = json.dumps({"eventType": SHUTDOWN, "shutdownReason": reason, "deadlineMs": deadline_ms}).encode()
        told = []
        for extension in self.externals:
            if extension.identifier and not extension.failed and extension.subscribed(SHUTDOWN):
                extension.shut_down = True
                self._hand_over(extension, body)
                told.append(extension)
        self._notify()
        return told

    def _hand_over(self, extension: Extension, body: bytes) -> None:
        waiter, extension._waiter = extension._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self._event_reply(extension, body))
        else:
            extension._pending = body

    def _event_reply(self, extension: Extension, body: bytes) -> Reply:
        return Reply(200, body, {IDENTIFIER_HEADER: extension.identifier, EVENT_IDENTIFIER_HEADER: str(uuid.uuid4())})

    def _release(self, extension: Extension, reply: Reply) -> None:
        waiter, extension._waiter = extension._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def close(self) -> None:
        """The environment is gone: answer every event/next still waiting."""
        for extension in self.extensions:
            self._release(extension, json_reply(500, {"errorType": "Sandbox.Failure",
                                                      "errorMessage": "the execution environment is shutting down"}))
        self._notify()

    # -- the extensions' side -----------------------------------------------------------------------------

    def add_routes(self, routes: Routes) -> None:
        routes.add("POST", f"{BASE}/register", self._register, max_body_bytes=_REGISTER_BODY_BYTES)
        routes.add("GET", f"{BASE}/event/next", self._next, max_body_bytes=0)
        routes.add("POST", f"{BASE}/init/error", self._init_error, max_body_bytes=_REGISTER_BODY_BYTES)
        routes.add("POST", f"{BASE}/exit/error", self._exit_error, max_body_bytes=_REGISTER_BODY_BYTES)

    def identify(self, request: Request) -> Extension | Reply:
        """The extension a request names in ``Lambda-Extension-Identifier``, or the 403 Lambda answers."""
        identifier = request.headers.get(IDENTIFIER_HEADER) or ""
        if not identifier:
            return _forbidden("Extension.MissingExtensionIdentifier", f"Missing {IDENTIFIER_HEADER} header")
        try:
            uuid.UUID(identifier)
        except ValueError:
            return _forbidden("Extension.InvalidExtensionIdentifier", f"Invalid {IDENTIFIER_HEADER}")
        extension = self._by_id.get(identifier)
        if extension is None:
            return _forbidden("Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}")
        return extension

    def _register(self, request: Request) -> Reply:
        name = (request.headers.get(NAME_HEADER) or "").strip()
        if not name:
            return _forbidden("Extension.InvalidExtensionName", "Empty extension name")
        events = self._requested_events(request)
        if isinstance(events, Reply):
            return events
        extension = next((e for e in self.externals if e.name == name), None)
        if extension is None:
            refusal = self._internal_refusal(name, events)
            if refusal is not None:
                return refusal
            extension = Extension(name, external=False)
            self.extensions.append(extension)
        elif extension.identifier or extension.failed:
            return _transition_refused(extension.state, REGISTERED, name)
        extension.identifier, extension.events, extension.state = str(uuid.uuid4()), events, REGISTERED
        self._by_id[extension.identifier] = extension
        features = {part.strip() for part in (request.headers.get(ACCEPT_FEATURE_HEADER) or "").split(",")}
        body = dict(self._metadata)
        if "accountId" in features:
            body["accountId"] = self._account_id
        self._notify()
        return json_reply(200, body, {IDENTIFIER_HEADER: extension.identifier})

    @staticmethod
    def _requested_events(request: Request) -> tuple[str, ...] | Reply:
        if request.too_large:
            return _forbidden("InvalidRequestFormat", "the register request body is too large")
        try:
            document = json.loads(request.body) if request.body.strip() else {}
        except (ValueError, RecursionError) as error:
            return _forbidden("InvalidRequestFormat", str(error))
        if not isinstance(document, dict):
            return _forbidden("InvalidRequestFormat", "the register request body must be a JSON object")
        if document.get("configurationKeys"):
            return _forbidden("InvalidRequestFormat", "configurationKeys are deprecated; use environment "
                                                      "variables instead")
        events = document.get("events") or []
        if not isinstance(events, list):
            return _forbidden("InvalidRequestFormat", "events must be an array of strings")
        for event in events:
            if event not in _EVENTS:
                return _forbidden("Extension.InvalidEventType", f"{event}: ErrorInvalidEventType")
        return tuple(dict.fromkeys(events))

    def _internal_refusal(self, name: str, events: tuple[str, ...]) -> Reply | None:
        if SHUTDOWN in events:
            return _forbidden("Extension.InvalidEventType", "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension")
        if not self.registration_open:
            return _forbidden("Extension.RegistrationClosed", "Extension registration closed already")
        if any(e.name == name for e in self.extensions):
            return _forbidden("Extension.InvalidExtensionState", "Extension with this name already registered")
        if len(self.extensions) >= MAX_EXTENSIONS:
            return _forbidden("Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached")
        return None

    def _next(self, request: Request) -> Reply | Awaitable[Reply]:
        extension = self.identify(request)
        if isinstance(extension, Reply):
            return extension
        if extension.failed:
            return _transition_refused(extension.state, READY, extension.identifier)
        if not extension.ever_polled:
            extension.ever_polled, extension.state = True, READY
        extension.working = False
        pending, extension._pending = extension._pending, None
        if pending is not None:
            self._notify()
            return self._event_reply(extension, pending)
        older, extension._waiter = extension._waiter, asyncio.get_running_loop().create_future()
        if older is not None and not older.done():  # a newer event/next (it reconnected) takes over
            older.set_result(_forbidden("Extension.InvalidExtensionState", "superseded by a newer event/next"))
        waiter = extension._waiter
        waiter.add_done_callback(lambda done: self._gone(extension, done))
        self._notify()
        return waiter

    def _gone(self, extension: Extension, waiter: asyncio.Future[Reply]) -> None:
        """An event/next whose client went away (its handler was cancelled) waits no more."""
        if waiter.cancelled() and extension._waiter is waiter:
            extension._waiter = None
            self._notify()

    def _error_post(self, request: Request, state: str, default_type: str) -> Reply:
        extension = self.identify(request)
        if isinstance(extension, Reply):
            return extension
        raw = request.headers.get(ERROR_TYPE_HEADER) or ""
        if not raw:
            return _forbidden("Extension.MissingHeader", f"{ERROR_TYPE_HEADER} not found")
        if extension.failed:
            return _transition_refused(extension.state, state, extension.identifier)
        error_type = valid_error_type(raw, default_type)
        self.fail(extension, state, error_type, f"extension {extension.name} reported {raw}")
        return _ACCEPTED

    def _init_error(self, request: Request) -> Reply:
        return self._error_post(request, INIT_ERROR, "Extension.InitError")

    def _exit_error(self, request: Request) -> Reply:
        return self._error_post(request, EXIT_ERROR, "Extension.ExitError")

    def exited(self, name: str, description: str, *, expected: bool) -> None:
        """An external extension's process ended; after SHUTDOWN (``expected``) that is its job, else a crash."""
        extension = next((e for e in self.externals if e.name == name), None)
        if extension is None:
            return
        if expected or extension.shut_down:
            extension.state = EXITED if extension.state not in _FAILED else extension.state
            self._notify()
            return
        if extension.state in (INIT_ERROR, EXIT_ERROR):  # it said why before it went: that error stands
            self._notify()
            return
        self.fail(extension, CRASHED, "Extension.Crash", description)

    def launch_failed(self, name: str, message: str) -> None:
        extension = next((e for e in self.externals if e.name == name), None)
        self.fail(extension, LAUNCH_ERROR, "Extension.LaunchError", message)
