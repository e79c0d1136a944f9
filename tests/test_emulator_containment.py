"""Containment through the local Lambda as users meet it: a handler's detached processes die with the sandbox's
reset and close and with `scaffold invoke`, a killed `scaffold serve` leaves nothing running and no folder, and a
sandbox's Runtime API answers only that sandbox's processes."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, RuntimeCall, RuntimeHooks, containment, peers
from runtime_scaffold.emulator.invocation import InvocationResult
from runtime_scaffold.project import load_project

from .conftest import REPO_ROOT, LogCollector, pid_alive, require_tool, scaffold_bin, wait_dead
from .emulator_fixtures import write_project
from .test_containment import sleepers, token, wait_for

pytestmark = pytest.mark.skipif(not containment.supported(), reason="containment needs Linux's /proc")
__all__ = ["token"]  # a fixture, shared

Factory = Callable[..., LocalLambda]

# A bootstrap for these tests. Every answer says who answered (pid, sandbox folder). An event may ask it to:
#   {"escape": T}  start `setsid sleep T` and a daemon's double fork of `sleep T`, and wait until both run
#   {"steal": "host:port"}  GET /next on another sandbox's Runtime API, and answer what it got
#   {"then": "hang" | "crash"}  then never answer (a timeout), or exit (a crash), instead of answering
# GATE=path in its environment makes it wait for that file before its first /next.
BOOTSTRAP = textwrap.dedent('''\
    import http.client, json, os, subprocess, time
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    print("api", api, flush=True)
    while os.environ.get("GATE") and not os.path.exists(os.environ["GATE"]):
        time.sleep(0.01)
    host, port = api.split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def sleepers(token):
        found = 0
        for name in os.listdir("/proc"):
            try:
                found += open(f"/proc/{name}/cmdline", "rb").read() == b"sleep\\0" + token.encode() + b"\\0"
            except OSError:
                pass
        return found

    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        reply = conn.getresponse()
        request_id, event = reply.getheader("Lambda-Runtime-Aws-Request-Id"), json.loads(reply.read())
        answer = {"pid": os.getpid(), "folder": os.environ.get("_SCAFFOLD_SANDBOX")}
        if "escape" in event:
            quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            subprocess.Popen(["setsid", "sleep", event["escape"]], **quiet)
            subprocess.run(["setsid", "sh", "-c", f"sleep {event['escape']} & exit"], check=True, **quiet)
            deadline = time.monotonic() + 10
            while sleepers(event["escape"]) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        if "steal" in event:
            other_host, other_port = event["steal"].split(":")
            other = http.client.HTTPConnection(other_host, int(other_port), timeout=10)
            other.request("GET", "/2018-06-01/runtime/invocation/next")
            stolen = other.getresponse()
            answer["stolen"] = [stolen.status, json.loads(stolen.read() or b"null")]
        if event.get("then") == "hang":
            time.sleep(600)
        if event.get("then") == "crash":
            os._exit(7)
        conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", json.dumps(answer))
        conn.getresponse().read()
''')


def project(root: Path, *, functions: tuple[str, ...] = ("hello",), timeout: int = 30,
            environment: dict[str, str] | None = None) -> Path:
    return write_project(root, bootstrap=BOOTSTRAP, functions=functions, timeout=timeout, environment=environment)


def answer(result: InvocationResult) -> dict[str, object]:
    assert result.error_type is None, result.payload
    document = json.loads(result.payload)
    assert isinstance(document, dict)
    return document


# -- a sandbox's processes die with it -------------------------------------------------------------------------


def test_escaped_processes_die_with_a_timeout(tmp_path: Path, local_lambda: Factory, token: str) -> None:
    local = local_lambda(project(tmp_path / "p", timeout=3))
    result = local.invoke(None, json.dumps({"escape": token, "then": "hang"}).encode())
    assert result.error_type == "Sandbox.Timedout"
    assert sleepers(token) == []


def test_escaped_processes_die_with_a_crash(tmp_path: Path, local_lambda: Factory, token: str) -> None:
    local = local_lambda(project(tmp_path / "p"))
    result = local.invoke(None, json.dumps({"escape": token, "then": "crash"}).encode())
    assert result.error_type == "Runtime.ExitError"
    assert sleepers(token) == []


def test_escaped_processes_live_while_warm_and_die_with_close(tmp_path: Path, logs: LogCollector,
                                                               token: str) -> None:
    local = LocalLambda(load_project(project(tmp_path / "p")), log_sink=logs)
    with local:
        first = answer(local.invoke(None, json.dumps({"escape": token}).encode()))
        assert len(sleepers(token)) == 2  # a warm environment keeps what its handler started, as Lambda's does
        assert answer(local.invoke(None, b"{}"))["pid"] == first["pid"]
    assert sleepers(token) == []
    assert not Path(str(first["folder"])).exists()


def test_escaped_processes_die_when_scaffold_invoke_returns(tmp_path: Path, token: str) -> None:
    root = tmp_path / "hello-bash"
    shutil.copytree(REPO_ROOT / "examples" / "bash", root, symlinks=True)
    (root / "function.sh").write_text(textwrap.dedent(f"""\
        handler() {{
            setsid sleep {token} </dev/null >/dev/null 2>&1 &
            setsid sh -c 'sleep {token} </dev/null >/dev/null 2>&1 & exit' </dev/null >/dev/null 2>&1
            printf '{{"started":true}}'
        }}
    """))
    result = subprocess.run([scaffold_bin(), "invoke", "hello", "--project", str(root)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"started": True}
    assert sleepers(token) == []


# -- a killed `scaffold serve` ---------------------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Path], tuple[subprocess.Popen[bytes], str]]]:
    """serve(project) -> (the `scaffold serve` process, its base URL); each is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(root: Path) -> tuple[subprocess.Popen[bytes], str]:
        process = subprocess.Popen([scaffold_bin(), "serve", "--project", str(root), "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(process)
        assert process.stdout is not None
        return process, process.stdout.readline().decode().rsplit(" ", 1)[1].strip()

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def invoke_over_http(base: str, event: object, function: str = "hello") -> dict[str, object]:
    reply = requests.post(f"{base}/2015-03-31/functions/{function}/invocations", data=json.dumps(event),
                          timeout=60)
    assert reply.status_code == 200 and "X-Amz-Function-Error" not in reply.headers, reply.text
    document = reply.json()
    assert isinstance(document, dict)
    return document


def janitor_of(process: subprocess.Popen[bytes]) -> int:
    (pid,) = [info.pid for info in containment.process_table().values()
              if info.ppid == process.pid and b"--janitor" in Path(f"/proc/{info.pid}/cmdline").read_bytes()]
    return pid


def test_kill_9_of_serve_leaves_no_bootstrap_no_process_and_no_folder(
        tmp_path: Path, serve: Callable[[Path], tuple[subprocess.Popen[bytes], str]], token: str) -> None:
    server, base = serve(project(tmp_path / "p"))
    first = invoke_over_http(base, {"escape": token})
    bootstrap, folder = int(str(first["pid"])), Path(str(first["folder"]))
    assert folder.is_dir() and len(sleepers(token)) == 2
    os.kill(server.pid, signal.SIGKILL)
    assert server.wait(timeout=10) == -signal.SIGKILL
    assert wait_dead(bootstrap)  # the janitor, at once; no later start needed
    assert wait_for(lambda: not folder.exists() and not sleepers(token))


def test_a_killed_serve_and_janitor_are_cleaned_up_by_the_next_start(
        tmp_path: Path, serve: Callable[[Path], tuple[subprocess.Popen[bytes], str]], token: str) -> None:
    root = project(tmp_path / "p")
    server, base = serve(root)
    first = invoke_over_http(base, {"escape": token})
    bootstrap, folder = int(str(first["pid"])), Path(str(first["folder"]))
    janitor = janitor_of(server)
    os.kill(janitor, signal.SIGKILL)
    assert wait_dead(janitor)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    assert pid_alive(bootstrap) and folder.is_dir()  # nobody left to clean up...
    with LocalLambda(load_project(root)):  # ...until a local Lambda starts
        assert not folder.exists()
        assert not pid_alive(bootstrap) and sleepers(token) == []


def test_a_live_emulators_folder_survives_another_ones_start(
        tmp_path: Path, serve: Callable[[Path], tuple[subprocess.Popen[bytes], str]], token: str) -> None:
    root = project(tmp_path / "p")
    _, base = serve(root)
    first = invoke_over_http(base, {"escape": token})
    with LocalLambda(load_project(root)):
        pass
    assert Path(str(first["folder"])).is_dir() and len(sleepers(token)) == 2
    assert invoke_over_http(base, {}) == first  # the same warm bootstrap, in the same folder


# -- only a sandbox's own processes reach its Runtime API ------------------------------------------------------


class Recorder(RuntimeHooks):
    def __init__(self) -> None:
        self.calls: list[RuntimeCall] = []

    def observe(self, call: RuntimeCall) -> None:
        self.calls.append(call)


def raw_call(address: str, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One Runtime API request from this process, over a plain socket, with a deadline."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"{method} /2018-06-01/runtime/{path} HTTP/1.1\r\nHost: {address}\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = http.client.HTTPResponse(connection)
        reply.begin()
        return reply.status, dict(reply.getheaders()), reply.read()


def raw_next(address: str) -> tuple[int, dict[str, object]]:
    status, _, body = raw_call(address, "GET", "invocation/next")
    document = json.loads(body)
    assert isinstance(document, dict)
    return status, document


def test_outsiders_get_403_and_never_the_event(tmp_path: Path, logs: LogCollector) -> None:
    gate = tmp_path / "gate"
    hooks = Recorder()
    local = LocalLambda(load_project(project(tmp_path / "p", environment={"GATE": str(gate)})), hooks=hooks,
                        log_sink=logs)
    results: list[InvocationResult] = []
    with local:
        caller = threading.Thread(target=lambda: results.append(local.invoke(None, b'{"real": true}')))
        caller.start()
        assert logs.wait_for("api ")
        address = logs.text.split("api ", 1)[1].split()[0]
        status, body = raw_next(address)  # the event is queued: without the check this socket would take it
        assert (status, body["errorType"]) == (403, "AccessDeniedException")
        curl = subprocess.run([require_tool("curl"), "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                               "10", f"http://{address}/2018-06-01/runtime/invocation/next"],
                              capture_output=True, text=True, timeout=30)
        assert curl.stdout == "403"
        gate.write_text("")
        caller.join(30)
        assert not caller.is_alive()
        # Nothing but the bootstrap reached the Runtime API (its next /next is still waiting, so not yet seen).
        assert [(call.kind, call.status) for call in hooks.calls] == [("next", 200), ("response", 202)]
    assert "pid" in answer(results[0])  # the real caller got the real bootstrap's answer


def test_another_functions_bootstrap_cannot_take_this_ones_event(tmp_path: Path, logs: LogCollector) -> None:
    gate = tmp_path / "gate"
    root = project(tmp_path / "p", functions=("victim", "thief"), environment={"GATE": str(gate)})
    results: list[InvocationResult] = []
    with LocalLambda(load_project(root), log_sink=logs) as local:
        caller = threading.Thread(target=lambda: results.append(local.invoke("victim", b"{}")))
        caller.start()
        assert logs.wait_for("api ")
        victim = logs.text.split("api ", 1)[1].split()[0]
        gate.write_text("")  # the thief starts, and so may the victim: its event is already queued either way
        thief = answer(local.invoke("thief", json.dumps({"steal": victim}).encode()))
        caller.join(30)
        assert not caller.is_alive()
    stolen = thief["stolen"]
    assert isinstance(stolen, list) and stolen[0] == 403
    assert answer(results[0])["pid"] != thief["pid"]


def drop_connections_to(address: str) -> list[int]:
    """Shut down this process's accepted sockets on ``address`` (the emulator's end of a Runtime API connection),
    as a server dropping an idle connection would; their inodes."""
    host, port = address.split(":")
    dropped = []
    for name in os.listdir("/proc/self/fd"):
        try:
            candidate = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        with candidate:
            try:
                if candidate.getsockname()[:2] == (host, int(port)) and candidate.getpeername():
                    candidate.shutdown(socket.SHUT_RDWR)
                    dropped.append(os.fstat(candidate.fileno()).st_ino)
            except OSError:  # not a socket of that server, or the listening one
                continue
    return dropped


def test_the_bash_bootstrap_reconnects_after_a_dropped_connection_and_is_let_in(tmp_path: Path,
                                                                                 local_lambda: Factory) -> None:
    root = tmp_path / "hello-bash"
    shutil.copytree(REPO_ROOT / "examples" / "bash", root, symlinks=True)
    (root / "function.sh").write_text("handler() { printf '{\"api\":\"%s\"}' \"$AWS_LAMBDA_RUNTIME_API\"; }\n")
    local = local_lambda(root)
    first = local.invoke("hello", b"{}")
    address = str(answer(first)["api"])
    dropped = drop_connections_to(address)
    assert len(dropped) == 1
    # The loop sees the dropped connection at once and withdraws the /next that waited on it; the bootstrap asks
    # again on a new connection, which the peer check lets in (tests/test_emulator_runtime_api.py checks that a
    # lost /next never takes the event).
    assert wait_for(lambda: not peers.holds(os.getpid(), dropped[0]))
    second = local.invoke("hello", b"{}")
    assert answer(second) == {"api": address}
    assert first.init_duration_ms is not None and second.init_duration_ms is None  # the same process, warm


def test_without_proc_it_degrades_to_what_it_was_without_errors(tmp_path: Path, local_lambda: Factory,
                                                                 logs: LogCollector,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # As on macOS: nothing can be found again, so nothing is refused or killed beyond the process group.
    monkeypatch.setattr(containment, "supported", lambda: False)
    gate = tmp_path / "gate"
    local = local_lambda(project(tmp_path / "p", environment={"GATE": str(gate)}))
    results: list[InvocationResult] = []
    caller = threading.Thread(target=lambda: results.append(local.invoke(None, b"{}")))
    caller.start()
    assert logs.wait_for("api ")
    address = logs.text.split("api ", 1)[1].split()[0]
    status, headers, _ = raw_call(address, "GET", "invocation/next")
    assert status == 200  # an outsider is let in, as before containment: the check cannot be made here
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    assert raw_call(address, "POST", f"invocation/{request_id}/response", b'"forged"')[0] == 202
    caller.join(30)
    gate.write_text("")
    local.close()
    assert not caller.is_alive() and results[0].payload == b'"forged"'
