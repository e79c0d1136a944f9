"""HTTP messages as plain values: what the server hands an application and what the application answers.

A :class:`Request` carries its body either whole (``body``, the default, bounded by the route's limit) or, for a
route declared with ``streaming=True``, as a :class:`BodyStream` of chunks plus trailers, read as they arrive.
An application answers with a :class:`Reply` (status, headers, whole body) or a :class:`StreamReply`, whose body
is an async iterator of chunks written with chunked transfer encoding as each one is produced.

Every header value is checked when the head is written: CR, LF or NUL in a name or a value is refused
(:class:`UnsafeHeader`), so a caller-supplied value can never add a header or end the head early, whatever
feature put it there.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus

_UNSAFE = re.compile("[\r\n\0]")


class UnsafeHeader(ValueError):
    """A header name or value holds CR, LF or NUL: writing it would let its author forge the message."""


_KEYS: dict[str, bytes] = {}  # header name as asked -> the parser's lower-case bytes (asked names are few)


def _key(name: str) -> bytes:
    key = _KEYS.get(name)
    if key is None:
        key = name.lower().encode("latin-1")
        if len(_KEYS) < 256:
            _KEYS[name] = key
    return key


class Headers(Mapping[str, str]):
    """A request's headers, looked up case-insensitively; kept as the parser gave them (bytes) until asked."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[bytes, bytes] | None = None) -> None:
        self._raw = raw if raw is not None else {}  # lower-case name -> value; a repeated name keeps the last

    def __getitem__(self, name: str) -> str:
        return self._raw[_key(name)].decode("latin-1")

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._raw.get(_key(name))
        return default if value is None else value.decode("latin-1")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._raw

    def __iter__(self) -> Iterator[str]:
        return (name.decode("latin-1") for name in self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    @property
    def raw(self) -> dict[bytes, bytes]:
        """Lower-case names to values, as the parser gave them (for hot paths that compare bytes)."""
        return self._raw

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class BodyStream:
    """A request body read as it arrives: ``async for chunk in stream``, then :attr:`trailers`.

    The connection stops reading from the socket while more than ``high_water`` bytes wait here unread, so a
    fast sender cannot fill memory; ``size`` counts every byte received so far.
    """

    def __init__(self, *, high_water: int = 1 << 20) -> None:
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._ended = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.high_water = high_water
        self.size = 0
        self.trailers: dict[str, str] = {}
        self.on_drained: list[Callable[[], None]] = []  # set by the connection: resumes reading below high water

    # -- the connection's side -----------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; False when the reader should pause (too much buffered)."""
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self.size += len(chunk)
        self._wake()
        return self._buffered < self.high_water

    def end(self, trailers: dict[str, str] | None = None) -> None:
        self.trailers = trailers or {}
        self._ended = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """The body will never be complete (the client went away, or its framing was broken)."""
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the application's side ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks_as_they_come()

    async def _chunks_as_they_come(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunks, self._chunks = self._chunks, []
                self._buffered = 0
                for callback in self.on_drained:
                    callback()
                for chunk in chunks:
                    yield chunk
                continue
            if self._error is not None:
                raise self._error
            if self._ended:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def read(self) -> bytes:
        """The whole rest of the body (for a handler that decides, after the head, to take it whole)."""
        return b"".join([chunk async for chunk in self])


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    too_large: bool = False  # the body was over the route's limit: it was read and dropped, not kept
    stream: BodyStream | None = None  # the body as it arrives, for a route declared streaming
    params: dict[str, str] = field(default_factory=dict)  # the route template's {names}
    # Called if the client goes away before its reply: a handler that registers here is not cancelled then
    # (it has work that must finish, such as an invocation already running); one that does not is cancelled.
    on_gone: list[Callable[[], object]] = field(default_factory=list)
    # Only on a table with keep_header_pairs: every header as sent (original case, repeats, in order), and the
    # client's address.
    header_pairs: Sequence[tuple[bytes, bytes]] = ()
    client: str = ""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"  # None: no Content-Type header
    # Written after ``headers``, in order, a name possibly repeated (Set-Cookie): what a proxied answer carries.
    more_headers: Sequence[tuple[str, str]] = ()


@dataclass
class StreamReply:
    """A reply whose body is written chunk by chunk, as ``body`` yields, then ``trailers()`` if given."""

    status: int
    body: AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/octet-stream"  # None: no Content-Type header
    trailers: object = None  # a callable returning a mapping, called once the body has ended


def json_reply(status: int, document: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(document).encode(), headers or {})


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


_STATUS_LINES = {status.value: _status_line(status.value) for status in HTTPStatus}


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else _status_line(status)


def header_lines(headers: Mapping[str, str]) -> bytes:
    """``Name: value`` lines for a head, each value checked; UTF-8 for values that are not Latin-1 text."""
    if not headers:
        return b""
    text = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    # One scan of the joined text: each name and value must be free of CR, LF and NUL, so the only CR LFs in
    # it are the ones written above, one per header.
    if text.count("\r") != len(headers) or text.count("\n") != len(headers) or "\0" in text:
        for name, value in headers.items():
            if _UNSAFE.search(name) or _UNSAFE.search(str(value)):
                raise UnsafeHeader(f"header {name!r} holds CR, LF or NUL: refused")
    return text.encode("utf-8")


def pair_lines(pairs: Sequence[tuple[str, str]]) -> bytes:
    """:func:`header_lines` for (name, value) pairs, where a name may repeat."""
    for name, value in pairs:
        if _UNSAFE.search(name) or _UNSAFE.search(value):
            raise UnsafeHeader(f"header {name!r} holds CR, LF or NUL: refused")
    return "".join([f"{name}: {value}\r\n" for name, value in pairs]).encode("utf-8")


def content_type_line(content_type: str | None) -> bytes:
    return b"" if content_type is None else b"Content-Type: " + content_type.encode("latin-1") + b"\r\n"


def reply_head(reply: Reply, *, close: bool) -> bytes:
    """Status line and headers of a whole reply, ending with the blank line."""
    return b"".join((
        status_line(reply.status),
        content_type_line(reply.content_type), b"Content-Length: ",
        str(len(reply.body)).encode(), b"\r\n",
        header_lines(reply.headers),
        pair_lines(reply.more_headers) if reply.more_headers else b"",
        b"Connection: close\r\n\r\n" if close else b"\r\n",
    ))


def check_header_value(value: str) -> str:
    """``value`` if it can go into a header as is; :class:`UnsafeHeader` otherwise."""
    if _UNSAFE.search(value):
        raise UnsafeHeader("a header value holds CR, LF or NUL: refused")
    return value
