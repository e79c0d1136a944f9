"""The one event loop a local Lambda runs on, in a background thread, for callers that are not async.

Everything of a :class:`~local_lambda.LocalLambda` lives on it: the Invoke API listener, every sandbox's Runtime
API listener, the bootstraps' exits (pidfd readers), their log pipes and their deadlines (loop timers). uvloop
(libuv) runs it when it is installed, else asyncio's own loop; :data:`LOOP_KIND` says which.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _new_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    try:
        import uvloop
    except ImportError:  # optional: the stock loop works everywhere, only slower
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


class LambdaLoop:
    """An event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self, *, name: str = "local-lambda") -> None:
        self.loop, self.kind = _new_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._running = threading.Event()
        self._thread.start()
        self._running.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._running.set)
        self.loop.run_forever()

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coroutine`` on the loop; the future is its outcome, for any thread to wait on."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its outcome (from any thread but the loop's own)."""
        if self.in_loop_thread:
            coroutine.close()
            raise RuntimeError("a blocking call of the local Lambda was made from its own event loop")
        return self.submit(coroutine).result(timeout)

    def call(self, function: Callable[[], T], *, timeout: float | None = 10.0) -> T:
        """Run a plain function on the loop and wait for its result (state that only the loop may touch)."""
        if self.in_loop_thread:
            return function()

        async def call() -> T:
            return function()

        return self.run(call(), timeout=timeout)

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop the loop and wait for its thread; safe to call again."""
        if not self._thread.is_alive():
            return
        if self.in_loop_thread:
            self.loop.stop()
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


_KIND: str | None = None


def loop_kind() -> str:
    """"uvloop" when it is importable, else "asyncio": what a LambdaLoop runs on."""
    global _KIND
    if _KIND is None:
        try:
            import uvloop  # noqa: F401
            _KIND = "uvloop"
        except ImportError:
            _KIND = "asyncio"
    return _KIND
