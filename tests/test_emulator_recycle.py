"""LocalLambda.recycle, live reload's half in the emulator: an invocation in flight ends as it would have, every
warm environment is then retired, the next invocation starts cold, and a re-read project takes over (its
environment, its functions). Waits are on events (log lines, futures) with deadlines, never on the clock."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.emulator.pool import Recycled
from runtime_scaffold.errors import ProjectError
from runtime_scaffold.project import load_project

from .emulator_fixtures import write_project

DEADLINE_S = 30.0


class Log:
    """A log sink whose lines can be waited for."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()

    def __call__(self, data: bytes) -> None:
        for line in data.decode(errors="replace").splitlines():
            self.lines.put(line)

    def wait_for(self, needle: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=DEADLINE_S)
            except queue.Empty:
                pytest.fail(f"no log line with {needle!r} within {DEADLINE_S:.0f} s")
            if needle in line:
                return line


def test_a_warm_environment_is_retired_and_the_next_invocation_starts_cold(tmp_path: Path) -> None:
    log = Log()
    with LocalLambda(load_project(write_project(tmp_path / "p")), log_sink=log) as local:
        assert local.invoke(None, b'{"echo": 1}').init_duration_ms is not None  # cold
        assert local.invoke(None, b'{"echo": 2}').init_duration_ms is None  # warm
        first_pid = local.pool(local.function(None)).sandboxes[0].pid
        assert local.recycle() == Recycled(idle=1, busy=0)
        result = local.invoke(None, b'{"echo": 3}')
        assert (result.payload, result.init_duration_ms is not None) == (b"3", True)
        assert local.pool(local.function(None)).sandboxes[0].pid != first_pid


def test_an_invocation_in_flight_finishes_then_its_environment_is_retired(tmp_path: Path) -> None:
    log = Log()
    with LocalLambda(load_project(write_project(tmp_path / "p")), log_sink=log) as local:
        running = local.loop.submit(local.invoke_async(None, json.dumps({"sleep": 1, "echo": "old"}).encode()))
        log.wait_for("handling")  # the bootstrap has the event
        assert local.recycle() == Recycled(idle=0, busy=1)
        finished = running.result(DEADLINE_S)
        assert (finished.error_type, finished.payload) == (None, b'"old"')  # not cut short by the recycle
        after = local.invoke(None, b'{"echo": "new"}')
        assert (after.payload, after.init_duration_ms is not None) == (b'"new"', True)


def test_a_waiting_invocation_gets_a_fresh_environment_when_the_busy_one_is_retired(tmp_path: Path) -> None:
    log = Log()
    with LocalLambda(load_project(write_project(tmp_path / "p")), log_sink=log) as local:
        running = local.loop.submit(local.invoke_async(None, json.dumps({"sleep": 1, "echo": "a"}).encode()))
        log.wait_for("handling")
        waiting = local.loop.submit(local.invoke_async(None, b'{"echo": "b"}'))  # concurrency 1: it waits
        local.recycle()
        assert running.result(DEADLINE_S).payload == b'"a"'
        second = waiting.result(DEADLINE_S)
        assert (second.payload, second.init_duration_ms is not None) == (b'"b"', True)
        assert len(local.pool(local.function(None)).sandboxes) == 1  # still at most --concurrency


def test_a_re_read_project_takes_over(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        assert "GREETING" not in json.loads(local.invoke(None, b'{"env": true}').payload)
        config = root / "serverless.yml"
        config.write_text(config.read_text().replace("    handler: function.handler\n",
                                                     "    handler: function.handler\n"
                                                     "    environment:\n      GREETING: Hi\n"))
        assert local.recycle(load_project(root)) == Recycled(idle=1, busy=0)
        assert json.loads(local.invoke(None, b'{"env": true}').payload)["GREETING"] == "Hi"
        config.write_text(config.read_text().replace("  hello:\n", "  renamed:\n"))
        local.recycle(load_project(root))
        assert local.invoke("renamed", b'{"echo": 4}').payload == b"4"
        with pytest.raises(ProjectError):
            local.invoke("hello", b"{}")


def test_the_invoke_api_serves_the_re_read_project(tmp_path: Path) -> None:
    """The Invoke API remembers each function it resolved: a reload must make it forget them."""
    root = write_project(tmp_path / "p")
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        server = start_invoke_server(local, port=0)
        try:
            base = f"http://{server.address}/2015-03-31/functions"
            assert requests.post(f"{base}/hello/invocations", data=b'{"echo": 1}', timeout=DEADLINE_S).json() == 1
            config = root / "serverless.yml"
            config.write_text(config.read_text().replace("  hello:\n", "  renamed:\n"))
            local.recycle(load_project(root))
            assert requests.post(f"{base}/hello/invocations", data=b"{}", timeout=DEADLINE_S).status_code == 404
            assert requests.post(f"{base}/renamed/invocations", data=b'{"echo": 2}',
                                 timeout=DEADLINE_S).json() == 2
        finally:
            server.close()
