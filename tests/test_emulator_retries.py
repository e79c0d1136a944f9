"""A failed Event invocation is retried as Lambda retries it: under its request id, maximumRetryAttempts times."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.errors import ProjectError

from .conftest import LogCollector
from .emulator_fixtures import write_project

Factory = Callable[..., LocalLambda]


def event(local: LocalLambda, payload: bytes) -> str:
    server = start_invoke_server(local, host="127.0.0.1", port=0)
    try:
        reply = requests.post(f"http://{server.address}/2015-03-31/functions/hello/invocations", data=payload,
                              headers={"X-Amz-Invocation-Type": "Event"}, timeout=30)
        assert reply.status_code == 202
        return reply.headers["x-amzn-RequestId"]
    finally:
        server.close(drain_s=0.0)


def with_retry_attempts(root: Path, value: str) -> Path:
    config = root / "serverless.yml"
    config.write_text(config.read_text().replace("    memorySize: 256\n",
                                                 f"    memorySize: 256\n    maximumRetryAttempts: {value}\n"))
    return root


def starts(logs: LogCollector) -> list[str]:
    return [line.split()[2] for line in logs.text.splitlines() if line.startswith("START RequestId: ")]


def test_a_failing_event_invocation_runs_three_times_under_its_request_id(tmp_path: Path, local_lambda: Factory,
                                                                         logs: LogCollector) -> None:
    local = local_lambda(write_project(tmp_path / "p"), event_retry_delays_s=(0.0, 0.0))
    request_id = event(local, b'{"fail": "always"}')
    assert logs.wait_for("retry 2 of 2", timeout=20)
    deadline = time.monotonic() + 20
    while logs.text.count(f"REPORT RequestId: {request_id}") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    local.close()
    assert starts(logs) == [request_id] * 3
    assert "retry 3" not in logs.text  # two retries, no more


def test_maximum_retry_attempts_zero_runs_it_once(tmp_path: Path, local_lambda: Factory,
                                                 logs: LogCollector) -> None:
    root = with_retry_attempts(write_project(tmp_path / "p"), "0")
    local = local_lambda(root, event_retry_delays_s=(0.0, 0.0))
    request_id = event(local, b'{"fail": "once"}')
    assert logs.wait_for(f"REPORT RequestId: {request_id}", timeout=20)
    assert local.invoke("hello", b'{"echo": 1}').payload == b"1"  # the queue has moved on
    local.close()
    assert starts(logs)[0] == request_id and starts(logs).count(request_id) == 1
    assert "retry" not in logs.text


def test_a_successful_event_invocation_is_not_retried(tmp_path: Path, local_lambda: Factory,
                                                      logs: LogCollector) -> None:
    local = local_lambda(write_project(tmp_path / "p"), event_retry_delays_s=(0.0, 0.0))
    request_id = event(local, b'{"echo": 1}')
    assert logs.wait_for(f"REPORT RequestId: {request_id}", timeout=20)
    assert local.invoke("hello", b'{"echo": 2}').payload == b"2"
    local.close()
    assert starts(logs).count(request_id) == 1


def test_maximum_retry_attempts_out_of_range_is_a_project_error(tmp_path: Path) -> None:
    from runtime_scaffold.project import load_project

    root = with_retry_attempts(write_project(tmp_path / "p"), "5")
    with LocalLambda(load_project(root)) as local, pytest.raises(ProjectError, match="must be 0, 1 or 2, not 5"):
        local.invoke("hello", b"{}")
