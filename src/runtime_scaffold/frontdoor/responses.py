"""A function's answer turned into the HTTP response API Gateway or a function URL would send, and the
gateway's own error answers.

Payload format 2.0 (HTTP APIs, function URLs): an object with ``statusCode`` is read field by field; any other
valid JSON (a string, a number, an object without ``statusCode``) is a 200 ``application/json`` response whose
body is the function's answer as it is. Format 1.0 (REST APIs, HTTP APIs set to 1.0) needs the object with
``statusCode``. Anything else is what AWS calls a malformed Lambda proxy response: 502.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime_scaffold.emulator.invocation import InvocationResult
from runtime_scaffold.frontdoor.request import is_text
from runtime_scaffold.frontdoor.routes import ApiKind, Route

# Header names are RFC 9110 tokens; values may not hold CR, LF or NUL (a response header must not be able to
# start another header or end the head).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# Set by the server from the body it sends; a function's own values would contradict it.
_SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
TIMEOUT_TYPES = frozenset({"Sandbox.Timedout"})


@dataclass(frozen=True)
class HttpResponse:
    """A complete response: status, headers in order (repeats allowed, e.g. Set-Cookie), body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    problem: str | None = None  # why the gateway answered instead of the function, for the log

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in reversed(self.headers) if k.lower() == wanted), None)


class MalformedResponse(ValueError):
    """The function's answer is not a proxy response API Gateway accepts; the message says what is wrong."""


def _json_message(status: int, message: str, *, problem: str | None,
                  request_id_header: tuple[str, str] | None) -> HttpResponse:
    headers = [("content-type", "application/json")]
    if request_id_header:
        headers.append(request_id_header)
    return HttpResponse(status, tuple(headers), json.dumps({"message": message}).encode(), problem)


def request_id_header(kind: ApiKind, request_id: str) -> tuple[str, str]:
    """The header API Gateway (``apigw-requestid``) or Lambda (``x-amzn-RequestId``) names the request by."""
    return ("apigw-requestid", request_id) if kind is ApiKind.HTTP_API else ("x-amzn-RequestId", request_id)


def not_found(kind: ApiKind) -> HttpResponse:
    """No route: an HTTP API's 404, or a REST API's 403 (it answers an unknown path so)."""
    if kind is ApiKind.REST_API:
        return _json_message(403, "Missing Authentication Token", problem="no route", request_id_header=None)
    return _json_message(404, "Not Found", problem="no route", request_id_header=None)


def integration_failure(kind: ApiKind, *, problem: str, request_id: str = "") -> HttpResponse:
    """A function error or a malformed answer: 502, with the spelling of each API's message."""
    message = "Internal server error" if kind is ApiKind.REST_API else "Internal Server Error"
    header = request_id_header(kind, request_id) if request_id else None
    return _json_message(502, message, problem=problem, request_id_header=header)


def integration_timeout(kind: ApiKind, *, problem: str, request_id: str = "") -> HttpResponse:
    header = request_id_header(kind, request_id) if request_id else None
    return _json_message(504, "Endpoint request timed out", problem=problem, request_id_header=header)


def from_result(route: Route, result: InvocationResult, *, accept: str | None = None,
                binary_media_types: Sequence[str] = ()) -> HttpResponse:
    """The HTTP response for one finished invocation on ``route``."""
    if result.error_type in TIMEOUT_TYPES:
        return integration_timeout(route.kind, problem=f"the function timed out ({result.error_type})",
                                   request_id=result.request_id)
    if result.error_type is not None:
        return integration_failure(route.kind, problem=f"the function failed: {_error_summary(result)}",
                                   request_id=result.request_id)
    try:
        response = function_response(route, result.payload, accept=accept, binary_media_types=binary_media_types)
    except MalformedResponse as malformed:
        return integration_failure(route.kind, problem=f"malformed Lambda proxy response: {malformed}",
                                   request_id=result.request_id)
    return HttpResponse(response.status, (*response.headers, request_id_header(route.kind, result.request_id)),
                        response.body)


def function_response(route: Route, payload: bytes, *, accept: str | None = None,
                      binary_media_types: Sequence[str] = ()) -> HttpResponse:
    """The response a function's answer stands for; MalformedResponse if the gateway would refuse it."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise MalformedResponse("the answer is not JSON") from None
    version_2 = route.payload_version == "2.0" and route.kind is not ApiKind.REST_API
    if version_2 and not (isinstance(answer, dict) and "statusCode" in answer):
        return HttpResponse(200, (("content-type", "application/json"),), payload)
    if not isinstance(answer, dict):
        raise MalformedResponse(f"the answer is a JSON {type(answer).__name__}, not an object with statusCode")
    return _structured(answer, version_2=version_2, decode_base64=_decodes_base64(route, accept, binary_media_types))


def _decodes_base64(route: Route, accept: str | None, binary_media_types: Sequence[str]) -> bool:
    """HTTP APIs and URLs always honour isBase64Encoded; a REST API only when the caller's first Accept type
    is one of its binaryMediaTypes (else the caller gets the base64 text, as on AWS)."""
    if route.kind is not ApiKind.REST_API:
        return True
    first = (accept or "").split(",", 1)[0].split(";", 1)[0].strip().lower()
    return bool(first) and not is_text(first, binary_media_types=binary_media_types)


def response_head(answer: Mapping[str, Any], *, version_2: bool = True) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The status and headers of a proxy response object (or a stream's prelude), checked as API Gateway checks
    them; MalformedResponse names the first problem."""
    status = answer.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be a whole number from 100 to 599, not {status!r}")
    headers: list[tuple[str, str]] = []
    single = _mapping(answer, "headers")
    multi = {} if version_2 else _mapping(answer, "multiValueHeaders")
    # 1.0: when a name is in both, multiValueHeaders wins (REST API input/output format page).
    multi_names = {str(name).lower() for name in multi}
    for name, value in single.items():
        if version_2 or str(name).lower() not in multi_names:
            headers.append((str(name), _header_value(name, value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers.extend((str(name), _header_value(name, value)) for value in values)
    if version_2:
        cookies = answer.get("cookies", [])
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse("cookies must be a list of strings")
        headers.extend(("set-cookie", _header_value("set-cookie", cookie)) for cookie in cookies)
    for name, _ in headers:
        if not _TOKEN.fullmatch(name):
            raise MalformedResponse(f"{name!r} is not a valid header name")
    return status, tuple((name, value) for name, value in headers if name.lower() not in _SERVER_HEADERS)


def _structured(answer: Mapping[str, Any], *, version_2: bool, decode_base64: bool) -> HttpResponse:
    status, headers = response_head(answer, version_2=version_2)
    if not version_2 and not any(name.lower() == "content-type" for name, _ in headers):
        headers = (("content-type", "application/json"), *headers)  # a REST API's default
    return HttpResponse(status, headers, _response_body(answer, decode_base64=decode_base64))


def _mapping(answer: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = answer.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{key} must be an object")
    return value


def _header_value(name: object, value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise MalformedResponse(f"the header {name!r} has a {type(value).__name__} value")
    if _BAD_VALUE.search(text):
        raise MalformedResponse(f"the header {name!r} holds a CR, LF or NUL")
    return text


def _response_body(answer: Mapping[str, Any], *, decode_base64: bool) -> bytes:
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, not a JSON {type(body).__name__}")
    encoded = answer.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedResponse("isBase64Encoded must be true or false")
    if encoded and decode_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8")


def _error_summary(result: InvocationResult) -> str:
    try:
        error = json.loads(result.payload)
    except ValueError:
        error = None
    if isinstance(error, dict) and error.get("errorMessage"):
        message = " ".join(str(error["errorMessage"]).split())
        return f"{error.get('errorType') or result.error_type}: {message}"
    return str(result.error_type)
