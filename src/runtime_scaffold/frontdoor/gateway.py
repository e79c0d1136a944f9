"""The front door at work: a request on a local listener becomes the event of the route it matches, the function
runs on the local Lambda, and its answer becomes the HTTP response, as API Gateway or a function URL would do it.

A :class:`Gateway` is one listener's application, on the local Lambda's loop: the shared one (HTTP API routes at
the root, REST API routes below ``/<stage>/``, behind the Invoke API's own paths) or one function URL's. It checks
the ``Host`` (not the ``Origin``: these routes are for browsers), reads the request as sent (every header, the
client's address), and waits for the function at most as long as API Gateway would (30 s for an HTTP API, 29 s
for a REST API; a function URL waits for the function's own timeout), answering 504 after that while the
invocation runs on, as on AWS. A caller that goes away while its request waits for an environment gives up its
place; one that goes away while the function runs lets it finish.

A streamed function URL (``invokeMode: RESPONSE_STREAM``) is answered once the function has finished, since the
emulator does not stream invocations yet: an answer holding the HTTP-integration prelude is decoded by
:class:`~streaming.StreamedResponseDecoder`, any other is read as a buffered URL's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from runtime_scaffold.emulator.guard import request_screen
from runtime_scaffold.emulator.invocation import Invocation, InvocationResult, new_trace_id
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.messages import Reply, Request
from runtime_scaffold.emulator.pool import FunctionPool
from runtime_scaffold.errors import EmulatorError, InvalidInput, ProjectError
from runtime_scaffold.frontdoor.events import EventContext, build_event
from runtime_scaffold.frontdoor.request import HttpRequest
from runtime_scaffold.frontdoor.responses import (
    HttpResponse,
    MalformedResponse,
    from_result,
    integration_failure,
    integration_timeout,
    not_found,
)
from runtime_scaffold.frontdoor.routes import ApiKind, RouteMatch, Routes
from runtime_scaffold.frontdoor.streaming import (
    DELIMITER,
    HTTP_INTEGRATION_CONTENT_TYPE,
    BodyChunk,
    ResponseHead,
    StreamedResponseDecoder,
)

Log = Callable[[str], None]


def _message(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, (("content-type", "application/json"),), json.dumps({"message": message}).encode())


TOO_LARGE = _message(413, "Request Entity Too Large")
UNAVAILABLE = _message(503, "Service Unavailable")


class Gateway:
    """Answers one listener's HTTP requests from ``routes``; ``url`` names the function whose URL the listener is
    (None: the shared listener of the HTTP and REST APIs). ``routes`` may be replaced (live reload)."""

    def __init__(self, local: LocalLambda, routes: Routes, *, listen_host: str, log: Log,
                 url: str | None = None) -> None:
        self.local = local
        self.routes = routes
        self.url = url
        self._log = log
        self._screen = request_screen(listen_host=listen_host, check_origin=False,
                                      refuse=lambda status, _, message: _reply(_message(status, message), "GET"))

    def handle(self, request: Request) -> Reply | Awaitable[Reply]:
        refused = self._screen(request)
        if refused is not None:
            return refused
        kind, match = self._match(request)
        if match is None:
            return _reply(not_found(kind), request.method)
        if request.too_large:
            return _reply(TOO_LARGE, request.method)
        return self._answer(match, request)

    def _match(self, request: Request) -> tuple[ApiKind, RouteMatch | None]:
        if self.url is None:
            return self.routes.match(request.method, request.path)
        route = self.routes.urls.get(self.url)
        return ApiKind.FUNCTION_URL, route.match(request.method, request.path) if route is not None else None

    async def _answer(self, match: RouteMatch, request: Request) -> Reply:
        route = match.route
        trace_id = new_trace_id()
        context = EventContext.for_routes(self.routes, service=self.local.project.service,
                                          account_id=self.local.account_id, trace_id=trace_id)
        event = build_event(match, http_request(request), context)
        try:
            function = self.local.function(route.function)
            pool = self.local.pool(function)
            invocation = self.local.new_invocation(function, json.dumps(event).encode(), trace_id=trace_id)
        except InvalidInput:  # the event is over Lambda's 6 MB (a body near the limit, base64-encoded)
            return _reply(TOO_LARGE, request.method)
        except ProjectError as error:  # a route of a function a reload has just removed
            return self._problem(request, integration_failure(route.kind, problem=error.message))
        except EmulatorError:
            return _reply(UNAVAILABLE, request.method)
        result = await _run(pool, invocation, request, route.integration_timeout_s)
        if result is None:
            seconds = route.integration_timeout_s
            response = integration_timeout(route.kind, request_id=invocation.request_id,
                                           problem=f"no answer within API Gateway's {seconds:.0f} s; the "
                                           "invocation runs on")
        elif isinstance(result, EmulatorError):
            response = UNAVAILABLE
        elif route.streaming and result.error_type is None and DELIMITER in result.payload:
            response = _decoded_stream(route.kind, result)
        else:
            response = from_result(route, result, accept=request.headers.get("Accept"),
                                   binary_media_types=self.routes.binary_media_types)
        return self._problem(request, response)

    def _problem(self, request: Request, response: HttpResponse) -> Reply:
        if response.problem is not None and response.status >= 500:
            self._log(f"scaffold: {request.method} {request.path[:200]} -> {response.status}: {response.problem}")
        return _reply(response, request.method)


def http_request(request: Request) -> HttpRequest:
    """The front door's view of a request the server parsed: every header as sent, the raw target, the body."""
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.header_pairs]
    target = f"{request.path}?{request.query}" if request.query else request.path
    return HttpRequest(method=request.method, target=target, headers=headers, body=request.body,
                       source_ip=request.client or "127.0.0.1")


async def _run(pool: FunctionPool, invocation: Invocation, request: Request,
               cut_off_s: float | None) -> InvocationResult | EmulatorError | None:
    """The invocation's result, or None once ``cut_off_s`` has passed (the invocation then runs on)."""
    loop = asyncio.get_running_loop()
    deadline = None if cut_off_s is None else loop.time() + cut_off_s
    waiting = pool.acquire()
    request.on_gone.append(waiting.cancel)  # a caller gone before its turn gives up its place
    await asyncio.wait([waiting], timeout=cut_off_s)
    if not waiting.done():
        waiting.cancel()
        return None
    if waiting.cancelled():
        return None
    error = waiting.exception()
    if error is not None:
        return error if isinstance(error, EmulatorError) else EmulatorError(str(error))
    sandbox = waiting.result()
    running = loop.create_task(sandbox.invoke_async(invocation))

    def ended(task: asyncio.Task[InvocationResult]) -> None:
        pool.release(sandbox)
        if not task.cancelled():
            task.exception()  # retrieved: after a 504 nobody else reads it

    running.add_done_callback(ended)
    remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
    await asyncio.wait([running], timeout=remaining)
    if not running.done():
        return None
    return running.result()


def _decoded_stream(kind: ApiKind, result: InvocationResult) -> HttpResponse:
    decoder = StreamedResponseDecoder(HTTP_INTEGRATION_CONTENT_TYPE)
    try:
        events = [*decoder.feed(result.payload), *decoder.finish()]
    except MalformedResponse as malformed:
        return integration_failure(kind, problem=f"malformed streamed response: {malformed}",
                                   request_id=result.request_id)
    head = next(event for event in events if isinstance(event, ResponseHead))
    body = b"".join(event.data for event in events if isinstance(event, BodyChunk))
    return HttpResponse(head.status, head.headers, body)


def _reply(response: HttpResponse, method: str) -> Reply:
    """The server's reply: every header as the function gave it (repeats too), no Content-Type it did not give;
    a HEAD request gets the head alone."""
    body = b"" if method == "HEAD" else response.body
    return Reply(response.status, body, {}, None, response.headers)

