"""Delivering one subscriber's records: batched as its ``buffering`` asks, in order, to its listener, and never
in the way of an invocation.

Records wait in a buffer of at most one batch (``maxItems`` records or ``maxBytes`` bytes) while one batch is on
its way; a batch leaves when it is full or ``timeoutMs`` after its first record, one at a time, so the listener
sees records in the order they happened. A listener that is slow (or gone, or answering errors) holds its
batch: records that find the buffer full are dropped and counted, and once there is room again a
``platform.logsDropped`` record says how many (Lambda: "Lambda might drop records to keep memory utilization
bounded"). A failed delivery is retried with backoff, as Lambda retries "if there is no listener, or if the
POST request results in an error". Nothing here is awaited by an invocation: it all runs in tasks of the loop.

HTTP destinations get a POST (the Logs API's may ask for PUT) of a JSON array over a keep-alive connection,
parsed with httptools; TCP destinations get newline-delimited JSON over one connection (no acknowledgement,
as on Lambda). The client is our own, not an HTTP library's: the emulator has no HTTP client dependency, and
this one is a few dozen lines over httptools, which parses the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httptools

DROP_REASON = "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."
_BACKOFF_FIRST_S, _BACKOFF_MAX_S = 0.01, 1.0
_MAX_RESPONSE_BYTES = 1 << 20


@dataclass(frozen=True)
class Destination:
    protocol: str  # HTTP or TCP
    host: str  # the address sandbox.localdomain stands for in this environment
    port: int
    path: str = "/"
    method: str = "POST"
    host_header: str = ""


@dataclass(frozen=True)
class Buffering:
    max_items: int
    max_bytes: int
    timeout_ms: int


class DeliveryError(Exception):
    pass


class _Answer:
    """httptools callbacks for one response."""

    def __init__(self) -> None:
        self.complete = False
        self.head = False  # the status line and headers are in
        self.size = 0

    def on_headers_complete(self) -> None:
        self.head = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > _MAX_RESPONSE_BYTES:
            raise DeliveryError("the listener's answer is over 1 MiB")

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    """One connection to the subscriber's listener, opened on demand and again after it is lost."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.destination.host, self.destination.port)
        return self._reader, self._writer

    async def send(self, records: list[bytes]) -> None:
        if self.destination.protocol == "TCP":
            _, writer = await self._open()
            writer.write(b"".join(record + b"\n" for record in records))
            await writer.drain()
            return
        body = b"[" + b",".join(records) + b"]"
        target = self.destination
        head = (f"{target.method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        reader, writer = await self._open()
        writer.write(head + body)
        await writer.drain()
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.complete:
            data = await reader.read(65536)
            if not data:
                self.close()
                if answer.head:  # an HTTP/1.0-style answer: its body ends with the connection
                    break
                raise DeliveryError("the listener closed the connection before answering")
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as error:
                self.close()
                raise DeliveryError(f"the listener's answer is not HTTP: {error}") from None
        status = parser.get_status_code()
        if not parser.should_keep_alive():
            self.close()
        if status >= 400:
            raise DeliveryError(f"the listener answered {status}")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Subscriber:
    """One subscription's buffer and its delivery task."""

    def __init__(self, *, name: str, destination: Destination, buffering: Buffering,
                 dropped_record: Callable[[int, int], bytes], note: Callable[[str], None]) -> None:
        self.name = name
        self.buffering = buffering
        self._dropped_record = dropped_record  # (records, bytes) -> a platform.logsDropped record
        self._note = note
        self._connection = _Connection(destination)
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._in_flight = 0  # records of the batch on its way
        self._dropped = (0, 0)
        self._due: float | None = None  # loop time at which the forming batch leaves
        self._wake: asyncio.Event = asyncio.Event()
        self._idle: asyncio.Event = asyncio.Event()
        self._idle.set()
        self._flushing = False
        self._closed = False
        self.delivered = 0  # records, for tests and the shutdown note
        self._task = asyncio.get_running_loop().create_task(self._deliver())

    def add(self, record: bytes) -> None:
        if self._closed:
            return
        if len(self._queue) >= self.buffering.max_items or self._queued_bytes + len(record) > self.buffering.max_bytes:
            records, size = self._dropped
            if records == 0:
                self._note(f"telemetry for extension {self.name}: records dropped, its listener did not keep up")
            self._dropped = (records + 1, size + len(record))
            self._wake.set()
            return
        self._enqueue(record)

    def _enqueue(self, record: bytes) -> None:
        if not self._queue:
            self._due = asyncio.get_running_loop().time() + self.buffering.timeout_ms / 1000
        self._queue.append(record)
        self._queued_bytes += len(record)
        self._idle.clear()
        self._wake.set()

    def _batch_due(self) -> bool:
        if not self._queue:
            return False
        if self._flushing or len(self._queue) >= self.buffering.max_items:
            return True
        if self._queued_bytes >= self.buffering.max_bytes:
            return True
        return self._due is not None and asyncio.get_running_loop().time() >= self._due

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if self._dropped[0] and len(self._queue) < self.buffering.max_items:
                records, size = self._dropped
                self._dropped = (0, 0)
                self._enqueue(self._dropped_record(records, size))
            if not self._batch_due():
                if not self._queue:
                    self._idle.set()
                self._wake.clear()
                timeout = None if self._due is None or not self._queue else max(self._due - loop.time(), 0)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            batch: list[bytes] = []
            size = 0
            while self._queue and len(batch) < self.buffering.max_items and (
                    not batch or size + len(self._queue[0]) <= self.buffering.max_bytes):
                record = self._queue.popleft()
                batch.append(record)
                size += len(record)
            self._queued_bytes -= size
            self._due = loop.time() + self.buffering.timeout_ms / 1000 if self._queue else None
            self._in_flight = len(batch)
            await self._send(batch)
            self._in_flight = 0
            self.delivered += len(batch)

    async def _send(self, batch: list[bytes]) -> None:
        delay = _BACKOFF_FIRST_S
        while not self._closed:
            try:
                await self._connection.send(batch)
                return
            except (OSError, DeliveryError, asyncio.IncompleteReadError):
                self._connection.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)

    async def flush(self, *, timeout_s: float) -> bool:
        """Send what is buffered now, and wait up to ``timeout_s`` for it to be delivered."""
        self._flushing = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except asyncio.TimeoutError:
            return False
        finally:
            self._flushing = False
        return True

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._connection.close()
