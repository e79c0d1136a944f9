"""One invocation as it travels from a caller through a sandbox and back, and what Lambda reports about it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime_scaffold.emulator.response_stream import ResponseStream

# Lambda's synchronous payload limit for the caller's request (the Invoke API refuses more with 413).
MAX_REQUEST_BYTES = 6 * 1024 * 1024
# What the Runtime API accepts from a bootstrap: AWS's RIE allows 6 MiB + 100 bytes (interop.MaxPayloadSize).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
# How much of an invocation's log the Invoke API returns with `X-Amz-Log-Type: Tail`.
LOG_TAIL_BYTES = 4096
DEFAULT_ACCOUNT_ID = "123456789012"
FUNCTION_VERSION = "$LATEST"


def error_body(error_type: str, message: str) -> bytes:
    """The JSON a Lambda caller gets for a platform error (timeout, crash, bad entrypoint...)."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def new_trace_id() -> str:
    """An X-Ray trace header in the form Lambda sends (epoch seconds in hex, then 96 random bits)."""
    random = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{random[:24]};Parent={random[24:]};Sampled=0"


def new_request_id() -> str:
    """A random (version 4) UUID, as Lambda's request ids are; without the uuid module's per-call overhead."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(slots=True)
class InvocationResult:
    """What the caller of one invocation gets back, plus the facts of the REPORT line."""

    request_id: str
    payload: bytes
    error_type: str | None = None  # set when the invocation ended in a function or platform error
    log_tail: bytes = b""  # up to the last 4 KB of the invocation's log, START to REPORT
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start
    init_in_invoke: bool = False  # that Init ran within the invocation (after a reset): its time is in the duration
    max_memory_used_mb: int = 0

    @property
    def function_error(self) -> str | None:
        """The `X-Amz-Function-Error` header value: custom runtimes' errors are always Unhandled."""
        return "Unhandled" if self.error_type is not None else None


@dataclass(eq=False, slots=True)
class Invocation:
    """An event waiting for, or being handled by, a sandbox.

    Its outcome is set once, by :meth:`finish`, on the emulator's loop; whoever waits for it registers a
    callback with :meth:`on_finish` (the sandbox turns it into a future of its loop).
    """

    payload: bytes
    function_arn: str
    timeout_s: float
    request_id: str = field(default_factory=new_request_id)
    trace_id: str = field(default_factory=new_trace_id)
    client_context: str | None = None  # decoded JSON, passed to the bootstrap as is
    cognito_identity: str | None = None
    tenant_id: str | None = None  # X-Amz-Tenant-Id, checked (tenancy.check_tenant_id) before it gets here
    invocation_id: str = ""  # this attempt's Lambda-Runtime-Invocation-Id: fresh at every /next that takes it
    attempt: int = 1  # 2 and 3 are the retries of an Event invocation that failed
    deadline_ms: int = 0  # epoch milliseconds; fixed when a sandbox takes the invocation
    started: float = 0.0  # time.monotonic() when its deadline started (0: not yet)
    delivered: float = 0.0  # time.monotonic() when the bootstrap received it from /next
    offered: bool = False  # a /next took it (even if a hook then answered instead): it belongs to that bootstrap
    # Set by a caller that reads the response as a stream (InvokeWithResponseStream): a streamed /response is
    # forwarded to it piece by piece; without one, a streamed /response is collected, as a buffered one is.
    response_stream: ResponseStream | None = None
    _result: InvocationResult | None = field(default=None, repr=False)
    _callbacks: list[Callable[[InvocationResult], None]] = field(default_factory=list, repr=False)

    def retry(self) -> Invocation:
        """The next attempt of this invocation: the same request, a fresh outcome and deadline (Lambda retries a
        failed Event invocation under its request id)."""
        return Invocation(payload=self.payload, function_arn=self.function_arn, timeout_s=self.timeout_s,
                          request_id=self.request_id, trace_id=self.trace_id, client_context=self.client_context,
                          cognito_identity=self.cognito_identity, tenant_id=self.tenant_id,
                          attempt=self.attempt + 1)

    def start_clock(self) -> None:
        """Start the timeout: as the event is handed to a ready runtime, or before an Init that runs within the
        invocation (after a reset, or a failed Init phase)."""
        self.started = time.monotonic()
        self.deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)

    @property
    def remaining_s(self) -> float:
        return self.started + self.timeout_s - time.monotonic()

    def finish(self, result: InvocationResult) -> bool:
        """Record the outcome once; later outcomes (a post after a timeout, say) are ignored."""
        if self._result is not None:
            return False
        self._result = result
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(result)
        return True

    def on_finish(self, callback: Callable[[InvocationResult], None]) -> None:
        """Call ``callback`` with the outcome once there is one (at once if there is already)."""
        if self._result is not None:
            callback(self._result)
        else:
            self._callbacks.append(callback)

    @property
    def done(self) -> bool:
        return self._result is not None

    @property
    def result(self) -> InvocationResult | None:
        return self._result
