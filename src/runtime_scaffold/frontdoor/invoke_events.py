"""The HTTP event `scaffold invoke --event-type api|http|url` sends: the very event the front door would build for
that request, so a web handler can be tried once from the shell.

The request is matched against the function's own routes of that kind, as the front door would match it; a
function with no route of that kind gets the catch-all its API would have (``$default``, ``ANY /{proxy+}``, its
URL), so any function can be given an HTTP event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from runtime_scaffold.errors import InvalidInput
from runtime_scaffold.frontdoor.events import EventContext, build_event, request_path_in_stage
from runtime_scaffold.frontdoor.request import HttpRequest
from runtime_scaffold.frontdoor.routes import DEFAULT_ROUTE, ApiKind, Route, best_match, read_routes
from runtime_scaffold.project import Project

EVENT_TYPES = {"api": ApiKind.HTTP_API, "http": ApiKind.REST_API, "url": ApiKind.FUNCTION_URL}
USER_AGENT = "scaffold-invoke"


def parse_header(text: str) -> tuple[str, str]:
    """``'Content-Type: text/plain'`` as a (name, value) pair, as curl's -H takes it."""
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or name != name.strip():
        raise InvalidInput(f"--header {text!r} is not 'Name: value'")
    return name, value.strip()


def default_content_type(body: str) -> str:
    """A body given without Content-Type: JSON if it parses as JSON, else a form, as curl -d sends it."""
    try:
        json.loads(body)
    except ValueError:
        return "application/x-www-form-urlencoded"
    return "application/json"


def _fallback(kind: ApiKind, function: str, payload_version: str) -> Route:
    if kind is ApiKind.REST_API:
        return Route(kind, function, "ANY", "/{proxy+}", "1.0")
    if kind is ApiKind.FUNCTION_URL:
        return Route(kind, function, "ANY", "/")
    return Route(kind, function, "ANY", DEFAULT_ROUTE, payload_version)


def build_invoke_event(project: Project, function: str, *, event_type: str, method: str = "GET", path: str = "/",
                       body: str | None = None, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The event, as JSON bytes, for ``method path`` (query string allowed) with ``body`` on ``function``'s route
    of ``event_type``; InvalidInput when the function's routes of that kind do not take the request."""
    if event_type not in EVENT_TYPES:
        raise InvalidInput(f"unknown event type {event_type!r}: one of {', '.join(EVENT_TYPES)}")
    kind = EVENT_TYPES[event_type]
    if not path.startswith("/"):
        raise InvalidInput(f"the HTTP path {path!r} must start with /")
    routes = read_routes(project)
    key = project.function(function).key
    own = [route for route in routes.for_function(key) if route.kind is kind]
    request_path, query = path.partition("?")[::2]
    target = path
    if kind is ApiKind.REST_API:  # a REST API is reached below its stage: /hello and /dev/hello are the same
        request_path = request_path_in_stage(request_path, routes.stage)
        target = routes.rest_prefix + request_path + (f"?{query}" if query else "")
    if own:
        match = best_match(own, method, request_path)
        if match is None:
            listed = ", ".join(route.route_key for route in own)
            raise InvalidInput(f"{method.upper()} {request_path} matches none of {key}'s {kind.label} routes "
                               f"({listed})")
    else:
        payload = next((r.payload_version for r in routes.http_api), "2.0")
        fallback = _fallback(kind, key, payload)
        match = fallback.match(method, request_path)
        if match is None:
            raise InvalidInput(f"{request_path} is not a path {kind.label} could pass to {key}")
    sent = list(headers)
    if body and not any(name.lower() == "content-type" for name, _ in sent):
        sent.append(("Content-Type", default_content_type(body)))
    request = HttpRequest(method=method.upper(), target=target,
                          headers=[("Host", "localhost"), ("User-Agent", USER_AGENT), *sent],
                          body=(body or "").encode())
    context = EventContext.for_routes(routes, service=project.service)
    return json.dumps(build_event(match, request, context)).encode()
