"""A function's answer becomes the HTTP response API Gateway would send (AWS's examples in
tests/fixtures/http_events/responses.json); the gateway's own errors are AWS's; a streamed answer with the
HTTP-integration prelude is decoded piece by piece, however the bytes are split."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from runtime_scaffold.emulator.invocation import InvocationResult
from runtime_scaffold.frontdoor.responses import (
    HttpResponse,
    MalformedResponse,
    from_result,
    function_response,
    not_found,
)
from runtime_scaffold.frontdoor.routes import ApiKind, Route
from runtime_scaffold.frontdoor.streaming import (
    HTTP_INTEGRATION_CONTENT_TYPE,
    BodyChunk,
    ResponseHead,
    StreamedResponseDecoder,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "http_events"
HTTP_API = Route(ApiKind.HTTP_API, "web", "GET", "/")
HTTP_API_1 = Route(ApiKind.HTTP_API, "web", "GET", "/", payload_version="1.0")
REST_API = Route(ApiKind.REST_API, "web", "GET", "/", payload_version="1.0")
URL = Route(ApiKind.FUNCTION_URL, "web", "ANY", "/")


def answer(route: Route, value: Any, **options: Any) -> HttpResponse:
    return function_response(route, json.dumps(value).encode(), **options)


@pytest.mark.parametrize("route", [HTTP_API, URL], ids=["http-api", "url"])
def test_documented_2_0_interpretations(route: Route) -> None:
    cases = json.loads((FIXTURES / "responses.json").read_text())["cases"]
    for case in cases:
        response = function_response(route, case["output"].encode())
        assert response.status == case["status"]
        assert [(k, v) for k, v in response.headers if k != "set-cookie"] == list(case["headers"].items())
        assert [v for k, v in response.headers if k == "set-cookie"] == case.get("set_cookies", [])
        assert response.body == case["body"].encode()


def test_2_0_object_without_status_code_is_the_body_itself() -> None:
    """AWS's well-known surprise: `body` is not unwrapped when `statusCode` is missing."""
    response = answer(HTTP_API, {"body": "<p>hi</p>", "headers": {"content-type": "text/html"}})
    assert response.status == 200 and json.loads(response.body)["body"] == "<p>hi</p>"
    assert answer(HTTP_API, 42).body == b"42" and answer(HTTP_API, None).body == b"null"


def test_1_0_merges_headers_and_multi_value_headers() -> None:
    response = answer(REST_API, {"statusCode": 302, "headers": {"Location": "/x", "Set-Cookie": "lost=1"},
                                 "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": ""})
    assert response.status == 302
    assert response.headers == (("content-type", "application/json"), ("Location", "/x"), ("Set-Cookie", "a=1"),
                                ("Set-Cookie", "b=2"))


def test_2_0_cookies_and_typed_header_values() -> None:
    response = answer(HTTP_API, {"statusCode": 200, "headers": {"X-Count": 3, "X-On": True}, "cookies": ["s=1"],
                                 "body": "ok", "multiValueHeaders": {"ignored": ["in 2.0"]}})
    assert response.headers == (("X-Count", "3"), ("X-On", "true"), ("set-cookie", "s=1"))


def test_server_owned_headers_are_dropped() -> None:
    response = answer(HTTP_API, {"statusCode": 200, "body": "abc",
                                 "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked", "X-A": "1"}})
    assert response.headers == (("X-A", "1"),) and response.body == b"abc"


def test_base64_bodies() -> None:
    png = bytes(range(256))
    encoded = {"statusCode": 200, "body": base64.b64encode(png).decode(), "isBase64Encoded": True,
               "headers": {"content-type": "image/png"}}
    assert answer(HTTP_API, encoded).body == png
    assert answer(HTTP_API_1, encoded).body == png  # an HTTP API honours it in 1.0 too
    # A REST API decodes only for a caller whose first Accept type is one of its binaryMediaTypes.
    assert answer(REST_API, encoded).body == encoded["body"].encode()
    assert answer(REST_API, encoded, accept="image/png, */*", binary_media_types=["image/*"]).body == png
    assert answer(REST_API, encoded, accept="text/html", binary_media_types=["image/*"]).body != png


@pytest.mark.parametrize(("route", "value", "problem"), [
    (HTTP_API, {"statusCode": "200", "body": "x"}, "statusCode must be a whole number"),
    (HTTP_API, {"statusCode": True}, "statusCode must be a whole number"),
    (HTTP_API, {"statusCode": 700}, "statusCode must be a whole number"),
    (HTTP_API, {"statusCode": 200, "body": {"a": 1}}, "body must be a string"),
    (HTTP_API, {"statusCode": 200, "headers": ["x"]}, "headers must be an object"),
    (HTTP_API, {"statusCode": 200, "headers": {"X": {"a": 1}}}, "has a dict value"),
    (HTTP_API, {"statusCode": 200, "headers": {"X": "a\r\nSet-Cookie: evil=1"}}, "CR, LF or NUL"),
    (HTTP_API, {"statusCode": 200, "headers": {"Bad Name": "x"}}, "not a valid header name"),
    (HTTP_API, {"statusCode": 200, "cookies": "a=1"}, "cookies must be a list"),
    (HTTP_API, {"statusCode": 200, "body": "@@", "isBase64Encoded": True}, "not base64"),
    (HTTP_API, {"statusCode": 200, "isBase64Encoded": "yes", "body": ""}, "isBase64Encoded must be"),
    (REST_API, "just a string", "not an object with statusCode"),
    (REST_API, {"statusCode": 200, "multiValueHeaders": {"X": "one"}}, "must be a list"),
    (HTTP_API_1, {"body": "no status"}, "statusCode must be a whole number"),
])
def test_malformed_answers(route: Route, value: Any, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        answer(route, value)


def test_an_answer_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="not JSON"):
        function_response(HTTP_API, b"<html>")


def result(payload: bytes, error_type: str | None = None) -> InvocationResult:
    return InvocationResult(request_id="req-1", payload=payload, error_type=error_type)


def test_gateway_errors_as_aws_answers_them() -> None:
    failed = from_result(HTTP_API, result(b'{"errorMessage":"boom","errorType":"Error"}', "Function.Error"))
    assert (failed.status, json.loads(failed.body)) == (502, {"message": "Internal Server Error"})
    assert failed.problem == "the function failed: Error: boom"
    rest = from_result(REST_API, result(b"{}", "Runtime.ExitError"))
    assert (rest.status, json.loads(rest.body)) == (502, {"message": "Internal server error"})
    timed_out = from_result(URL, result(b'{"errorType":"Sandbox.Timedout"}', "Sandbox.Timedout"))
    assert (timed_out.status, json.loads(timed_out.body)) == (504, {"message": "Endpoint request timed out"})
    malformed = from_result(HTTP_API, result(b"<html>"))
    assert malformed.status == 502 and "malformed Lambda proxy response: the answer is not JSON" in str(
        malformed.problem)
    assert (not_found(ApiKind.HTTP_API).status, json.loads(not_found(ApiKind.HTTP_API).body)) == (
        404, {"message": "Not Found"})
    assert (not_found(ApiKind.REST_API).status, json.loads(not_found(ApiKind.REST_API).body)) == (
        403, {"message": "Missing Authentication Token"})


def test_each_api_names_the_request_in_its_own_header() -> None:
    assert from_result(HTTP_API, result(b'"hi"')).header("apigw-requestid") == "req-1"
    assert from_result(URL, result(b'"hi"')).header("x-amzn-RequestId") == "req-1"
    assert from_result(REST_API, result(b'{"statusCode": 204}')).header("x-amzn-requestid") == "req-1"


# -- streamed responses ----------------------------------------------------------------------------------------

PRELUDE = json.dumps({"statusCode": 201, "headers": {"content-type": "text/html"}, "cookies": ["a=1"]}).encode()
BODY = b"\x00\x00<p>streamed</p>\x00"  # a body may itself begin with NULs


def decode(pieces: list[bytes], content_type: str = HTTP_INTEGRATION_CONTENT_TYPE) -> list[object]:
    decoder = StreamedResponseDecoder(content_type)
    events: list[object] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.finish())
    return events


def head_and_body(events: list[object]) -> tuple[object, bytes]:
    assert isinstance(events[0], ResponseHead)
    assert all(isinstance(e, BodyChunk) for e in events[1:])
    return events[0], b"".join(e.data for e in events[1:] if isinstance(e, BodyChunk))


def test_prelude_decoded_at_every_split_point() -> None:
    stream = PRELUDE + b"\x00" * 8 + BODY
    expected = ResponseHead(201, (("content-type", "text/html"), ("set-cookie", "a=1")))
    for cut in range(len(stream) + 1):
        for second in (cut, min(cut + 3, len(stream))):
            pieces = [stream[:cut], stream[cut:second], stream[second:]]
            assert head_and_body(decode(pieces)) == (expected, BODY), (cut, second)


def test_head_comes_before_the_body_is_complete() -> None:
    decoder = StreamedResponseDecoder(HTTP_INTEGRATION_CONTENT_TYPE)
    assert decoder.feed(PRELUDE[:5]) == []
    assert decoder.feed(PRELUDE[5:] + b"\x00" * 8) == [ResponseHead(201, (("content-type", "text/html"),
                                                                           ("set-cookie", "a=1")))]
    assert decoder.feed(b"first") == [BodyChunk(b"first")]
    assert decoder.feed(b"second") == [BodyChunk(b"second")]
    assert decoder.finish() == []


def test_prelude_without_status_is_200_and_a_plain_stream_is_its_own_body() -> None:
    assert decode([b'{"headers": {"x-a": "1"}}' + b"\x00" * 8 + b"hi"]) == [
        ResponseHead(200, (("x-a", "1"),)), BodyChunk(b"hi")]
    assert decode([b"just ", b"bytes"], content_type="text/plain") == [
        ResponseHead(200, (("content-type", "text/plain"),)), BodyChunk(b"just "), BodyChunk(b"bytes")]
    assert decode([], content_type="text/plain") == [ResponseHead(200, (("content-type", "text/plain"),))]


@pytest.mark.parametrize(("pieces", "problem"), [
    ([PRELUDE], "ended inside its prelude"),
    ([PRELUDE + b"\x00" * 3], "ended inside the 8 NUL bytes"),
    ([PRELUDE + b"\x00" * 3 + b"x"], "followed by 8 NUL bytes"),
    ([b"not json" + b"\x00" * 8], "prelude is not JSON"),
    ([b"[1]" + b"\x00" * 8], "not a JSON object"),
    ([b'{"statusCode": "ok"}' + b"\x00" * 8], "statusCode must be"),
    ([b'{"headers": {"x": "a\\nb"}}' + b"\x00" * 8], "CR, LF or NUL"),
])
def test_broken_streams(pieces: list[bytes], problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        decode(pieces)


def test_a_prelude_that_never_ends_is_bounded() -> None:
    decoder = StreamedResponseDecoder(HTTP_INTEGRATION_CONTENT_TYPE, max_prelude_bytes=1000)
    decoder.feed(b"{" + b" " * 900)
    with pytest.raises(MalformedResponse, match="over 1000 bytes"):
        decoder.feed(b" " * 200)
