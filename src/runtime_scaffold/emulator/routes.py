"""Route tables: which handler answers which method and path on one listener.

Each API builds its table (:func:`runtime_api.RuntimeApi.routes`, :func:`invoke_api.InvokeApi.routes`) and a
feature that lives on the same host:port adds its own routes to it, e.g. an Extensions API module::

    routes.add("POST", "/2020-01-01/extension/register", extensions.register)
    routes.add("GET", "/2020-01-01/extension/event/next", extensions.next_event)

A template is a path whose ``{name}`` segments match one segment each (``/functions/{name}/invocations``); the
values arrive in ``request.params``. A handler takes the :class:`~messages.Request` and returns a reply, or an
awaitable of one when it has to wait (a long poll, an invocation). A route declared ``streaming=True`` is called
as soon as the head has arrived, with ``request.stream`` delivering the body as it comes; every other route gets
the whole body in ``request.body``, and at most ``max_body_bytes`` of it is kept (more sets
``request.too_large``, and the rest is read and dropped).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runtime_scaffold.emulator.messages import Reply, Request, StreamReply

Response = Reply | StreamReply
Handler = Callable[[Request], "Response | Awaitable[Response]"]
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    streaming: bool = False
    max_body_bytes: int | None = None  # None: the table's default


class Routes:
    """Exact paths are one dict lookup; templates are tried in the order they were added."""

    def __init__(self, *, max_body_bytes: int, not_found: Callable[[Request], Reply],
                 method_not_allowed: Callable[[Request], Reply]) -> None:
        self.max_body_bytes = max_body_bytes
        self.not_found = not_found
        self.method_not_allowed = method_not_allowed
        self._exact: dict[str, dict[str, Route]] = {}
        self._templates: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        # Paths seen that matched a template (the Invoke API's one path per function, mostly), bounded.
        self._seen: dict[str, tuple[dict[str, Route], dict[str, str]]] = {}

    def add(self, method: str, template: str, handler: Handler, *, streaming: bool = False,
            max_body_bytes: int | None = None) -> None:
        route = Route(method, template, handler, streaming, max_body_bytes)
        if "{" not in template:
            self._exact.setdefault(template, {})[method] = route
            return
        pattern = re.compile(_PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template)
                                            .replace(r"\{", "{").replace(r"\}", "}")) + "/?")
        for existing, methods in self._templates:
            if existing.pattern == pattern.pattern:
                methods[method] = route
                return
        self._templates.append((pattern, {method: route}))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | Callable[[Request], Reply]:
        """The route and its parameters, or the handler of the 404 or 405 to answer instead."""
        methods = self._exact.get(path)
        params: dict[str, str] = {}
        if methods is None:
            seen = self._seen.get(path)
            if seen is not None:
                methods, params = seen[0], dict(seen[1])
            else:
                for pattern, candidates in self._templates:
                    match = pattern.fullmatch(path)
                    if match is not None:
                        methods, params = candidates, match.groupdict()
                        if len(self._seen) < 64:
                            self._seen[path] = (methods, dict(params))
                        break
                else:
                    return self.not_found
        route = methods.get(method)
        if route is None:
            return self.method_not_allowed
        return route, params

    def body_limit(self, route: Route) -> int:
        return self.max_body_bytes if route.max_body_bytes is None else route.max_body_bytes
