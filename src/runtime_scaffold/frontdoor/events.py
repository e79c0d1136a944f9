"""A request turned into the event API Gateway or a function URL would send: payload format 2.0 (HTTP APIs,
function URLs) and 1.0 (REST APIs, HTTP APIs set to 1.0), field for field as AWS documents them
(tests/fixtures/http_events/ holds AWS's examples with their source).

What is deliberately not there: authorizer and client-certificate blocks (nothing is authenticated locally),
stage variables (the Framework sets none by default) and CloudFront's headers.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from runtime_scaffold.emulator.invocation import DEFAULT_ACCOUNT_ID
from runtime_scaffold.frontdoor.request import HttpRequest, is_text, query_pairs
from runtime_scaffold.frontdoor.routes import ApiKind, RouteMatch, Routes

# The headers API Gateway adds on the way in; the trace header carries the invocation's own trace id.
_FORWARDED = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IDENTITY_FIELDS = ("accessKey", "accountId", "apiKey", "caller", "cognitoAuthenticationProvider",
                    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId",
                    "user", "userArn")


@dataclass(frozen=True)
class EventContext:
    """What the event says about where it came from, beyond the request itself."""

    service: str = "service"
    stage: str = "dev"
    account_id: str = DEFAULT_ACCOUNT_ID
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = ""  # the invocation's X-Ray header, echoed as X-Amzn-Trace-Id
    binary_media_types: tuple[str, ...] = ()

    @classmethod
    def for_routes(cls, routes: Routes, *, service: str, **values: Any) -> EventContext:
        return cls(service=service, stage=routes.stage, binary_media_types=routes.binary_media_types, **values)

    def api_id(self, kind: ApiKind, function: str) -> str:
        """A stable id shaped like AWS's (10 lower-case letters and digits): one per API, one per function URL."""
        seed = f"{self.service}:{self.stage}:{kind.value}:{function if kind is ApiKind.FUNCTION_URL else ''}"
        digest = hashlib.sha256(seed.encode()).digest()
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(alphabet[byte % len(alphabet)] for byte in digest[:10])


def build_event(match: RouteMatch, request: HttpRequest, context: EventContext) -> dict[str, Any]:
    """The event for ``request`` arriving on ``match``'s route."""
    route = match.route
    if route.kind is ApiKind.REST_API:
        return _v1_event(match, request, context, rest=True)
    if route.payload_version == "1.0":
        return _v1_event(match, request, context, rest=False)
    return _v2_event(match, request, context)


def request_time(epoch_ms: int) -> str:
    """``12/Mar/2020:19:03:58 +0000``, the CLF time API Gateway writes."""
    moment = time.gmtime(epoch_ms / 1000)
    return f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{time.strftime('%Y:%H:%M:%S', moment)} +0000"


def _body(request: HttpRequest, *, binary_media_types: tuple[str, ...] | None) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if is_text(request.content_type, binary_media_types=binary_media_types):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # not text after all: base64 keeps every byte (AWS would mangle it)
    return base64.b64encode(request.body).decode("ascii"), True


def _added_headers(request: HttpRequest, context: EventContext) -> list[tuple[str, str]]:
    forwarded_for = request.header("x-forwarded-for")
    values = {
        "x-forwarded-for": f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip,
        "x-forwarded-port": request.port,
        "x-forwarded-proto": "http",
        "x-amzn-trace-id": context.trace_id.split(";", 1)[0] if context.trace_id else "",
    }
    return [(name, value) for name, value in values.items() if value]


def _incoming(request: HttpRequest, context: EventContext) -> list[tuple[str, str]]:
    own = [(name, value) for name, value in request.headers if name.lower() not in _FORWARDED]
    return own + _added_headers(request, context)


def _domain_prefix(domain: str) -> str:
    return domain.split(".", 1)[0]


def _v2_event(match: RouteMatch, request: HttpRequest, context: EventContext) -> dict[str, Any]:
    route = match.route
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _incoming(request, context):
        key = name.lower()
        if key == "cookie":  # 2.0 moves cookies out of the headers into their own list
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in query_pairs(request.query):
        query[name] = f"{query[name]},{value}" if name in query else value
    body, encoded = _body(request, binary_media_types=None)
    url = route.kind is ApiKind.FUNCTION_URL
    request_context: dict[str, Any] = {
        "accountId": "anonymous" if url and not route.iam_auth else context.account_id,
        "apiId": context.api_id(route.kind, route.function),
        "domainName": request.domain_name,
        "domainPrefix": _domain_prefix(request.domain_name),
        "http": {
            "method": request.method.upper(),
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": context.request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": request_time(request.received_ms),
        "timeEpoch": request.received_ms,
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context
    if body is not None:
        event["body"] = body
    if match.path_parameters and not url:
        event["pathParameters"] = dict(match.path_parameters)
    event["isBase64Encoded"] = encoded
    return event


def _single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """1.0's two views of repeated names: the last value, and every value in order."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return (single, multi) if pairs else (None, None)


def _v1_event(match: RouteMatch, request: HttpRequest, context: EventContext, *, rest: bool) -> dict[str, Any]:
    route = match.route
    incoming = _incoming(request, context)
    # A REST API passes header names in the case they were sent (and treats them case-sensitively); an HTTP API
    # lower-cases them in both payload formats.
    if rest:
        incoming = [(_rest_case(name), value) if name in _FORWARDED else (name, value) for name, value in incoming]
    else:
        incoming = [(name.lower(), value) for name, value in incoming]
    headers, multi_headers = _single_and_multi(incoming)
    query, multi_query = _single_and_multi(query_pairs(request.query))
    body, encoded = _body(request, binary_media_types=context.binary_media_types if rest else None)
    resource = "$default" if route.is_default else route.path
    epoch = request.received_ms
    identity: dict[str, Any] = dict.fromkeys(_IDENTITY_FIELDS)
    identity["sourceIp"] = request.source_ip
    identity["userAgent"] = request.header("user-agent") or ""
    request_context: dict[str, Any] = {
        "accountId": context.account_id,
        "apiId": context.api_id(route.kind, route.function),
        **({} if rest else {"authorizer": {"claims": None, "scopes": None}}),
        "domainName": request.domain_name,
        "domainPrefix": _domain_prefix(request.domain_name),
        "extendedRequestId": context.request_id,
        "httpMethod": request.method.upper(),
        "identity": identity,
        "path": request.path,  # a REST API's includes the stage: /dev/hello
        "protocol": request.protocol,
        "requestId": context.request_id,
        "requestTime": request_time(epoch),
        "requestTimeEpoch": epoch,
        "resourceId": _resource_id(route.method, route.path) if rest else None,
        "resourcePath": resource,
        "stage": context.stage if rest else "$default",
    }
    event: dict[str, Any] = {} if rest else {"version": "1.0"}
    event.update({
        "resource": resource,
        "path": request_path_in_stage(request.path, context.stage) if rest else request.path,
        "httpMethod": request.method.upper(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": request_context,
        "pathParameters": dict(match.path_parameters) or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": encoded,
    })
    return event


def request_path_in_stage(path: str, stage: str) -> str:
    """A REST API request's path below its stage: ``/dev/hello`` gives ``/hello``."""
    prefix = f"/{stage}"
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix):] or "/"
    return path


def _rest_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _resource_id(method: str, path: str) -> str:
    return hashlib.sha256(f"{method} {path}".encode()).hexdigest()[:6]

