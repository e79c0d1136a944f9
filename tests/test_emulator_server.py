"""The server's seams, as the next features will use them: route tables, streamed request bodies, chunked
replies written as they are produced, the per-connection accept hook, pipelining, and header safety."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, Reply, Request, Routes, Sandbox, StreamReply
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.messages import UnsafeHeader, reply_head
from runtime_scaffold.emulator.server import Listener, error_reply
from runtime_scaffold.project import load_project

from .emulator_fixtures import write_project


def _not_found(request: Request) -> Reply:
    return error_reply(404, "NotFound", request.path)


def _not_allowed(request: Request) -> Reply:
    return error_reply(405, "MethodNotAllowed", request.method)


async def _echo_stream(request: Request) -> Reply:
    """A streaming route: the body arrives chunk by chunk, then its trailers."""
    assert request.stream is not None
    sizes = [len(chunk) async for chunk in request.stream]
    return Reply(200, json.dumps({"bytes": sum(sizes), "trailers": request.stream.trailers}).encode())


def _countdown(request: Request) -> StreamReply:
    async def chunks() -> AsyncIterator[bytes]:
        for number in range(3, 0, -1):
            yield f"{number}\n".encode()
            await asyncio.sleep(0)

    return StreamReply(200, chunks(), {"X-Kind": "countdown"}, "text/plain", trailers=lambda: {"X-Done": "yes"})


@pytest.fixture
def server() -> Iterator[tuple[LambdaLoop, str]]:
    loop = LambdaLoop(name="test-server")
    routes = Routes(max_body_bytes=1024, not_found=_not_found, method_not_allowed=_not_allowed)
    routes.add("POST", "/stream", _echo_stream, streaming=True)
    routes.add("GET", "/countdown", _countdown)
    routes.add("GET", "/items/{item}", lambda request: Reply(200, request.params["item"].encode()))
    routes.add("GET", "/forged", lambda request: Reply(200, b"", {"X-Value": "a\r\nX-Forged: 1"}))
    routes.add("POST", "/small", lambda request: Reply(200, b"%d %s" % (len(request.body), b"%r" % request.too_large)))
    listener = Listener(routes, accept=lambda transport: None)
    loop.run(listener.start())
    yield loop, f"http://{listener.address}"
    loop.run(listener.close())
    loop.stop()


def test_templates_and_tables(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    assert requests.get(f"{base}/items/abc", timeout=10).text == "abc"
    assert requests.get(f"{base}/nowhere", timeout=10).status_code == 404
    assert requests.delete(f"{base}/countdown", timeout=10).status_code == 405


def test_a_streamed_request_body_arrives_with_its_trailers(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"a" * 5000, b"b" * 3000))
        sock.sendall(b"POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
                     + b"0\r\nX-Checksum: 42\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200")
    # past the whole-body limit of 1024 bytes: a streaming route sees everything, as it arrives
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"bytes": 8000, "trailers": {"X-Checksum": "42"}}


def test_a_chunked_reply_is_written_as_it_is_produced(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    reply = requests.get(f"{base}/countdown", timeout=10, stream=True)
    assert reply.headers["Transfer-Encoding"] == "chunked" and reply.headers["X-Kind"] == "countdown"
    assert list(reply.iter_lines()) == [b"3", b"2", b"1"]


def test_pipelined_requests_are_answered_in_order(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"".join(b"GET /items/%d HTTP/1.1\r\nHost: x\r\n\r\n" % number for number in range(5)))
        data = b""
        while data.count(b"HTTP/1.1 200") < 5:
            data += sock.recv(65536)
    assert [part.rsplit(b"\r\n\r\n", 1)[-1][:1] for part in data.split(b"HTTP/1.1 200 OK")[1:]] == \
        [b"0", b"1", b"2", b"3", b"4"]


def test_the_body_limit_and_100_continue(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    assert requests.post(f"{base}/small", data=b"x" * 1024, timeout=10).text == "1024 False"
    assert requests.post(f"{base}/small", data=b"x" * 1025, timeout=10).text == "0 True"
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        assert sock.recv(4096).endswith(b"3 False")


def test_a_header_value_with_cr_lf_is_never_written(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    reply = requests.get(f"{base}/forged", timeout=10)
    assert reply.status_code == 500 and "X-Forged" not in reply.headers
    with pytest.raises(UnsafeHeader):
        reply_head(Reply(200, b"", {"X-Trace": "ok\0no"}), close=False)


def test_the_accept_hook_refuses_a_connection_before_any_request(tmp_path: Path) -> None:
    refused = Reply(403, b'{"errorType": "AccessDenied"}')
    local = LocalLambda(load_project(write_project(tmp_path / "p")), accept=lambda transport: refused,
                        log_sink=lambda data: None)
    with local:
        result = local.invoke(None, b'{"echo": 1}')
    # every Runtime API connection is refused: the bootstrap never gets its event, and exits on the 403
    assert result.error_type == "Runtime.ExitError"


def test_more_routes_on_the_invoke_api_listener(tmp_path: Path) -> None:
    from runtime_scaffold.emulator import InvokeApi, start_invoke_server

    def front_door(routes: Routes, api: InvokeApi) -> None:
        routes.add("GET", "/hello/{name}", lambda request: Reply(200, request.params["name"].encode(), {},
                                                                 "text/plain"))

    with LocalLambda(load_project(write_project(tmp_path / "p")), log_sink=lambda data: None) as local:
        server = start_invoke_server(local, port=0, route_providers=[front_door])
        try:
            base = f"http://{server.address}"
            assert requests.get(f"{base}/hello/ada", timeout=10).text == "ada"
            invoked = requests.post(f"{base}/2015-03-31/functions/hello/invocations", data=b'{"echo": 5}',
                                    timeout=30)
            assert invoked.json() == 5
        finally:
            server.close()


def test_more_routes_on_the_runtime_api_port(tmp_path: Path) -> None:
    seen: list[str] = []

    def extension_routes(routes: Routes, sandbox: Sandbox) -> None:
        def register(request: Request) -> Reply:
            seen.append(sandbox.sandbox_id)
            return Reply(200, b'{"registered": true}')

        routes.add("POST", "/2020-01-01/extension/register", register)

    bootstrap = ('import urllib.request, os\n'
                 'api = os.environ["AWS_LAMBDA_RUNTIME_API"]\n'
                 'print(urllib.request.urlopen(urllib.request.Request(f"http://{api}/2020-01-01/extension/register",'
                 ' data=b"{}")).read().decode(), flush=True)\n')
    from .emulator_fixtures import PYTHON_BOOTSTRAP
    project = write_project(tmp_path / "p", bootstrap=bootstrap + PYTHON_BOOTSTRAP)
    logs: list[bytes] = []
    with LocalLambda(load_project(project), runtime_routes=[extension_routes], log_sink=logs.append) as local:
        assert local.invoke(None, b'{"echo": 2}').payload == b"2"
    assert seen == ["hello-1"]
    assert b'{"registered": true}' in b"".join(logs)
