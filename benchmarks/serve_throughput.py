"""Throughput and round trip of the local Lambda: the PHP example behind `scaffold serve` under wrk, against
today's main; and a minimal Python bootstrap against the floor a bare Runtime API server sets.

PHP (needs wrk and php; skipped with a message without them): examples/php behind `scaffold serve` at
--concurrency 1 and 4, driven by wrk (C) with 1 and 8 connections, this checkout's src and main's (git archive
main src; --baseline REV takes another revision, e.g. the main issue 12 measured) taking turns, --php-rounds
times; medians. Per invocation it prints the serve process's CPU (all its
threads, from /proc) and the PHP bootstrap's own CPU per event, and their ratio.

The same minimal keep-alive Python bootstrap is driven four ways in one run:
  floor       a bare Runtime API server (http.server, a queue, nothing else) fed from this process
  library     LocalLambda.invoke() in this process (Runtime API state machine, sandbox, logs)
  floor-http  the bare Runtime API plus a bare HTTP front, called over HTTP keep-alive
  serve       `scaffold serve` as a subprocess, called over HTTP keep-alive like an SDK would
`library` compares with `floor`, `serve` with `floor-http` (same number of HTTP hops).

With --peer-check both, `library` and `serve` also run with the Runtime API's peer check (containment) patched
out, as `library-open` and `serve-open`, and each is compared with its open twin too. The bootstrap keeps one
connection, so the check runs once per cold start; --reconnect makes it open a new connection for every call (the
worst case: a check per request, as a curl-based runtime has). The PHP rows' `x main` compares with main's src,
which has the core without containment.

Usage:  python benchmarks/serve_throughput.py [--invocations 2000] [--seconds 20] [--rounds 3]
                                            [--php-seconds 5] [--php-rounds 3] [--only php|python]
                                            [--peer-check on|both] [--reconnect] [--baseline REV]
Each mode stops after --invocations or --seconds, whichever comes first; the best of --rounds is shown.
Timings are wall clock on this machine; compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest.mock
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from wrk_load import Run, checkout_main_src, wrk_path, wrk_run

from runtime_scaffold.emulator import LocalLambda, peers
from runtime_scaffold.emulator.logs import discard_sink
from runtime_scaffold.emulator.loop import loop_kind
from runtime_scaffold.project import load_project

REPO = Path(__file__).resolve().parent.parent
PHP_CONFIGS = ((1, 1), (1, 8), (4, 1), (4, 8))  # (--concurrency, wrk connections)

BOOTSTRAP = textwrap.dedent("""\
    import http.client, os
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    connection = http.client.HTTPConnection(host, int(port))
    while True:
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        event = connection.getresponse()
        body = event.read()
        request_id = event.getheader("Lambda-Runtime-Aws-Request-Id")
        connection.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body)
        connection.getresponse().read()
""")
RECONNECTING_BOOTSTRAP = BOOTSTRAP.replace(
    '    connection.request("GET"', '    connection = http.client.HTTPConnection(host, int(port))\n'
    '    connection.request("GET"').replace(
    '    connection.request("POST"', '    connection = http.client.HTTPConnection(host, int(port))\n'
    '    connection.request("POST"')
EVENT = json.dumps({"name": "World"}).encode()
# Turns the peer check off in a `scaffold serve` subprocess (the -open modes).
OPEN_SERVE = ("from runtime_scaffold.emulator import peers; peers.first_look = lambda endpoint, processes: True; "
              "from runtime_scaffold.cli import main; main()")


def write_project(root: Path, *, reconnect: bool = False) -> Path:
    (root / "runtime").mkdir(parents=True)
    (root / "serverless.yml").write_text(
        "service: bench\nprovider:\n  name: aws\n  runtime: provided.al2023\n"
        "layers:\n  runtime:\n    path: runtime\n"
        "functions:\n  echo:\n    handler: echo.handler\n    layers:\n      - {Ref: RuntimeLambdaLayer}\n")
    bootstrap = root / "runtime" / "bootstrap"
    bootstrap.write_text(f"#!{sys.executable}\n{RECONNECTING_BOOTSTRAP if reconnect else BOOTSTRAP}")
    bootstrap.chmod(0o755)
    return root


def measure(invoke: object, invocations: int, seconds: float) -> tuple[int, float]:
    """Run invoke() until the count or the time budget is reached; return (count, elapsed seconds)."""
    for _ in range(50):  # warm up: cold start, connection setup
        invoke()  # type: ignore[operator]
    count, started = 0, time.perf_counter()
    budget_end = started + seconds
    while count < invocations and time.perf_counter() < budget_end:
        invoke()  # type: ignore[operator]
        count += 1
    return count, time.perf_counter() - started


def floor(root: Path, invocations: int, seconds: float, *, http_front: bool = False) -> tuple[int, float]:
    """A bare Runtime API: /next takes an event from a queue, /response puts the body on another."""
    events: queue.Queue[bytes] = queue.Queue()
    answers: queue.Queue[bytes] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = events.get()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)

        def do_POST(self) -> None:
            answers.put(self.rfile.read(int(self.headers["Content-Length"])))
            self.wfile.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # type: ignore[method-assign]  # the killed bootstrap's reset
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runtime_api = f"127.0.0.1:{server.server_address[1]}"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": runtime_api}
    process = subprocess.Popen([str(root / "runtime" / "bootstrap")], env=env, start_new_session=True)

    def invoke() -> None:
        events.put(EVENT)
        answers.get(timeout=10)

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            events.put(self.rfile.read(int(self.headers["Content-Length"])))
            body = answers.get(timeout=10)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            self.wfile.write(head + body)

    front = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    front.daemon_threads = True
    front.handle_error = lambda *args: None  # type: ignore[method-assign]
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        if not http_front:
            return measure(invoke, invocations, seconds)
        connection = http.client.HTTPConnection("127.0.0.1", front.server_address[1], timeout=30)

        def invoke_over_http() -> None:
            connection.request("POST", "/2015-03-31/functions/echo/invocations", EVENT)
            response = connection.getresponse()
            response.read()

        return measure(invoke_over_http, invocations, seconds)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        for each in (server, front):
            each.shutdown()
            each.server_close()


def library(root: Path, invocations: int, seconds: float, *, peer_check: bool = True) -> tuple[int, float]:
    with contextlib.ExitStack() as stack:
        if not peer_check:
            stack.enter_context(unittest.mock.patch.object(peers, "first_look", lambda endpoint, processes: True))
        return _library(root, invocations, seconds)


def _library(root: Path, invocations: int, seconds: float) -> tuple[int, float]:
    with LocalLambda(load_project(root), log_sink=discard_sink) as local:
        def invoke() -> None:
            result = local.invoke("echo", EVENT)
            assert result.error_type is None, result.payload

        return measure(invoke, invocations, seconds)


def serve(root: Path, invocations: int, seconds: float, *, peer_check: bool = True) -> tuple[int, float]:
    entry = ["-m", "runtime_scaffold"] if peer_check else ["-c", OPEN_SERVE]
    process = subprocess.Popen(
        [sys.executable, *entry, "serve", "--project", str(root), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().decode().rsplit("http://", 1)[1].strip()
        host, port = address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)

        def invoke() -> None:
            connection.request("POST", "/2015-03-31/functions/echo/invocations", EVENT)
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and response.getheader("X-Amz-Function-Error") is None

        return measure(invoke, invocations, seconds)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _median_run(runs: list[Run]) -> Run:
    def middle(values: list[float]) -> float:
        return statistics.median(values)
    return Run(middle([r.rate for r in runs]), middle([r.p50_ms for r in runs]),
               middle([r.server_cpu_ms for r in runs]), middle([r.bootstrap_cpu_ms for r in runs]),
               sum(r.errors for r in runs))


def php(seconds: float, rounds: int, baseline: str) -> None:
    missing = [tool for tool, found in (("wrk", wrk_path()), ("php", shutil.which("php"))) if not found]
    if missing:
        print(f"PHP behind scaffold serve: skipped, {' and '.join(missing)} not installed (apt-get install "
              f"{' '.join('php-cli php-curl' if tool == 'php' else tool for tool in missing)})")
        return
    project = REPO / "examples" / "php"
    with tempfile.TemporaryDirectory() as folder:
        main_src = checkout_main_src(REPO, Path(folder), revision=baseline)
        sources = {"this": REPO / "src", **({"main": main_src} if main_src is not None else {})}
        runs: dict[tuple[str, int, int], list[Run]] = {}
        for _ in range(rounds):  # interleaved: load on the machine falls on both servers alike
            for concurrency, connections in PHP_CONFIGS:
                for name, src in sources.items():
                    run = wrk_run(src, project, function="hello", concurrency=concurrency,
                                  connections=connections, seconds=seconds)
                    runs.setdefault((name, concurrency, connections), []).append(run)
    table = {key: _median_run(value) for key, value in runs.items()}
    print(f"PHP (examples/php) behind scaffold serve, wrk, medians of {rounds} interleaved runs of {seconds:.0f} s; "
          f"this checkout's loop: {loop_kind()}; 'main' is {baseline}")
    print(f"{'conc':>4} {'conns':>5} {'inv/s':>8} {'p50 ms':>7} {'main inv/s':>10} {'x main':>7} "
          f"{'server CPU/inv':>14} {'main CPU/inv':>12} {'PHP CPU/event':>13} {'server/PHP':>10}")
    for concurrency, connections in PHP_CONFIGS:
        ours = table[("this", concurrency, connections)]
        theirs = table.get(("main", concurrency, connections))
        print(f"{concurrency:4} {connections:5} {ours.rate:8.0f} {ours.p50_ms:7.3f} "
              f"{theirs.rate if theirs else float('nan'):10.0f} "
              f"{ours.rate / theirs.rate if theirs else float('nan'):6.2f}x "
              f"{ours.server_cpu_ms:11.3f} ms {theirs.server_cpu_ms if theirs else float('nan'):9.3f} ms "
              f"{ours.bootstrap_cpu_ms:10.3f} ms {ours.server_cpu_ms / ours.bootstrap_cpu_ms:9.2f}x"
              + (f"  ({ours.errors} non-2xx)" if ours.errors else ""))
    scaling = table[("this", 4, 8)].rate / table[("this", 1, 8)].rate
    print(f"--concurrency 1 -> 4 with 8 connections: {scaling:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--php-seconds", type=float, default=5.0)
    parser.add_argument("--php-rounds", type=int, default=3)
    parser.add_argument("--only", choices=("php", "python"))
    parser.add_argument("--peer-check", choices=("on", "both"), default="on")
    parser.add_argument("--reconnect", action="store_true")
    parser.add_argument("--baseline", default="main", metavar="REV", help="the revision the PHP rows compare with")
    options = parser.parse_args()
    if options.only != "python":
        php(options.php_seconds, options.php_rounds, options.baseline)
    if options.only == "php":
        return
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder) / "bench", reconnect=options.reconnect)
        rows = {}
        modes: tuple[tuple[str, Callable[[Path, int, float], tuple[int, float]]], ...] = (
            ("floor", floor), ("library", library),
            ("floor-http", functools.partial(floor, http_front=True)), ("serve", serve))
        if options.peer_check == "both":
            modes += (("library-open", functools.partial(library, peer_check=False)),
                      ("serve-open", functools.partial(serve, peer_check=False)))
        for _ in range(options.rounds):  # interleaved rounds, best kept: a busy machine only ever slows a run
            for name, run in modes:
                count, elapsed = run(root, options.invocations, options.seconds)
                if name not in rows or elapsed / count * 1e6 < rows[name][1]:
                    rows[name] = (count / elapsed, elapsed / count * 1e6)
    baseline = {"floor": "floor", "library": "floor", "floor-http": "floor-http", "serve": "floor-http",
                "library-open": "floor", "serve-open": "floor-http"}
    print(f"{'mode':12} {'invocations/s':>14} {'round trip (us)':>16} {'vs its floor':>13} {'vs unchecked':>13}")
    for name, (rate, micros) in rows.items():
        open_twin = rows.get(f"{name}-open")
        versus_open = f"{micros / open_twin[1]:12.3f}x" if open_twin else ""
        print(f"{name:12} {rate:14.0f} {micros:16.0f} {micros / rows[baseline[name]][1]:12.2f}x {versus_open:>13}")


if __name__ == "__main__":
    main()
