"""Up to N sandboxes of one function, the invocations waiting for one, and the function's Event queue.

A sandbox takes one invocation at a time, or up to ``max_concurrency`` (Lambda Managed Instances): each is a
slot, and a new invocation takes the slot freed last, so invocations gather in the warmest environment before
another one starts. Invocations wait for a free slot in arrival order; one whose caller went away
(:meth:`FunctionPool.acquire`'s future cancelled) gives up its place. ``Event`` invocations go into a bounded
queue served by a fixed set of workers, one per slot, which wait for slots in the same line as synchronous
callers: so a synchronous caller never waits behind more Event invocations than there are slots, and a full
queue is refused at once (the Invoke API answers 429, as Lambda throttles).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable

from runtime_scaffold.emulator.invocation import Invocation, InvocationResult
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.sandbox import Sandbox
from runtime_scaffold.errors import EmulatorError

# Event invocations one function may have waiting before more are refused (429).
EVENT_QUEUE_SIZE = 100
SHUTTING_DOWN = "the local Lambda is shutting down"


class FunctionPool:
    """Up to ``concurrency`` sandboxes of one function; an invocation waits for a free one."""

    def __init__(self, factory: Callable[[str], Sandbox], *, name: str, concurrency: int, loop: LambdaLoop,
                 event_queue_size: int = EVENT_QUEUE_SIZE, max_concurrency: int | None = None) -> None:
        self._factory = factory
        self._name = name
        self._concurrency = concurrency
        self._slots = max_concurrency or 1  # invocations one sandbox takes at once
        self._lambda_loop = loop
        self._idle: list[Sandbox] = []  # one entry per free slot, the one freed last at the end
        self._all: list[Sandbox] = []
        self._waiters: deque[asyncio.Future[Sandbox]] = deque()
        self._closed = False
        self._numbers = itertools.count(1)
        self._event_queue_size = event_queue_size
        self._events: asyncio.Queue[Invocation] | None = None
        self._workers: list[asyncio.Task[None]] = []

    # -- on the loop ------------------------------------------------------------------------------------

    def acquire(self) -> asyncio.Future[Sandbox]:
        """A future of a sandbox for one invocation, in arrival order; cancel it to give up the place."""
        future: asyncio.Future[Sandbox] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(EmulatorError(SHUTTING_DOWN))
        elif self._idle:
            future.set_result(self._idle.pop())  # the most recently used one is the warmest
        elif len(self._all) < self._concurrency:
            sandbox = self._factory(f"{self._name}-{next(self._numbers)}")
            self._all.append(sandbox)
            self._idle.extend([sandbox] * (self._slots - 1))
            future.set_result(sandbox)
        else:
            self._waiters.append(future)
        return future

    def release(self, sandbox: Sandbox) -> None:
        if self._closed:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # not given up
                waiter.set_result(sandbox)
                return
        self._idle.append(sandbox)

    async def invoke_async(self, invocation: Invocation) -> InvocationResult:
        sandbox = await self.acquire()
        try:
            return await sandbox.invoke_async(invocation)
        finally:
            self.release(sandbox)

    def submit_event(self, invocation: Invocation) -> bool:
        """Queue an Event invocation; False when the queue is full (the caller is throttled)."""
        if self._closed:
            raise EmulatorError(SHUTTING_DOWN)
        if self._events is None:
            self._events = asyncio.Queue(self._event_queue_size)
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._serve_events(self._events))
                             for _ in range(self._concurrency * self._slots)]
        try:
            self._events.put_nowait(invocation)
        except asyncio.QueueFull:
            return False
        return True

    async def _serve_events(self, events: asyncio.Queue[Invocation]) -> None:
        while True:
            invocation = await events.get()
            with contextlib.suppress(EmulatorError):  # shutting down: an Event invocation has no caller to tell
                await self.invoke_async(invocation)

    async def close_async(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.cancel()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(EmulatorError(SHUTTING_DOWN))
        self._idle = []
        # Busy ones too: their invocations end with Sandbox.Failure, and their folders must not wait for the
        # invoker's release, which a process exiting after Ctrl-C may never run.
        await asyncio.gather(*(sandbox.close_async() for sandbox in self._all), return_exceptions=True)

    # -- from other threads -------------------------------------------------------------------------------

    def invoke(self, invocation: Invocation) -> InvocationResult:
        return self._lambda_loop.run(self.invoke_async(invocation))

    @property
    def sandboxes(self) -> list[Sandbox]:
        return list(self._all)

    def close(self) -> None:
        self._lambda_loop.run(self.close_async(), timeout=15)
