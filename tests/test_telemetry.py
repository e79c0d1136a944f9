"""The Telemetry API and the Logs API through a real local Lambda: subscriptions checked as Lambda checks them,
every platform event and log line delivered in order to listeners on sandbox.localdomain, bounded buffers."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project

from .conftest import REPO_ROOT
from .emulator_fixtures import write_project
from .extension_fixtures import Log, invoke_together
from .telemetry_fixtures import PRINTING_BOOTSTRAP, add_subscriber, answers, records, telemetry_body

PYTHON_EXTENSION = REPO_ROOT / "tests" / "support" / "python-extension" / "extensions" / "python-telemetry-extension"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def printing_project(tmp_path: Path, state: Path, *, lines: int = 1, timeout: int = 6) -> Path:
    return write_project(tmp_path / "project", bootstrap=PRINTING_BOOTSTRAP, timeout=timeout,
                         environment={"STATE": str(state), "PRINT_LINES": str(lines)})


def kinds(found: list[dict[str, Any]]) -> list[str]:
    return [record["type"] for record in found]


def test_aws_style_python_extension_runs_unchanged_and_gets_every_record_in_order(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    root = write_project(tmp_path / "project", environment={"TELEMETRY_OUT": str(out)})
    (root / "runtime" / "extensions").mkdir()
    shutil.copy(PYTHON_EXTENSION, root / "runtime" / "extensions")
    log = Log()
    with LocalLambda(load_project(root), log_sink=log) as local:
        first = local.invoke("hello", b'{"echo": 1}')
        second = local.invoke("hello", b'{"echo": 2}')
    assert (first.payload, second.payload) == (b"1", b"2")
    found = [json.loads(line) for line in out.read_text().splitlines()]
    types = kinds(found)
    assert types[:2] == ["platform.initStart", "platform.telemetrySubscription"]
    init = types.index("platform.initRuntimeDone")
    assert types[init:init + 4] == ["platform.initRuntimeDone", "platform.extension", "platform.initReport",
                                    "platform.start"]
    assert any(r["type"] == "function" and r["record"].startswith("init ") for r in found[:init])
    for result in (first, second):
        positions = [i for i, r in enumerate(found)
                     if isinstance(r["record"], dict) and r["record"].get("requestId") == result.request_id]
        mine = [found[i] for i in positions]
        assert kinds(mine) == ["platform.start", "platform.runtimeDone", "platform.report"]
        start, done, report = (r["record"] for r in mine)
        assert start["version"] == "$LATEST" and start["tracing"]["type"] == "X-Amzn-Trace-Id"
        assert done["status"] == "success" and done["metrics"]["producedBytes"] == 1
        assert [span["name"] for span in done["spans"]] == ["responseLatency", "responseDuration"]
        metrics = report["metrics"]
        assert report["status"] == "success" and metrics["memorySizeMB"] == 256
        assert set(metrics) >= {"durationMs", "billedDurationMs", "maxMemoryUsedMB"}
        handled = next(i for i, r in enumerate(found) if r["record"] == f"handling {result.request_id}\n")
        assert positions[0] < handled < positions[1], "the function's line between start and runtimeDone"
    assert "initDurationMs" in next(r for r in found if r["type"] == "platform.report")["record"]["metrics"]
    assert [r["time"] for r in found] == sorted(r["time"] for r in found)
    assert "[python-telemetry-extension] SHUTDOWN (spindown): exiting" in log.lines()


def test_subscriptions_are_checked_as_lambda_checks_them(tmp_path: Path, state: Path) -> None:
    root = printing_project(tmp_path, state)
    telemetry, logs = "/2022-07-01/telemetry", "/2020-08-15/logs"
    refused = [
        {"path": telemetry, "body": telemetry_body(buffering={"maxItems": 999})},
        {"path": telemetry, "body": telemetry_body(buffering={"maxItems": 10001})},
        {"path": telemetry, "body": telemetry_body(buffering={"maxBytes": 262143})},
        {"path": telemetry, "body": telemetry_body(buffering={"maxBytes": 1048577})},
        {"path": telemetry, "body": telemetry_body(buffering={"timeoutMs": 24})},
        {"path": telemetry, "body": telemetry_body(buffering={"timeoutMs": 30001})},
        {"path": telemetry, "body": telemetry_body(schema="2021-03-18")},
        {"path": telemetry, "body": telemetry_body(types=["platform", "traces"])},
        {"path": telemetry, "body": telemetry_body(destination={"protocol": "HTTP", "URI": "http://127.0.0.1:4243"})},
        {"path": telemetry, "body": telemetry_body(destination={"protocol": "HTTP",
                                                                "URI": "https://sandbox.localdomain:4243"})},
        {"path": telemetry, "body": telemetry_body(destination={"protocol": "HTTP", "URI": "http://sandbox"})},
        {"path": telemetry, "body": telemetry_body(), "id": "none"},
        {"path": telemetry, "body": telemetry_body(), "id": "bogus"},
    ]
    plan = {"subscriptions": [*refused,
                              {"path": telemetry, "body": telemetry_body(
                                  buffering={"maxItems": 1000, "maxBytes": 1048576, "timeoutMs": 30000})},
                              {"path": telemetry, "body": telemetry_body()},
                              {"path": logs, "body": {"types": ["platform"], "destination": {
                                  "protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"}}}],
            "late": {"path": telemetry, "body": telemetry_body()}}
    add_subscriber(root, state, "checker", plan)
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        assert local.invoke("hello", b"{}").error_type is None
    got = answers(state, "checker")
    statuses = [answer["status"] for answer in got]
    assert statuses == [400] * 11 + [403, 403] + [200, 200, 400, 403]
    types = [json.loads(answer["body"]).get("errorType") for answer in got if answer["status"] != 200]
    assert types == ["ValidationError"] * 11 + ["Extension.MissingExtensionIdentifier",
                                                "Extension.UnknownExtensionIdentifier", "Logs.ValidationError",
                                                "Telemetry.SubscriptionClosed"]
    assert "between 1000 and 10000, not 999" in got[0]["body"]
    assert "sandbox.localdomain" in got[8]["body"] and "port" in got[10]["body"]
    assert got[13]["body"] == '"OK"'
    subscribed = [r["record"] for r in records(state, "checker") if r["type"] == "platform.telemetrySubscription"]
    assert [s["state"] for s in subscribed] == ["Subscribed", "Already subscribed"]


def test_each_schema_version_gets_its_own_shape(tmp_path: Path, state: Path) -> None:
    root = printing_project(tmp_path, state)
    for number, schema in enumerate(("2022-07-01", "2022-12-13", "2025-01-29")):
        add_subscriber(root, state, f"v{number}", {"port": 4243 + number, "subscriptions": [
            {"path": "/2022-07-01/telemetry", "body": telemetry_body(schema, types=["platform"], port=4243 + number)}]})
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        assert local.invoke("hello", b"{}").error_type is None

    def record(name: str, kind: str) -> dict[str, Any]:
        return next(r["record"] for r in records(state, name) if r["type"] == kind)

    assert "functionName" not in record("v1", "platform.initStart")
    assert record("v2", "platform.initStart")["functionName"].endswith("-hello")
    assert "status" not in record("v0", "platform.initReport") and record("v1", "platform.initReport")["status"]
    assert set(record("v0", "platform.report")) == {"requestId", "metrics", "tracing", "status"}


def test_logs_api_subscribers_get_the_logs_api_records(tmp_path: Path, state: Path) -> None:
    root = printing_project(tmp_path, state)
    add_subscriber(root, state, "old", {"subscriptions": [{"path": "/2020-08-15/logs", "body": {
        "schemaVersion": "2021-03-18", "types": ["platform", "function"],
        "buffering": {"timeoutMs": 25}, "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/logs",
                                                        "method": "PUT"}}}]})
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        result = local.invoke("hello", b"{}")
    found = records(state, "old")
    types = kinds(found)
    assert "platform.initStart" not in types and "platform.telemetrySubscription" not in types
    assert types[0] == "platform.logsSubscription"
    mine = [r for r in found if isinstance(r["record"], dict) and r["record"].get("requestId") == result.request_id]
    assert kinds(mine) == ["platform.start", "platform.runtimeDone", "platform.end", "platform.report"]
    assert mine[1]["record"] == {"requestId": result.request_id, "status": "success"}
    assert {"type": "function", "record": "line 1\n"} in [{"type": r["type"], "record": r["record"]} for r in found]


def test_a_tcp_destination_gets_newline_delimited_json(tmp_path: Path, state: Path) -> None:
    root = printing_project(tmp_path, state, lines=3)
    add_subscriber(root, state, "tcp", {"listener": "tcp", "subscriptions": [{"path": "/2022-07-01/telemetry", "body": {
        "schemaVersion": "2022-12-13", "types": ["function"], "buffering": {"timeoutMs": 25},
        "destination": {"protocol": "TCP", "port": 4243}}}]})
    with LocalLambda(load_project(root), log_sink=Log()) as local:
        assert local.invoke("hello", b"{}").error_type is None
    assert [r["record"] for r in records(state, "tcp")] == ["runtime init\n", "line 1\n", "line 2\n", "line 3\n"]


def test_a_blocked_subscriber_never_holds_an_invocation_and_its_drops_are_reported(tmp_path: Path,
                                                                                    state: Path) -> None:
    root = printing_project(tmp_path, state, lines=2500)
    add_subscriber(root, state, "slow", {"block": True, "subscriptions": [{"path": "/2022-07-01/telemetry", "body":
                                         telemetry_body(types=["platform", "function"])}]})
    log = Log()
    with LocalLambda(load_project(root), log_sink=log) as local:
        results = [local.invoke("hello", b"{}") for _ in range(3)]  # its listener has answered nothing yet
        assert all(result.error_type is None for result in results)
        assert not (state / "slow.batches").exists()
        (state / "release").touch()
    found = records(state, "slow")
    dropped = [r["record"] for r in found if r["type"] == "platform.logsDropped"]
    assert dropped and all(d["droppedRecords"] > 0 and d["droppedBytes"] > 0 for d in dropped)
    assert dropped[0]["reason"] == "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."
    numbers = [int(r["record"].split()[1]) for r in found if r["type"] == "function" and r["record"].startswith("line")]
    assert numbers and all(a < b or b == 1 for a, b in itertools.pairwise(numbers)), "kept in order"
    assert "telemetry for extension slow: records dropped, its listener did not keep up" in log.text


def test_sandbox_localdomain_is_an_address_of_each_sandbox(tmp_path: Path, state: Path) -> None:
    """Two environments of one function both listen on sandbox.localdomain:4243, as on Lambda."""
    out = tmp_path / "records.jsonl"
    root = write_project(tmp_path / "project", environment={"TELEMETRY_OUT": str(out)})
    (root / "runtime" / "extensions").mkdir()
    shutil.copy(PYTHON_EXTENSION, root / "runtime" / "extensions")
    with LocalLambda(load_project(root), concurrency=2, log_sink=Log()) as local:
        results = invoke_together(local, b'{"sleep": 0.3}')
        assert len(local.pool(local.project.function("hello")).sandboxes) == 2
    assert all(result.error_type is None for result in results), [r.payload for r in results]
    reported = {json.loads(line)["record"].get("requestId") for line in out.read_text().splitlines()
                if json.loads(line)["type"] == "platform.report"}
    assert reported == {result.request_id for result in results}
