"""The front door served: real HTTP requests on `scaffold serve`'s listeners reach a real bootstrap as the events
API Gateway and function URLs send, and its answers come back as their HTTP responses, errors included; the
Invoke API keeps its paths and its guard. The bootstrap here answers with the event it got, or as the query asks."""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.frontdoor.listeners import FrontDoor
from runtime_scaffold.frontdoor.streaming import DELIMITER
from runtime_scaffold.project import load_project

from .conftest import LogCollector, edit_config
from .emulator_fixtures import write_project

DEADLINE_S = 30.0

# Answers each HTTP event with a proxy response whose body is the event; the query can ask for something else:
# ?raw=TEXT answers TEXT as is, ?fail=MESSAGE reports a function error, ?sleep=S sleeps first.
HTTP_BOOTSTRAP = textwrap.dedent('''\
    import http.client, json, os, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    def call(method, path, body=None, headers=None):
        conn.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
        response = conn.getresponse()
        return dict(response.getheaders()), response.read()
    while True:
        headers, body = call("GET", "invocation/next")
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(body)
        query = event.get("queryStringParameters") or {}
        print("handling", rid, flush=True)
        time.sleep(float(query.get("sleep", "0")))
        if "fail" in query:
            call("POST", f"invocation/{rid}/error", json.dumps({"errorMessage": query["fail"],
                 "errorType": "Handler.Failed"}), {"Lambda-Runtime-Function-Error-Type": "Handler.Failed"})
            continue
        answer = query["raw"] if "raw" in query else json.dumps(
            {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)})
        call("POST", f"invocation/{rid}/response", answer.encode("utf-8", "surrogateescape"))
''')


def routed_project(root: Path, *, timeout: int = 6) -> Path:
    write_project(root, bootstrap=HTTP_BOOTSTRAP, functions=("hello", "pets", "items", "site"), timeout=timeout)

    def add_routes(config: dict[str, Any]) -> None:
        functions = config["functions"]
        functions["pets"]["events"] = [{"httpApi": "GET /pets/{id}"}, {"httpApi": {"method": "*", "path": "/pets"}}]
        functions["items"]["events"] = [{"http": "POST items/{name}"},
                                        {"http": {"method": "get", "path": "legacy", "integration": "lambda"}}]
        functions["site"]["url"] = True

    edit_config(root, add_routes)
    return root


class Served:
    """A local Lambda behind the Invoke API with the front door, as `scaffold serve` runs them."""

    def __init__(self, local: LocalLambda, log: list[str]) -> None:
        self.local = local
        self.log = log
        self.front_door = FrontDoor(local, url_port=0, log=log.append)
        self.server = start_invoke_server(local, port=0, route_providers=[self.front_door.provide])
        self.front_door.start()
        self.base = f"http://{self.server.address}"

    def url_base(self, function: str) -> str:
        return f"http://{self.front_door.url_address(function)}"

    def close(self) -> None:
        self.server.close()
        self.front_door.close()


@pytest.fixture
def served(tmp_path: Path, logs: LogCollector) -> Iterator[Callable[..., Served]]:
    opened: list[tuple[LocalLambda, Served]] = []

    def start(*, timeout: int = 6) -> Served:
        root = routed_project(tmp_path / f"p{len(opened)}", timeout=timeout)
        local = LocalLambda(load_project(root), log_sink=logs)
        serving = Served(local, [])
        opened.append((local, serving))
        return serving

    yield start
    for local, serving in opened:
        local.close()
        serving.close()


def event_of(reply: requests.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    event: dict[str, Any] = reply.json()
    return event


def raw_answer(answer: object) -> str:
    """The query that makes the bootstrap answer ``answer`` (JSON, or text) as is."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return "raw=" + quote(text, safe="")


def test_http_api_routes_reach_the_function_as_payload_2_0(served: Callable[..., Served]) -> None:
    serving = served()
    with socket.create_connection((serving.server.address.split(":")[0], int(serving.server.address.split(":")[1])),
                                  timeout=DEADLINE_S) as client:
        client.sendall(b"GET /pets/7?a=1&a=2&b=%20x HTTP/1.1\r\nHost: localhost\r\nX-Tag: one\r\nX-Tag: two\r\n"
                       b"Cookie: s=1; t=2\r\nUser-Agent: probe\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := client.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    event = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
        "2.0", "GET /pets/{id}", "/pets/7", "a=1&a=2&b=%20x")
    assert event["pathParameters"] == {"id": "7"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": " x"}
    assert event["headers"]["x-tag"] == "one,two" and event["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in event["headers"]
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"], http["userAgent"]) == ("GET", "/pets/7", "127.0.0.1",
                                                                                 "probe")
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1" and event["isBase64Encoded"] is False
    # the route with ANY (`*`) takes every method on its path; a form body arrives base64-encoded, as on AWS
    posted = event_of(requests.post(f"{serving.base}/pets", data={"name": "Rex"}, timeout=DEADLINE_S))
    assert (posted["routeKey"], posted["isBase64Encoded"]) == ("ANY /pets", True)


def test_rest_api_routes_are_below_the_stage_as_payload_1_0(served: Callable[..., Served]) -> None:
    serving = served()
    reply = requests.post(f"{serving.base}/dev/items/box?x=1&x=2", json={"n": 1},
                          headers={"X-Mixed-Case": "v"}, timeout=DEADLINE_S)
    event = event_of(reply)
    assert "version" not in event  # REST API events have none
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/items/{name}", "/items/box", "POST")
    assert event["pathParameters"] == {"name": "box"} and event["body"] == '{"n": 1}'
    assert event["multiValueHeaders"]["X-Mixed-Case"] == ["v"]  # a REST API keeps the case sent
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]} and event["queryStringParameters"] == {
        "x": "2"}
    assert (event["requestContext"]["stage"], event["requestContext"]["path"]) == ("dev", "/dev/items/box")
    assert reply.headers["content-type"] == "application/json"
    missing = requests.get(f"{serving.base}/dev/nothing", timeout=DEADLINE_S)
    assert (missing.status_code, missing.json()) == (403, {"message": "Missing Authentication Token"})


def test_a_function_url_has_a_listener_of_its_own(served: Callable[..., Served]) -> None:
    serving = served()
    event = event_of(requests.delete(f"{serving.url_base('site')}/any/path?q=1", timeout=DEADLINE_S))
    assert (event["routeKey"], event["rawPath"], event["requestContext"]["accountId"]) == (
        "$default", "/any/path", "anonymous")
    assert event["requestContext"]["http"]["method"] == "DELETE"
    # and the shared listener does not answer for it
    assert requests.get(f"{serving.base}/any/path", timeout=DEADLINE_S).status_code == 404


def test_the_invoke_api_keeps_its_paths_and_its_guard(served: Callable[..., Served]) -> None:
    serving = served()
    invoke = f"{serving.base}/2015-03-31/functions/hello/invocations"
    assert requests.post(invoke, json={"queryStringParameters": {"raw": '"direct"'}},
                         timeout=DEADLINE_S).json() == "direct"
    page = {"Origin": "http://127.0.0.1"}
    assert requests.post(invoke, data=b"{}", headers=page, timeout=DEADLINE_S).status_code == 403
    # a web page's request to a route is answered: these routes are for browsers...
    assert requests.get(f"{serving.base}/pets/1", headers=page, timeout=DEADLINE_S).status_code == 200
    # ...but not under a foreign host name (DNS rebinding)
    foreign = requests.get(f"{serving.base}/pets/1", headers={"Host": "evil.example"}, timeout=DEADLINE_S)
    assert foreign.status_code == 421
    missing = requests.get(f"{serving.base}/nothing", timeout=DEADLINE_S)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})


def test_answers_become_responses_as_api_gateway_reads_them(served: Callable[..., Served]) -> None:
    serving = served()
    pets = f"{serving.base}/pets"
    answer = {"statusCode": 201, "headers": {"X-Kind": "pet"}, "cookies": ["a=1; Path=/", "b=2"],
              "isBase64Encoded": True, "body": "aGk="}
    reply = requests.get(f"{pets}?{raw_answer(answer)}", timeout=DEADLINE_S)
    assert (reply.status_code, reply.content, reply.headers["X-Kind"]) == (201, b"hi", "pet")
    assert reply.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]  # two headers, not one
    assert "content-type" not in reply.headers  # none given, none invented
    shorthand = requests.get(f"{pets}?{raw_answer({'plain': 'json'})}", timeout=DEADLINE_S)
    assert (shorthand.status_code, shorthand.headers["content-type"], shorthand.json()) == (
        200, "application/json", {"plain": "json"})
    head = requests.head(f"{pets}?{raw_answer(answer)}", timeout=DEADLINE_S)
    assert (head.status_code, head.content) == (201, b"")


@pytest.mark.parametrize(("query", "status", "message", "logged"), [
    (raw_answer("not json"), 502, "Internal Server Error", "malformed Lambda proxy response: the answer is not JSON"),
    (raw_answer({"statusCode": 99}), 502, "Internal Server Error", "statusCode must be"),
    ("fail=broken", 502, "Internal Server Error", "the function failed: Handler.Failed: broken"),
])
def test_errors_answer_as_api_gateway_does(served: Callable[..., Served], query: str, status: int, message: str,
                                           logged: str) -> None:
    serving = served()
    reply = requests.get(f"{serving.base}/pets?{query}", timeout=DEADLINE_S)
    assert (reply.status_code, reply.json()) == (status, {"message": message})
    assert any(logged in line for line in serving.log), serving.log


def test_a_function_timeout_is_504(served: Callable[..., Served]) -> None:
    serving = served(timeout=1)
    reply = requests.get(f"{serving.base}/pets?sleep=5", timeout=DEADLINE_S)
    assert (reply.status_code, reply.json()) == (504, {"message": "Endpoint request timed out"})


def test_api_gateways_cut_off_is_504_and_the_invocation_runs_on(served: Callable[..., Served],
                                                                 logs: LogCollector) -> None:
    serving = served(timeout=30)
    routes = serving.front_door.routes
    cut = replace(routes, http_api=tuple(replace(route, integration_timeout_s=0.2) for route in routes.http_api))
    serving.front_door.routes = cut  # API Gateway's 30 s, shortened
    reply = requests.get(f"{serving.base}/pets?sleep=3", timeout=DEADLINE_S)
    assert (reply.status_code, reply.json()) == (504, {"message": "Endpoint request timed out"})
    assert any("no answer within" in line for line in serving.log)
    # the environment is still busy with the first request: the next one (cut off at 30 s again) waits for it
    serving.front_door.routes = routes
    assert requests.get(f"{serving.base}/pets/2", timeout=DEADLINE_S).status_code == 200
    assert logs.text.count("END RequestId") == 2  # the first invocation ran to its end


def test_a_body_over_lambdas_limit_is_413(served: Callable[..., Served]) -> None:
    serving = served()
    reply = requests.post(f"{serving.base}/pets", data=b"x" * (6 * 1024 * 1024 + 1), timeout=DEADLINE_S)
    assert (reply.status_code, reply.json()) == (413, {"message": "Request Entity Too Large"})
    # under the request limit, but over 6 MB once base64-encoded into the event
    reply = requests.post(f"{serving.base}/pets", data=b"x" * (5 * 1024 * 1024), timeout=DEADLINE_S)
    assert reply.status_code == 413


def test_a_streamed_url_answer_is_decoded(served: Callable[..., Served]) -> None:
    serving = served()
    config = serving.local.project.root / "serverless.yml"
    edit_config(serving.local.project.root, lambda c: c["functions"]["site"].update(
        url={"invokeMode": "RESPONSE_STREAM"}))
    serving.local.recycle(load_project(config.parent))
    serving.front_door.update(serving.local.project)
    prelude = json.dumps({"statusCode": 202, "headers": {"content-type": "text/plain"}, "cookies": ["c=3"]})
    streamed = prelude + DELIMITER.decode() + "streamed body"
    reply = requests.get(f"{serving.url_base('site')}/?{raw_answer(streamed)}", timeout=DEADLINE_S)
    assert (reply.status_code, reply.text, reply.headers["content-type"], reply.headers["set-cookie"]) == (
        202, "streamed body", "text/plain", "c=3")


def test_no_port_left_for_a_function_url_is_one_clear_error(tmp_path: Path, logs: LogCollector) -> None:
    """`scaffold serve --port 65535` leaves no port above it for a URL: an error, not an overflow traceback."""
    from runtime_scaffold.errors import EmulatorError

    with LocalLambda(load_project(routed_project(tmp_path / "p")), log_sink=logs) as local:
        front_door = FrontDoor(local, url_port=65536, log=lambda line: None)
        try:
            with pytest.raises(EmulatorError, match="no port above --port is left for the function URL of site"):
                front_door.start()
        finally:
            front_door.close()
