"""The library entry point: a project's functions, each backed by up to N sandboxes, invoked in-process.

Both ``scaffold invoke`` and ``scaffold serve`` (through :mod:`invoke_api`) use :class:`LocalLambda`; so can
the conformance suite, which plugs its fault injection in through ``hooks``.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from runtime_scaffold.emulator import logs
from runtime_scaffold.emulator.folders import sweep_stale_folders
from runtime_scaffold.emulator.invocation import (
    DEFAULT_ACCOUNT_ID,
    MAX_REQUEST_BYTES,
    Invocation,
    InvocationResult,
)
from runtime_scaffold.emulator.runtime_api import RuntimeHooks
from runtime_scaffold.emulator.sandbox import Sandbox
from runtime_scaffold.errors import EmulatorError, InvalidInput
from runtime_scaffold.project import Function, Project


class FunctionPool:
    """Up to ``concurrency`` sandboxes of one function; an invocation waits for a free one."""

    def __init__(self, factory: Callable[[str], Sandbox], *, name: str, concurrency: int) -> None:
        self._factory = factory
        self._name = name
        self._concurrency = concurrency
        self._lock = threading.Condition()
        self._idle: list[Sandbox] = []
        self._all: list[Sandbox] = []
        self._closed = False
        self._numbers = itertools.count(1)

    def _acquire(self) -> Sandbox:
        with self._lock:
            while not self._closed:
                if self._idle:
                    return self._idle.pop()  # the most recently used one is the warmest
                if len(self._all) < self._concurrency:
                    sandbox = self._factory(f"{self._name}-{next(self._numbers)}")
                    self._all.append(sandbox)
                    return sandbox
                self._lock.wait()
        raise EmulatorError("the local Lambda is shutting down")

    def _release(self, sandbox: Sandbox) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(sandbox)
                self._lock.notify()
                return
        sandbox.close()

    def invoke(self, invocation: Invocation) -> InvocationResult:
        sandbox = self._acquire()
        try:
            return sandbox.invoke(invocation)
        finally:
            self._release(sandbox)

    @property
    def sandboxes(self) -> list[Sandbox]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._idle = []
            sandboxes = list(self._all)
            self._lock.notify_all()
        # Busy ones too: their invocations end with Sandbox.Failure, and their folders must not wait for the
        # invoker's release, which a process exiting after Ctrl-C may never run (its threads are daemons).
        for sandbox in sandboxes:
            sandbox.close()


class LocalLambda:
    """A project's functions served by local sandboxes; use as a context manager so every bootstrap is reaped.

    ``invoke("hello", b'{"name": "Ada"}')`` runs the real bootstrap and returns what Lambda would.
    """

    def __init__(
        self,
        project: Project,
        *,
        concurrency: int = 1,
        hooks: RuntimeHooks | None = None,
        log_sink: logs.LogSink = logs.stderr_sink,
        account_id: str = DEFAULT_ACCOUNT_ID,
        host_environment: Mapping[str, str] | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
        self.project = project
        self.concurrency = concurrency
        self.hooks = hooks or RuntimeHooks()
        self.log_sink = log_sink
        self.account_id = account_id
        self.host_environment = dict(os.environ if host_environment is None else host_environment)
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._closed = False
        sweep_stale_folders()  # what emulators that were killed left behind

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def function(self, name: str | None) -> Function:
        """Resolve a function key, its deployed name, an ARN, or ``function`` (RIE's name) in a one-function
        project; raises ProjectError when there is no such function."""
        if name is not None and ":" in name:  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            parts = name.split(":")
            if "function" in parts[:-1]:
                name = parts[parts.index("function") + 1]
        functions = self.project.functions
        if name == "function" and "function" not in functions and len(functions) == 1:
            name = None
        return self.project.function(name)

    def function_arn(self, function: Function) -> str:
        return f"arn:aws:lambda:{self.project.region}:{self.account_id}:function:{function.name}"

    def pool(self, function: Function) -> FunctionPool:
        with self._lock:
            if self._closed:
                raise EmulatorError("the local Lambda is closed")
            pool = self._pools.get(function.key)
            if pool is None:
                def factory(sandbox_id: str) -> Sandbox:
                    return Sandbox(project=self.project, function=function, sandbox_id=sandbox_id,
                                   hooks=self.hooks, log_sink=self.log_sink,
                                   host_environment=self.host_environment)
                pool = self._pools[function.key] = FunctionPool(factory, name=function.key,
                                                                concurrency=self.concurrency)
            return pool

    def new_invocation(self, function: Function, payload: bytes, *, client_context: str | None = None,
                       trace_id: str | None = None) -> Invocation:
        if len(payload) > MAX_REQUEST_BYTES:
            raise InvalidInput(f"the event is {len(payload)} bytes, over Lambda's {MAX_REQUEST_BYTES}")
        invocation = Invocation(payload=payload, function_arn=self.function_arn(function),
                                timeout_s=float(function.timeout), client_context=client_context)
        if trace_id:
            invocation.trace_id = trace_id
        return invocation

    def invoke(self, function: str | None, payload: bytes, *, client_context: str | None = None,
               trace_id: str | None = None) -> InvocationResult:
        """Invoke synchronously (RequestResponse); the wait is bounded by the function's timeout."""
        resolved = self.function(function)
        invocation = self.new_invocation(resolved, payload, client_context=client_context, trace_id=trace_id)
        return self.pool(resolved).invoke(invocation)

    def close(self) -> None:
        """Stop every sandbox and reap every bootstrap."""
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

