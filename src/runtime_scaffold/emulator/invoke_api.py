"""The Lambda Invoke API (2015-03-31) for callers: curl, the AWS CLI, boto3 with ``endpoint_url``.

Answers as AWS does (docs/runtime-api.md §5): a function error is still 200 with ``X-Amz-Function-Error``;
service errors carry ``x-amzn-ErrorType`` and a ``{"Type", "Message"}`` body, which is what botocore reads.
What a caller sends is checked before it goes anywhere: the payload must be JSON (any depth, any number
length), ``X-Amz-Client-Context`` base64 of a JSON object of at most 3,583 bytes encoded, a trace id
header-safe, ``X-Amz-Tenant-Id`` as Lambda's TenantId rule allows (:mod:`tenancy`: each tenant's invocations run
in environments of their own); ``Event`` invocations are refused with 429 when their function's queue is full.

:meth:`InvokeApi.routes` is the listener's table, with the read-only function calls (:mod:`function_api`);
response streaming (``/2021-11-15/functions/{name}/response-streaming-invocations``) and plain-HTTP routes for
browsers add theirs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable

from runtime_scaffold.emulator import function_names
from runtime_scaffold.emulator.function_api import FunctionApi
from runtime_scaffold.emulator.guard import is_loopback, request_screen
from runtime_scaffold.emulator.invocation import FUNCTION_VERSION, MAX_REQUEST_BYTES, Invocation
from runtime_scaffold.emulator.json_check import json_error
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.messages import Reply, Request, UnsafeHeader, check_header_value
from runtime_scaffold.emulator.pool import FunctionPool
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.sandbox import Sandbox
from runtime_scaffold.emulator.server import Listener
from runtime_scaffold.emulator.service_errors import service_error
from runtime_scaffold.emulator.tenancy import InvalidTenantId, check_tenant_id
from runtime_scaffold.errors import EmulatorError
from runtime_scaffold.project import Function

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
# Lambda's limit on ClientContext: 3,583 bytes, base64-encoded.
MAX_CLIENT_CONTEXT_BYTES = 3583


class _BadRequest(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def _invalid_content(message: str) -> _BadRequest:
    return _BadRequest(service_error(400, "InvalidRequestContentException", message))


def client_context(encoded: str) -> str:
    """The JSON object a caller's ``X-Amz-Client-Context`` holds, as the bootstrap's header will carry it."""
    if len(encoded) > MAX_CLIENT_CONTEXT_BYTES:
        raise _invalid_content(f"Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes, base64-encoded")
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_content("X-Amz-Client-Context must be base64-encoded JSON") from None
    if json_error(decoded) is not None or not decoded.lstrip(b" \t\r\n").startswith(b"{"):
        raise _invalid_content("X-Amz-Client-Context must be base64 of a JSON object")
    # Valid JSON holds CR and LF only as whitespace between tokens (never inside a string), so spaces stand in
    # for them without changing the document; NUL cannot be in valid JSON at all.
    return decoded.decode("utf-8").replace("\r", " ").replace("\n", " ")


class InvokeApi:
    """The HTTP application for ``scaffold serve``, on the local Lambda's loop."""

    def __init__(self, local: LocalLambda) -> None:
        self.local = local
        self._functions: dict[tuple[str, str, bool], tuple[Function, FunctionPool]] = {}
        self._project = local.project  # the one _functions was filled from (live reload swaps it)

    def routes(self) -> Routes:
        routes = Routes(max_body_bytes=MAX_REQUEST_BYTES, not_found=self._unknown, method_not_allowed=self._unknown)
        routes.add("POST", INVOKE_PATH, self.invoke)
        FunctionApi(self.local).add_routes(routes)  # GetFunction, GetFunctionConfiguration, ListFunctions
        return routes

    def invocation(self, function: Function, request: Request, *, invocation_type: str) -> Invocation | Reply:
        """An invocation from a caller's request, checked as this API checks it, or the 400 to answer."""
        try:
            return self._invocation(function, request, invocation_type)
        except _BadRequest as bad:
            return bad.reply

    @staticmethod
    def _unknown(request: Request) -> Reply:
        return service_error(404, "UnknownOperationException", f"no operation {request.method} {request.path}")

    def resolve(self, request: Request, *, action: str = "lambda:InvokeFunction",
                latest_when_unqualified: bool = True) -> tuple[Function, FunctionPool] | Reply:
        """The function (and its pool) that ``request.params["name"]`` and its ``Qualifier`` name, or the error
        reply Lambda would send (:mod:`function_names`); shared by every route that names a function (Invoke,
        response streaming)."""
        if self._project is not self.local.project:
            self._functions.clear()
            self._project = self.local.project
        key = (request.params["name"], request.query, latest_when_unqualified)
        known = self._functions.get(key)
        if known is not None:
            return known
        try:
            function = function_names.requested_function(self.local.project, self.local.account_id, request,
                                                         action=action,
                                                         latest_when_unqualified=latest_when_unqualified)
        except function_names.LambdaApiError as error:
            return service_error(error.status, error.error_type, error.message)
        try:
            pool = self.local.pool(function)
        except EmulatorError as error:
            return service_error(503, "ServiceException", error.message)
        if len(self._functions) < 1024:
            self._functions[key] = (function, pool)
        return function, pool

    def invoke(self, request: Request) -> Reply | Awaitable[Reply]:
        resolved = self.resolve(request)
        if isinstance(resolved, Reply):
            return resolved
        function, pool = resolved
        if request.too_large:
            return service_error(413, "RequestTooLargeException",
                                 f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the "
                                 "InvokeFunction operation")
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        try:
            invocation = self._invocation(function, request, invocation_type)
        except _BadRequest as bad:
            return bad.reply
        headers = {"x-amzn-RequestId": invocation.request_id, "X-Amz-Executed-Version": FUNCTION_VERSION}
        if invocation_type == "DryRun":
            return Reply(204, b"", headers)
        chosen = self.pool_for(function, pool, invocation)
        if isinstance(chosen, Reply):
            return chosen
        if invocation_type == "Event":
            try:
                queued = chosen.submit_event(invocation)
            except EmulatorError as error:
                return service_error(503, "ServiceException", error.message)
            if not queued:
                return service_error(429, "TooManyRequestsException", "Rate Exceeded.")
            return Reply(202, b"", headers)
        return self._run(chosen, invocation, request, headers)

    def _invocation(self, function: Function, request: Request, invocation_type: str) -> Invocation:
        payload = request.body or b"{}"  # an invoke without a payload hands the function an empty object
        error = json_error(payload)
        if error is not None:
            raise _invalid_content(f"Could not parse request body into json: {error}")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise _BadRequest(service_error(400, "InvalidParameterValueException",
                                            f"Invalid invocation type: {invocation_type}"))
        context = request.headers.get("X-Amz-Client-Context")
        trace_id = request.headers.get("X-Amzn-Trace-Id")
        tenant_id = request.headers.get("X-Amz-Tenant-Id")
        if tenant_id is not None:
            try:
                check_tenant_id(tenant_id)
            except InvalidTenantId as error:
                raise _BadRequest(service_error(400, "InvalidParameterValueException", str(error))) from None
        if trace_id:
            try:
                check_header_value(trace_id)
            except UnsafeHeader:
                raise _invalid_content("X-Amzn-Trace-Id holds a control character") from None
        invocation = Invocation(payload=payload, function_arn=self.local.function_arn(function),
                                timeout_s=float(function.timeout),
                                client_context=client_context(context) if context else None, tenant_id=tenant_id)
        if trace_id:
            invocation.trace_id = trace_id
        return invocation

    def pool_for(self, function: Function, pool: FunctionPool, invocation: Invocation) -> FunctionPool | Reply:
        """The pool ``invocation`` runs in: its tenant's (looked up where it is used: see tenancy.TenantPools),
        or the function's own."""
        if invocation.tenant_id is None:
            return pool
        try:
            return self.local.pool(function, invocation.tenant_id)
        except EmulatorError as error:
            return service_error(503, "ServiceException", error.message)

    @staticmethod
    async def sandbox_for(pool: FunctionPool, request: Request) -> Sandbox | Reply:
        """A sandbox of ``pool`` for this caller's invocation, in arrival order, or the 503 of a pool shutting
        down; a caller gone before its turn gives up its place."""
        waiting = pool.acquire()
        request.on_gone.append(waiting.cancel)
        try:
            return await waiting
        except EmulatorError as error:
            return service_error(503, "ServiceException", error.message)

    async def _run(self, pool: FunctionPool, invocation: Invocation, request: Request,
                   headers: dict[str, str]) -> Reply:
        sandbox = await self.sandbox_for(pool, request)
        if isinstance(sandbox, Reply):
            return sandbox
        try:
            result = await sandbox.invoke_async(invocation)
        finally:
            pool.release(sandbox)
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if (request.headers.get("X-Amz-Log-Type") or "").lower() == "tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(result.log_tail).decode()
        return Reply(200, result.payload, headers)


class InvokeServer:
    """The Invoke API listening on the local Lambda's loop; :meth:`close` stops it."""

    def __init__(self, local: LocalLambda, listener: Listener) -> None:
        self._local = local
        self._listener = listener
        self._closed = False

    @property
    def address(self) -> str:
        return self._listener.address

    def close(self, *, drain_s: float = 0.0) -> None:
        """Stop accepting; with ``drain_s``, first give the replies being answered that long to go out."""
        if self._closed:
            return
        self._closed = True
        try:
            self._local.loop.run(self._listener.close(drain_s=drain_s), timeout=drain_s + 5)
        finally:
            self._local.detach()


def start_invoke_server(local: LocalLambda, *, host: str = "127.0.0.1", port: int = 9000,
                        allowed_origins: Iterable[str] = (),
                        route_providers: Iterable[Callable[[Routes, InvokeApi], None]] = ()) -> InvokeServer:
    """Serve ``local`` over the Invoke API on its loop; :meth:`InvokeServer.close` stops it.

    Requests from web pages (an ``Origin`` header) are refused unless their origin is in ``allowed_origins``,
    and so are requests naming a host other than a loopback address or ``host`` (DNS rebinding).
    Each of ``route_providers`` adds routes to the listener's table (response streaming, a browser front door).
    """
    screen = request_screen(listen_host=host, allowed_origins=allowed_origins, refuse=service_error)
    api = InvokeApi(local)
    routes = api.routes()
    for provide in route_providers:
        provide(routes, api)
    listener = Listener(routes, screen=screen)
    local.attach()
    try:
        local.loop.run(listener.start(host=host, port=port), timeout=10)
    except BaseException:
        local.detach()
        raise
    return InvokeServer(local, listener)


__all__ = ["InvokeApi", "InvokeServer", "is_loopback", "service_error", "start_invoke_server"]
