"""How the Bun, Deno and Node runtime serves AWS_LAMBDA_MAX_CONCURRENCY=N: N loops in one process (what it does)
against N separate processes (what a runtime with worker processes would do), for a handler that waits and for one
that computes.

    python benchmarks/javascript_concurrency.py [--concurrency 4] [--invocations 200] [--runtimes bun,deno,node]

Each setup gets its own Runtime API server (benchmarks/bench_server.py, a thread per connection) and the same
--invocations events, all queued at once; measured: the time until the last response has been read, and the
memory of the runtime processes (VmRSS summed) at the end. The handlers (benchmarks/javascript/work.mjs) wait
20 ms (setTimeout) or do a fixed amount of arithmetic. Figures from one run on a shared machine: compare the two setups
within a run, not runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench_server import BenchServer
from bootstraps import INTERPRETERS, TEMPLATES, javascript_runtimes

WORK = Path(__file__).resolve().parent / "javascript"
DEADLINE_S = 300.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def runtimes(argv: list[str], *, processes: int, concurrency: int, handler: str, server: BenchServer
             ) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_LAMBDA_RUNTIME_API": server.address,
           "_HANDLER": handler, "LAMBDA_TASK_ROOT": str(WORK), "AWS_LAMBDA_FUNCTION_NAME": "bench"}
    if concurrency > 1:
        env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(concurrency)
    started = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True) for _ in range(processes)]
    try:
        yield started
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(argv: list[str], *, processes: int, concurrency: int, handler: str, invocations: int) -> tuple[float, float]:
    server = BenchServer()
    try:
        with runtimes(argv, processes=processes, concurrency=concurrency, handler=handler, server=server) as started:
            for _ in range(concurrency):  # warm: every loop has served one event
                server.put(b'{"warm":true}')
            for _ in range(concurrency):
                server.responses.get(timeout=DEADLINE_S)
            begin = time.perf_counter()
            for number in range(invocations):
                server.put(b'{"n":%d}' % number)
            for _ in range(invocations):
                server.responses.get(timeout=DEADLINE_S)
            elapsed = time.perf_counter() - begin
            memory = sum(rss_mb(process.pid) for process in started)
    finally:
        server.close()
    return elapsed, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--runtimes", default="bun,deno,node")
    args = parser.parse_args(argv)
    if not INTERPRETERS.is_dir():
        parser.error(f"{INTERPRETERS} is missing: npm ci --prefix tests/support/runtimes")
    assert TEMPLATES.is_dir()
    n = args.concurrency
    print(f"{args.invocations} invocations, N = {n}; time to answer all, and memory of the runtime processes\n")
    print(f"{'runtime':8} {'handler':8} {'one process, N loops':>24} {'N processes':>22} {'time ratio':>11}")
    for runtime in javascript_runtimes():
        if runtime.name not in args.runtimes.split(","):
            continue
        for handler in ("wait", "compute"):
            shared = run(runtime.argv, processes=1, concurrency=n, handler=f"work.{handler}",
                         invocations=args.invocations)
            apart = run(runtime.argv, processes=n, concurrency=1, handler=f"work.{handler}",
                        invocations=args.invocations)
            print(f"{runtime.name:8} {handler:8} {shared[0] * 1000:10.0f} ms {shared[1]:7.0f} MB "
                  f"{apart[0] * 1000:8.0f} ms {apart[1]:7.0f} MB {shared[0] / apart[0]:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
