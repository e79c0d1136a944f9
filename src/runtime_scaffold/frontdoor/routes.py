"""The HTTP routes a project declares, read as the Serverless Framework reads them, and matched as API Gateway
matches them.

Three kinds of front door reach a function (serverless.md; the Framework's `http-api.js`, `api-gateway/`,
`functions.js` compile them):

- ``httpApi`` events: an API Gateway HTTP API. ``'GET /pets/{id}'``, ``{method: get, path: /pets/{id}}``,
  ``'*'`` (the ``$default`` route); methods GET POST PUT PATCH OPTIONS HEAD DELETE, ``ANY`` or ``*``; payload
  format ``functions.X.httpApi.payload``, else ``provider.httpApi.payload``, else ``'2.0'`` (the Framework's
  default). Served at the root, as on the HTTP API's ``$default`` stage.
- ``http`` events: an API Gateway REST API, payload format 1.0 always. ``'GET hello/{id}'`` or
  ``{method, path}``; only the Lambda proxy integration (the Framework's default) is served. Served under
  ``/<stage>/``, as the deployed URL ``https://<id>.execute-api.<region>.amazonaws.com/<stage>/...`` is.
- ``url: true`` (or a mapping): the function's URL, payload format 2.0, one per function; it owns every path of
  its own origin, so locally each gets a port of its own.

Route selection follows API Gateway's rules (developer guide, "Routing API requests"): a full match beats a
greedy ``{proxy+}`` match, which beats ``$default``; within full matches a literal segment beats a ``{param}``,
segment by segment from the left; within greedy matches the longest literal prefix wins; at equal paths a
named method beats ``ANY``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from runtime_scaffold.errors import ProjectError
from runtime_scaffold.project import Project

HTTP_API_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "OPTIONS", "HEAD", "DELETE"})
REST_API_METHODS = HTTP_API_METHODS
PAYLOAD_VERSIONS = ("1.0", "2.0")
DEFAULT_ROUTE = "$default"
# API Gateway's own integration timeouts: the caller gets 504 at this point even if the function runs on.
HTTP_API_TIMEOUT_S = 30.0
REST_API_TIMEOUT_S = 29.0
# The REST integrations the Framework knows; only the proxy one passes the request through unchanged.
_REST_PROXY_INTEGRATIONS = frozenset({"lambda-proxy", "aws_proxy", "aws-proxy"})


class ApiKind(str, enum.Enum):
    """Which AWS front door a route belongs to; the value is the serverless.yml key of its event."""

    HTTP_API = "httpApi"
    REST_API = "http"
    FUNCTION_URL = "url"

    @property
    def label(self) -> str:
        return {"httpApi": "HTTP API", "http": "REST API", "url": "function URL"}[self.value]


@dataclass(frozen=True)
class Segment:
    """One segment of a route's path: literal text, a ``{name}`` or a greedy ``{name+}`` (last only)."""

    text: str
    parameter: str | None = None
    greedy: bool = False


@dataclass(frozen=True)
class Route:
    """One route: which function answers which method and path, with which payload format."""

    kind: ApiKind
    function: str  # the key under `functions:`
    method: str  # upper case, or ANY
    path: str  # '/pets/{id}'; DEFAULT_ROUTE for the catch-all
    payload_version: str = "2.0"
    streaming: bool = False  # a function URL with invokeMode RESPONSE_STREAM
    iam_auth: bool = False  # a function URL with `authorizer: aws_iam` (not checked locally)
    integration_timeout_s: float | None = None  # API Gateway's cut-off; None for function URLs
    segments: tuple[Segment, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.is_default and self.kind is not ApiKind.FUNCTION_URL:
            where = f"function {self.function!r}, {self.kind.value} event"
            object.__setattr__(self, "segments", parse_path(self.path, where=where))

    @property
    def is_default(self) -> bool:
        return self.path == DEFAULT_ROUTE

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].greedy

    @property
    def route_key(self) -> str:
        """The route key API Gateway puts in the event: ``GET /pets/{id}``, ``ANY /{proxy+}`` or ``$default``."""
        return DEFAULT_ROUTE if self.is_default or self.kind is ApiKind.FUNCTION_URL else f"{self.method} {self.path}"

    def describe(self) -> str:
        """One line for `scaffold serve`'s start-up list, without the address."""
        payload = f"payload {self.payload_version}" + (", streamed" if self.streaming else "")
        return f"{self.route_key}  ->  {self.function} ({self.kind.label}, {payload})"

    def match(self, method: str, path: str) -> RouteMatch | None:
        """This route's match of a request, or None; ``path`` is the raw (percent-encoded) path."""
        if self.method != "ANY" and self.method != method.upper():
            return None
        if self.is_default or self.kind is ApiKind.FUNCTION_URL:
            return RouteMatch(self, {})
        parts = _split(path)
        if parts is None:
            return None
        parameters: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.greedy:
                rest = parts[index:]
                if not rest or rest == [""]:
                    return None  # {proxy+} needs at least one segment
                parameters[segment.parameter or "proxy"] = unquote("/".join(rest))
                return RouteMatch(self, parameters)
            if index >= len(parts):
                return None
            if segment.parameter is not None:
                if not parts[index]:
                    return None
                parameters[segment.parameter] = unquote(parts[index])
            elif unquote(parts[index]) != segment.text:
                return None
        if len(parts) != len(self.segments):
            return None
        return RouteMatch(self, parameters)

    def specificity(self) -> tuple[int, int, tuple[int, ...], int]:
        """Sort key, most specific first (see the module docstring)."""
        fixed = self.segments[:-1] if self.greedy else self.segments
        ranks = tuple(0 if segment.parameter is None else 1 for segment in fixed)
        tier = 2 if self.is_default else 1 if self.greedy else 0
        literal_prefix = 0
        for segment in fixed:
            if segment.parameter is not None:
                break
            literal_prefix += 1
        return tier, -literal_prefix if self.greedy else 0, ranks, 1 if self.method == "ANY" else 0


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: Mapping[str, str]


@dataclass(frozen=True)
class Routes:
    """Every HTTP route of a project, and the events that are declared but not served (with why)."""

    http_api: tuple[Route, ...] = ()
    rest_api: tuple[Route, ...] = ()
    urls: Mapping[str, Route] = field(default_factory=dict)  # function key -> its URL route
    stage: str = "dev"
    binary_media_types: tuple[str, ...] = ()  # provider.apiGateway.binaryMediaTypes (REST API only)
    skipped: tuple[str, ...] = ()  # one line each: an event the front door does not serve, and why

    def __bool__(self) -> bool:
        return bool(self.http_api or self.rest_api or self.urls)

    @property
    def rest_prefix(self) -> str:
        return f"/{self.stage}"

    def for_function(self, function: str) -> list[Route]:
        found = [r for r in (*self.http_api, *self.rest_api) if r.function == function]
        if function in self.urls:
            found.append(self.urls[function])
        return found

    def match(self, method: str, path: str) -> tuple[ApiKind, RouteMatch | None]:
        """The route of the shared listener (HTTP API and REST API) for a request, or None with the kind of API
        that would have answered, so the caller can give that API's "not found"."""
        prefix = self.rest_prefix
        if self.rest_api and (path == prefix or path.startswith(prefix + "/")):
            return ApiKind.REST_API, best_match(self.rest_api, method, path[len(prefix):] or "/")
        return ApiKind.HTTP_API, best_match(self.http_api, method, path)


def best_match(routes: Iterable[Route], method: str, path: str) -> RouteMatch | None:
    """The most specific of ``routes`` matching the request, as API Gateway chooses."""
    matches = [m for m in (route.match(method, path) for route in routes) if m is not None]
    return min(matches, key=lambda m: m.route.specificity(), default=None)


def _split(path: str) -> list[str] | None:
    if not path.startswith("/"):
        return None
    return [] if path == "/" else path[1:].split("/")


def parse_path(path: str, *, where: str) -> tuple[Segment, ...]:
    """The segments of a route path such as ``/pets/{id}/{proxy+}`` (greedy only last), or a ProjectError."""
    parts = _split(path)
    if parts is None:
        raise ProjectError(f"{where}: the path {path!r} must start with /")
    segments = []
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            if not name or "{" in name or "}" in name:
                raise ProjectError(f"{where}: {part!r} in the path {path!r} is not a valid path variable")
            if greedy and index != len(parts) - 1:
                raise ProjectError(f"{where}: the greedy variable {part!r} must end the path {path!r}")
            segments.append(Segment(part, parameter=name, greedy=greedy))
        elif "{" in part or "}" in part:
            raise ProjectError(f"{where}: {part!r} in the path {path!r} mixes text and a variable")
        else:
            segments.append(Segment(part))
    return tuple(segments)


def _payload_version(value: Any, *, where: str) -> str:
    text = str(value)
    if text not in PAYLOAD_VERSIONS:
        raise ProjectError(f"{where}: payload must be '1.0' or '2.0', not {value!r}")
    return text


def _http_api_route(function: str, event: Any, payload: str) -> Route:
    where = f"function {function!r}, httpApi event"
    method: Any
    if isinstance(event, dict):
        method, path = event.get("method"), event.get("path")
    else:
        text = str(event).strip()
        if text == "*":
            method, path = None, "*"
        else:
            method, _, path = text.partition(" ")
            if not path:
                raise ProjectError(f"{where}: {text!r} is neither '*' nor 'METHOD /path'")
    path = str(path) if path is not None else None
    if path == "*":
        if method is not None and str(method) != "*":
            raise ProjectError(f"{where}: the path '*' (the $default route) takes no method but '*'")
        return Route(ApiKind.HTTP_API, function, "ANY", DEFAULT_ROUTE, payload,
                     integration_timeout_s=HTTP_API_TIMEOUT_S)
    if not path:
        raise ProjectError(f"{where}: no path")
    if method is None:
        raise ProjectError(f"{where}: no method for the path {path!r}")
    verb = str(method).upper()
    verb = "ANY" if verb == "*" else verb
    if verb != "ANY" and verb not in HTTP_API_METHODS:
        raise ProjectError(f"{where}: unknown method {method!r} (one of {', '.join(sorted(HTTP_API_METHODS))}, "
                           "ANY or '*')")
    return Route(ApiKind.HTTP_API, function, verb, path, payload, integration_timeout_s=HTTP_API_TIMEOUT_S)


def _rest_api_route(function: str, event: Any) -> Route | str:
    """The route of an `http` event, or the reason it is not served."""
    where = f"function {function!r}, http event"
    if isinstance(event, dict):
        method, path = event.get("method"), event.get("path")
        integration = str(event.get("integration") or "lambda-proxy").lower()
    else:
        method, space, path = str(event).strip().partition(" ")
        path = path if space else None
        integration = "lambda-proxy"
    if not method or path is None:
        raise ProjectError(f"{where}: needs a method and a path, e.g. 'GET hello/{{id}}'")
    verb = str(method).upper()
    verb = "ANY" if verb == "*" else verb
    if verb != "ANY" and verb not in REST_API_METHODS:
        raise ProjectError(f"{where}: unknown method {method!r}")
    route_path = "/" + str(path).strip("/")  # the Framework trims both ends
    if integration not in _REST_PROXY_INTEGRATIONS:
        return (f"{function}: http event {verb} {route_path} uses the {integration!r} integration; only the Lambda "
                "proxy integration is served locally")
    return Route(ApiKind.REST_API, function, verb, route_path, "1.0", integration_timeout_s=REST_API_TIMEOUT_S)


def _url_route(function: str, spec: Any) -> Route | None:
    if spec is None or spec is False:
        return None
    options = spec if isinstance(spec, dict) else {}
    mode = str(options.get("invokeMode") or "BUFFERED").upper()
    return Route(ApiKind.FUNCTION_URL, function, "ANY", "/", "2.0", streaming=mode == "RESPONSE_STREAM",
                 iam_auth=str(options.get("authorizer") or "").lower() == "aws_iam")


def _section(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def read_routes(project: Project) -> Routes:
    """Every HTTP route of ``project`` (from its resolved configuration); a route the Framework would refuse
    raises ProjectError, one the front door cannot serve is listed in ``skipped``."""
    provider = _section(project.config, "provider")
    provider_http_api = _section(provider, "httpApi")
    api_gateway = _section(provider, "apiGateway")
    http_api: list[Route] = []
    rest_api: list[Route] = []
    urls: dict[str, Route] = {}
    skipped: list[str] = []
    for key, spec in _section(project.config, "functions").items():
        if not isinstance(spec, dict):
            continue
        own_http_api = _section(spec, "httpApi")
        payload = _payload_version(own_http_api.get("payload") or provider_http_api.get("payload") or "2.0",
                                   where=f"function {key!r}, httpApi")
        for event in spec.get("events") or ():
            if not isinstance(event, dict):
                continue
            if "httpApi" in event:
                http_api.append(_http_api_route(key, event["httpApi"], payload))
            elif "http" in event:
                route = _rest_api_route(key, event["http"])
                if isinstance(route, str):
                    skipped.append(route)
                else:
                    rest_api.append(route)
        url = _url_route(key, spec.get("url"))
        if url is not None:
            urls[key] = url
    for routes, title in ((http_api, "HTTP API"), (rest_api, "REST API")):
        seen: dict[str, str] = {}
        for route in routes:
            if route.route_key in seen:
                raise ProjectError(f"{project.config_path}: the {title} route {route.route_key!r} is declared twice "
                                   f"(functions {seen[route.route_key]!r} and {route.function!r})")
            seen[route.route_key] = route.function
    binary = api_gateway.get("binaryMediaTypes") or ()
    return Routes(
        http_api=tuple(http_api),
        rest_api=tuple(rest_api),
        urls=urls,
        stage=project.stage,
        binary_media_types=tuple(str(t) for t in binary) if isinstance(binary, list) else (),
        skipped=tuple(skipped),
    )
