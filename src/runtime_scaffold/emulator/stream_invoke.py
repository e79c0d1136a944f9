"""InvokeWithResponseStream (``POST /2021-11-15/functions/{name}/response-streaming-invocations``) on the Invoke
API's listener: :func:`add_routes` is a route provider for :func:`~invoke_api.start_invoke_server`.

The request is checked as the 2015-03-31 path checks it (:meth:`~invoke_api.InvokeApi.invocation`: payload,
client context, trace id, and whatever else that path learns), plus the invocation type: ``RequestResponse``
or ``DryRun`` (204) only. The answer is 200 with the function's content type (botocore's
``ResponseStreamContentType`` is the ``Content-Type`` header) and an event stream body (:mod:`eventstream`): one
``PayloadChunk`` per piece of the function's streamed response as it arrives, or its buffered response as one
chunk, then ``InvokeComplete`` with ``ErrorCode`` and ``ErrorDetails`` (the error type and the error JSON) when
the invocation failed, before or after its first byte, and ``LogResult`` (the last 4 KB of its log, base64)
when ``X-Amz-Log-Type: Tail`` asked for it. A caller that goes away mid-stream stops being written to; the
function runs on to its end, its bytes dropped, as on Lambda.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from runtime_scaffold.emulator import eventstream
from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, Invocation, InvocationResult
from runtime_scaffold.emulator.invoke_api import InvokeApi, service_error
from runtime_scaffold.emulator.messages import Reply, Request, StreamReply
from runtime_scaffold.emulator.pool import FunctionPool
from runtime_scaffold.emulator.response_stream import ResponseStream
from runtime_scaffold.emulator.routes import Routes

STREAM_INVOKE_PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"
# The content type of a buffered answer streamed as one chunk (a streamed one has the bootstrap's own).
BUFFERED_CONTENT_TYPE = "application/json"


def add_routes(routes: Routes, api: InvokeApi) -> None:
    """Route provider: InvokeWithResponseStream on the Invoke API's listener."""
    routes.add("POST", STREAM_INVOKE_PATH, lambda request: invoke_with_response_stream(api, request))


def invoke_with_response_stream(api: InvokeApi, request: Request) -> Reply | Awaitable[Reply | StreamReply]:
    resolved = api.resolve(request)  # names and qualifiers as Invoke reads them
    if isinstance(resolved, Reply):
        return resolved
    function, pool = resolved
    invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type not in ("RequestResponse", "DryRun"):
        return service_error(400, "InvalidParameterValueException",
                             f"Invalid invocation type for InvokeWithResponseStream: {invocation_type}")
    invocation = api.invocation(function, request, invocation_type=invocation_type)
    if isinstance(invocation, Reply):
        return invocation
    headers = {"x-amzn-RequestId": invocation.request_id, "X-Amz-Executed-Version": FUNCTION_VERSION}
    if invocation_type == "DryRun":
        return Reply(204, b"", headers)
    chosen = api.pool_for(function, pool, invocation)
    if isinstance(chosen, Reply):
        return chosen
    tail = (request.headers.get("X-Amz-Log-Type") or "").lower() == "tail"
    return _start(chosen, invocation, request, headers, tail=tail)


async def _start(pool: FunctionPool, invocation: Invocation, request: Request, headers: dict[str, str], *,
                 tail: bool) -> Reply | StreamReply:
    """Wait for a sandbox, then for the stream to begin or the invocation to end: the reply's head is then known."""
    sandbox = await InvokeApi.sandbox_for(pool, request)
    if isinstance(sandbox, Reply):
        return sandbox
    stream = invocation.response_stream = ResponseStream()

    async def run() -> InvocationResult:
        try:
            return await sandbox.invoke_async(invocation)
        finally:
            pool.release(sandbox)
            stream.close()

    outcome = asyncio.ensure_future(run())
    request.on_gone.append(stream.abandon)  # from here on the invocation runs to its end whatever the caller does
    begun: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def began() -> None:
        if not begun.done():
            begun.set_result(None)

    stream.on_begin(began)
    either: list[asyncio.Future[Any]] = [outcome, begun]
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if not begun.done():
        begun.cancel()
    content_type = stream.content_type if stream.begun else BUFFERED_CONTENT_TYPE
    return StreamReply(200, _events(stream, outcome, tail=tail), headers, content_type or BUFFERED_CONTENT_TYPE)


async def _events(stream: ResponseStream, outcome: asyncio.Future[InvocationResult], *,
                  tail: bool) -> AsyncIterator[bytes]:
    try:
        while (piece := await stream.read()) is not None:
            for message in eventstream.payload_chunks(piece):
                yield message
    finally:  # the caller went away (the write was cancelled): the function's further bytes are dropped
        if not stream.closed:
            stream.abandon()
    result = await outcome
    if not stream.begun and result.error_type is None and result.payload:
        for message in eventstream.payload_chunks(result.payload):  # a buffered answer: one chunk, as Lambda
            yield message
    yield complete_event(result, tail=tail)


def complete_event(result: InvocationResult, *, tail: bool) -> bytes:
    """The ``InvokeComplete`` message of ``result``."""
    failed = result.error_type is not None
    return eventstream.invoke_complete(
        error_code=result.error_type if failed else None,
        error_details=result.payload.decode("utf-8", "replace") if failed else None,
        log_result=base64.b64encode(result.log_tail).decode() if tail else None)
