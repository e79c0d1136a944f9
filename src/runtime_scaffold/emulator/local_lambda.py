"""The library entry point: a project's functions, each backed by up to N sandboxes, invoked in-process.

Both ``scaffold invoke`` and ``scaffold serve`` (through :mod:`invoke_api`) use :class:`LocalLambda`; so can
the conformance suite, which plugs its fault injection in through ``hooks``. A LocalLambda owns one event loop
(:class:`~loop.LambdaLoop`, in a background thread) on which all its sandboxes and listeners run; its blocking
methods may be called from any other thread. :meth:`LocalLambda.recycle` is live reload's: the invocations in
flight finish, every warm environment is then retired, and a re-read project can take the old one's place.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from runtime_scaffold.emulator import function_names, logs
from runtime_scaffold.emulator.concurrency import check_max_concurrency, function_max_concurrency
from runtime_scaffold.emulator.folders import sweep_stale_folders
from runtime_scaffold.emulator.invocation import (
    DEFAULT_ACCOUNT_ID,
    FUNCTION_VERSION,
    MAX_REQUEST_BYTES,
    Invocation,
    InvocationResult,
)
from runtime_scaffold.emulator.lifecycle import ExtensionObserver
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.messages import UnsafeHeader, check_header_value
from runtime_scaffold.emulator.pool import EVENT_QUEUE_SIZE, FunctionPool, Recycled
from runtime_scaffold.emulator.retries import LAMBDA_RETRY_DELAYS_S, retry_attempts
from runtime_scaffold.emulator.runtime_api import RuntimeHooks
from runtime_scaffold.emulator.sandbox import RouteProvider, Sandbox
from runtime_scaffold.emulator.server import Accept
from runtime_scaffold.emulator.tenancy import TENANT_ENVIRONMENTS, InvalidTenantId, TenantPools, check_tenant_id
from runtime_scaffold.errors import EmulatorError, InvalidInput, ProjectError
from runtime_scaffold.lambda_limits import INIT_TIMEOUT_S
from runtime_scaffold.project import Function, Project

# The shutdown of every sandbox (kill, reap, remove folders) is given this long before close() returns anyway.
_CLOSE_S = 15.0


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
        event_queue_size: int = EVENT_QUEUE_SIZE,
        accept: Accept | None = None,
        runtime_routes: Sequence[RouteProvider] = (),
        init_timeout_s: float = INIT_TIMEOUT_S,
        extension_observer: ExtensionObserver | None = None,
        max_concurrency: int | None = None,
        tenant_environments: int = TENANT_ENVIRONMENTS,
        event_retry_delays_s: Sequence[float] = LAMBDA_RETRY_DELAYS_S,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
        self.project = project
        self.concurrency = concurrency
        # Lambda Managed Instances for every function: that many invocations at once in one environment (else
        # each function's own capacityProvider.maxConcurrency, if it has one).
        self.max_concurrency = None if max_concurrency is None else check_max_concurrency(max_concurrency)
        self.hooks = hooks or RuntimeHooks()
        self.log_sink = log_sink
        self.account_id = account_id
        self.host_environment = dict(os.environ if host_environment is None else host_environment)
        self.event_queue_size = event_queue_size
        self.accept = accept  # each Runtime API connection, before any request: a reply refuses it
        self.runtime_routes = tuple(runtime_routes)  # more routes on every sandbox's Runtime API port
        self.init_timeout_s = init_timeout_s  # a fresh environment's Init phase (Lambda's 10 s; shorter in tests)
        self.extension_observer = extension_observer  # what the extensions did, phase by phase (conformance)
        self.tenant_environments = tenant_environments  # idle tenants' environments are retired past this many
        self.event_retry_delays_s = tuple(event_retry_delays_s)  # a failed Event invocation's retries, at most 2
        self.loop = LambdaLoop(name=f"lambda-{project.service}")
        self._pools: dict[str, FunctionPool] = {}
        self._tenants: dict[str, TenantPools] = {}  # function key -> its pools per tenant
        self._tenant_numbers = itertools.count(1)
        self._former_pools: list[FunctionPool | TenantPools] = []  # of functions a reload removed, or replaced
        self._lock = threading.Lock()
        self._closed = False
        self._attached = 0  # listeners (the Invoke API) still using the loop after close()
        sweep_stale_folders()  # what emulators that were killed (and their janitors) left behind

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def function(self, name: str | None) -> Function:
        """Resolve a function key, its deployed name, a partial or full ARN (``:$LATEST`` allowed), or ``function``
        (RIE's name) in a one-function project; raises ProjectError when there is no such function or version."""
        if name is None:
            return self.project.function(None)
        try:
            return function_names.resolve(self.project, self.account_id, name)
        except function_names.FunctionNotFound as error:
            reference = function_names.parse(name)
            if reference.qualifier in (None, FUNCTION_VERSION):
                return self.project.function(reference.name)  # its error lists the project's functions
            raise ProjectError(f"{name!r}: {error.message} (only {FUNCTION_VERSION} exists locally: no published "
                               "versions or aliases)") from None
        except function_names.LambdaApiError as error:
            raise ProjectError(f"{name!r}: {error.message}") from None

    def function_arn(self, function: Function) -> str:
        return function_names.function_arn(self.project.region, self.account_id, function.name)

    def pool(self, function: Function, tenant_id: str | None = None) -> FunctionPool:
        """The sandboxes of ``function`` for invocations of ``tenant_id`` (or of no tenant). A tenant's pool is
        looked up on the loop where it is used, and not kept: one without environments may be forgotten."""
        with self._lock:
            if self._closed:
                raise EmulatorError("the local Lambda is closed")
            if tenant_id is not None:
                tenants = self._tenants.get(function.key)
                if tenants is None:
                    def make(on_new_sandbox: Callable[[], None]) -> FunctionPool:
                        name = f"{function.key}-tenant{next(self._tenant_numbers)}"
                        return self._new_pool(function, name, on_new_sandbox)
                    tenants = self._tenants[function.key] = TenantPools(make, bound=self.tenant_environments)
                return tenants.pool(tenant_id)
            pool = self._pools.get(function.key)
            if pool is None:
                pool = self._pools[function.key] = self._new_pool(function, function.key, None)
            return pool

    def _new_pool(self, function: Function, name: str, on_new_sandbox: Callable[[], None] | None) -> FunctionPool:
        max_concurrency = self.max_concurrency or function_max_concurrency(self.project, function)
        retries = self.event_retry_delays_s[:retry_attempts(self.project, function)]
        return FunctionPool(self._factory(self.project, function), name=name, concurrency=self.concurrency,
                            loop=self.loop, event_queue_size=self.event_queue_size, max_concurrency=max_concurrency,
                            on_new_sandbox=on_new_sandbox, retry_delays_s=retries, note=self._note)

    def _note(self, text: str) -> None:
        self.log_sink(text.encode() + b"\n")

    def tenants(self, function: Function) -> TenantPools | None:
        """The function's pools per tenant, once a tenant has invoked it."""
        with self._lock:
            return self._tenants.get(function.key)

    def _factory(self, project: Project, function: Function) -> Callable[[str], Sandbox]:
        def factory(sandbox_id: str) -> Sandbox:
            return Sandbox(project=project, function=function, sandbox_id=sandbox_id, loop=self.loop,
                           hooks=self.hooks, log_sink=self.log_sink, host_environment=self.host_environment,
                           accept=self.accept, route_providers=self.runtime_routes, account_id=self.account_id,
                           init_timeout_s=self.init_timeout_s, extension_observer=self.extension_observer,
                           max_concurrency=self.max_concurrency or function_max_concurrency(project, function))

        return factory

    def recycle(self, project: Project | None = None) -> Recycled:
        """Let the invocations in flight finish, then retire every warm environment, so that the next
        invocation of each function starts cold (with the code as it is now); with ``project`` (its
        serverless.yml re-read), functions are served as it declares them from now on. Returns how many
        environments were retired at once and how many will be once their invocation ends."""
        with self._lock:
            if self._closed:
                return Recycled()
            if project is not None:
                self.project = project
            current = self.project
            pools = list(self._pools.items())
            removed = [pool for key, pool in pools if key not in current.functions]
            self._pools = {key: pool for key, pool in pools if key in current.functions}
            self._former_pools.extend(removed)
            # Tenants' pools are made anew, from the project as it is now; the old ones retire when done.
            tenants, self._tenants = list(self._tenants.values()), {}
            self._former_pools.extend(tenants)

        async def recycle_all() -> Recycled:
            counts = await asyncio.gather(*(
                pool.recycle_async(self._factory(current, current.functions[key])
                                   if project is not None and key in current.functions else None)
                for key, pool in pools), *(each.recycle_async() for each in tenants))
            return sum(counts, Recycled())

        return self.loop.run(recycle_all(), timeout=_CLOSE_S)

    def new_invocation(self, function: Function, payload: bytes, *, client_context: str | None = None,
                       trace_id: str | None = None, tenant_id: str | None = None) -> Invocation:
        """An invocation of ``function``; a value that would reach a header of the event must be header-safe."""
        if len(payload) > MAX_REQUEST_BYTES:
            raise InvalidInput(f"the event is {len(payload)} bytes, over Lambda's {MAX_REQUEST_BYTES}")
        if tenant_id is not None:
            try:
                check_tenant_id(tenant_id)
            except InvalidTenantId as error:
                raise InvalidInput(str(error)) from None
        try:
            for value in (client_context, trace_id):
                if value:
                    check_header_value(value)
        except UnsafeHeader:
            raise InvalidInput("a client context or trace id holds CR, LF or NUL") from None
        invocation = Invocation(payload=payload, function_arn=self.function_arn(function),
                                timeout_s=float(function.timeout), client_context=client_context,
                                tenant_id=tenant_id)
        if trace_id:
            invocation.trace_id = trace_id
        return invocation

    def invoke(self, function: str | None, payload: bytes, *, client_context: str | None = None,
               trace_id: str | None = None, tenant_id: str | None = None) -> InvocationResult:
        """Invoke synchronously (RequestResponse); the wait is bounded by the function's timeout."""
        resolved = self.function(function)
        invocation = self.new_invocation(resolved, payload, client_context=client_context, trace_id=trace_id,
                                         tenant_id=tenant_id)
        return self.loop.run(self.run_invocation(resolved, invocation))

    async def invoke_async(self, function: str | None, payload: bytes, *, client_context: str | None = None,
                           trace_id: str | None = None, tenant_id: str | None = None) -> InvocationResult:
        """:meth:`invoke`, on the loop (submit it with ``self.loop.submit`` from another thread)."""
        resolved = self.function(function)
        invocation = self.new_invocation(resolved, payload, client_context=client_context, trace_id=trace_id,
                                         tenant_id=tenant_id)
        return await self.run_invocation(resolved, invocation)

    async def run_invocation(self, function: Function, invocation: Invocation) -> InvocationResult:
        """Run ``invocation`` in a sandbox of its function and tenant (on the loop)."""
        return await self.pool(function, invocation.tenant_id).invoke_async(invocation)

    def attach(self) -> None:
        """A listener serving this local Lambda starts: the loop must outlive close() until it detaches."""
        with self._lock:
            self._attached += 1

    def detach(self) -> None:
        with self._lock:
            self._attached -= 1
            stop = self._closed and self._attached == 0
        if stop:
            self.loop.stop()

    def close(self) -> None:
        """Stop every sandbox and reap every bootstrap; invocations still running end with Sandbox.Failure."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pools, self._pools = [*self._pools.values(), *self._former_pools], {}
            tenants, self._tenants = list(self._tenants.values()), {}
            stop = self._attached == 0

        async def close_pools() -> None:
            await asyncio.gather(*(pool.close_async() for pool in pools),
                                 *(each.close_async() for each in tenants))

        try:
            self.loop.run(close_pools(), timeout=_CLOSE_S)
        except TimeoutError:  # a bootstrap that would not die: the interpreter's exit kills its group anyway
            pass
        finally:
            if stop:
                self.loop.stop()
