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

A table may also have a fallback (:meth:`Routes.fallback`): the route of every path no other route matches, such
as the browser front door behind the Invoke API's paths. A route declared ``screened=False`` skips the
listener's request screen (the Invoke API's Origin and Host checks), for routes meant for browsers; such a route
applies its own checks.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from runtime_scaffold.emulator.messages import Reply, Request, StreamReply

Response = Reply | StreamReply
Handler = Callable[[Request], "Response | Awaitable[Response]"]
# Whether a request's body is streamed, from its head's headers (lower-case names, as the parser gives them).
StreamTest = Callable[[Mapping[bytes, bytes]], bool]
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    streaming: bool | StreamTest = False
    max_body_bytes: int | None = None  # None: the table's default
    screened: bool = True  # False: the listener's request screen is not applied


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
        self._fallback: Route | None = None
        # Set by a feature that reads each request's headers as sent (order, case, repeats: request.header_pairs)
        # and the client's address (request.client), such as the browser front door; others pay nothing for it.
        self.keep_header_pairs = False

    def add(self, method: str, template: str, handler: Handler, *, streaming: bool | StreamTest = False,
            max_body_bytes: int | None = None, screened: bool = True) -> None:
        route = Route(method, template, handler, streaming, max_body_bytes, screened)
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

    def fallback(self, handler: Handler, *, streaming: bool = False, max_body_bytes: int | None = None,
                 screened: bool = True) -> None:
        """Answer every method on every path no route matches with ``handler`` (instead of the 404)."""
        self._fallback = Route("*", "*", handler, streaming, max_body_bytes, screened)

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
                    if self._fallback is not None:
                        return self._fallback, {}
                    return self.not_found
        route = methods.get(method)
        if route is None:
            return self.method_not_allowed
        return route, params

    def body_limit(self, route: Route) -> int:
        return self.max_body_bytes if route.max_body_bytes is None else route.max_body_bytes
