"""A bootstrap's log stream: forwarded line by line to the terminal, with Lambda's START/END/REPORT lines and
the last 4 KB of each invocation kept for ``X-Amz-Log-Type: Tail``."""

from __future__ import annotations

import contextlib
import math
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, LOG_TAIL_BYTES, InvocationResult

LogSink = Callable[[bytes], None]
_MAX_LINE_BYTES = 1 << 16
_STDERR_LOCK = threading.Lock()


def stderr_sink(data: bytes) -> None:
    """Write whole lines to our stderr; one lock keeps lines of parallel sandboxes from interleaving."""
    with _STDERR_LOCK:
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()


def discard_sink(data: bytes) -> None:
    """For callers that only want the tail (tests, the conformance suite)."""


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: {FUNCTION_VERSION}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(result: InvocationResult, *, memory_size_mb: int, status: str | None = None) -> str:
    """Lambda's REPORT line: Init Duration only after a cold start, Status only when it failed hard."""
    parts = [
        f"REPORT RequestId: {result.request_id}",
        f"Duration: {result.duration_ms:.2f} ms",
        # custom runtimes (provided.*) are billed for their init too
        f"Billed Duration: {math.ceil(result.duration_ms + (result.init_duration_ms or 0))} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {result.max_memory_used_mb} MB",
    ]
    if result.init_duration_ms is not None:
        parts.append(f"Init Duration: {result.init_duration_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    return "\t".join(parts)


def peak_memory_mb(pid: int) -> int | None:
    """The process's peak resident set (VmHWM) in MB, from /proc; None without /proc or process."""
    # Raw os calls: this runs once per invocation, and pathlib plus text decoding cost more than the read.
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


def wait_sampling(process: subprocess.Popen[bytes], sample: Callable[[], None], *, every_s: float) -> int:
    """Wait for ``process`` to end, calling ``sample`` every ``every_s`` while it runs; its exit is seen at once
    (a pidfd), so a crash is reported as soon as without sampling."""
    try:
        pidfd: int | None = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or already reaped
        pidfd = None
    try:
        while True:
            sample()
            if pidfd is not None:
                if select.select([pidfd], [], [], every_s)[0]:
                    return process.wait()
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                return process.wait(every_s)
    finally:
        if pidfd is not None:
            os.close(pidfd)


class LogStream:
    """Reads one bootstrap's merged stdout and stderr from a pipe."""

    def __init__(self, fd: int, sink: LogSink) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._sink = sink
        self._lock = threading.Lock()
        self._partial = b""
        self._tail = bytearray()
        self._eof = False
        self._thread = threading.Thread(target=self._pump, name=f"logs-{fd}", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._eof:
            try:
                readable, _, _ = select.select([self._fd], [], [], 0.5)
            except (OSError, ValueError):  # the fd was closed under us
                return
            if readable:
                with self._lock:
                    self._read_available(once=True)

    def _read_available(self, *, once: bool = False) -> None:
        """Consume what the pipe holds now; caller holds the lock, so the pump and sync never split a read."""
        while not self._eof:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._eof = True
                self._flush_partial()
                return
            self._consume(data)
            if once:
                return

    def _consume(self, data: bytes) -> None:
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        if len(data) - cut > _MAX_LINE_BYTES:  # a runaway line without newline is passed on, not hoarded
            cut = len(data)
        self._partial = data[cut:]
        if cut:
            self._write(data[:cut])

    def _flush_partial(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._write(partial + b"\n")

    def _write(self, data: bytes) -> None:
        self._tail += data
        if len(self._tail) > 2 * LOG_TAIL_BYTES:
            del self._tail[:-LOG_TAIL_BYTES]
        self._sink(data)

    def sync(self) -> None:
        """Take in all the bootstrap wrote so far: it logged before posting, so END comes after its lines."""
        with self._lock:
            self._read_available()
            self._flush_partial()

    def line(self, text: str) -> None:
        """Add one of the platform's own lines (START, END, REPORT, timeouts) to the stream."""
        with self._lock:
            self._write(text.encode() + b"\n")

    def start_invocation(self, *, keep: bool) -> None:
        """Begin a new tail; a cold start keeps what init printed so the caller sees why init failed."""
        with self._lock:
            if not keep:
                self._tail.clear()

    def tail(self) -> bytes:
        with self._lock:
            return bytes(self._tail[-LOG_TAIL_BYTES:])

    def close(self, *, timeout: float = 2.0) -> None:
        """After the bootstrap exited: read to the end, then stop the reader."""
        self._thread.join(timeout)
        with self._lock:
            self._read_available()
            self._flush_partial()
            self._eof = True
        with contextlib.suppress(OSError):
            os.close(self._fd)
