"""`scaffold serve` against its peers (issue 12 goal 5): the PHP example's bootstrap (examples/php, function
`hello`, the one serve_throughput.py loads) behind three local Lambdas, each loaded by wrk on the Invoke API:

  serve         `scaffold serve --concurrency 1` from this checkout (logs to /dev/null)
  cargo-lambda  `cargo lambda watch --only-lambda-apis` (Rust), with the bootstrap started here against its
                Runtime API (AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>/.rt/hello: cargo-lambda routes each
                function's runtime under /.rt/<function>/)
  bare          bench_server.py's Runtime API with a bare Invoke API in front (raw sockets, a lock, a queue), in
                a Python process of its own

with 1 and 8 connections, the peers taking turns in each of --rounds rounds; medians, and the spread (lowest to
highest) over the rounds. Per invocation: inv/s, p50 latency, the server process's CPU (all its threads, from
/proc) and the bootstrap's; then the ratios of each peer to cargo-lambda and to the bare server, and issue 12's
goal 1 (serve at or above cargo-lambda, server CPU at most 1.5x the bootstrap's own) as met or not.

cargo-lambda comes from PATH, else from the PyPI wheel `cargo-lambda==1.9.2` (it ships the binary), fetched once
with pip into ~/.cache/runtime-scaffold/benchmarks/. A peer that cannot run (no wrk, no php, no cargo-lambda and
no network to get it) is skipped with a one-line message. Only 127.0.0.1; every process started is killed at the
end, on Ctrl-C too.

Usage:  python benchmarks/peers.py [--rounds 3] [--seconds 5] [--peers serve,cargo-lambda,bare] [--quick]
--quick: one round of one second per peer and connection count (checks that it runs, measures nothing).
Timings are wall clock on a machine others may share; compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench_server import BenchServer, read_request
from wrk_load import LUA_BODY, Run, Serve, children, wrk_load, wrk_path

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "examples" / "php"
FUNCTION = "hello"
CONNECTIONS = (1, 8)
PEERS = ("serve", "cargo-lambda", "bare")
CARGO_LAMBDA = "cargo-lambda==1.9.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "runtime-scaffold" / "benchmarks"
DEADLINE = 30.0  # seconds a server gets to start listening


class Skip(Exception):
    """A peer that cannot run here; the message says why, in one line."""


def cargo_lambda_binary() -> str:
    """cargo-lambda from PATH, or the binary of the PyPI wheel (fetched once into CACHE)."""
    found = shutil.which("cargo-lambda")
    if found:
        return found
    binary = CACHE / CARGO_LAMBDA.replace("==", "-") / "cargo-lambda"
    if binary.is_file():
        return str(binary)
    print(f"fetching {CARGO_LAMBDA} from PyPI into {binary.parent} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        try:
            fetched = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                 CARGO_LAMBDA, "-d", folder], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise Skip(f"not on PATH, and pip download {CARGO_LAMBDA} took over 5 minutes") from None
        wheels = list(Path(folder).glob("*.whl"))
        if fetched.returncode != 0 or not wheels:
            reason = (fetched.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise Skip(f"not on PATH, and pip download {CARGO_LAMBDA} failed: {reason}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next((name for name in wheel.namelist() if name.endswith("/scripts/cargo-lambda")), None)
            if member is None:
                raise Skip(f"the {CARGO_LAMBDA} wheel holds no cargo-lambda binary")
            binary.parent.mkdir(parents=True, exist_ok=True)
            partial = binary.with_suffix(".partial")  # never a half-written binary under the final name
            partial.write_bytes(wheel.read(member))
    partial.chmod(0o755)
    partial.replace(binary)
    return str(binary)


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Skip(f"{name} exited with status {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise Skip(f"{name} did not listen on 127.0.0.1:{port} within {DEADLINE:.0f} s")


@contextlib.contextmanager
def started(command: list[str], **options: object) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, killed with everything it started when the block ends."""
    process = subprocess.Popen(command, start_new_session=True, **options)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def php_bootstrap(runtime_api: str) -> Iterator[int]:
    """The example's bootstrap on the host's php, with the variables Lambda gives it; yields its pid."""
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": runtime_api,
           "_HANDLER": "src/hello.hello", "LAMBDA_TASK_ROOT": str(PROJECT), "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
           "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
    with started(["php", str(PROJECT / "runtime" / "bootstrap")], cwd=PROJECT, env=env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        yield process.pid


def invoke_url(base: str) -> str:
    return f"{base}/2015-03-31/functions/{FUNCTION}/invocations"


def warm_up(url: str, *, invocations: int = 200) -> None:
    """Cold start and caches, one request at a time and each answered: wrk stopping mid-invocation would leave
    cargo-lambda answering the bootstrap's /response with a 500, which ends the bootstrap (as it should)."""
    address, path = url.removeprefix("http://").split("/", 1)
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=DEADLINE)
    try:
        for _ in range(invocations):
            connection.request("POST", f"/{path}", LUA_BODY, {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise Skip(f"{url} answered {response.status}: {response.read()[:200]!r}")
            response.read()
    finally:
        connection.close()


def measured(url: str, *, server_pid: int, bootstraps: Callable[[], list[int]], connections: int,
             seconds: float) -> Run:
    warm_up(url)
    return wrk_load(url, server_pid=server_pid, bootstraps=bootstraps, connections=connections,
                    warm_connections=0, seconds=seconds)


def run_serve(connections: int, seconds: float) -> Run:
    serve = Serve(REPO / "src", PROJECT, concurrency=1)
    try:
        return measured(invoke_url(serve.base), server_pid=serve.process.pid,
                        bootstraps=lambda: children(serve.process.pid), connections=connections, seconds=seconds)
    finally:
        serve.close()


def run_cargo_lambda(binary: str, connections: int, seconds: float) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        # `cargo lambda watch` wants a Cargo project to watch even when it starts no function
        (Path(folder) / "src").mkdir()
        (Path(folder) / "src" / "main.rs").write_text("fn main() {}\n")
        (Path(folder) / "Cargo.toml").write_text(
            f'[package]\nname = "peers"\nversion = "0.1.0"\nedition = "2021"\n\n'
            f'[[bin]]\nname = "{FUNCTION}"\npath = "src/main.rs"\n')
        port = free_port()
        command = [binary, "lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1",
                   "--invoke-port", str(port), "--quiet"]
        with started(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL) as server:
            wait_listening(port, server, "cargo lambda watch")
            with php_bootstrap(f"127.0.0.1:{port}/.rt/{FUNCTION}") as php:
                return measured(invoke_url(f"http://127.0.0.1:{port}"), server_pid=server.pid,
                                bootstraps=lambda: [php], connections=connections, seconds=seconds)


class BareLambda:
    """An Invoke API in front of BenchServer: each request's body becomes the next event, the bootstrap's
    /response body the reply. One bootstrap, so a lock keeps one invocation in flight. A failed invocation (the
    bootstrap posts /error, which BenchServer does not hand on) closes the connection after DEADLINE."""

    def __init__(self) -> None:
        self.runtime = BenchServer()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def _accept(self) -> None:
        while True:
            conn, _ = self._listener.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = conn.makefile("rb")
        with contextlib.suppress(OSError, ValueError, queue.Empty), conn, rfile:
            while line := rfile.readline():
                _, _, event = read_request(conn, rfile, line)
                with self._lock:
                    self.runtime.put(event)
                    _, _, answer = self.runtime.responses.get(timeout=DEADLINE)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                             % (len(answer), answer))


def bare_server_main() -> None:
    """The `bare` peer's own process: prints the Runtime API's address and the Invoke API's port, then serves."""
    bare = BareLambda()
    print(bare.runtime.address, bare.port, flush=True)
    threading.Event().wait()


def run_bare(connections: int, seconds: float) -> Run:
    with started([sys.executable, __file__, "--bare-server"], stdout=subprocess.PIPE) as server:
        assert server.stdout is not None
        runtime_api, port = server.stdout.readline().decode().split()
        with php_bootstrap(runtime_api) as php:
            return measured(invoke_url(f"http://127.0.0.1:{port}"), server_pid=server.pid,
                            bootstraps=lambda: [php], connections=connections, seconds=seconds)


def runners(names: list[str]) -> dict[str, Callable[[int, float], Run]]:
    """The peers that can run here, each printed as skipped (one line) when it cannot."""
    missing = [tool for tool, found in (("wrk", wrk_path()), ("php", shutil.which("php"))) if not found]
    if missing:
        print(f"peers: skipped, {' and '.join(missing)} not installed (apt-get install "
              f"{' '.join('php-cli php-curl' if tool == 'php' else tool for tool in missing)})")
        return {}
    found: dict[str, Callable[[int, float], Run]] = {}
    for name in names:
        if name == "serve":
            found[name] = run_serve
        elif name == "bare":
            found[name] = run_bare
        else:
            try:
                binary = cargo_lambda_binary()
            except Skip as reason:
                print(f"cargo-lambda: skipped, {reason}")
                continue
            version = subprocess.run([binary, "lambda", "--version"], capture_output=True, text=True, timeout=30)
            print(f"cargo-lambda: {binary} ({version.stdout.strip() or 'version unknown'})")
            found[name] = lambda connections, seconds, binary=binary: run_cargo_lambda(binary, connections, seconds)
    return found


def spread(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}" if len(values) > 1 else ""


def report(runs: dict[tuple[str, int], list[Run]], rounds: int, seconds: float) -> None:
    load = os.getloadavg()
    print(f"\nPHP bootstrap (examples/php, {FUNCTION}) under wrk; medians of {rounds} interleaved round(s) of "
          f"{seconds:g} s, (lowest-highest); load average now {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'peer':13} {'conns':>5} {'inv/s':>7} {'(spread)':>13} {'p50 ms':>7} {'server CPU/inv':>14} "
          f"{'PHP CPU/inv':>11} {'server/PHP':>10} {'x cargo-lambda':>14} {'x bare':>7}")
    medians: dict[tuple[str, int], dict[str, float]] = {}
    for (name, connections), each in runs.items():
        medians[name, connections] = {field: statistics.median(getattr(run, field) for run in each)
                                      for field in ("rate", "p50_ms", "server_cpu_ms", "bootstrap_cpu_ms")}
    for connections in CONNECTIONS:
        for name in PEERS:
            if (name, connections) not in medians:
                continue
            row, each = medians[name, connections], runs[name, connections]
            ratios = [f"{row['rate'] / medians[peer, connections]['rate']:.2f}x"
                      if (peer, connections) in medians else "-" for peer in ("cargo-lambda", "bare")]
            errors = sum(run.errors for run in each)
            print(f"{name:13} {connections:5} {row['rate']:7.0f} {spread([r.rate for r in each], '.0f'):>13} "
                  f"{row['p50_ms']:7.3f} {row['server_cpu_ms']:11.3f} ms {row['bootstrap_cpu_ms']:8.3f} ms "
                  f"{row['server_cpu_ms'] / row['bootstrap_cpu_ms']:9.2f}x {ratios[0]:>14} {ratios[1]:>7}"
                  + (f"  ({errors} non-2xx)" if errors else ""))
    for connections in CONNECTIONS:
        serve, cargo = medians.get(("serve", connections)), medians.get(("cargo-lambda", connections))
        if serve is None:
            continue
        if cargo is not None:
            ratio = serve["rate"] / cargo["rate"]
            print(f"goal 1, {connections} connection(s): serve at or above cargo-lambda: "
                  f"{'met' if ratio >= 1 else 'missed'} ({ratio:.2f}x)")
        cpu = serve["server_cpu_ms"] / serve["bootstrap_cpu_ms"]
        print(f"goal 1, {connections} connection(s): server CPU at most 1.5x the bootstrap's: "
              f"{'met' if cpu <= 1.5 else 'missed'} ({cpu:.2f}x)")


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C or a kill ends the run through the `finally`s that stop its processes, even where the shell that
    # started this one in the background had SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--peers", default=",".join(PEERS), help="a comma-separated subset of " + ", ".join(PEERS))
    parser.add_argument("--quick", action="store_true", help="one round of one second (a smoke run)")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_server:
        return bare_server_main()
    names = [name.strip() for name in options.peers.split(",") if name.strip()]
    unknown = sorted(set(names) - set(PEERS))
    if unknown or options.rounds < 1 or options.seconds < 1:
        parser.error(f"unknown peer {', '.join(unknown)}" if unknown else "--rounds and --seconds must be >= 1")
    rounds, seconds = (1, 1.0) if options.quick else (options.rounds, options.seconds)
    peers = runners(names)
    runs: dict[tuple[str, int], list[Run]] = {}
    for number in range(rounds):  # interleaved: load from other work falls on every peer alike
        print(f"round {number + 1} of {rounds} ...", file=sys.stderr, flush=True)
        for connections in CONNECTIONS:
            for name, run in list(peers.items()):
                try:
                    measured = run(connections, seconds)
                except (Skip, subprocess.CalledProcessError, RuntimeError) as reason:
                    print(f"{name}: skipped, {reason}")
                    del peers[name]
                    continue
                runs.setdefault((name, connections), []).append(measured)
    if runs:
        report(runs, rounds, seconds)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process this run started is stopped", file=sys.stderr)
        sys.exit(130)
