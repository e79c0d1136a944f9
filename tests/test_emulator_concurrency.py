"""Lambda Managed Instances: several invocations at once in one execution environment (max_concurrency)."""

from __future__ import annotations

import concurrent.futures
import json
import textwrap
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.emulator import InvocationResult, LocalLambda, start_invoke_server
from runtime_scaffold.errors import InvalidInput, ProjectError
from runtime_scaffold.project import load_project

from .conftest import LogCollector
from .emulator_fixtures import ServeProcess, write_project

Factory = Callable[..., LocalLambda]

# A runtime with one worker thread per AWS_LAMBDA_MAX_CONCURRENCY, each with its own keep-alive connection, logging
# JSON lines; an event {"sleep": S} is answered after S seconds with the handler's own start and end stamps,
# {"slow_once": S} sleeps S more on a request id's first attempt only, {"plain": TEXT} logs TEXT as a plain line
# first, {"exit": N} ends the process.
THREADED_BOOTSTRAP = textwrap.dedent('''\
    import http.client, json, os, threading, time
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    lock = threading.Lock()
    seen = set()
    def log(text, rid):
        with lock:
            print(json.dumps({"timestamp": time.time(), "level": "INFO", "message": text, "requestId": rid}),
                  flush=True)
    def serve():
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                os._exit(3)
            rid = reply.getheader("Lambda-Runtime-Aws-Request-Id")
            attempt = reply.getheader("Lambda-Runtime-Invocation-Id")
            event = json.loads(body)
            started = time.time()
            log("start " + event.get("name", ""), rid)
            if "plain" in event:
                with lock:
                    print(event["plain"], flush=True)
            time.sleep(event.get("sleep", 0))
            with lock:
                first_attempt, _ = rid not in seen, seen.add(rid)
            if first_attempt:
                time.sleep(event.get("slow_once", 0))
            if "exit" in event:
                os._exit(event["exit"])
            out = {"name": event.get("name"), "started": started, "ended": time.time(), "pid": os.getpid(),
                   "thread": threading.get_ident(), "tenant": reply.getheader("Lambda-Runtime-Aws-Tenant-Id"),
                   "env": {key: os.environ.get(key) for key in ("AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_LOG_FORMAT")}}
            conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps(out),
                         {"Lambda-Runtime-Invocation-Id": attempt})
            answer = conn.getresponse()
            answer.read()
            log(f"posted {answer.status} for {event.get('name', '')}", rid)
    workers = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))
    for _ in range(workers):
        threading.Thread(target=serve).start()
''')


@pytest.fixture
def threaded(tmp_path: Path) -> Path:
    return write_project(tmp_path / "threaded", bootstrap=THREADED_BOOTSTRAP, timeout=2)


def invoke_together(local: LocalLambda, events: list[dict[str, object]]) -> list[InvocationResult]:
    with concurrent.futures.ThreadPoolExecutor(len(events)) as pool:
        futures = [pool.submit(local.invoke, "hello", json.dumps(event).encode()) for event in events]
        return [future.result(timeout=30) for future in futures]


def test_four_invocations_overlap_in_one_environment_and_come_back_in_any_order(
        threaded: Path, local_lambda: Factory) -> None:
    local = local_lambda(threaded, max_concurrency=4)
    events = [{"name": str(n), "sleep": 0.8 - 0.2 * n} for n in range(4)]  # the first sent is the last done
    results = invoke_together(local, events)
    answers = [json.loads(result.payload) for result in results]
    assert [answer["name"] for answer in answers] == ["0", "1", "2", "3"]  # each caller got its own answer
    assert len({answer["pid"] for answer in answers}) == 1  # one execution environment
    assert len(local.pool(local.function("hello")).sandboxes) == 1
    # The overlap, from the handlers' own stamps: every one started before any one ended.
    assert max(answer["started"] for answer in answers) < min(answer["ended"] for answer in answers)
    assert sorted(answers, key=lambda answer: answer["ended"])[0]["name"] == "3"  # answered out of order
    assert answers[0]["env"] == {"AWS_LAMBDA_MAX_CONCURRENCY": "4", "AWS_LAMBDA_LOG_FORMAT": "JSON"}


def test_standard_functions_get_neither_variable(threaded: Path, local_lambda: Factory) -> None:
    answer = json.loads(local_lambda(threaded).invoke("hello", b"{}").payload)
    assert answer["env"] == {"AWS_LAMBDA_MAX_CONCURRENCY": None, "AWS_LAMBDA_LOG_FORMAT": None}


def test_platform_lines_are_json_records_and_each_tail_holds_its_own_lines(
        threaded: Path, local_lambda: Factory, logs: LogCollector) -> None:
    local = local_lambda(threaded, max_concurrency=2)
    first, second = invoke_together(local, [{"name": "a", "sleep": 0.3}, {"name": "b", "sleep": 0.3}])
    records = [json.loads(line) for line in logs.text.splitlines() if line.startswith('{"time"')]
    assert [record["type"] for record in records].count("platform.start") == 2
    reports = [record["record"] for record in records if record["type"] == "platform.report"]
    assert {report["requestId"] for report in reports} == {first.request_id, second.request_id}
    assert all(report["status"] == "success" and report["metrics"]["memorySizeMB"] == 256 for report in reports)
    assert "REPORT RequestId" not in logs.text  # no text lines in the JSON log format
    tail = first.log_tail.decode()
    assert first.request_id in tail and '"message": "start a"' in tail
    assert second.request_id not in tail and "start b" not in tail


def test_a_line_that_is_not_json_is_passed_on_and_reported(threaded: Path, local_lambda: Factory,
                                                           logs: LogCollector) -> None:
    local = local_lambda(threaded, max_concurrency=2)
    local.invoke("hello", b'{"plain": "a plain line"}')
    assert "a plain line\nscaffold: the line above is not a JSON object" in logs.text


def test_a_timeout_fails_its_invocation_alone_and_its_late_answer_gets_410(
        threaded: Path, local_lambda: Factory, logs: LogCollector) -> None:
    local = local_lambda(threaded, max_concurrency=2)
    slow, quick = invoke_together(local, [{"name": "slow", "sleep": 3.5}, {"name": "quick", "sleep": 0.2}])
    assert slow.error_type == "Sandbox.Timedout" and quick.error_type is None
    assert logs.wait_for("posted 410 for slow", timeout=10)  # the handler ran on, as Lambda lets it
    again = json.loads(local.invoke("hello", b'{"name": "after"}').payload)
    assert again["pid"] == json.loads(quick.payload)["pid"]  # the same environment, never reset


def test_a_crash_fails_every_invocation_it_held(threaded: Path, local_lambda: Factory) -> None:
    local = local_lambda(threaded, max_concurrency=3)
    results = invoke_together(local, [{"name": "x", "sleep": 1.0}, {"name": "crash", "sleep": 0.2, "exit": 2},
                                      {"name": "y", "sleep": 1.0}])
    assert [result.error_type for result in results] == ["Runtime.ExitError"] * 3
    assert local.invoke("hello", b'{"name": "fresh"}').error_type is None  # a fresh environment


@pytest.mark.parametrize("value", [0, 1601, -1])
def test_max_concurrency_is_bounded_as_lambda_bounds_it(threaded: Path, value: int) -> None:
    with pytest.raises(InvalidInput, match="from 1 to 1600"):
        LocalLambda(load_project(threaded), max_concurrency=value)


def _with_capacity_provider(project: Path, value: str) -> Path:
    """The fixture's function with Serverless Framework v4's `capacityProvider:` key."""
    config = project / "serverless.yml"
    config.write_text(config.read_text().replace("    memorySize: 256\n",
                                                 f"    memorySize: 256\n    capacityProvider: {value}\n"))
    return project


@pytest.mark.parametrize(("value", "expected"), [
    ("{name: highMem, maxConcurrency: 3}", "3"),
    ("default", "16"),  # no maxConcurrency: the smallest of the runtime defaults the Framework documents
])
def test_a_functions_capacity_provider_turns_the_mode_on(threaded: Path, local_lambda: Factory, value: str,
                                                         expected: str) -> None:
    local = local_lambda(_with_capacity_provider(threaded, value))
    answer = json.loads(local.invoke("hello", b"{}").payload)
    assert answer["env"] == {"AWS_LAMBDA_MAX_CONCURRENCY": expected, "AWS_LAMBDA_LOG_FORMAT": "JSON"}


def test_a_capacity_provider_concurrency_out_of_bounds_is_a_project_error(threaded: Path) -> None:
    project = load_project(_with_capacity_provider(threaded, "{name: x, maxConcurrency: 5000}"))
    with LocalLambda(project) as local, pytest.raises(ProjectError, match=r"maxConcurrency must be .* 1 to 1600"):
        local.invoke("hello", b"{}")


def test_serve_max_concurrency_serves_overlapping_callers_from_one_environment(threaded: Path) -> None:
    def call(serve: ServeProcess, n: int) -> dict[str, object]:
        request = urllib.request.Request(serve.url(), json.dumps({"name": str(n), "sleep": 0.5}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    with ServeProcess(threaded, "--max-concurrency", "4") as serve, concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: call(serve, n), range(4)))
    assert len({answer["pid"] for answer in answers}) == 1
    assert max(float(str(a["started"])) for a in answers) < min(float(str(a["ended"])) for a in answers)


def test_an_event_invocation_that_timed_out_is_retried_and_the_first_attempts_answer_gets_410(
        threaded: Path, local_lambda: Factory, logs: LogCollector) -> None:
    local = local_lambda(threaded, max_concurrency=2, event_retry_delays_s=(0.0, 0.0))
    server = start_invoke_server(local, host="127.0.0.1", port=0)
    try:
        request = urllib.request.Request(f"http://{server.address}/2015-03-31/functions/hello/invocations",
                                         b'{"name": "retried", "slow_once": 3.5}',
                                         headers={"X-Amz-Invocation-Type": "Event"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202
        assert logs.wait_for("posted 202 for retried", timeout=20)  # the retry, in the same environment
        assert logs.wait_for("posted 410 for retried", timeout=20)  # the timed-out attempt, answering late
    finally:
        server.close()
    assert "failed (Sandbox.Timedout): retry 1 of 2 in 0 s" in logs.text
    starts = [json.loads(line)["record"]["requestId"] for line in logs.text.splitlines()
              if '"type":"platform.start"' in line]
    assert len(starts) == 2 and starts[0] == starts[1]  # one request id, two attempts
