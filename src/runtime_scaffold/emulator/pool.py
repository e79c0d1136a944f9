"""Up to N sandboxes of one function, the invocations waiting for one, and the function's Event queue.

A sandbox takes one invocation at a time, or up to ``max_concurrency`` (Lambda Managed Instances): each is a
slot, and a new invocation takes the slot freed last, so invocations gather in the warmest environment before
another one starts. Invocations wait for a free slot in arrival order; one whose caller went away
(:meth:`FunctionPool.acquire`'s future cancelled) gives up its place. ``Event`` invocations go into a bounded
queue served by a fixed set of workers, one per slot, which wait for slots in the same line as synchronous
callers: so a synchronous caller never waits behind more Event invocations than there are slots, and a full
queue is refused at once (the Invoke API answers 429, as Lambda throttles). An Event invocation that fails is
queued again after each of ``retry_delays_s`` (:mod:`retries`: Lambda's retries, under the same request id).

:meth:`FunctionPool.recycle_async` (live reload) retires every environment once its invocations have finished:
idle ones at once, busy ones when their last one is released, so an invocation in flight ends as it would have
and every later one starts cold, from a new factory if the function's configuration changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from runtime_scaffold.emulator.invocation import Invocation, InvocationResult
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.sandbox import Sandbox
from runtime_scaffold.errors import EmulatorError

# Event invocations one function may have waiting before more are refused (429).
EVENT_QUEUE_SIZE = 100
SHUTTING_DOWN = "the local Lambda is shutting down"


class Recycled(NamedTuple):
    """How many environments a recycle retires: at once (idle), and when their invocation ends (busy)."""

    idle: int = 0
    busy: int = 0

    def __add__(self, other: tuple[int, ...]) -> Recycled:  # type: ignore[override]
        return Recycled(self.idle + other[0], self.busy + other[1])


class FunctionPool:
    """Up to ``concurrency`` sandboxes of one function; an invocation waits for a free one."""

    def __init__(self, factory: Callable[[str], Sandbox], *, name: str, concurrency: int, loop: LambdaLoop,
                 event_queue_size: int = EVENT_QUEUE_SIZE, max_concurrency: int | None = None,
                 on_new_sandbox: Callable[[], None] | None = None, retry_delays_s: Sequence[float] = (),
                 note: Callable[[str], None] | None = None) -> None:
        self._factory = factory
        self._retry_delays_s = tuple(retry_delays_s)  # one per retry of a failed Event invocation
        self._note = note  # a line for the function's log
        self._retries: set[asyncio.TimerHandle] = set()
        self._on_new_sandbox = on_new_sandbox  # e.g. the tenants' bound, which may retire others' idle ones
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
        self._stale: dict[Sandbox, int] = {}  # busy when recycled: how many invocations it still holds
        self._retiring: set[asyncio.Task[None]] = set()

    # -- on the loop ------------------------------------------------------------------------------------

    def acquire(self) -> asyncio.Future[Sandbox]:
        """A future of a sandbox for one invocation, in arrival order; cancel it to give up the place."""
        future: asyncio.Future[Sandbox] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_exception(EmulatorError(SHUTTING_DOWN))
        elif self._idle:
            future.set_result(self._idle.pop())  # the most recently used one is the warmest
        elif len(self._all) < self._concurrency:
            future.set_result(self._new_sandbox())
        else:
            self._waiters.append(future)
        return future

    def _new_sandbox(self) -> Sandbox:
        """A new sandbox, one of its slots taken by the caller (the others free)."""
        sandbox = self._factory(f"{self._name}-{next(self._numbers)}")
        self._all.append(sandbox)
        self._idle.extend([sandbox] * (self._slots - 1))
        if self._on_new_sandbox is not None:
            self._on_new_sandbox()
        return sandbox

    def release(self, sandbox: Sandbox) -> None:
        if self._closed:
            return
        if self._stale and sandbox in self._stale:  # recycled while busy: one of its invocations is over now
            self._stale[sandbox] -= 1
            if self._stale[sandbox] > 0:
                return
            del self._stale[sandbox]
            self._all.remove(sandbox)
            self._retire(sandbox)
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(self._new_sandbox())
                    return
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # not given up
                waiter.set_result(sandbox)
                return
        self._idle.append(sandbox)

    def _retire(self, sandbox: Sandbox) -> None:
        task = asyncio.get_running_loop().create_task(sandbox.close_async())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def recycle_async(self, factory: Callable[[str], Sandbox] | None = None) -> Recycled:
        """Retire every environment once its invocation has finished; later invocations get new ones, made by
        ``factory`` when given. Returns once the idle ones are gone."""
        if self._closed:
            return Recycled()
        if factory is not None:
            self._factory = factory
        free, self._idle = self._idle, []
        idle = [sandbox for sandbox in self._all if free.count(sandbox) == self._slots]
        for sandbox in idle:
            self._all.remove(sandbox)
        for sandbox in self._all:  # busy: retired when the last invocation it holds is released
            self._stale.setdefault(sandbox, self._slots - free.count(sandbox))
        await asyncio.gather(*(sandbox.close_async() for sandbox in idle), return_exceptions=True)
        return Recycled(len(idle), len(self._stale))

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
                result = await self.invoke_async(invocation)
                if result.error_type is not None and invocation.attempt <= len(self._retry_delays_s):
                    self._retry_later(invocation, result.error_type)

    def _retry_later(self, invocation: Invocation, error_type: str) -> None:
        delay = self._retry_delays_s[invocation.attempt - 1]
        if self._note is not None:
            self._note(f"scaffold: Event invocation {invocation.request_id} failed ({error_type}): retry "
                       f"{invocation.attempt} of {len(self._retry_delays_s)} in {delay:g} s")

        def retry() -> None:
            self._retries.discard(handle)
            if self._closed or self._events is None:
                return
            try:
                self._events.put_nowait(invocation.retry())
            except asyncio.QueueFull:
                if self._note is not None:
                    self._note(f"scaffold: the retry of Event invocation {invocation.request_id} was dropped: "
                               "the Event queue is full")

        handle = asyncio.get_running_loop().call_later(delay, retry)
        self._retries.add(handle)

    def take_idle(self, most: int) -> list[Sandbox]:
        """Up to ``most`` sandboxes running nothing, taken out of the pool (to be retired)."""
        idle = [sandbox for sandbox in self._all if self._idle.count(sandbox) == self._slots][:most]
        for sandbox in idle:
            self._all.remove(sandbox)
            self._idle = [each for each in self._idle if each is not sandbox]
        return idle

    async def retire(self, sandboxes: list[Sandbox]) -> None:
        """Shut the taken sandboxes down (SIGTERM, then SIGKILL) and remove their folders."""
        await asyncio.gather(*(sandbox.close_async() for sandbox in sandboxes), return_exceptions=True)

    @property
    def unused(self) -> bool:
        """No sandbox, nobody waiting, no Event queued: the pool can be forgotten."""
        return not self._all and not self._retries and not any(not waiter.done() for waiter in self._waiters) and (
            self._events is None or self._events.empty())

    async def close_async(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.cancel()
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(EmulatorError(SHUTTING_DOWN))
        self._idle = []
        # Busy ones too: their invocations end with Sandbox.Failure, and their folders must not wait for the
        # invoker's release, which a process exiting after Ctrl-C may never run.
        await asyncio.gather(*(sandbox.close_async() for sandbox in self._all), *self._retiring,
                             return_exceptions=True)

    # -- from other threads -------------------------------------------------------------------------------

    def invoke(self, invocation: Invocation) -> InvocationResult:
        return self._lambda_loop.run(self.invoke_async(invocation))

    @property
    def sandboxes(self) -> list[Sandbox]:
        return list(self._all)

    def close(self) -> None:
        self._lambda_loop.run(self.close_async(), timeout=15)
