"""SIGINT and SIGTERM end a command on the first signal, whichever thread the kernel delivers them to.

The kernel may hand a process-directed signal to any thread that does not block it, such as the event loop's.
Python then runs its handler only once the main thread executes bytecode again, which a main thread asleep in
``time.sleep`` or in a lock never does. So the main thread never sleeps that way: it waits in ``select`` on the
signal wakeup fd (:func:`signal.set_wakeup_fd`), which the C-level handler writes to on whichever thread it runs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import select
import signal
import threading
from types import FrameType, TracebackType
from typing import TypeVar

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While active, SIGINT and SIGTERM make :meth:`wait` raise KeyboardInterrupt in the main thread.

    SIGINT is set too (not only SIGTERM), since a shell starts background jobs with it ignored. Outside the main
    thread (a test runner calling the command in a thread) signals are left alone and :meth:`wait` just waits.
    """

    def __init__(self) -> None:
        self._active = False
        self._read = self._write = -1
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self.received: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        self._previous = {number: signal.signal(number, self._note) for number in STOP_SIGNALS}
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._active = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self._active:
            return
        self._active = False
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        for fd in (self._read, self._write):
            os.close(fd)

    def _signalled(self, data: bytes) -> bool:
        return self.received is not None or any(byte in STOP_SIGNALS for byte in data)

    def wait(self, future: concurrent.futures.Future[T] | None = None) -> T | None:
        """The result of ``future`` once it is done (None without one, after the first signal); a stop signal
        first raises KeyboardInterrupt."""
        if not self._active:
            if future is None:
                threading.Event().wait()
                return None
            return future.result()
        done_read, done_write = os.pipe()
        poke = _Poke(done_write)
        try:
            if future is not None:
                future.add_done_callback(poke)
            while True:
                if self._signalled(b""):
                    raise KeyboardInterrupt
                readable = select.select([self._read, done_read], [], [])[0]
                if self._read in readable:
                    with contextlib.suppress(BlockingIOError):
                        if self._signalled(os.read(self._read, 64)):
                            raise KeyboardInterrupt
                if done_read in readable and future is not None:
                    return future.result()
        finally:
            poke.close()
            os.close(done_read)


class _Poke:
    """Writes one byte to wake the waiter; never after :meth:`close`, when the fd number may be reused."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def __call__(self, _: object) -> None:
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.write(self._fd, b"x")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
