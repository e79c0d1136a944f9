"""The emulator's HTTP/1.1 server: asyncio connections parsed by httptools (llhttp, C), one parser per connection.

Both of the emulator's APIs run on it, all on one event loop: the Invoke API for callers and one Runtime API per
sandbox (each on a port of its own, since ``AWS_LAMBDA_RUNTIME_API`` is a bare ``host:port``). A listener serves
a :class:`~routes.Routes` table; requests and replies are plain values (:mod:`messages`), so the API modules hold
no socket code and can be tested without one.

What the server guarantees, whatever the client sends:
- each message is parsed once, by the C parser, fed as the bytes arrive; requests on one connection are answered
  in order (pipelining works), and a connection whose client stops reading its replies stops being read;
- a body is never kept past its route's limit: bytes are counted as they arrive, whatever the framing
  (Content-Length or chunked); past the limit they are dropped, the application sees ``too_large`` and answers
  413, and past ``MAX_DRAIN_BYTES`` the connection is closed after that answer;
- a malformed message (a negative, non-numeric or overflowing length or chunk size, a bad header, a head over
  ``MAX_HEAD_BYTES``) is answered 400 (431 for the head) and its connection closed; a body that ends before its
  declared length is ``400 TruncatedHTTPRequest`` (as AWS's emulator) and never reaches the application;
- an exception in an application is a 500 ``Emulator.InternalError``, never a traceback;
- the listen backlog holds ``BACKLOG`` connections, so a burst of a thousand callers is queued, not reset;
- a client that goes away (end of stream or reset) has its pending handler cancelled, or its ``request.on_gone``
  callbacks called if it registered some: a queued invocation or a waiting ``/next`` then gives up its place.

Seams: ``accept`` is called once per connection and may return a reply to refuse it with (containment answers
403 to processes outside a sandbox), or a future of that reply or None when the verdict takes work better done
off the loop: the connection is not read until it is known; ``screen`` sees each request before routing (the
Host and Origin checks of :mod:`guard`). One connection's parsing and answering is :mod:`connection`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from runtime_scaffold.emulator.connection import MAX_DRAIN_BYTES, MAX_HEAD_BYTES, Connection, error_reply
from runtime_scaffold.emulator.messages import Reply, Request
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.errors import EmulatorError

# Sized for a thousand simultaneous connections (issue 15): the kernel caps it at net.core.somaxconn.
BACKLOG = 4096

Accept = Callable[[asyncio.BaseTransport], "Reply | asyncio.Future[Reply | None] | None"]
Screen = Callable[[Request], "Reply | None"]

__all__ = ["BACKLOG", "MAX_DRAIN_BYTES", "MAX_HEAD_BYTES", "Accept", "Listener", "Screen", "error_reply"]


class Listener:
    """One listening socket serving a route table on the emulator's loop, until :meth:`close`."""

    def __init__(self, routes: Routes, *, accept: Accept | None = None, screen: Screen | None = None) -> None:
        self.routes = routes
        self.accept = accept
        self.screen = screen
        self.connections: set[Connection] = set()
        self.in_flight = 0  # requests dispatched and not yet answered
        self._server: asyncio.AbstractServer | None = None
        self.host = ""
        self.port = 0

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> Listener:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: Connection(self), host, port, backlog=BACKLOG,
                                                    reuse_address=True)
        except OSError as error:
            raise EmulatorError(f"cannot listen on {host}:{port}: {error.strerror or str(error)}") from None
        sockets = self._server.sockets or ()
        self.host, self.port = sockets[0].getsockname()[:2] if sockets else (host, port)
        return self

    @property
    def address(self) -> str:
        """``host:port`` as AWS_LAMBDA_RUNTIME_API wants it."""
        return f"{self.host}:{self.port}"

    async def close(self, *, drain_s: float = 0.0) -> None:
        """Stop accepting; with ``drain_s``, first give requests being answered that long to send their reply
        (``scaffold serve`` on Ctrl-C: the callers of invocations the shutdown just ended get their error)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        while self.in_flight > 0 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection._gone()
            if connection._transport is not None:
                connection._transport.close()
