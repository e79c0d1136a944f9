"""One invocation as it travels from a caller through a sandbox and back, and what Lambda reports about it."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

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
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"


@dataclass
class InvocationResult:
    """What the caller of one invocation gets back, plus the facts of the REPORT line."""

    request_id: str
    payload: bytes
    error_type: str | None = None  # set when the invocation ended in a function or platform error
    log_tail: bytes = b""  # up to the last 4 KB of the invocation's log, START to REPORT
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start
    max_memory_used_mb: int = 0

    @property
    def function_error(self) -> str | None:
        """The `X-Amz-Function-Error` header value: custom runtimes' errors are always Unhandled."""
        return "Unhandled" if self.error_type is not None else None


@dataclass
class Invocation:
    """An event waiting for, or being handled by, a sandbox."""

    payload: bytes
    function_arn: str
    timeout_s: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = field(default_factory=new_trace_id)
    client_context: str | None = None  # decoded JSON, passed to the bootstrap as is
    cognito_identity: str | None = None
    deadline_ms: int = 0  # epoch milliseconds; fixed when a sandbox takes the invocation
    started: float = 0.0  # time.monotonic() when a sandbox took it
    delivered: float = 0.0  # time.monotonic() when the bootstrap received it from /next
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _result: InvocationResult | None = field(default=None, repr=False)

    def start_clock(self) -> None:
        """Start the timeout: Lambda counts init time against it, so this runs before a cold start."""
        self.started = time.monotonic()
        self.deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)

    @property
    def remaining_s(self) -> float:
        return self.started + self.timeout_s - time.monotonic()

    def finish(self, result: InvocationResult) -> bool:
        """Record the outcome once; later outcomes (a post after a timeout, say) are ignored."""
        if self._done.is_set():
            return False
        self._result = result
        self._done.set()
        return True

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def result(self) -> InvocationResult | None:
        return self._result

    def wait(self, timeout: float | None = None) -> InvocationResult | None:
        self._done.wait(timeout)
        return self._result
