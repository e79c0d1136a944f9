"""Response streaming, the Runtime API's side: a ``/response`` posted with
``Lambda-Runtime-Function-Response-Mode: streaming`` and a chunked body (docs/runtime-api.md §2, §8.4).

Each piece of the body is handed to the invocation's :class:`~response_stream.ResponseStream` as it arrives,
never collected first, so a streaming caller sees the first byte while the handler still runs; a caller that
takes the answer whole (the 2015-03-31 Invoke API, ``scaffold invoke``) gets it collected instead, as Lambda
buffers a streaming function for ``Invoke``. What is checked, as AWS's emulator does:

- any other ``Lambda-Runtime-Function-Response-Mode`` is 400 ``InvalidFunctionResponseMode``, and the invocation
  fails with ``Runtime.InvalidResponseModeHeader``;
- the streamed limit (200 MiB, 6 MiB + 100 bytes when the caller takes the answer whole) is counted as the
  pieces arrive: what fits reaches the caller, the invocation then fails with ``Function.ResponseSizeTooLarge``,
  the rest of the body is read and dropped, and the post is answered 413;
- a failure after the first byte comes in the trailers ``Lambda-Runtime-Function-Error-Type`` and
  ``Lambda-Runtime-Function-Error-Body`` (base64 of the error JSON): the invocation ends with that error, and an
  ``/error`` for an invocation whose stream has begun is refused (403), since Lambda takes it only before;
- the deadline keeps running while the body streams: a timeout ends the invocation and kills the bootstrap, and
  a body cut off by the bootstrap's exit is left to the sandbox to report (``Runtime.ExitError``), as a cut-off
  buffered body is.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from runtime_scaffold.emulator.invocation import MAX_RESPONSE_BYTES, Invocation, InvocationResult, error_body
from runtime_scaffold.emulator.messages import BodyStream, Reply, Request, json_reply
from runtime_scaffold.emulator.response_stream import ResponseStream

if TYPE_CHECKING:
    from runtime_scaffold.emulator.runtime_api import RuntimeApi

RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAMING_MODE = "streaming"
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
# The streamed response limit of the current Lambda documentation (older text: 20 MB).
MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024
INVALID_MODE = "Runtime.InvalidResponseModeHeader"
TOO_LARGE = "Function.ResponseSizeTooLarge"
_ACCEPTED = json_reply(202, {"status": "OK"})

PostHook = Callable[[], Awaitable["Reply | None"]]


def wants_stream(headers: Mapping[bytes, bytes]) -> bool:
    """The route test of ``/response``: stream the body only in streaming mode (any other mode is refused, and
    its body taken whole, bounded, as a buffered one)."""
    return headers.get(b"lambda-runtime-function-response-mode") == b"streaming"


def mode_given(request: Request) -> bool:
    return RESPONSE_MODE_HEADER in request.headers


def _error(status: int, error_type: str, message: str) -> Reply:
    return json_reply(status, {"errorMessage": message, "errorType": error_type})


async def _drain(body: BodyStream | None) -> None:
    if body is not None:
        async for _ in body:
            pass


async def take_response(api: RuntimeApi, request: Request, request_id: str, *,
                        hook: PostHook | None = None) -> Reply:
    """Answer a ``/response`` that names a response mode: stream it to the invocation's caller, or refuse it."""
    body = request.stream
    if hook is not None:
        override = await hook()
        if override is not None:  # a fault injected in place of this post: its body is not the answer
            await _drain(body)
            return override
    current = api.current_invocation(request_id, request)
    mode = request.headers.get(RESPONSE_MODE_HEADER)
    if mode != STREAMING_MODE:
        if isinstance(current, Invocation):
            api.settle(current)
            text = f"RequestId: {request_id} Error: invalid {RESPONSE_MODE_HEADER}: {mode!r}"
            current.finish(InvocationResult(request_id, error_body(INVALID_MODE, text), INVALID_MODE))
        return _error(400, "InvalidFunctionResponseMode", f"{RESPONSE_MODE_HEADER} must be {STREAMING_MODE!r}, "
                      f"not {mode!r}")
    assert body is not None  # the route streams every body in streaming mode (wants_stream)
    if not isinstance(current, Invocation):
        await _drain(body)
        return current
    return await _forward(api, current, request, body)


async def _forward(api: RuntimeApi, invocation: Invocation, request: Request, body: BodyStream) -> Reply:
    stream = invocation.response_stream
    collected: list[bytes] | None = None
    if stream is None:  # the caller takes the answer whole
        stream = invocation.response_stream = ResponseStream()
        stream.abandon()
        collected = []
    limit = MAX_RESPONSE_BYTES if collected is not None else MAX_STREAMED_RESPONSE_BYTES
    stream.begin(request.headers.get("Content-Type"))
    invocation.on_finish(lambda _: stream.close())  # a timeout mid-stream ends the caller's stream too
    size, over = 0, False
    try:
        async for piece in body:
            if over or invocation.done:
                continue  # read and dropped: too large, or the invocation already ended (its deadline)
            size += len(piece)
            if size > limit:
                over = True
                piece = piece[:len(piece) - (size - limit)]
            if collected is not None:
                collected.append(piece)
            else:
                await stream.write(piece)
    except OSError:  # the bootstrap's connection broke mid-body: its exit or its deadline ends the invocation
        return _error(400, "TruncatedHTTPRequest", "the response stream ended before its last chunk")
    finally:
        stream.close()
    api.settle(invocation)
    if invocation.done:
        return _ACCEPTED
    if over:
        message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
        invocation.finish(InvocationResult(invocation.request_id, error_body(TOO_LARGE, message), TOO_LARGE))
        return _error(413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({limit} bytes).")
    failure = trailer_error(body.trailers)
    if failure is not None:
        document, error_type = failure
        invocation.finish(InvocationResult(invocation.request_id, document, error_type))
    else:
        invocation.finish(InvocationResult(invocation.request_id, b"".join(collected or ())))
    return _ACCEPTED


def trailer_error(trailers: Mapping[str, str]) -> tuple[bytes, str] | None:
    """The error JSON and type a stream's trailers report, or None when it ended well.

    The body trailer is base64 of ``{"errorMessage", "errorType", "stackTrace"}``; one that does not decode to
    a JSON object is passed on as the message, as Lambda builds an error from what it has.
    """
    lowered = {name.lower(): value.strip() for name, value in trailers.items()}
    error_type, encoded = lowered.get(ERROR_TYPE_TRAILER, ""), lowered.get(ERROR_BODY_TRAILER, "")
    if not error_type and not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True)
        document = json.loads(decoded) if decoded else None
    except (binascii.Error, ValueError, RecursionError):
        decoded, document = encoded.encode(), None
    if isinstance(document, dict):
        return decoded, error_type or str(document.get("errorType") or "Function.Unknown")
    error_type = error_type or "Function.Unknown"
    message = decoded.decode("utf-8", "replace")
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode(), error_type


def error_refused(api: RuntimeApi, request_id: str | None) -> Reply | None:
    """The 403 for an ``/error`` after the invocation's stream has begun (its trailers carry a failure)."""
    if request_id is None:
        return None
    current = api.current_invocation(request_id)
    stream = current.response_stream if isinstance(current, Invocation) else None
    if stream is not None and stream.begun:
        return _error(403, "InvalidStateTransition", f"the response stream of request {request_id} has begun: "
                      "report a failure in its trailers")
    return None
