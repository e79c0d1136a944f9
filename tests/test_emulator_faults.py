"""Review findings on the emulator's failure paths: cut-off posts, shutdown mid-invocation, the REPORT line."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.emulator.invocation import InvocationResult
from runtime_scaffold.project import load_project

from .conftest import wait_dead
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]


@pytest.mark.parametrize("cut", ["length", "chunked"])
def test_a_cut_off_response_is_not_a_success(tmp_path: Path, local_lambda: Factory, logs: object,
                                             cut: str) -> None:
    local = local_lambda(write_project(tmp_path / "p", timeout=10))
    result = local.invoke(None, json.dumps({"cut": cut}).encode())
    assert result.error_type == "Runtime.ExitError", result.payload
    assert "cut post: HTTP/1.1 400" in logs.text  # type: ignore[attr-defined]


def _started(logs: object, run: Callable[[], object]) -> tuple[threading.Thread, list[object], int]:
    """Run ``run`` in a thread until the bootstrap is handling the event; (thread, [its result], bootstrap pid)."""
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(run()), daemon=True)
    thread.start()
    assert logs.wait_for("handling ", timeout=20)  # type: ignore[attr-defined]
    pid = next(int(line.split()[1]) for line in logs.text.splitlines()  # type: ignore[attr-defined]
               if line.startswith("init "))
    return thread, results, pid


def test_close_mid_invocation_answers_reaps_and_cleans_up(tmp_path: Path, logs: object) -> None:
    name = f"inflight{os.getpid()}"
    local = LocalLambda(load_project(write_project(tmp_path / "p", functions=(name,), timeout=60)),
                        log_sink=logs)  # type: ignore[arg-type]
    event = {"sleep": 30}
    thread, results, pid = _started(logs, lambda: local.invoke(name, json.dumps(event).encode()))
    folders = list(Path(tempfile.gettempdir()).glob(f"scaffold-{name}-*"))
    assert len(folders) == 1
    local.close()
    assert not folders[0].exists()  # removed by close() itself, not by the invoker's thread later
    assert wait_dead(pid)
    thread.join(10)
    assert not thread.is_alive()
    result = results[0]
    assert isinstance(result, InvocationResult) and result.error_type == "Sandbox.Failure"
    assert "shutting down" in json.loads(result.payload)["errorMessage"]


def test_serve_shutdown_answers_the_caller_in_flight(tmp_path: Path, logs: object) -> None:
    local = LocalLambda(load_project(write_project(tmp_path / "p", timeout=60)),
                        log_sink=logs)  # type: ignore[arg-type]
    server = start_invoke_server(local, port=0)
    address = f"http://{server.address}/2015-03-31/functions/hello/invocations"
    try:
        thread, results, pid = _started(logs, lambda: requests.post(
            address, data=b'{"sleep": 30}', timeout=20))
    finally:
        local.close()  # the order `scaffold serve` stops in
        server.close(drain_s=5)
    thread.join(10)
    assert wait_dead(pid)
    reply = results[0]
    assert isinstance(reply, requests.Response) and reply.status_code == 200
    assert reply.headers["X-Amz-Function-Error"] == "Unhandled"
    assert reply.json()["errorType"] == "Sandbox.Failure"


def _report(text: str, request_id: str) -> dict[str, str]:
    line = next(line for line in text.splitlines() if line.startswith(f"REPORT RequestId: {request_id}\t"))
    return dict(part.split(": ", 1) for part in line.split("\t")[1:])


def test_a_crash_still_reports_the_memory_it_used(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    result = local.invoke(None, b'{"sleep": 0.5, "exit": 3}')
    assert result.error_type == "Runtime.ExitError"
    report = _report(logs.text, result.request_id)  # type: ignore[attr-defined]
    assert report["Status"] == "error" and report["Error Type"] == "Runtime.ExitError"
    assert int(report["Max Memory Used"].split()[0]) > 0


def test_a_timeout_lasts_the_whole_timeout_after_a_slow_init(tmp_path: Path, local_lambda: Factory,
                                                              logs: object) -> None:
    # Init is a phase of its own (it used to eat into the 1 s here): the deadline starts at the hand-over, the
    # REPORT's Duration is the whole timeout from there, and Init Duration is given apart.
    local = local_lambda(write_project(tmp_path / "p", timeout=1, environment={"INIT_SLEEP": "0.5"}))
    result = local.invoke(None, b'{"sleep": 30}')
    assert result.error_type == "Sandbox.Timedout"
    report = _report(logs.text, result.request_id)  # type: ignore[attr-defined]
    assert report["Status"] == "timeout"
    assert float(report["Duration"].split()[0]) >= 990  # by construction: measured from the deadline's start
    assert float(report["Init Duration"].split()[0]) >= 500
