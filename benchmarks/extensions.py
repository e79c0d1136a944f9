"""What a slow Telemetry API subscriber costs an invocation, against the same function without extensions, in one run.

Three copies of the bash template's project run side by side in the built-in emulator: `plain` (no extension),
`slow-subscriber` (an external extension in Python, standard library only, registered for INVOKE and SHUTDOWN and
subscribed to platform, function and extension records, whose HTTP listener sleeps --sleep seconds, 5 by default,
before answering each batch) and `fast-subscriber` (the same extension, answering each batch at once: what the
extension's own event/next costs). They take turns, one warm invocation each, --invocations times. Per copy it
prints the median and p90 of:
  caller    the caller's wait, invoke to answer
  cycle     invoke to the environment being free again (the next invocation can start): includes the
            extensions' event/next after the runtime answered
  REPORT    the REPORT line's Duration
and the medians' ratios: slow and fast to plain, slow to fast. The goal (issue 11): `slow-subscriber` no
slower than `fast-subscriber` (caller and REPORT close to `plain`), since telemetry is delivered from a bounded
buffer that never waits for the subscriber (it drops, and says so with platform.logsDropped, instead).

Usage:  python benchmarks/extensions.py [--invocations 40] [--sleep 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project
from runtime_scaffold.templates import render_project

SLOW_SUBSCRIBER = textwrap.dedent('''\
    #!/usr/bin/env python3
    """A Telemetry API subscriber whose listener takes SLOW_SUBSCRIBER_S seconds per batch."""
    import json, os, threading, time, urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
    SLEEP_S = float(os.environ.get("SLOW_SUBSCRIBER_S", "5"))

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(SLEEP_S)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(request) as response:
            return response.headers, response.read()

    headers, _ = call("POST", "/2020-01-01/extension/register", b'{"events": ["INVOKE", "SHUTDOWN"]}',
                      {"Lambda-Extension-Name": os.path.basename(__file__)})
    identifier = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
    server = ThreadingHTTPServer(("sandbox.localdomain", 4243), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _, answer = call("PUT", "/2022-07-01/telemetry", json.dumps({
        "schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"}}).encode(),
        {**identifier, "Content-Type": "application/json"})
    print("slow-subscriber subscribed:", answer.decode(), flush=True)
    while True:
        _, body = call("GET", "/2020-01-01/extension/event/next", headers=identifier)
        if json.loads(body)["eventType"] == "SHUTDOWN":
            break
    ''')


class Log:
    """Counts the subscribers that said they subscribed (the rest of the log is dropped). Each local Lambda calls
    it on its own loop thread: list.append is atomic, ``+=`` on an int is not."""

    def __init__(self) -> None:
        self.subscriptions: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        if b"slow-subscriber subscribed: \"OK\"" in data:
            self.subscriptions.append(data)


def make_project(root: Path, *, slow_s: float | None, log: Log) -> LocalLambda:
    project_dir = render_project("bash", output_dir=root)
    if slow_s is not None:
        extension = project_dir / "runtime" / "extensions" / "slow-subscriber"
        extension.parent.mkdir(parents=True, exist_ok=True)
        extension.write_text(SLOW_SUBSCRIBER)
        extension.chmod(0o755)
    return LocalLambda(load_project(project_dir), log_sink=log,
                       host_environment={**os.environ, "SLOW_SUBSCRIBER_S": str(slow_s or 0)})


def one(local: LocalLambda, number: int) -> tuple[float, float, float]:
    """(caller's wait, cycle, REPORT Duration) of one invocation, in ms."""
    payload = f'{{"name": "benchmark {number}"}}'.encode()
    started = time.perf_counter()
    result = local.invoke("hello", payload)
    answered = time.perf_counter()
    if result.error_type is not None:
        raise SystemExit(f"invocation {number} failed: {result.error_type}: {result.payload!r}")
    # A second, tiny invocation starts only once the environment is free: the first's cycle ends where it starts.
    local.invoke("hello", b'{"name": "probe"}')
    return (answered - started) * 1000, (time.perf_counter() - started) * 1000, result.duration_ms


def p90(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=40)
    parser.add_argument("--sleep", type=float, default=5.0, help="seconds the subscriber takes per batch")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-extensions-") as folder:
        log = Log()
        copies = {"plain": make_project(Path(folder) / "plain", slow_s=None, log=log),
                  "fast-subscriber": make_project(Path(folder) / "fast", slow_s=0.0, log=log),
                  "slow-subscriber": make_project(Path(folder) / "slow", slow_s=options.sleep, log=log)}
        try:
            for local in copies.values():  # cold starts (and the subscription) out of the way
                one(local, 0)
            if len(log.subscriptions) != 2:
                raise SystemExit("the subscribers did not subscribe to the Telemetry API: nothing to measure")
            figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in copies}
            for number in range(1, options.invocations + 1):
                for name, local in copies.items():
                    figures[name].append(one(local, number))
        finally:
            for local in copies.values():
                local.close()
    print(f"{options.invocations} warm invocations each, taking turns; the subscriber sleeps {options.sleep:g} s "
          "per batch")
    print(f"{'':16}  {'caller median/p90':>20}  {'cycle median/p90':>20}  {'REPORT median/p90':>20}")
    medians: dict[str, list[float]] = {}
    for name, samples in figures.items():
        columns = [[sample[i] for sample in samples] for i in range(3)]
        stats = [(statistics.median(c), p90(c)) for c in columns]
        medians[name] = [m for m, _ in stats]
        print(f"{name:16}  " + "  ".join(f"{m:8.1f} /{p:7.1f} ms" for m, p in stats))
    for name, base in (("slow-subscriber", "plain"), ("fast-subscriber", "plain"),
                       ("slow-subscriber", "fast-subscriber")):
        ratios = "  ".join(f"{m / b:14.2f}x      " for m, b in zip(medians[name], medians[base], strict=True))
        print(f"{name.split('-')[0]} vs {base.split('-')[0]:11}  {ratios}")

if __name__ == "__main__":
    main()
