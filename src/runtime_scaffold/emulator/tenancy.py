"""Tenant isolation (docs/runtime-api.md §8.2): an invocation with ``X-Amz-Tenant-Id`` runs only in an execution
environment of that tenant, never one another tenant used.

Each function keeps one :class:`~pool.FunctionPool` for the invocations without a tenant and one per tenant,
each bounded by the function's concurrency as Lambda bounds them. Tenants come and go, so their environments
are bounded as a whole too: when a tenant's pool starts an environment and the function's tenants hold more than
``bound`` of them, the idle environments of the tenants used least recently are retired (shut down: SIGTERM, then
SIGKILL), and a tenant left with no environment is forgotten. Busy environments are never retired, so the total
passes the bound by at most the environments that are busy.

The tenant id is checked before it reaches any header: Lambda's own rule (boto3's model: 1 to 256 characters of
letters, digits, space and ``. _ : / = + - @``), which also keeps out CR, LF and NUL.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from runtime_scaffold.emulator.pool import FunctionPool, Recycled

# Lambda's TenantId: min 1, max 256, pattern [a-zA-Z0-9\._:\/=+\-@ ]+ (botocore's service model for Invoke).
MAX_TENANT_ID_LENGTH = 256
_TENANT_ID = re.compile(r"[a-zA-Z0-9._:/=+\-@ ]+")
# Environments a function's tenants may hold at once (idle ones past this are retired, least recently used first).
TENANT_ENVIRONMENTS = 32


class InvalidTenantId(ValueError):
    """A tenant id Lambda would refuse; the message says why, quoting none of it."""


def check_tenant_id(value: str) -> str:
    """``value`` if Lambda accepts it as a TenantId, else InvalidTenantId."""
    if not value:
        raise InvalidTenantId("the tenant id is empty; it must be 1 to 256 characters")
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise InvalidTenantId(f"the tenant id is {len(value)} characters long; at most {MAX_TENANT_ID_LENGTH}")
    if _TENANT_ID.fullmatch(value) is None:
        raise InvalidTenantId("the tenant id may hold only letters, digits, spaces and . _ : / = + - @")
    return value


class TenantPools:
    """One function's pools per tenant, and the bound on their environments together.

    A pool is looked up with :meth:`pool` on the loop and used at once (acquired from, or given an Event), never
    kept across an await: a tenant without environments may be forgotten, its pool closed, in between.
    """

    def __init__(self, make_pool: Callable[[Callable[[], None]], FunctionPool], *,
                 bound: int = TENANT_ENVIRONMENTS) -> None:
        self._make_pool = make_pool  # called with the callback a pool calls when it starts an environment
        self._bound = bound
        self._pools: dict[str, FunctionPool] = {}
        self._used: dict[str, float] = {}  # tenant -> time.monotonic() of its last invocation
        self._retiring: set[asyncio.Task[None]] = set()

    def pool(self, tenant_id: str) -> FunctionPool:
        pool = self._pools.get(tenant_id)
        if pool is None:
            pool = self._pools[tenant_id] = self._make_pool(self._make_room)
        self._used[tenant_id] = time.monotonic()
        return pool

    @property
    def tenants(self) -> list[str]:
        return list(self._pools)

    def environments(self) -> int:
        return sum(len(pool.sandboxes) for pool in self._pools.values())

    def _make_room(self) -> None:
        """A tenant's pool just started an environment: retire idle ones of other tenants past the bound."""
        excess = self.environments() - self._bound
        for tenant in sorted(self._pools, key=self._used.__getitem__):
            if excess <= 0:
                break
            pool = self._pools[tenant]
            retired = pool.take_idle(excess)
            excess -= len(retired)
            if retired:
                task = asyncio.ensure_future(pool.retire(retired))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
            if pool.unused:
                del self._pools[tenant], self._used[tenant]
                task = asyncio.ensure_future(pool.close_async())
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    async def recycle_async(self) -> Recycled:
        """Retire every tenant's environments once their invocations have finished (live reload)."""
        counts = await asyncio.gather(*(pool.recycle_async() for pool in self._pools.values()))
        return sum(counts, Recycled())

    async def close_async(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._used.clear()
        await asyncio.gather(*(pool.close_async() for pool in pools), *self._retiring, return_exceptions=True)
