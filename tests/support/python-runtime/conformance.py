"""Conformance handler of the test Python runtime (_HANDLER=conformance.handler), following the protocol of
`scaffold conform`: echo the event byte for byte, except the {"conform":"<command>",...} events.

conformance features: concurrency
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: bytes, context: dict[str, Any]) -> bytes:
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
    if command == "output":
        return b'"' + b" " * max(0, request.get("bytes", 2) - 2) + b'"'
    return event
