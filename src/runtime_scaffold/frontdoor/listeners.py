"""Where `scaffold serve` answers browsers: the project's HTTP API and REST API routes on the Invoke API's own
listener, behind its paths (``/2015-03-31/...`` stays the Invoke API's), and each function URL on a listener of
its own, since a URL owns every path of its origin. URL ports follow the Invoke API's: ``--port 9000`` puts the
first URL on 9001, the next on 9002, in the order of ``functions:``; port 0 picks free ones.

:class:`FrontDoor` is built before the Invoke API starts (its :meth:`~FrontDoor.provide` is a route provider of
:func:`~runtime_scaffold.emulator.invoke_api.start_invoke_server`), then :meth:`~FrontDoor.start` opens the URL
listeners; :meth:`~FrontDoor.update` takes a re-read project's routes (live reload), opening and closing URL
listeners as they come and go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from runtime_scaffold.emulator.invocation import MAX_REQUEST_BYTES
from runtime_scaffold.emulator.invoke_api import InvokeApi, service_error
from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.messages import Reply, Request
from runtime_scaffold.emulator.routes import Routes as ServerRoutes
from runtime_scaffold.emulator.server import Listener
from runtime_scaffold.errors import EmulatorError
from runtime_scaffold.frontdoor.gateway import Gateway, Log
from runtime_scaffold.frontdoor.routes import DEFAULT_ROUTE, Route, Routes, read_routes
from runtime_scaffold.project import Project

# Above Lambda's 6 MB the event could not be sent anyway; the gateway answers 413.
MAX_BODY_BYTES = MAX_REQUEST_BYTES


def _unknown(request: Request) -> Reply:  # never reached: a URL listener's fallback takes every path
    return service_error(404, "UnknownOperationException", f"no operation {request.method} {request.path}")


class FrontDoor:
    """The browser side of a served project (see the module docstring); its listeners run on ``local``'s loop."""

    def __init__(self, local: LocalLambda, *, host: str = "127.0.0.1", url_port: int = 0, log: Log) -> None:
        self.local = local
        self.host = host
        self._routes = read_routes(local.project)
        self._url_port = url_port
        self._log = log
        self._shared = Gateway(local, self._routes, listen_host=host, log=log)
        self._urls: dict[str, tuple[Gateway, Listener]] = {}
        self._invoke_not_found: Callable[[Request], Reply] = _unknown
        self._attached = False

    @property
    def routes(self) -> Routes:
        return self._routes

    @routes.setter
    def routes(self, routes: Routes) -> None:
        """Serve ``routes`` from the next request on (the URL listeners stay as they are: see :meth:`update`)."""
        self._routes = self._shared.routes = routes
        for gateway, _ in self._urls.values():
            gateway.routes = routes

    # -- the Invoke API's listener ---------------------------------------------------------------------

    def provide(self, routes: ServerRoutes, api: InvokeApi) -> None:
        """Route provider: every path the Invoke API does not own comes to the HTTP and REST API routes."""
        self._invoke_not_found = routes.not_found
        routes.fallback(self._shared_handle, max_body_bytes=MAX_BODY_BYTES, screened=False)
        routes.keep_header_pairs = True

    def _shared_handle(self, request: Request) -> Reply | Awaitable[Reply]:
        if not (self.routes.http_api or self.routes.rest_api):  # no HTTP routes: the Invoke API's own 404
            return self._invoke_not_found(request)
        return self._shared.handle(request)

    # -- function URLs -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Open a listener for each function URL (blocking; from any thread but the loop's)."""
        if not self._attached:
            self.local.attach()
            self._attached = True
        for key in self.routes.urls:
            self._open(key)

    def _next_port(self) -> int:
        if self._url_port == 0:
            return 0
        used = {listener.port for _, listener in self._urls.values()}
        port = self._url_port
        while port in used:
            port += 1
        return port

    def _open(self, key: str) -> None:
        port = self._next_port()
        if port > 65535:
            raise EmulatorError(f"no port above --port is left for the function URL of {key}: choose a lower --port")
        gateway = Gateway(self.local, self.routes, listen_host=self.host, log=self._log, url=key)
        table = ServerRoutes(max_body_bytes=MAX_BODY_BYTES, not_found=_unknown, method_not_allowed=_unknown)
        table.fallback(gateway.handle, screened=False)
        table.keep_header_pairs = True
        listener = Listener(table)
        try:
            self.local.loop.run(listener.start(host=self.host, port=port), timeout=10)
        except EmulatorError as error:
            raise EmulatorError(f"the function URL of {key}: {error.message}; choose other ports with --port") \
                from None
        self._urls[key] = (gateway, listener)

    def url_address(self, key: str) -> str | None:
        opened = self._urls.get(key)
        return opened[1].address if opened is not None else None

    # -- live reload -------------------------------------------------------------------------------------

    def update(self, project: Project) -> str:
        """Serve ``project``'s routes from now on; one phrase on what changed ('' when nothing did)."""
        old, new = self.routes, read_routes(project)
        self.routes = new
        for key in [key for key in self._urls if key not in new.urls]:
            _, listener = self._urls.pop(key)
            self.local.loop.run(listener.close(), timeout=10)
        for key in new.urls:
            if key not in self._urls:
                self._open(key)
        before, after = _keys(old), _keys(new)
        added = [self._with_address(key) for key in after if key not in before]
        removed = [key for key in before if key not in after]
        parts = ([f"route{'s' if len(added) > 1 else ''} added: {', '.join(added)}"] if added else []) + (
            [f"route{'s' if len(removed) > 1 else ''} removed: {', '.join(removed)}"] if removed else [])
        return "; ".join(parts)

    def _with_address(self, route_key: str) -> str:
        if route_key.startswith("URL "):
            address = self.url_address(route_key[4:])
            return f"{route_key} at http://{address}/" if address else route_key
        return route_key

    def close(self, *, drain_s: float = 0.0) -> None:
        """Close the URL listeners (with ``drain_s``, first give replies being answered that long)."""
        for _, listener in self._urls.values():
            self.local.loop.run(listener.close(drain_s=drain_s), timeout=drain_s + 5)
        self._urls.clear()
        if self._attached:
            self._attached = False
            self.local.detach()

    # -- what serve prints -------------------------------------------------------------------------------

    def lines(self, invoke_address: str) -> list[str]:
        """The routes, one line each, with the URL to open; then what is declared but not served, and why."""
        base = f"http://{invoke_address}"
        lines = [_line(route, f"{base}{_shown_path(route)}") for route in self.routes.http_api]
        lines += [_line(route, f"{base}{self.routes.rest_prefix}{route.path}") for route in self.routes.rest_api]
        for key, route in self.routes.urls.items():
            address = self.url_address(key)
            if address is not None:
                lines.append(_line(route, f"http://{address}/"))
        lines += [f"  not served: {reason}" for reason in self.routes.skipped]
        return lines


def _keys(routes: Routes) -> list[str]:
    keys = [route.route_key for route in routes.http_api]
    keys += [f"{route.method} {routes.rest_prefix}{route.path}" for route in routes.rest_api]
    keys += [f"URL {key}" for key in routes.urls]
    return keys


def _shown_path(route: Route) -> str:
    return "/*" if route.path == DEFAULT_ROUTE else route.path


def _line(route: Route, url: str) -> str:
    method = "URL" if route.kind.value == "url" else route.method
    payload = f"payload {route.payload_version}" + (", streamed" if route.streaming else "")
    default = ", $default: any path no other route takes" if route.is_default else ""
    return f"  {method:<7} {url}  ->  {route.function} ({route.kind.label}, {payload}{default})"
