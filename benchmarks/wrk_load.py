"""Load and CPU measurement for benchmarks/serve_throughput.py: wrk (C) on the Invoke API, and the CPU time
that the serve process and its bootstraps spend, read from /proc before and after.

wrk is the load generator because a Python client would be the bottleneck: against a trivial uvloop server it
drives over 70,000 requests/s on one connection here, ten times what `scaffold serve` is asked to do.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
LUA_BODY = '{"name": "World"}'
LUA = f'wrk.method = "POST"\nwrk.body = \'{LUA_BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n'


def wrk_path() -> str | None:
    return shutil.which("wrk")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


@dataclass
class Run:
    rate: float  # invocations per second
    p50_ms: float
    server_cpu_ms: float  # per invocation
    bootstrap_cpu_ms: float  # per invocation, all bootstraps together
    errors: int


class Serve:
    """`scaffold serve` from ``src`` (a checkout's src folder) on a project, port 0, logs to /dev/null."""

    def __init__(self, src: Path, project: Path, *, concurrency: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime_scaffold", "serve", "--project", str(project), "--port", "0",
             "--concurrency", str(concurrency)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if "http://" not in line:
            self.close()
            raise RuntimeError(f"scaffold serve from {src} did not start")
        self.base = line.rsplit(" ", 1)[1].strip()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _wrk(url: str, *, connections: int, seconds: float, script: Path) -> str:
    command = [wrk_path() or "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
               "-s", str(script), url]
    return subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout


def _latency_ms(text: str) -> float:
    match = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk_load(url: str, *, server_pid: int, bootstraps: Callable[[], list[int]], connections: int,
             warm_connections: int, seconds: float) -> Run:
    """Warm the server up with wrk for a second (``warm_connections`` 0: the caller did), then load it for
    ``seconds`` while the CPU of the server process and of ``bootstraps()`` (asked after the warm-up: an emulator
    starts its bootstraps on demand) is accounted."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(LUA)
    script = Path(lua.name)
    try:
        if warm_connections:
            _wrk(url, connections=warm_connections, seconds=1, script=script)  # cold starts, caches
        pids = bootstraps()
        server_before = cpu_seconds(server_pid)
        bootstrap_before = sum(cpu_seconds(pid) for pid in pids)
        text = _wrk(url, connections=connections, seconds=seconds, script=script)
        server_cpu = cpu_seconds(server_pid) - server_before
        bootstrap_cpu = sum(cpu_seconds(pid) for pid in pids) - bootstrap_before
    finally:
        script.unlink()
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    if requests == 0:
        raise RuntimeError(f"no request to {url} was answered in {seconds:g} s")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    return Run(rate, _latency_ms(text), server_cpu / requests * 1000, bootstrap_cpu / requests * 1000, errors)


def wrk_run(src: Path, project: Path, *, function: str, concurrency: int, connections: int,
            seconds: float) -> Run:
    """One run of `scaffold serve` from ``src``: every environment warmed up, then wrk for ``seconds``."""
    serve = Serve(src, project, concurrency=concurrency)
    try:
        return wrk_load(f"{serve.base}/2015-03-31/functions/{function}/invocations", server_pid=serve.process.pid,
                        bootstraps=lambda: children(serve.process.pid), connections=connections,
                        warm_connections=max(connections, concurrency), seconds=seconds)
    finally:
        serve.close()


def checkout_main_src(repo: Path, into: Path, *, revision: str = "main") -> Path | None:
    """The src of ``revision`` (and a link to the templates it lists at start-up) in ``into``; None when the
    revision does not exist."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", revision, "src"], capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    (into / "cookiecutters").symlink_to(repo / "cookiecutters", target_is_directory=True)
    return into / "src"
