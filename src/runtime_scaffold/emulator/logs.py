"""A bootstrap's log stream and where it goes: Lambda's START/END/REPORT lines, the last 4 KB of each invocation
kept for ``X-Amz-Log-Type: Tail``, and a sink that never blocks the loop.

A :data:`LogSink` is called on the emulator's event loop with whole lines, so it must return at once; an
in-memory collector does. A terminal or a pipe may not (``scaffold serve 2>&1 | less`` stops reading): a
:class:`StreamWriter` puts such a destination behind a bounded buffer and a writer thread of its own, drops
lines when the destination does not keep up, and says how many once it takes lines again. :func:`stderr_sink`
is that, for this process's stderr; ``scaffold invoke`` and ``scaffold serve`` log through it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, LOG_TAIL_BYTES, InvocationResult

LogSink = Callable[[bytes], None]
_MAX_LINE_BYTES = 1 << 16
_READ_BYTES = 1 << 16
# How much one readable event of a log pipe takes in: all a bootstrap wrote before posting its answer, so that
# its lines come before END, without letting a flood starve the loop.
_READ_PER_EVENT = 1 << 22


def discard_sink(data: bytes) -> None:
    """For callers that only want the tail (tests, the conformance suite)."""


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: {FUNCTION_VERSION}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def timed_out_line(request_id: str, timeout_s: float) -> str:
    """The line Lambda adds after a timeout's REPORT."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return f"{stamp}Z {request_id} Task timed out after {timeout_s:.2f} seconds"


def report_line(result: InvocationResult, *, memory_size_mb: int, status: str | None = None,
                tenant_id: str | None = None) -> str:
    """Lambda's REPORT line: Init Duration only after a cold start, Status only when it failed hard, Tenant Id
    when the invocation had one (Lambda writes it only in its JSON records; here the text line says it too)."""
    init = result.init_duration_ms
    line = (f"REPORT RequestId: {result.request_id}\tDuration: {result.duration_ms:.2f} ms\t"
            # custom runtimes (provided.*) are billed for their init too
            f"Billed Duration: {math.ceil(result.duration_ms + (0 if result.init_in_invoke else init or 0))} ms\t"
            f"Memory Size: {memory_size_mb} MB\tMax Memory Used: {result.max_memory_used_mb} MB")
    if init is not None:
        line += f"\tInit Duration: {init:.2f} ms"
    if status:
        line += f"\tStatus: {status}"
    if tenant_id is not None:
        line += f"\tTenant Id: {tenant_id}"
    return line


def peak_memory_mb(pid: int) -> int | None:
    """The process's peak resident set (VmHWM) in MB, from /proc; None without /proc or process."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        try:
            status = os.read(fd, 8192)
        finally:
            os.close(fd)
        start = status.index(b"VmHWM:") + 6
        return math.ceil(int(status[start:status.index(b"kB", start)]) / 1024)
    except (OSError, ValueError):
        return None


class LogStream:
    """One bootstrap's merged stdout and stderr, read from a pipe by the loop, passed on line by line.

    All of it runs on the loop thread; ``add_reader``/``remove_reader`` are the loop's (any asyncio loop).
    """

    def __init__(self, fd: int, sink: LogSink, *, add_reader: Callable[..., object],
                 remove_reader: Callable[[int], object], tap: LogSink | None = None,
                 output_filter: Callable[[bytes], bytes] | None = None,
                 rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self._fd = fd
        # Whole lines of the bootstrap's own pass through it (the JSON log check of Managed Instances); the
        # platform's lines do not.
        self._filter = output_filter
        self._rewrite = rewrite  # e.g. the sandbox's folders back to Lambda's paths, in every line
        os.set_blocking(fd, False)
        self._sink = sink
        self.tap = tap  # sees the process's own lines only, not the platform's (the Telemetry API's function records)
        self._remove_reader = remove_reader
        self._partial = b""
        self._tail = bytearray()
        self._eof = False
        add_reader(fd, self._readable)

    def _readable(self) -> None:
        taken = 0
        while not self._eof and taken < _READ_PER_EVENT:
            try:
                data = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._end()
                return
            taken += len(data)
            self._consume(data)
            if len(data) < _READ_BYTES:  # the pipe is drained: spare the read that would say so
                return

    def _end(self) -> None:
        self._eof = True
        self._remove_reader(self._fd)
        self._flush_partial()

    def _consume(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
        cut = data.rfind(b"\n") + 1
        if len(data) - cut > _MAX_LINE_BYTES:  # a runaway line without newline is passed on, not hoarded
            cut = len(data)
        self._partial = data[cut:]
        if cut:
            self._output(data[:cut] if cut < len(data) else data)

    def _flush_partial(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._output(partial + b"\n")

    def _output(self, data: bytes) -> None:
        if self._rewrite is not None:  # before the tap too: the Telemetry API's records show Lambda's paths
            data = self._rewrite(data)
        self._store(data if self._filter is None else self._filter(data))
        if self.tap is not None:
            self.tap(data)

    def _write(self, data: bytes) -> None:
        self._store(data if self._rewrite is None else self._rewrite(data))

    def _store(self, data: bytes) -> None:
        tail = self._tail
        tail += data
        if len(tail) > 2 * LOG_TAIL_BYTES:
            del tail[:-LOG_TAIL_BYTES]
        self._sink(data)

    def line(self, text: str) -> None:
        """Add one of the platform's own lines (START, END, REPORT, timeouts) to the stream."""
        self._catch_up()
        self._write(text.encode() + b"\n")

    def lines(self, *texts: str) -> None:
        """Several platform lines at once (END and REPORT): one write to the sink."""
        self._catch_up()
        self._write("".join([f"{text}\n" for text in texts]).encode())

    def _catch_up(self) -> None:
        """Pass on what the pipe already holds before a platform line: what the bootstrap wrote before its /next
        or its answer comes before START or END even when the loop saw that request first."""
        if not self._eof:
            self._readable()

    def start_invocation(self, *, keep: bool) -> None:
        """Begin a new tail; a cold start keeps what init printed so the caller sees why init failed."""
        self._flush_partial()
        if not keep:
            self._tail.clear()

    def tail(self) -> bytes:
        return bytes(memoryview(self._tail)[-LOG_TAIL_BYTES:])

    def close(self) -> None:
        """After the bootstrap exited: take in what the pipe still holds, then stop reading it."""
        if not self._eof:
            self._readable()
            if not self._eof:
                self._end()
        with contextlib.suppress(OSError):
            os.close(self._fd)


class StreamWriter:
    """A log sink that never blocks its caller: lines wait in a buffer of at most ``limit_bytes`` for a writer
    thread; lines that find it full are dropped and counted, and the count is written once lines flow again.

    ``target`` is asked, at each write, where to write: a file descriptor (written with ``os.write``, so a
    writer stuck on a full pipe holds no lock of Python's) or a binary file.
    """

    def __init__(self, target: Callable[[], int | BinaryIO], *, limit_bytes: int = 1 << 20,
                 gather_s: float = 0.005) -> None:
        self._target = target
        self._limit = limit_bytes
        self._gather_s = gather_s
        # A plain lock for the buffer (taken on the loop for every line: no Python-level Condition there), and
        # a condition only to wake the writer when it waits, and drain() when the buffer empties.
        self._buffer_lock = threading.Lock()
        self._lock = threading.Condition()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._dropped = 0
        self._idle = True  # the writer thread waits for lines (nothing taken and unwritten)
        self._broken = False  # the destination is gone (EPIPE): lines are discarded
        self._thread: threading.Thread | None = None

    def __call__(self, data: bytes) -> None:
        with self._buffer_lock:
            if self._broken:
                return
            if self._pending_bytes + len(data) > self._limit:
                self._dropped += data.count(b"\n") or 1
                return
            self._pending.append(data)
            self._pending_bytes += len(data)
            wake = self._idle
        if wake:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
                    self._thread.start()
                self._lock.notify_all()  # the writer, and a drain() waiting with it

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    with self._buffer_lock:
                        chunks, self._pending, self._pending_bytes = self._pending, [], 0
                        self._idle = not chunks
                    if chunks:
                        break
                    self._lock.notify_all()  # for drain()
                    self._lock.wait()
            self._write(b"".join(chunks))
            with self._buffer_lock:
                dropped, self._dropped = self._dropped, 0
            if dropped:
                self._write(f"scaffold: {dropped} log line{'s' if dropped != 1 else ''} dropped: the log's "
                            "reader did not keep up\n".encode())
            time.sleep(self._gather_s)  # let the next lines gather: one write for many invocations

    def _write(self, data: bytes) -> None:
        try:
            target = self._target()
            if isinstance(target, int):
                view = memoryview(data)
                while view:
                    view = view[os.write(target, view):]
            else:
                target.write(data)
                target.flush()
        except (OSError, ValueError):  # a closed pipe or file: nobody reads the log any more
            with self._buffer_lock:
                self._broken = True
                self._pending, self._pending_bytes = [], 0

    def drain(self, *, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every line so far to be written; False if the destination is too slow."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while (self._pending or not self._idle) and not self._broken:
                if self._thread is None:
                    return not self._pending
                self._lock.notify_all()  # a writer that waits with lines pending takes them
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True


def _stderr() -> int | BinaryIO:
    stream = sys.stderr
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stream (click's test runner): write to it
        return stream.buffer if hasattr(stream, "buffer") else stream  # type: ignore[return-value]


_STDERR = StreamWriter(_stderr)


def stderr_sink(data: bytes) -> None:
    """This process's stderr, behind a :class:`StreamWriter`: lines of parallel sandboxes never interleave."""
    _STDERR(data)


def drain_stderr(*, timeout_s: float = 2.0) -> bool:
    """Give the lines still waiting for stderr up to ``timeout_s`` to be written (before a command's last words)."""
    return _STDERR.drain(timeout_s=timeout_s)
