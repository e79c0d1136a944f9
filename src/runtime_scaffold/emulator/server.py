"""A small threaded HTTP/1.1 server on loopback that hands each request to an application callable.

Both of the emulator's APIs run on it: the Invoke API for callers and one Runtime API per sandbox. Requests
and replies are plain values (:class:`Request`, :class:`Reply`), so the API modules hold no socket code and
can be tested without one.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from runtime_scaffold.errors import EmulatorError


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: Mapping[str, str]  # case-insensitive (an email.message.Message)
    body: bytes
    too_large: bool = False  # the body was over the server's limit and was read and dropped


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def json_reply(status: int, document: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(document).encode(), headers or {})


Application = Callable[[Request], Reply]
Admission = Callable[[socket.socket], bool]  # whether a new connection may use the application at all
_DRAIN_CHUNK = 1 << 16
# A body this large is not drained to answer 413 politely: the connection is closed instead.
_MAX_DRAIN_BYTES = 64 * 1024 * 1024


class _Truncated(Exception):
    """The client's body ended before its Content-Length or its terminating zero-size chunk."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: bootstraps reuse one connection for /next and /response
    disable_nagle_algorithm = True  # Nagle plus delayed ACKs would add 40 ms to keep-alive round trips
    server: LoopbackServer
    admitted = True

    def handle(self) -> None:
        # Once per connection, not per request: a bootstrap keeps one connection for all its calls.
        self.admitted = self.server.admit is None or self.server.admit(self.connection)
        super().handle()

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the bootstrap's own output is what the user reads."""

    def _read_body(self) -> tuple[bytes, bool]:
        limit = self.server.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length <= limit:
            body = self.rfile.read(length)
            if len(body) < length:  # the client died mid-post: a cut-off body is not the function's answer
                raise _Truncated
            return body, False
        if length > _MAX_DRAIN_BYTES:
            self.close_connection = True
            return b"", True
        while length > 0:  # drop the body so the connection stays usable and the client reads the 413
            data = self.rfile.read(min(length, _DRAIN_CHUNK))
            if not data:
                break
            length -= len(data)
        return b"", True

    def _read_chunked(self, limit: int) -> tuple[bytes, bool]:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):  # end of stream before the zero-size chunk that ends the body
                raise _Truncated
            chunk = int(line.split(b";")[0].strip(), 16)
            if chunk == 0:
                break
            data = self.rfile.read(chunk)
            if len(data) < chunk:
                raise _Truncated
            self.rfile.readline(8)  # the CRLF after each chunk
            size += len(data)
            if size <= limit:
                parts.append(data)
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):  # trailers, ignored
            pass
        return (b"".join(parts), False) if size <= limit else (b"", True)

    def _handle(self) -> None:
        try:
            body, too_large = self._read_body()
        except _Truncated:  # as RIE: 400, and the application never sees it (the invocation stays open)
            self.close_connection = True
            self._send(json_reply(400, {"errorType": "TruncatedHTTPRequest",
                                        "errorMessage": "the request body ended before its declared length"}))
            return
        except (ValueError, OSError):
            self.close_connection = True
            return
        if not self.admitted:  # answered after its body is read, so the client sees the 403 and not a reset
            self.close_connection = True
            self._send(json_reply(403, {"errorType": "AccessDeniedException", "errorMessage":
                                        "this Runtime API answers only the processes of its own sandbox"}))
            return
        url = urlsplit(self.path)
        headers: Mapping[str, str] = self.headers  # type: ignore[assignment]  # a Message is a mapping enough
        request = Request(self.command, url.path, url.query, headers, body, too_large)
        with self.server.in_flight():
            try:
                reply = self.server.application(request)
            except Exception as error:  # a bug in the emulator must not hang the client
                reply = json_reply(500, {"errorType": "Emulator.InternalError", "errorMessage": repr(error)})
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}",
                f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        except OSError:  # the client went away (a killed bootstrap, an impatient caller)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class LoopbackServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer serving one application from a background thread until :meth:`close`."""

    daemon_threads = True  # a long-polling /next must not keep the process alive
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, application: Application, *, host: str = "127.0.0.1", port: int = 0,
                 max_body_bytes: int, admit: Admission | None = None) -> None:
        try:
            super().__init__((host, port), _Handler)
        except OSError as error:
            raise EmulatorError(f"cannot listen on {host}:{port}: {error.strerror or str(error)}") from None
        self.application = application
        self.max_body_bytes = max_body_bytes
        self.admit = admit
        self._stopping = False
        self._busy = 0  # requests between their body and their reply
        self._idle = threading.Condition()
        # serve_forever() sees shutdown() only at its next poll; a sandbox reset must not wait 100 ms for it.
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._serve, name=f"http-{self.server_address[1]}",
                                        daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stopping:
                        self._handle_request_noblock()  # type: ignore[attr-defined]  # socketserver's own step

    def handle_error(self, request: object, client_address: object) -> None:
        """A bootstrap killed mid-connection resets it; that is the sandbox's business, not a server error."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    @property
    def address(self) -> str:
        """``host:port`` as AWS_LAMBDA_RUNTIME_API wants it."""
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def close(self, *, drain_s: float = 0.0) -> None:
        """Stop accepting; with ``drain_s``, first give requests being answered that long to send their reply
        (``scaffold serve`` on Ctrl-C: the callers of invocations the shutdown just ended get their error)."""
        if self._stopping:
            return
        self._stopping = True
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=drain_s)
        self.server_close()
        os.close(self._wake_read)
        os.close(self._wake_write)
