"""The Telemetry API (``PUT /2022-07-01/telemetry``) and the Logs API (``PUT /2020-08-15/logs``) of one
execution environment: subscriptions, checked as Lambda checks them, and the events each subscriber gets.

Lambda's rules (its "Telemetry API" and "Logs API" pages; status codes and error types as AWS's emulators give
them): only a registered extension (``Lambda-Extension-Identifier``) subscribes, during the Init phase;
afterwards the APIs answer 403 ``Telemetry.SubscriptionClosed`` / ``Logs.SubscriptionClosed``. An extension
subscribes with one API or the other, not both; subscribing again is idempotent (the subscription stands and a
``platform.telemetrySubscription`` record says "Already subscribed"). A subscriber also gets what happened in
the Init phase before it subscribed: events are kept from the start of init until its end and replayed to each
new subscriber. The destination's host must be ``sandbox.localdomain`` (or ``sandbox``): it means this
environment's own address (see :mod:`sandbox_hosts`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from runtime_scaffold.emulator.extensions import Extension, ExtensionsApi
from runtime_scaffold.emulator.messages import Reply, Request, json_reply
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.telemetry_delivery import DROP_REASON, Buffering, Destination, Subscriber
from runtime_scaffold.emulator.telemetry_records import (
    EXTENSION,
    FUNCTION,
    LOGS_SCHEMAS,
    PLATFORM,
    TELEMETRY_SCHEMAS,
    Event,
    render,
)

TELEMETRY_PATH, LOGS_PATH = "/2022-07-01/telemetry", "/2020-08-15/logs"
SANDBOX_HOSTS = ("sandbox.localdomain", "sandbox")
# Lambda's bounds and defaults, the same for both APIs.
MAX_ITEMS = (1000, 10000, 10000)  # (minimum, maximum, default)
MAX_BYTES = (262144, 1048576, 262144)
TIMEOUT_MS = (25, 30000, 1000)
_TYPES = (PLATFORM, FUNCTION, EXTENSION)
# What is kept of the Init phase for subscribers that come later (their own buffers bound the rest).
_INIT_EVENTS_KEPT = 10000
_BODY_BYTES = 64 * 1024


class _Invalid(Exception):
    pass


def _bounded(buffering: dict[str, Any], key: str, bounds: tuple[int, int, int]) -> int:
    low, high, default = bounds
    value = buffering.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"buffering.{key} must be an integer")
    if not low <= value <= high:
        raise _Invalid(f"buffering.{key} must be between {low} and {high}, not {value}")
    return value


class _Subscription:
    def __init__(self, *, api: str, schema: str, types: tuple[str, ...], subscriber: Subscriber,
                 json_logs: bool) -> None:
        self.api, self.schema, self.types, self.subscriber, self.json_logs = api, schema, types, subscriber, json_logs

    def offer(self, event: Event) -> None:
        if event.category in self.types:
            record = render(event, api=self.api, schema=self.schema, json_logs=self.json_logs)
            if record is not None:
                self.subscriber.add(record)


class TelemetryApi:
    """The subscriptions of one environment generation and the fan-out of its events."""

    def __init__(self, *, extensions: ExtensionsApi, sandbox_address: str, json_logs: bool,
                 note: Callable[[str], None]) -> None:
        self._extensions = extensions
        self._address = sandbox_address
        self._json_logs = json_logs
        self._note = note
        self._subscriptions: dict[str, _Subscription] = {}  # by extension identifier
        self._init_events: list[Event] | None = []  # None once the Init phase is over
        self._init_dropped = 0
        self.open = True

    def set_address(self, address: str) -> None:
        """Where sandbox.localdomain leads in this environment (known once its external extensions start)."""
        self._address = address

    @property
    def wanted(self) -> bool:
        """Whether events are worth building now (someone subscribed, or may still subscribe and replay)."""
        return bool(self._subscriptions) or self._init_events is not None

    def emit(self, event: Event) -> None:
        if self._init_events is not None:
            if len(self._init_events) < _INIT_EVENTS_KEPT:
                self._init_events.append(event)
            else:
                self._init_dropped += 1
        for subscription in self._subscriptions.values():
            subscription.offer(event)

    def log_lines(self, kind: str, data: bytes) -> None:
        """Lines the function (``function``) or an extension (``extension``) wrote, one record each."""
        for line in data.decode("utf-8", "replace").splitlines(keepends=True):
            self.emit(Event(kind, {"line": line}))

    def close_subscriptions(self) -> None:
        """The Init phase is over: no new subscriptions, and nothing more to replay."""
        self.open = False
        self._init_events = None

    async def flush(self, *, timeout_s: float) -> None:
        for subscription in list(self._subscriptions.values()):
            await subscription.subscriber.flush(timeout_s=timeout_s)

    async def close(self) -> None:
        for subscription in list(self._subscriptions.values()):
            await subscription.subscriber.close()
        self._subscriptions.clear()

    def delivered(self) -> int:
        return sum(s.subscriber.delivered for s in self._subscriptions.values())

    # -- the extensions' side ----------------------------------------------------------------------------

    def add_routes(self, routes: Routes) -> None:
        routes.add("PUT", TELEMETRY_PATH, self._subscribe_telemetry, max_body_bytes=_BODY_BYTES)
        routes.add("PUT", LOGS_PATH, self._subscribe_logs, max_body_bytes=_BODY_BYTES)

    def _subscribe_telemetry(self, request: Request) -> Reply:
        return self._subscribe(request, api="telemetry")

    def _subscribe_logs(self, request: Request) -> Reply:
        return self._subscribe(request, api="logs")

    def _subscribe(self, request: Request, *, api: str) -> Reply:
        extension = self._extensions.identify(request)
        if isinstance(extension, Reply):
            return extension
        prefix = "Telemetry" if api == "telemetry" else "Logs"
        invalid = "ValidationError" if api == "telemetry" else "Logs.ValidationError"
        if not self.open:
            return json_reply(403, {"errorType": f"{prefix}.SubscriptionClosed",
                                    "errorMessage": f"{prefix} API subscription is closed"})
        try:
            document = json.loads(request.body) if not request.too_large else None
            if not isinstance(document, dict):
                raise _Invalid("the subscription must be a JSON object")
            schema, types, destination, buffering = self._read(document, api=api)
        except (ValueError, RecursionError, _Invalid) as error:
            return json_reply(400, {"errorType": invalid, "errorMessage": str(error)})
        existing = self._subscriptions.get(extension.identifier)
        if existing is not None and existing.api != api:
            other = "Logs" if existing.api == "logs" else "Telemetry"
            return json_reply(400, {"errorType": invalid,
                                    "errorMessage": f"extension {extension.name} already subscribed with the {other} "
                                                    "API; an extension subscribes with one of the two"})
        self._emit_subscribed(extension, api, types, again=existing is not None)
        if existing is None:
            self._start(extension, api=api, schema=schema, types=types, destination=destination,
                        buffering=buffering)
        return Reply(200, b'"OK"')

    def _emit_subscribed(self, extension: Extension, api: str, types: tuple[str, ...], *, again: bool) -> None:
        kind = "platform.telemetrySubscription" if api == "telemetry" else "platform.logsSubscription"
        state = "Already subscribed" if again else "Subscribed"
        self.emit(Event(kind, {"name": extension.name, "state": state, "types": list(types)}))

    def _start(self, extension: Extension, *, api: str, schema: str, types: tuple[str, ...],
               destination: Destination, buffering: Buffering) -> None:
        def dropped(records: int, size: int) -> bytes:
            event = Event("platform.logsDropped",
                          {"droppedBytes": size, "droppedRecords": records, "reason": DROP_REASON})
            return render(event, api=api, schema=schema) or b"{}"

        subscriber = Subscriber(name=extension.name, destination=destination, buffering=buffering,
                                dropped_record=dropped, note=self._note)
        subscription = _Subscription(api=api, schema=schema, types=types, subscriber=subscriber,
                                     json_logs=self._json_logs)
        self._subscriptions[extension.identifier] = subscription
        for event in self._init_events or ():
            subscription.offer(event)
        if self._init_dropped:
            subscriber.add(dropped(self._init_dropped, 0))

    def _read(self, document: dict[str, Any], *, api: str) -> tuple[str, tuple[str, ...], Destination, Buffering]:
        schemas = TELEMETRY_SCHEMAS if api == "telemetry" else LOGS_SCHEMAS
        schema = document.get("schemaVersion", None if api == "telemetry" else LOGS_SCHEMAS[0])
        if not isinstance(schema, str) or schema not in schemas:
            raise _Invalid(f"schemaVersion must be one of {', '.join(schemas)}, not {schema!r}")
        types = document.get("types")
        if not isinstance(types, list) or not types or any(t not in _TYPES for t in types):
            raise _Invalid("types must be a non-empty array of platform, function, extension")
        buffering = document.get("buffering") or {}
        if not isinstance(buffering, dict):
            raise _Invalid("buffering must be an object")
        limits = Buffering(_bounded(buffering, "maxItems", MAX_ITEMS), _bounded(buffering, "maxBytes", MAX_BYTES),
                           _bounded(buffering, "timeoutMs", TIMEOUT_MS))
        return schema, tuple(dict.fromkeys(types)), self._destination(document.get("destination"), api), limits

    def _destination(self, destination: Any, api: str) -> Destination:
        if not isinstance(destination, dict):
            raise _Invalid("destination must be an object with protocol and URI (HTTP) or port (TCP)")
        protocol = destination.get("protocol")
        if protocol == "TCP":
            port = destination.get("port")
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise _Invalid("destination.port must be a port number for the TCP protocol")
            return Destination("TCP", self._address, port)
        if protocol != "HTTP":
            raise _Invalid(f"destination.protocol must be HTTP or TCP, not {protocol!r}")
        uri = destination.get("URI")
        if not isinstance(uri, str) or not uri:
            raise _Invalid("destination.URI is required for the HTTP protocol")
        parts = urlsplit(uri)
        if parts.scheme != "http":
            raise _Invalid(f"destination.URI must be http:// (Lambda does not deliver over HTTPS), not {uri!r}")
        if (parts.hostname or "") not in SANDBOX_HOSTS:
            raise _Invalid(f"destination.URI host must be sandbox.localdomain, not {parts.hostname!r}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not port:
            raise _Invalid("URI port is not provided")
        method = destination.get("method", "POST") if api == "logs" else "POST"
        if method not in ("POST", "PUT"):
            raise _Invalid(f"destination.method must be POST or PUT, not {method!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Destination("HTTP", self._address, port, path, method, f"{parts.hostname}:{port}")
