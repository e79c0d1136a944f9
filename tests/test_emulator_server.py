"""The server's seams, as the next features will use them: route tables, streamed request bodies, chunked
replies written as they are produced, the per-connection accept hook, pipelining, and header safety."""

from __future__ import annotations

import asyncio
import json
import socket
import time
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


async def _either(request: Request) -> Reply:
    if request.stream is None:
        return Reply(200, b"whole %d %r" % (len(request.body), request.too_large))
    return Reply(200, b"streamed %d" % len(await request.stream.read()))


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
    routes.add("POST", "/either", _either, streaming=lambda headers: headers.get(b"x-mode") == b"stream",
               max_body_bytes=1024)
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


def test_a_route_streams_the_body_only_when_its_head_asks(server: tuple[LambdaLoop, str]) -> None:
    _, base = server
    assert requests.post(f"{base}/either", data=b"x" * 5000, headers={"X-Mode": "stream"}, timeout=10).text == \
        "streamed 5000"
    # without the header, the same path takes the body whole, within its limit
    assert requests.post(f"{base}/either", data=b"x" * 5000, timeout=10).text == "whole 0 True"
    assert requests.post(f"{base}/either", data=b"x" * 10, timeout=10).text == "whole 10 False"


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
    with pytest.raises(UnsafeHeader):
        reply_head(Reply(200, b"", more_headers=[("Set-Cookie", "a=1\r\nX-Forged: 1")]), close=False)


def test_a_reply_may_repeat_a_header_and_go_without_a_content_type() -> None:
    """What a function's proxied answer needs: two Set-Cookie headers, and no Content-Type it did not set."""
    head = reply_head(Reply(200, b"hi", {"X-One": "1"}, None, [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]),
                      close=False)
    assert head == (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-One: 1\r\nSet-Cookie: a=1\r\n"
                    b"set-cookie: b=2\r\n\r\n")


def test_the_accept_hook_refuses_a_connection_before_any_request(tmp_path: Path) -> None:
    refused = Reply(403, b'{"errorType": "AccessDenied"}')
    local = LocalLambda(load_project(write_project(tmp_path / "p")), accept=lambda transport: refused,
                        log_sink=lambda data: None)
    with local:
        result = local.invoke(None, b'{"echo": 1}')
    # every Runtime API connection is refused: the bootstrap never gets its event, and exits on the 403
    assert result.error_type == "Runtime.ExitError"


def test_a_refused_connection_is_answered_after_its_whole_body_even_on_a_streaming_route() -> None:
    # A streaming route is dispatched when its head arrives; a refused connection must not be: a refusal written
    # then, and the connection closed with the body still coming, resets the client, which may never see it.
    loop = LambdaLoop(name="test-refused-stream")
    streamed: list[Request] = []

    async def handler(request: Request) -> Reply:
        streamed.append(request)
        return Reply(200, b"{}")

    routes = Routes(max_body_bytes=1024, not_found=_not_found, method_not_allowed=_not_allowed)
    routes.add("POST", "/stream", handler, streaming=True)
    listener = Listener(routes, accept=lambda transport: error_reply(403, "AccessDeniedException", "outsider"))
    loop.run(listener.start())
    try:
        body = b"x" * (32 * 1024 * 1024)  # far more than the socket buffers hold: sent while the server reads
        with socket.create_connection((listener.host, listener.port), timeout=30) as sock:
            sock.sendall(b"POST /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body))
            sock.sendall(body)  # reset here before the fix
            reply = sock.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 403 ") and b"AccessDeniedException" in reply
        assert streamed == []
    finally:
        loop.run(listener.close())
        loop.stop()


@pytest.mark.parametrize("refuse", [True, False], ids=["refused", "admitted"])
def test_an_accept_verdict_that_comes_later_meets_every_request(refuse: bool) -> None:
    # The peer check searches off the loop when the bootstrap does not hold the connection: a request that
    # arrived before its verdict must be answered by that verdict (uvloop reads before any pause can act), and
    # a client that half-closes after its request still gets the answer.
    loop = LambdaLoop(name="test-late-verdict")
    verdicts: list[asyncio.Future[Reply | None]] = []

    def accept(transport: asyncio.BaseTransport) -> asyncio.Future[Reply | None]:
        verdicts.append(asyncio.get_running_loop().create_future())
        return verdicts[-1]

    routes = Routes(max_body_bytes=1024, not_found=_not_found, method_not_allowed=_not_allowed)
    routes.add("POST", "/small", lambda request: Reply(200, b"%d" % len(request.body)))
    listener = Listener(routes, accept=accept)
    loop.run(listener.start())
    try:
        with socket.create_connection((listener.host, listener.port), timeout=10) as sock:
            sock.sendall(b"POST /small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc")
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not loop.call(
                    lambda: any(connection._held or connection._held_eof for connection in listener.connections)):
                time.sleep(0.005)
            refusal = error_reply(403, "AccessDeniedException", "outsider") if refuse else None
            loop.call(lambda: verdicts[0].set_result(refusal))
            reply = sock.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 403 ") if refuse else reply.startswith(b"HTTP/1.1 200 ")
        assert reply.endswith(b"outsider\"}") if refuse else reply.endswith(b"\r\n\r\n3")
        with socket.create_connection((listener.host, listener.port), timeout=10):
            deadline = time.monotonic() + 10
            while len(verdicts) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
    finally:
        loop.run(listener.close())
        loop.stop()
    assert verdicts[1].cancelled()  # a verdict still pending when its connection goes is given up


def test_an_accept_hook_that_raises_refuses_the_connection_with_a_500() -> None:
    loop = LambdaLoop(name="test-failing-accept")

    def accept(transport: asyncio.BaseTransport) -> Reply | None:
        raise OSError("no /proc here after all")

    routes = Routes(max_body_bytes=1024, not_found=_not_found, method_not_allowed=_not_allowed)
    routes.add("GET", "/open", lambda request: Reply(200, b"in"))
    listener = Listener(routes, accept=accept)
    loop.run(listener.start())
    try:
        reply = requests.get(f"http://{listener.address}/open", timeout=10)
        assert (reply.status_code, reply.json()["errorType"]) == (500, "Emulator.InternalError")
    finally:
        loop.run(listener.close())
        loop.stop()


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


def test_a_fallback_takes_every_path_no_route_matches_and_may_skip_the_screen(tmp_path: Path) -> None:
    """The browser front door's seam: the Invoke API keeps its paths (and its Origin/Host screen); any other
    path, whatever the method, reaches the fallback with its body, and an unscreened route answers web pages."""
    from runtime_scaffold.emulator import InvokeApi, start_invoke_server

    async def browser(request: Request) -> Reply:
        return Reply(200, f"{request.method} {request.path} {request.body.decode()}".encode(), {}, "text/plain")

    def front_door(routes: Routes, api: InvokeApi) -> None:
        routes.fallback(browser, screened=False)

    with LocalLambda(load_project(write_project(tmp_path / "p")), log_sink=lambda data: None) as local:
        server = start_invoke_server(local, port=0, route_providers=[front_door])
        try:
            base = f"http://{server.address}"
            page = {"Origin": "http://example.com"}
            assert requests.put(f"{base}/any/path?q=1", data=b"form", headers=page, timeout=10).text == \
                "PUT /any/path form"
            invoke = f"{base}/2015-03-31/functions/hello/invocations"
            assert requests.post(invoke, data=b'{"echo": 5}', timeout=30).json() == 5
            assert requests.post(invoke, data=b"{}", headers=page, timeout=10).status_code == 403
            assert requests.get(invoke, timeout=10).status_code == 404  # the Invoke API's path, its answer
        finally:
            server.close()


def test_a_table_that_keeps_header_pairs_sees_every_header_as_sent_and_the_client() -> None:
    """Repeated headers, their case and their order reach a route of a table with keep_header_pairs (payload 1.0's
    multiValueHeaders need them), and so does the client's address; other tables keep only the last value."""
    seen: list[Request] = []

    def record(request: Request) -> Reply:
        seen.append(request)
        return Reply(204)

    loop = LambdaLoop(name="test-pairs")
    tables = []
    for keep in (True, False):
        routes = Routes(max_body_bytes=1024, not_found=_not_found, method_not_allowed=_not_allowed)
        routes.fallback(record)
        routes.keep_header_pairs = keep
        tables.append(loop.run(Listener(routes).start()))
    try:
        for listener in tables:
            with socket.create_connection((listener.host, listener.port), timeout=10) as client:
                client.sendall(b"GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tag: one\r\nx-tag: Two\r\n"
                               b"Connection: close\r\n\r\n")
                assert client.recv(1024).startswith(b"HTTP/1.1 204")
    finally:
        for listener in tables:
            loop.run(listener.close())
        loop.stop()
    kept, plain = seen
    assert [pair for pair in kept.header_pairs if pair[0].lower() == b"x-tag"] == [(b"X-Tag", b"one"),
                                                                                  (b"x-tag", b"Two")]
    assert kept.client == "127.0.0.1" and kept.headers["X-Tag"] == "Two"
    assert (plain.header_pairs, plain.client, plain.headers["x-tag"]) == ((), "", "Two")
