"""The local Lambda under load and faults (issue 15, items 1 to 5): bursts of connections, a log reader that stops
reading, signals landing on any thread, bootstraps dying while idle, and bounded queues."""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, containment, start_invoke_server

from .conftest import wait_dead
from .emulator_fixtures import RAW_ECHO_BOOTSTRAP, ServeProcess, write_project

Factory = Callable[..., LocalLambda]
BURST = 1000
_TCP_INFO_TOTAL_RETRANS = 100  # offset of tcpi_total_retrans in Linux's struct tcp_info


def _raise_fd_limit(needed: int) -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _burst(address: str, request: bytes, count: int = BURST) -> list[tuple[bytes, int]]:
    """Open ``count`` connections at once, then send ``request`` on each: (first line of each reply, the
    retransmissions its socket needed). A reset raises."""
    host, port = address.rsplit(":", 1)
    _raise_fd_limit(count + 256)
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex((host, int(port)))
        with selectors.DefaultSelector() as selector:  # wait for every connect, with a deadline
            for sock in sockets:
                selector.register(sock, selectors.EVENT_WRITE)
            pending = set(sockets)
            while pending:
                ready = selector.select(timeout=30)
                assert ready, f"{len(pending)} connections never completed"
                for key, _ in ready:
                    selector.unregister(key.fileobj)
                    pending.discard(key.fileobj)  # type: ignore[arg-type]
        answers = []
        for sock in sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            sock.setblocking(True)
            sock.settimeout(30)
            sock.sendall(request)
        for sock in sockets:
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                assert chunk, "connection closed without a reply"
                data += chunk
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            retransmissions = struct.unpack_from("I", info, _TCP_INFO_TOTAL_RETRANS)[0]
            answers.append((data.split(b"\r\n", 1)[0], retransmissions))
        return answers
    finally:
        for sock in sockets:
            sock.close()


def test_a_thousand_simultaneous_callers_are_all_answered(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"), concurrency=4)
    server = start_invoke_server(local, port=0)
    try:
        request = (b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"X-Amz-Invocation-Type: DryRun\r\nContent-Length: 2\r\n\r\n{}")
        answers = _burst(server.address, request)
    finally:
        server.close()
    assert [line for line, _ in answers] == [b"HTTP/1.1 204 No Content"] * BURST
    assert sum(retransmissions for _, retransmissions in answers) == 0  # no SYN retransmit stalls


def test_a_thousand_simultaneous_connections_to_a_runtime_api(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    env = json.loads(local.invoke(None, b'{"env": true}').payload)
    request = b"GET /2018-06-01/runtime/nothing-here HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    answers = _burst(env["AWS_LAMBDA_RUNTIME_API"], request)
    # This process is outside the sandbox: on Linux each connection is refused (containment), elsewhere answered.
    expected = b"HTTP/1.1 403 Forbidden" if containment.supported() else b"HTTP/1.1 404 Not Found"
    assert [line for line, _ in answers] == [expected] * BURST
    assert sum(retransmissions for _, retransmissions in answers) == 0
    assert local.invoke(None, b'{"echo": "still"}').payload == b'"still"'


def test_a_log_reader_that_stops_reading_blocks_nothing(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", timeout=2)
    with ServeProcess(project, stderr=subprocess.PIPE) as serve:
        stderr = serve.process.stderr
        assert stderr is not None
        with requests.Session() as session:
            # Far more than a pipe (64 KiB) and the log buffer (1 MiB) hold, and nobody reading it.
            for number in range(150):
                reply = session.post(serve.url(), data=json.dumps({"log": 20000, "echo": number}).encode(),
                                     timeout=20)
                assert reply.json() == number
            timed_out = session.post(serve.url(), data=b'{"sleep": 30}', timeout=20)
            assert timed_out.json()["errorType"] == "Sandbox.Timedout"  # the deadline still fires
            seen: list[bytes] = []
            reader = threading.Thread(target=lambda: seen.extend(iter(lambda: stderr.read(65536), b"")),
                                      daemon=True)
            reader.start()  # the reader comes back: what was dropped is said once lines flow again
            for _ in range(200):
                session.post(serve.url(), data=b'{"echo": 1}', timeout=20)
                if b"log lines dropped" in b"".join(seen):
                    break
        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=20) == 0
        reader.join(10)
    text = b"".join(seen).decode()
    assert "log lines dropped: the log's reader did not keep up" in text
    assert "Traceback" not in text


def _threads(pid: int) -> list[int]:
    return sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task"))


def _signal_thread(pid: int, tid: int, number: int) -> None:
    """Send ``number`` to one thread of another process (tgkill), as the kernel may pick any thread itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, tid, number) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_on_the_first_signal_whichever_thread_gets_it(tmp_path: Path,
                                                                   stop_signal: signal.Signals) -> None:
    name = f"sig{os.getpid()}"
    project = write_project(tmp_path / "p", functions=(name,), timeout=60)
    for cycle in range(3):
        log = tmp_path / f"serve{cycle}.err"
        with ServeProcess(project, log=log) as serve:
            reply = requests.post(serve.url(name), data=b'{"echo": 1}', timeout=30)
            assert reply.json() == 1
            bootstrap = int(serve.log_text().split("init ")[1].split()[0])
            workers = [tid for tid in _threads(serve.process.pid) if tid != serve.process.pid]
            assert workers, "serve runs its loop in a thread of its own"
            _signal_thread(serve.process.pid, workers[cycle % len(workers)], stop_signal)
            assert serve.process.wait(timeout=20) == 0  # a bound, not a timing claim: it never came before
            assert wait_dead(bootstrap)
            assert not list(Path(tempfile.gettempdir()).glob(f"scaffold-{name}-*"))
            assert "Traceback" not in serve.log_text()


def test_invoke_stops_on_the_first_signal_whichever_thread_gets_it(tmp_path: Path) -> None:
    name = f"isig{os.getpid()}"
    project = write_project(tmp_path / "p", functions=(name,), timeout=120)
    log = tmp_path / "invoke.err"
    with open(log, "wb") as stderr:
        invoke = subprocess.Popen([sys.executable, "-m", "runtime_scaffold", "invoke", "--data", '{"sleep": 100}',
                                   "--project", str(project)], stdout=subprocess.DEVNULL, stderr=stderr,
                                  start_new_session=True)
    try:
        assert _wait_for_text(log, "handling ")
        bootstrap = int(log.read_text().split("init ")[1].split()[0])
        workers = [tid for tid in _threads(invoke.pid) if tid != invoke.pid]
        _signal_thread(invoke.pid, workers[0], signal.SIGTERM)
        assert invoke.wait(timeout=20) == 130
        assert wait_dead(bootstrap)
        assert not list(Path(tempfile.gettempdir()).glob(f"scaffold-{name}-*"))
        assert "Traceback" not in log.read_text()
    finally:
        if invoke.poll() is None:
            os.killpg(invoke.pid, signal.SIGKILL)
            invoke.wait(timeout=10)


def _wait_for_text(path: Path, needle: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text(errors="replace"):
            return True
        time.sleep(0.02)
    return False


def test_a_bootstrap_that_died_while_idle_means_a_cold_start(tmp_path: Path, local_lambda: Factory,
                                                             logs: object) -> None:
    # Each bootstrap answers one event, then exits while idle, a few ms later: the next event, arriving within
    # those ms, must get a fresh bootstrap rather than fail with Runtime.ExitError.
    project = write_project(tmp_path / "p", bootstrap=RAW_ECHO_BOOTSTRAP, environment={"EXIT_AFTER_S": "0.02"})
    local = local_lambda(project)
    results = [local.invoke(None, json.dumps({"n": number}).encode()) for number in range(12)]
    assert [(result.error_type, json.loads(result.payload)) for result in results] == [
        (None, {"n": number}) for number in range(12)]
    assert all(result.init_duration_ms is not None for result in results)  # each one a cold start
    assert logs.text.count("init ") == 12  # type: ignore[attr-defined]


@pytest.fixture
def serve_local(tmp_path: Path, local_lambda: Factory) -> Iterator[Callable[..., str]]:
    """serve_local(**LocalLambda options) -> base URL of an Invoke API over the fixture project."""
    servers = []

    def start(**options: object) -> str:
        local = local_lambda(write_project(tmp_path / f"p{len(servers)}", timeout=30), **options)
        server = start_invoke_server(local, port=0)
        servers.append(server)
        return f"http://{server.address}/2015-03-31/functions/hello/invocations"

    yield start
    for server in servers:
        server.close()


def test_event_invocations_beyond_the_queue_are_throttled(serve_local: Callable[..., str], logs: object) -> None:
    url = serve_local(event_queue_size=5)
    headers = {"X-Amz-Invocation-Type": "Event"}
    with requests.Session() as session:
        replies = [session.post(url, data=b'{"sleep": 0.2}', headers=headers, timeout=30) for _ in range(20)]
    statuses = [reply.status_code for reply in replies]
    assert statuses.count(202) >= 5 and statuses.count(429) >= 5
    throttled = next(reply for reply in replies if reply.status_code == 429)
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    accepted = [reply.headers["x-amzn-RequestId"] for reply in replies if reply.status_code == 202]
    assert logs.wait_for(f"REPORT RequestId: {accepted[-1]}", timeout=30)  # type: ignore[attr-defined]


def test_a_synchronous_caller_waits_behind_at_most_concurrency_event_invocations(
        serve_local: Callable[..., str], logs: object) -> None:
    url = serve_local(concurrency=1)
    with requests.Session() as session:
        for _ in range(30):
            reply = session.post(url, data=b'{"sleep": 0.05}', headers={"X-Amz-Invocation-Type": "Event"},
                                 timeout=30)
            assert reply.status_code == 202
        assert logs.wait_for("handling ", timeout=30)  # type: ignore[attr-defined]
        before = len(logs.text)  # type: ignore[attr-defined]
        reply = session.post(url, data=b'{"echo": "sync"}', timeout=30)
    assert reply.json() == "sync"
    text = logs.text[before:]  # type: ignore[attr-defined]
    mine = text.index(f"START RequestId: {reply.headers['x-amzn-RequestId']}")
    assert text[:mine].count("START RequestId: ") <= 1  # concurrency 1: at most one Event went first


def test_a_caller_that_went_away_loses_its_place(serve_local: Callable[..., str], logs: object) -> None:
    url = serve_local(concurrency=1)
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        busy = pool.submit(requests.post, url, data=b'{"sleep": 1}', timeout=30)
        assert logs.wait_for("handling ", timeout=30)  # type: ignore[attr-defined]
        for _ in range(5):  # callers that queue behind it and hang up
            with socket.create_connection((host, int(port)), timeout=10) as ghost:
                ghost.sendall(b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Content-Length: 17\r\n\r\n{\"echo\": \"ghost\"}")
        last = requests.post(url, data=b'{"echo": "last"}', timeout=30)
        assert busy.result().status_code == 200
    assert last.json() == "last"
    assert logs.text.count("START RequestId: ") == 2  # type: ignore[attr-defined]


def test_callers_waiting_when_the_local_lambda_closes_are_answered(tmp_path: Path, local_lambda: Factory,
                                                                   logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p", timeout=30))
    server = start_invoke_server(local, port=0)
    url = f"http://{server.address}/2015-03-31/functions/hello/invocations"
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(requests.post, url, data=b'{"sleep": 20}', timeout=30) for _ in range(8)]
        assert logs.wait_for("handling ", timeout=30)  # type: ignore[attr-defined]
        local.close()
        server.close(drain_s=5)
        replies = [future.result() for future in futures]
    kinds = sorted((reply.status_code, reply.headers.get("x-amzn-ErrorType") or reply.json()["errorType"])
                   for reply in replies)
    assert kinds == [(200, "Sandbox.Failure")] + [(503, "ServiceException")] * 7
