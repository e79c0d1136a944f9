"""One client connection of the emulator's HTTP/1.1 server: an httptools parser fed as bytes arrive, whose
callbacks build one message per request, answered in order (see :mod:`server` for what it guarantees)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from runtime_scaffold.emulator.messages import (
    BodyStream,
    Headers,
    Reply,
    Request,
    StreamReply,
    UnsafeHeader,
    content_type_line,
    header_lines,
    reply_head,
    status_line,
)
from runtime_scaffold.emulator.routes import Route

if TYPE_CHECKING:
    from runtime_scaffold.emulator.server import Listener

# A body this much over its limit is not drained to answer 413 on a usable connection: it is closed instead.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024
# Writes of bodies this large go out as their own buffer (writev), not copied into the head's.
_JOIN_BELOW = 64 * 1024
# Pipelined requests parsed ahead of the one being answered, before the connection stops reading.
_MAX_QUEUED = 16
_METHODS = {b"GET": "GET", b"POST": "POST", b"PUT": "PUT", b"DELETE": "DELETE", b"HEAD": "HEAD"}


def error_reply(status: int, error_type: str, message: str) -> Reply:
    return Reply(status, json.dumps({"errorType": error_type, "errorMessage": message}).encode())


_UNCHECKED = error_reply(500, "Emulator.InternalError", "this connection could not be checked")


class _HeadTooLarge(Exception):
    pass


class _Message:
    """One request being read: its head, its route, and its body so far.

    Fields a message rarely changes are class attributes, so making one per request stores only a few.
    """

    method = "GET"
    path = "/"
    query = ""
    route: Route | None = None
    params: dict[str, str] = {}  # noqa: RUF012  # replaced, never mutated
    early: Callable[[Request], Reply] | None = None  # the 404/405 to answer, when no route matched
    body_limit = 0
    size = 0
    too_large = False
    cut = False  # past MAX_DRAIN_BYTES: answered before its end, and the connection closed
    complete = False
    keep_alive = True
    stream: BodyStream | None = None
    pairs: list[tuple[bytes, bytes]] = []  # noqa: RUF012  # replaced per message when kept, never mutated
    in_body = False  # the head is complete: more headers are trailers

    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.parts: list[bytes] = []


class Connection(asyncio.Protocol):
    """One client connection: the parser's callbacks build :class:`_Message` values answered in order."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._routes = listener.routes
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._head_bytes = 0
        self._message: _Message | None = None  # being parsed
        self._queue: deque[_Message] = deque()  # parsed (head at least), not yet dispatched
        self._current: _Message | None = None  # dispatched, its reply not yet written
        self._request: Request | None = None  # the current message's request, while its handler runs
        self._task: asyncio.Future[Any] | None = None
        self._refusal: Reply | None = None
        self._verdict: asyncio.Future[Reply | None] | None = None  # the accept hook's, when it takes a while
        self._held: list[bytes] | None = None  # bytes received before that verdict, unparsed
        self._held_eof = False
        self._closing = False
        self._paused = False
        self._can_write: asyncio.Future[None] | None = None
        self._keep_pairs = listener.routes.keep_header_pairs
        self._client = ""

    # -- transport events ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's is no subclass)
        self._listener.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:  # Nagle plus delayed ACKs would add 40 ms to keep-alive round trips
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._keep_pairs:
            peer = transport.get_extra_info("peername")
            self._client = str(peer[0]) if peer else ""
        if self._listener.accept is not None:
            try:
                verdict = self._listener.accept(transport)
            except Exception:  # a bug in the hook must neither let the connection in nor leave it hanging
                verdict = _UNCHECKED
            if isinstance(verdict, asyncio.Future):
                # Judged off the loop: nothing is parsed until then, so that every request meets the verdict.
                # (Held rather than unread: uvloop starts reading after connection_made whatever it asked.)
                self._held, self._verdict = [], verdict
                verdict.add_done_callback(self._judged)
            else:
                self._refusal = verdict

    def _judged(self, verdict: asyncio.Future[Reply | None]) -> None:
        if verdict.cancelled() or verdict.exception() is not None:
            self._refusal = _UNCHECKED
        else:
            self._refusal = verdict.result()
        held, self._held = self._held or [], None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        for data in held:
            self.data_received(data)
        if self._held_eof:
            if not self.eof_received():
                transport.close()
        elif not self._paused and not self._closing:
            transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._held is not None:
            self._held.append(data)
            if self._transport is not None:
                self._transport.pause_reading()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "BadRequest", "protocol upgrades are not supported")
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, _HeadTooLarge):
                self._fail(431, "RequestHeaderFieldsTooLarge", f"the request head is over {MAX_HEAD_BYTES} bytes")
            else:
                self._fail(500, "Emulator.InternalError", f"the request could not be taken in: {error}")
        except httptools.HttpParserError as error:
            self._fail(400, "BadRequest", f"malformed HTTP request: {error}")

    def eof_received(self) -> bool:
        if self._held is not None:  # taken up once the verdict is known: the requests before it get answers
            self._held_eof = True
            return True
        message = self._message
        truncated = message is not None and (message in self._queue or message is self._current)
        self._gone()
        if truncated:
            # The client died mid-post: a cut-off body is not the function's answer (the invocation stays open).
            self._fail(400, "TruncatedHTTPRequest", "the request body ended before its declared length",
                       instead_of=message)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone()
        self._listener.connections.discard(self)
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def pause_writing(self) -> None:
        if self._can_write is None or self._can_write.done():
            self._can_write = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)

    def _gone(self) -> None:
        """The client will read no more replies: cancel what waits for one, so a queued invocation or a waiting
        /next gives up its place."""
        self._closing = True
        if self._verdict is not None and not self._verdict.done():
            self._verdict.cancel()
        if self._task is not None and not self._task.done():
            request = self._request
            if request is not None and request.on_gone:
                for callback in request.on_gone:
                    callback()
            else:
                self._task.cancel()
        for message in (self._message, *self._queue):
            if message is not None and message.stream is not None:
                message.stream.fail(ConnectionResetError("the client went away"))
        self._queue.clear()

    # -- parser callbacks (httptools calls them by name) ------------------------------------------------

    def on_message_begin(self) -> None:
        self._message = _Message()
        if self._keep_pairs:
            self._message.pairs = []
        self._url = b""
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url = url = self._url + url
        self._head_bytes = len(url)
        if len(url) > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self._message
        assert message is not None
        size = self._head_bytes = self._head_bytes + len(name) + len(value) + 4  # bounds the count too
        if size > MAX_HEAD_BYTES:
            raise _HeadTooLarge
        if message.in_body:  # a trailer
            if message.stream is not None:
                message.stream.trailers[name.decode("latin-1")] = value.decode("latin-1")
            return
        message.headers[name.lower()] = value
        if self._keep_pairs:
            message.pairs.append((name, value))

    def on_headers_complete(self) -> None:
        message = self._message
        assert message is not None
        message.in_body = True
        method = self._parser.get_method()
        message.method = _METHODS.get(method) or method.decode("latin-1")
        url = self._url
        if b"?" in url:
            path_bytes, _, query = url.partition(b"?")
            message.query = query.decode("latin-1")
        else:
            path_bytes = url
        message.path = path = path_bytes.decode("latin-1")
        resolved = self._routes.resolve(message.method, path)
        if self._refusal is not None:
            # Read and dropped, never streamed: the refusal goes out after the whole body, so the client is not
            # reset while it still writes, and nothing of it is kept.
            message.body_limit = 0
        elif resolved.__class__ is tuple:
            route, message.params = resolved
            message.route = route
            message.body_limit = route.max_body_bytes if route.max_body_bytes is not None else \
                self._routes.max_body_bytes
            streaming = route.streaming
            if streaming is True or (streaming is not False and streaming(message.headers)):
                message.stream = BodyStream()
                message.stream.on_drained.append(self._resume)
        else:
            message.early = resolved  # type: ignore[assignment]
        headers = message.headers
        if b"expect" in headers and headers[b"expect"].lower() == b"100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        queue = self._queue
        queue.append(message)
        if message.stream is not None:
            self._advance()  # a streaming handler starts before its body has arrived
        if len(queue) > _MAX_QUEUED:
            self._pause()

    def on_body(self, body: bytes) -> None:
        message = self._message
        assert message is not None
        if message.stream is not None:
            if not message.stream.feed(body):
                self._pause()
            return
        size = message.size = message.size + len(body)
        if message.too_large:
            if size > message.body_limit + MAX_DRAIN_BYTES and not message.cut:
                message.cut = True
                message.keep_alive = False
                self._closing = True  # read nothing more; answer 413, then close
                self._advance()
            return
        if size > message.body_limit:
            message.too_large = True
            message.parts = []
            return
        message.parts.append(body)

    def on_message_complete(self) -> None:
        message = self._message
        assert message is not None
        message.complete = True
        if not self._parser.should_keep_alive():
            message.keep_alive = False
        if message.stream is not None:
            message.stream.end(message.stream.trailers)
        self._message = None
        queue = self._queue
        if self._current is None and len(queue) == 1 and queue[0] is message:  # the usual case: no pipelining
            queue.clear()
            self._dispatch(message)
        else:
            self._advance()

    # -- answering ------------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Dispatch the oldest parsed request once the previous one is answered."""
        queue = self._queue
        while self._current is None and queue:
            message = queue[0]
            if not (message.complete or message.stream is not None or message.cut):
                return
            queue.popleft()
            self._dispatch(message)
        if self._paused and len(queue) <= _MAX_QUEUED // 2:
            self._resume()

    def _dispatch(self, message: _Message) -> None:
        self._current = message
        parts = message.parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        request = Request(message.method, message.path, message.query, Headers(message.headers), body,
                          message.too_large, message.stream, message.params)
        if self._keep_pairs:
            request.header_pairs, request.client = message.pairs, self._client
        if self._refusal is not None:
            self._write(self._refusal, close=True)
            return
        screen = self._listener.screen
        route = message.route
        refused = screen(request) if screen is not None and (route is None or route.screened) else None
        if refused is not None:
            self._write(refused, close=not message.keep_alive)
            return
        if message.early is not None:
            self._write(message.early(request), close=not message.keep_alive)
            return
        assert message.route is not None
        try:
            outcome = message.route.handler(request)
        except Exception as error:  # a bug in the emulator must not hang the client
            outcome = _internal_error(error)
        if isinstance(outcome, (Reply, StreamReply)):
            self._write(outcome, close=not message.keep_alive)
            return
        self._listener.in_flight += 1
        task = outcome if isinstance(outcome, asyncio.Future) else asyncio.ensure_future(outcome)
        self._task, self._request = task, request
        task.add_done_callback(self._answered)

    def _answered(self, task: asyncio.Future[Any]) -> None:
        self._listener.in_flight -= 1
        self._task = self._request = None
        if task.cancelled():
            self._current = None
            return
        error = task.exception()
        outcome = _internal_error(error) if error is not None else task.result()
        message = self._current
        self._write(outcome, close=message is None or not message.keep_alive)

    def _write(self, outcome: Reply | StreamReply, *, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            self._current = None
            return
        if isinstance(outcome, StreamReply):
            self._listener.in_flight += 1
            task = asyncio.ensure_future(self._write_stream(outcome, close=close))
            self._task = task
            task.add_done_callback(lambda _: self._stream_written())
            return
        try:
            head = reply_head(outcome, close=close or self._closing)
        except UnsafeHeader as error:
            head, outcome = self._unsafe(error, close)
        body = outcome.body
        if len(body) < _JOIN_BELOW:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        self._done(close)

    def _unsafe(self, error: UnsafeHeader, close: bool) -> tuple[bytes, Reply]:
        reply = error_reply(500, "Emulator.InternalError", str(error))
        return reply_head(reply, close=close or self._closing), reply

    def _done(self, close: bool) -> None:
        self._current = None
        if close or (self._closing and not self._queue):
            self._closing = True
            if self._transport is not None:
                self._transport.close()
            return
        self._advance()

    async def _write_stream(self, reply: StreamReply, *, close: bool) -> None:
        transport = self._transport
        assert transport is not None
        try:
            head = b"".join((status_line(reply.status), content_type_line(reply.content_type),
                             b"Transfer-Encoding: chunked\r\n", header_lines(reply.headers),
                             b"Connection: close\r\n\r\n" if close else b"\r\n"))
        except UnsafeHeader as error:
            head, whole = self._unsafe(error, close)
            transport.write(head + whole.body)
            return
        transport.write(head)
        async for chunk in reply.body:
            if transport.is_closing():
                return
            if chunk:
                transport.writelines((f"{len(chunk):x}\r\n".encode(), chunk, b"\r\n"))
            if self._can_write is not None and not self._can_write.done():
                await self._can_write
        trailers = reply.trailers() if callable(reply.trailers) else {}
        try:
            transport.write(b"0\r\n" + header_lines(trailers) + b"\r\n")
        except UnsafeHeader:
            transport.write(b"0\r\n\r\n")

    def _stream_written(self) -> None:
        self._listener.in_flight -= 1
        self._task = None
        message = self._current
        self._done(message is None or not message.keep_alive)

    def _fail(self, status: int, error_type: str, message: str, *, instead_of: _Message | None = None) -> None:
        """Answer a message the parser refused, then close: what follows it on the stream cannot be trusted."""
        self._closing = True
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if self._current is None or self._current is instead_of:
                reply = error_reply(status, error_type, message)
                transport.write(reply_head(reply, close=True) + reply.body)
            transport.close()

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and self._transport is not None and not self._closing:
            self._paused = False
            self._transport.resume_reading()


def _internal_error(error: BaseException) -> Reply:
    return error_reply(500, "Emulator.InternalError", repr(error))
