"""Conformance handler of the test Python runtime (_HANDLER=conformance.handler), following the protocol of
`scaffold conform`: echo the event byte for byte, except the {"conform":"<command>",...} events.

conformance features: streaming, concurrency
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any


def _stream(texts: list[str], delay_ms: int, failure: str | None = None) -> Iterator[bytes]:
    for number, text in enumerate(texts):
        if number:
            time.sleep(delay_ms / 1000)
        yield text.encode()
    if failure is not None:
        raise RuntimeError(failure)


def handler(event: bytes, context: dict[str, Any]) -> bytes | Iterator[bytes]:
    if not event.startswith(b'{"conform":"'):
        return event
    request = json.loads(event)
    command = request["conform"]
    if command == "error":
        raise RuntimeError(request.get("message", "conformance error requested"))
    if command == "context":
        return json.dumps({
            **context,
            "remainingMs": int(context["deadlineMs"]) - int(time.time() * 1000),
            "xAmznTraceId": os.environ.get("_X_AMZN_TRACE_ID", ""),
            "xAmznTraceIdExported": "_X_AMZN_TRACE_ID" in os.environ,
            "tmpdir": os.environ.get("TMPDIR", ""),
        }).encode()
    if command == "sleep":
        time.sleep(request.get("ms", 0) / 1000)
        return json.dumps({"slept": request.get("ms", 0)}).encode()
    if command == "stream":
        return _stream(request["chunks"], request.get("delayMs", 0))
    if command == "stream-error":
        return _stream(request["chunks"], 0, request.get("message", "conformance stream error requested"))
    if command == "stream-bytes":
        context["contentType"] = request.get("contentType")
        return iter([base64.b64decode(request["base64"])])
    if command == "output":
        return b'"' + b" " * max(0, request.get("bytes", 2) - 2) + b'"'
    return event
