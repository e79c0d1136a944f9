"""An invocation's streamed response on its way from the bootstrap to the caller, chunk by chunk.

A caller that reads the response as a stream (InvokeWithResponseStream, ``scaffold invoke --stream``, the
conformance suite) puts a :class:`ResponseStream` on its invocation before submitting it. The Runtime API
(:mod:`streaming`) then hands over each piece of a streamed ``/response`` body as it arrives: :meth:`begin` with
the content type at the head, :meth:`write` per piece, :meth:`close` at the end, whatever the end. The reader
iterates the pieces as they come; the writer waits while ``high_water`` bytes are unread, so a slow caller slows
the bootstrap down (TCP flow control all the way) instead of filling memory, and a caller that went away
(:meth:`abandon`) makes writes return at once, dropping the bytes, so the bootstrap is never stuck on it. A reader
that is behind gets the pieces waiting for it as one (at most ``high_water`` bytes): nothing comes later for
it, and a fast stream costs fewer messages (the event-stream CRC of each is most of a streamed byte's cost).

A function that answers buffered (a plain ``/response`` or ``/error``) never begins the stream: its caller gets
the invocation's result as it does today, and an InvokeWithResponseStream caller streams that payload as one
chunk, as Lambda does. :func:`invoke_streaming` is the blocking form for a thread other than the loop's.

Everything here runs on the local Lambda's loop, except :class:`StreamedInvocation`'s methods.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from runtime_scaffold.emulator.invocation import Invocation, InvocationResult

if TYPE_CHECKING:
    from runtime_scaffold.emulator.local_lambda import LocalLambda
    from runtime_scaffold.emulator.loop import LambdaLoop

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ResponseStream:
    """The pieces of one streamed response: written by the Runtime API, read by the caller."""

    def __init__(self, *, high_water: int = 1 << 20) -> None:
        self.high_water = high_water
        self.content_type: str | None = None
        self.begun = False  # the bootstrap started a streamed /response for it
        self.closed = False
        self.size = 0  # bytes written so far
        self.first_byte_at: float | None = None  # time.monotonic() of the first piece (for REPORT-like figures)
        self._pieces: deque[bytes] = deque()
        self._unread = 0
        self._abandoned = False
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._on_begin: list[Callable[[], None]] = []

    # -- the Runtime API's side ------------------------------------------------------------------------

    def begin(self, content_type: str | None) -> None:
        self.content_type = content_type or DEFAULT_CONTENT_TYPE
        self.begun = True
        callbacks, self._on_begin = self._on_begin, []
        for callback in callbacks:
            callback()

    async def write(self, piece: bytes) -> None:
        """Hand ``piece`` to the reader; waits while the reader is ``high_water`` bytes behind."""
        if self.closed or not piece:
            return
        if self.first_byte_at is None:
            self.first_byte_at = time.monotonic()
        self.size += len(piece)
        if self._abandoned:
            return
        self._pieces.append(piece)
        self._unread += len(piece)
        self._wake_reader()
        while self._unread >= self.high_water and not (self.closed or self._abandoned):
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None

    def close(self) -> None:
        """No more pieces (the body ended, broke off, or the invocation ended): the reader gets what is left."""
        self.closed = True
        self._wake_reader()
        self._wake_writer()

    # -- the caller's side -----------------------------------------------------------------------------

    def on_begin(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the stream has begun (at once if it has)."""
        if self.begun:
            callback()
        else:
            self._on_begin.append(callback)

    async def read(self) -> bytes | None:
        """The next piece, waiting for it; None once the stream is closed and everything was read."""
        while not self._pieces:
            if self.closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        if len(self._pieces) == 1:
            piece = self._pieces.popleft()
        else:  # the reader is behind: what waits goes out as one piece (fewer messages, nothing later)
            piece = b"".join(self._pieces)
            self._pieces.clear()
        self._unread -= len(piece)
        if self._unread < self.high_water:
            self._wake_writer()
        return piece

    def abandon(self) -> None:
        """The caller went away: drop what is unread and whatever comes."""
        self._abandoned = True
        self._pieces.clear()
        self._unread = 0
        self._wake_writer()

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)


class StreamedInvocation:
    """A streaming invocation seen from another thread: iterate its pieces as they come, then :attr:`result`.

    A function that answered buffered yields nothing (its answer is the result's payload).
    """

    def __init__(self, loop: LambdaLoop, invocation: Invocation, stream: ResponseStream,
                 outcome: concurrent.futures.Future[InvocationResult]) -> None:
        self._loop = loop
        self.invocation = invocation
        self.stream = stream
        self._outcome = outcome

    def __iter__(self) -> Iterator[bytes]:
        while (piece := self.next_piece().result()) is not None:
            yield piece

    def next_piece(self) -> concurrent.futures.Future[bytes | None]:
        """A future of the next piece (None once the stream has ended), for a caller that waits its own way."""
        return self._loop.submit(self.stream.read())

    @property
    def content_type(self) -> str | None:
        return self.stream.content_type

    def result(self, *, timeout: float | None = None) -> InvocationResult:
        """The invocation's end: its error, if it failed, and the REPORT's figures and log tail."""
        return self._outcome.result(timeout)

    @property
    def outcome(self) -> concurrent.futures.Future[InvocationResult]:
        return self._outcome


def invoke_streaming(local: LocalLambda, function: str | None, payload: bytes, *, client_context: str | None = None,
                     trace_id: str | None = None, tenant_id: str | None = None) -> StreamedInvocation:
    """Start invoking ``function`` with its response streamed to the calling thread (``scaffold invoke --stream``)."""
    resolved = local.function(function)
    invocation = local.new_invocation(resolved, payload, client_context=client_context, trace_id=trace_id,
                                      tenant_id=tenant_id)
    stream = invocation.response_stream = ResponseStream()

    async def run() -> InvocationResult:
        try:
            return await local.run_invocation(resolved, invocation)  # in the tenant's pool, if it has one
        finally:
            stream.close()

    return StreamedInvocation(local.loop, invocation, stream, local.loop.submit(run()))
