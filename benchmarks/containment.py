"""What containment costs: the Runtime API's peer check per connection, a reset's process scan, and why bootstraps
are not given PR_SET_PDEATHSIG.

    python benchmarks/containment.py [--repeat 300]

Measured in one run, each as a median of --repeat tries, and printed with a ratio to a baseline from the same run:
- peer check, by who holds the client socket: the bootstrap itself (every runtime here: bash, PHP, awslambdaric,
  Node's client), a child of it (a runtime that runs curl per request), a process outside the sandbox (refused
  after a scan of every process); baseline: one keep-alive request and reply through the emulator's own HTTP server;
- the two ways to find a connection's socket inode: one sock_diag netlink query (used) and /proc/net/tcp;
- kill_all() on a sandbox with nothing left to kill (the scan each reset adds); baseline: the same request;
- a curl-per-request runtime (the AWS walkthrough's style: both its connections per invocation are opened by a
  child, so each pays a process-table scan) through LocalLambda, with the check on and patched off, taking turns;
- a keep-alive runtime through LocalLambda while another process keeps opening connections to its Runtime API
  (each refused after a scan of every process): the refusals searched on the peer-search thread (as the sandbox
  does) and on the loop itself (patched in, as it was first wired); baseline: the same runtime with no outsider;
  means rather than medians (a stalled loop shows in the mean);
- spawning a process with subprocess's fork_exec as the sandbox does, and with a preexec_fn that sets
  PR_SET_PDEATHSIG (a preexec_fn makes subprocess fork instead of vfork; its cost grows with the parent's
  memory): the reason the janitor is used instead.
Timings are wall clock on a shared machine; compare the ratios, not the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import unittest.mock
from collections.abc import Callable
from pathlib import Path

from serve_throughput import write_project

from runtime_scaffold.emulator import LocalLambda, containment, peers
from runtime_scaffold.emulator.logs import discard_sink
from runtime_scaffold.emulator.loop import LambdaLoop
from runtime_scaffold.emulator.messages import Reply, Request
from runtime_scaffold.emulator.routes import Routes
from runtime_scaffold.emulator.server import Listener, error_reply
from runtime_scaffold.project import load_project

CONNECT = "import socket, time; s = socket.create_connection(('127.0.0.1', {port})); time.sleep(120)"
PR_SET_PDEATHSIG = 1


def median_us(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def mean_us(action: Callable[[], object], repeat: int) -> float:
    """The mean, not the median: a loop stalled now and then shows in it."""
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat * 1e6


def request_round_trip(repeat: int) -> float:
    """One keep-alive request and reply through the emulator's own HTTP server (no peer check)."""
    def refuse(request: Request) -> Reply:
        return error_reply(404, "NotFound", request.path)

    loop = LambdaLoop(name="bench-round-trip")
    routes = Routes(max_body_bytes=1024, not_found=refuse, method_not_allowed=refuse)
    routes.add("GET", "/", lambda request: Reply(200, b"{}"))
    server = loop.run(Listener(routes).start())
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)

    def one() -> None:
        connection.request("GET", "/")
        connection.getresponse().read()

    one()
    try:
        return median_us(one, repeat)
    finally:
        connection.close()
        loop.run(server.close())
        loop.stop()


def peer_checks(repeat: int, folder: str) -> dict[str, float]:
    processes = containment.SandboxProcesses(marker=folder)
    marked = {**os.environ, containment.MARKER: folder}
    started: list[subprocess.Popen[bytes]] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = [sys.executable, "-c", CONNECT.format(port=listener.getsockname()[1])]

        def accept(command: list[str], env: dict[str, str]) -> socket.socket:
            started.append(subprocess.Popen(command, env=env, start_new_session=True))
            return listener.accept()[0]

        try:
            own = accept(client, marked)
            processes.started(started[-1].pid)
            child = accept(["bash", "-c", f"{' '.join(repr(part) for part in client)}; true"], marked)
            stranger = accept(client, dict(os.environ))
            assert peers.peer_inside(own, processes) and peers.peer_inside(child, processes)
            assert not peers.peer_inside(stranger, processes)
            client_address, server_address = own.getpeername(), own.getsockname()
            return {
                "peer check: the bootstrap holds it": median_us(lambda: peers.peer_inside(own, processes), repeat),
                "peer check: a child holds it": median_us(lambda: peers.peer_inside(child, processes), repeat),
                "peer check: an outsider (refused)": median_us(lambda: peers.peer_inside(stranger, processes),
                                                               repeat),
                "inode lookup: sock_diag (used)": median_us(
                    lambda: peers.socket_inode(client_address, server_address), repeat),
                "inode lookup: /proc/net/tcp": median_us(
                    lambda: peers.proc_net_inode(client_address, server_address), max(repeat // 10, 10)),
                "kill_all, nothing to kill": median_us(
                    lambda: containment.SandboxProcesses(marker=folder + "-empty").kill_all(),
                    max(repeat // 10, 10)),
            }
        finally:
            for process in started:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


CURL_BOOTSTRAP = """#!/bin/bash
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  printf '%s' "$EVENT" | curl -sS -X POST --data-binary @- \\
    "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response" >/dev/null
done
"""


# Opens a connection to the Runtime API at argv[1], asks for /next, reads the refusal, again, until killed.
OUTSIDER = """import socket, sys
host, port = sys.argv[1].split(":")
while True:
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
        while s.recv(65536):
            pass
"""


def project_of(root: Path, bootstrap: str) -> Path:
    (root / "runtime").mkdir(parents=True)
    (root / "serverless.yml").write_text(
        f"service: {root.name}\nprovider:\n  name: aws\n  runtime: provided.al2023\n"
        "layers:\n  runtime:\n    path: runtime\n"
        "functions:\n  echo:\n    handler: echo.handler\n    layers:\n      - {Ref: RuntimeLambdaLayer}\n")
    (root / "runtime" / "bootstrap").write_text(bootstrap)
    (root / "runtime" / "bootstrap").chmod(0o755)
    return root


def _searched_on_the_loop(endpoint: peers.Endpoint, processes: containment.SandboxProcesses) -> bool:
    verdict = _FIRST_LOOK(endpoint, processes)
    return verdict if isinstance(verdict, bool) else verdict()


_FIRST_LOOK = peers.first_look


def outsider_burst(repeat: int, folder: str) -> dict[str, float]:
    root = write_project(Path(folder) / "burst")  # serve_throughput's keep-alive Python runtime
    rows: dict[str, float] = {}
    with LocalLambda(load_project(root), log_sink=discard_sink) as local:
        local.invoke("echo", b"{}")
        (sandbox,) = local.pool(local.function("echo")).sandboxes
        address = sandbox._listener.address if sandbox._listener is not None else ""

        def invoke() -> None:
            assert local.invoke("echo", b"{}").error_type is None

        rows["keep-alive runtime, no outsider"] = mean_us(invoke, repeat)
        for name, on_loop in (("..., outsiders searched off the loop", False),
                              ("..., outsiders searched on the loop", True)):
            with contextlib.ExitStack() as stack:
                if on_loop:
                    stack.enter_context(unittest.mock.patch.object(peers, "first_look", _searched_on_the_loop))
                outsider = subprocess.Popen([sys.executable, "-c", OUTSIDER, address], start_new_session=True)
                try:
                    time.sleep(0.5)  # under way
                    rows[name] = mean_us(invoke, repeat)
                finally:
                    os.killpg(outsider.pid, signal.SIGKILL)
                    outsider.wait(timeout=10)
    return rows


def curl_runtime(repeat: int, folder: str) -> dict[str, float]:
    root = project_of(Path(folder) / "curl", CURL_BOOTSTRAP)
    times: dict[str, list[float]] = {"curl runtime, check on": [], "curl runtime, check off": []}
    with LocalLambda(load_project(root), log_sink=discard_sink) as local:
        local.invoke("echo", b"{}")
        for _ in range(repeat):  # turns, so that load changes hit both alike
            for name, patched in (("curl runtime, check on", False), ("curl runtime, check off", True)):
                with contextlib.ExitStack() as stack:
                    if patched:
                        stack.enter_context(unittest.mock.patch.object(peers, "first_look", lambda c, p: True))
                    started = time.perf_counter()
                    result = local.invoke("echo", b"{}")
                    times[name].append(time.perf_counter() - started)
                    assert result.error_type is None, result.payload
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def spawns(repeat: int) -> dict[str, float]:
    libc = ctypes.CDLL(None, use_errno=True)

    def die_with_parent() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def spawn(**options: object) -> None:
        subprocess.Popen(["true"], start_new_session=True, **options).wait()  # type: ignore[call-overload]

    return {"spawn (as the sandbox does)": median_us(spawn, repeat),
            "spawn with preexec_fn PDEATHSIG": median_us(lambda: spawn(preexec_fn=die_with_parent), repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=300)
    options = parser.parse_args()
    if not containment.supported():
        raise SystemExit("containment needs Linux's /proc")
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-") as folder:
        baseline = request_round_trip(options.repeat)
        rows = peer_checks(options.repeat, folder)
        curl_rows = curl_runtime(max(options.repeat // 5, 20), folder)
        burst_rows = outsider_burst(options.repeat, folder)
    spawn_rows = spawns(max(options.repeat // 5, 20))
    print(f"processes on this machine: {len(containment.process_table())}; "
          f"baseline, one keep-alive HTTP request: {baseline:.0f} us")
    print(f"{'':38} {'us':>12} {'ratio':>13}  (medians; means for the outsider rows)")
    for name, micros in rows.items():
        print(f"{name:38} {micros:12.0f} {micros / baseline:12.2f}x")
    unchecked = curl_rows["curl runtime, check off"]
    for name, micros in curl_rows.items():
        print(f"{name:38} {micros:12.0f} {micros / unchecked:12.2f}x (vs check off)")
    quiet = burst_rows["keep-alive runtime, no outsider"]
    for name, micros in burst_rows.items():
        print(f"{name:38} {micros:12.0f} {micros / quiet:12.2f}x (vs no outsider)")
    plain = spawn_rows["spawn (as the sandbox does)"]
    for name, micros in spawn_rows.items():
        print(f"{name:38} {micros:12.0f} {micros / plain:12.2f}x (vs a plain spawn)")


if __name__ == "__main__":
    main()
