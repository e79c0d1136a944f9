"""Hostile input (issue 15, items 8, 9, 10 and 12): header injection, bodies that would fill memory, malformed
framing, JSON only Python's limits refuse, and requests from web pages or under foreign host names."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.errors import InvalidInput

from .emulator_fixtures import RAW_ECHO_BOOTSTRAP, ServeProcess, write_project

Factory = Callable[..., LocalLambda]
DEEP = 10_000


@pytest.fixture
def serve_url(tmp_path: Path, local_lambda: Factory) -> Iterator[Callable[..., str]]:
    """serve_url(bootstrap=..., allowed_origins=...) -> the invoke URL of an Invoke API on 127.0.0.1."""
    servers = []

    def start(*, allowed_origins: tuple[str, ...] = (), **project: object) -> str:
        local = local_lambda(write_project(tmp_path / f"p{len(servers)}", **project))  # type: ignore[arg-type]
        server = start_invoke_server(local, port=0, allowed_origins=allowed_origins)
        servers.append(server)
        return f"http://{server.address}/2015-03-31/functions/hello/invocations"

    yield start
    for server in servers:
        server.close()


def _context(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- item 8: nothing a caller sends reaches a header unchecked -------------------------------------------------


@pytest.mark.parametrize("raw", [
    b'{"a": 1}\r\nLambda-Runtime-Aws-Request-Id: forged',  # CR LF after a JSON object: not one JSON object
    b"not json at all",
    b"[1, 2]",  # JSON, but not an object
    b'{"pad": "' + b"x" * 3000 + b'"}',  # over 3,583 bytes once base64-encoded
], ids=["crlf-injection", "not-json", "array", "too-long"])
def test_a_client_context_that_is_not_a_small_json_object_is_refused(serve_url: Callable[..., str],
                                                                     raw: bytes) -> None:
    reply = requests.post(serve_url(), data=b'{"headers": true}', headers={"X-Amz-Client-Context": _context(raw)},
                          timeout=30)
    assert reply.status_code == 400
    assert reply.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"


def test_a_client_context_reaches_the_bootstrap_as_one_header(serve_url: Callable[..., str]) -> None:
    context = b'{\r\n  "custom": {"k": "line one\\nline two"}\n}'  # newlines only as JSON whitespace
    reply = requests.post(serve_url(), data=b'{"headers": true}', headers={"X-Amz-Client-Context": _context(context)},
                          timeout=30)
    assert reply.status_code == 200
    seen = reply.json()
    assert json.loads(seen["Lambda-Runtime-Client-Context"]) == {"custom": {"k": "line one\nline two"}}
    assert "forged" not in json.dumps(seen)


def test_library_callers_cannot_put_control_characters_into_event_headers(tmp_path: Path,
                                                                          local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    with pytest.raises(InvalidInput, match="CR, LF or NUL"):
        local.invoke(None, b"{}", client_context='{"a": 1}\r\nX-Forged: 1')
    with pytest.raises(InvalidInput, match="CR, LF or NUL"):
        local.invoke(None, b"{}", trace_id="Root=1-2\nLambda-Runtime-Aws-Request-Id: x")
    assert local.invoke(None, b'{"echo": 1}').payload == b"1"


# -- item 9: memory bounded by the limit, malformed framing refused -----------------------------------------


def _peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def _send_flood(address: str, head: bytes, megabytes: int) -> bytes:
    """Send ``head`` then ``megabytes`` MB of body (as far as the server takes it); what the server answered."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        block = b"x" * (1 << 20)
        try:
            for _ in range(megabytes):
                sock.sendall(block)
        except (BrokenPipeError, ConnectionResetError):  # the server closed after its 413: fine
            pass
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return reply


@pytest.mark.parametrize("framing", [
    b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % (300 << 20),  # one chunk of 300 MB
    b"Content-Length: %d\r\n\r\n" % (300 << 20),
], ids=["chunked", "content-length"])
def test_a_huge_body_never_fills_memory(tmp_path: Path, framing: bytes) -> None:
    with ServeProcess(write_project(tmp_path / "p"), log=tmp_path / "serve.err") as serve:
        assert requests.post(serve.url(), data=b'{"echo": 1}', timeout=30).json() == 1
        before = _peak_kb(serve.process.pid)
        head = b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing
        reply = _send_flood(serve.address, head, 120)
        grown_mb = (_peak_kb(serve.process.pid) - before) / 1024
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert grown_mb < 40, f"serve grew by {grown_mb:.0f} MB for a body it refuses"
        assert requests.post(serve.url(), data=b'{"echo": 2}', timeout=30).json() == 2
    assert "Traceback" not in serve.log_text()


FLOOD_BOOTSTRAP = RAW_ECHO_BOOTSTRAP.replace(
    '    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body)\n',
    '    if body == b\'"flood"\':  # a chunked response of 120 MB, in 1 MB chunks\n'
    '        chunks = (b"x" * (1 << 20) for _ in range(120))\n'
    '        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", chunks, encode_chunked=True)\n'
    '    else:\n'
    '        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body)\n')


def test_a_huge_chunked_response_never_fills_memory(tmp_path: Path) -> None:
    assert FLOOD_BOOTSTRAP != RAW_ECHO_BOOTSTRAP
    project = write_project(tmp_path / "p", bootstrap=FLOOD_BOOTSTRAP, timeout=60)
    with ServeProcess(project, log=tmp_path / "serve.err") as serve:
        assert requests.post(serve.url(), data=b'"warm"', timeout=30).json() == "warm"
        before = _peak_kb(serve.process.pid)
        reply = requests.post(serve.url(), data=b'"flood"', timeout=60)
        grown_mb = (_peak_kb(serve.process.pid) - before) / 1024
        assert reply.json()["errorType"] == "Function.ResponseSizeTooLarge"
        assert grown_mb < 40, f"serve grew by {grown_mb:.0f} MB for a response it refuses"
    # The refusal may reset the bootstrap's connection mid-write, and its own traceback is its log (as on
    # Lambda); none may come from serve itself.
    assert "runtime_scaffold" not in serve.log_text(), serve.log_text()


@pytest.mark.parametrize(("framing", "status"), [
    (b"Content-Length: -1\r\n\r\n{}", b"400"),
    (b"Content-Length: 12abc\r\n\r\n{}", b"400"),
    (b"Content-Length: 99999999999999999999999\r\n\r\n{}", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n{}", b"400"),  # overflows 64 bits
    (b"Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\n{}", b"400"),  # 2^63, then the body ends
], ids=["negative-length", "non-numeric-length", "overflowing-length", "non-hex-chunk", "overflowing-chunk",
        "2^63-chunk"])
def test_malformed_lengths_are_400_and_the_connection_is_closed(tmp_path: Path, framing: bytes,
                                                                status: bytes) -> None:
    with ServeProcess(write_project(tmp_path / "p"), log=tmp_path / "serve.err") as serve:
        host, port = serve.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing)
            sock.shutdown(socket.SHUT_WR)  # and nothing more: a server waiting for more would hang here
            reply = b""
            while chunk := sock.recv(65536):  # to the end: the server closes the connection
                reply += chunk
        assert reply.split(b" ", 2)[1] == status, reply[:200]
        assert b"connection: close" in reply.lower()
        assert requests.post(serve.url(), data=b'{"echo": 3}', timeout=30).json() == 3
    assert "Traceback" not in serve.log_text()


# -- item 10: JSON as Lambda reads it, not as Python does --------------------------------------------------


@pytest.mark.parametrize("event", [
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b'{"big": ' + b"9" * DEEP + b", \"small\": -0." + b"1" * DEEP + b"e-" + b"7" * 50 + b"}",
], ids=["deep-arrays", "deep-objects", "long-numbers"])
def test_deep_and_long_json_is_a_valid_event(serve_url: Callable[..., str], event: bytes) -> None:
    reply = requests.post(serve_url(bootstrap=RAW_ECHO_BOOTSTRAP), data=event, timeout=30)
    assert reply.status_code == 200, reply.text[:300]
    assert reply.content == event


@pytest.mark.parametrize("event", [b"[1,]", b'{"a" 1}', b"NaN", b"[1] x", b'"\xff"', b"\xef\xbb\xbf{}",
                                   b"[" * DEEP + b"]" * (DEEP - 1)],
                         ids=["trailing-comma", "no-colon", "nan", "trailing-text", "not-utf8", "bom", "unclosed"])
def test_invalid_json_is_still_refused(serve_url: Callable[..., str], event: bytes) -> None:
    reply = requests.post(serve_url(bootstrap=RAW_ECHO_BOOTSTRAP), data=event, timeout=30)
    assert reply.status_code == 400
    assert reply.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
    assert reply.json()["Message"].startswith("Could not parse request body into json: ")


def test_scaffold_invoke_takes_deep_and_long_json(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", bootstrap=RAW_ECHO_BOOTSTRAP)
    event = tmp_path / "deep.json"
    event.write_bytes(b"[" * DEEP + b"9" * DEEP + b"]" * DEEP)
    result = subprocess.run([sys.executable, "-m", "runtime_scaffold", "invoke", "--path", str(event),
                             "--project", str(project)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()[-500:]
    assert result.stdout == event.read_bytes()
    assert b"Traceback" not in result.stderr
    runner = CliRunner().invoke(cli, ["invoke", "--data", "[" * DEEP + "]" * (DEEP - 1), "--project", str(project)])
    assert runner.exit_code == 2 and "is not valid JSON" in runner.stderr


# -- item 12: no web page, no foreign host name ----------------------------------------------------------


def test_requests_from_web_pages_are_refused_unless_allowed(serve_url: Callable[..., str]) -> None:
    url = serve_url(allowed_origins=("http://localhost:3000",))
    page = requests.post(url, data=b'{"echo": 1}', headers={"Origin": "https://evil.example"}, timeout=30)
    assert page.status_code == 403
    assert page.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    simple = requests.post(url, data=b'{"echo": 1}', timeout=30,
                           headers={"Origin": "null", "Content-Type": "text/plain"})
    assert simple.status_code == 403
    allowed = requests.post(url, data=b'{"echo": 1}', headers={"Origin": "http://localhost:3000"}, timeout=30)
    assert (allowed.status_code, allowed.json()) == (200, 1)


@pytest.mark.parametrize(("host", "status"), [
    ("evil.example:9000", 421), ("127.0.0.1.nip.io", 421), ("localhost:9000", 200), ("127.0.0.1", 200),
    ("[::1]:9000", 200), ("127.3.4.5:80", 200),
])
def test_requests_naming_a_foreign_host_are_refused(serve_url: Callable[..., str], host: str,
                                                    status: int) -> None:
    reply = requests.post(serve_url(), data=b'{"echo": 1}', headers={"Host": host}, timeout=30)
    assert reply.status_code == status


def test_a_screen_for_browser_routes_checks_the_host_alone() -> None:
    """The front door's web pages take requests from web pages (a form posts with an Origin), but not under a
    foreign host name (DNS rebinding)."""
    from runtime_scaffold.emulator.guard import request_screen
    from runtime_scaffold.emulator.messages import Request
    from runtime_scaffold.emulator.server import error_reply

    screen = request_screen(listen_host="127.0.0.1", refuse=error_reply, check_origin=False)

    def verdict(**headers: str) -> int | None:
        refused = screen(Request("POST", "/", "", headers, b""))
        return None if refused is None else refused.status

    assert verdict(Origin="http://127.0.0.1:9000", Host="127.0.0.1:9000") is None
    assert verdict(Origin="https://evil.example", Host="localhost:9000") is None
    assert verdict(Origin="https://evil.example", Host="evil.example:9000") == 421


def test_serve_warns_when_listening_beyond_loopback(tmp_path: Path) -> None:
    with ServeProcess(write_project(tmp_path / "p"), "--host", "0.0.0.0", log=tmp_path / "serve.err") as serve:
        port = serve.address.rsplit(":", 1)[1]
        assert requests.post(f"http://127.0.0.1:{port}/2015-03-31/functions/hello/invocations",
                             data=b'{"echo": 1}', timeout=30).json() == 1
        warnings = [line for line in serve.log_text().splitlines() if "not a loopback address" in line]
    assert warnings == ["Warning: --host 0.0.0.0 is not a loopback address: anyone who can reach it can run your "
                        "functions, with your AWS credentials."]
    with ServeProcess(write_project(tmp_path / "q"), log=tmp_path / "quiet.err") as quiet:
        assert requests.post(quiet.url(), data=b'{"echo": 1}', timeout=30).json() == 1
        assert "Warning" not in quiet.log_text()
