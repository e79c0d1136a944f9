"""`scaffold invoke` and `scaffold serve` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.cli import local as local_cli
from runtime_scaffold.errors import ExitCode

from .conftest import pid_alive
from .emulator_fixtures import STREAMING_BOOTSTRAP, write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p", timeout=3)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_invoke_prints_the_response_raw(project: Path) -> None:
    code, out, err = run("invoke", "hello", "--data", '{"echo": {"a": 1}}', "--project", str(project))
    assert code == 0
    assert out == '{"a": 1}'
    assert "START RequestId: " in err and "REPORT RequestId: " in err and "handling " in err


def test_invoke_tenant_id_reaches_the_runtime_and_a_bad_one_is_one_line(project: Path) -> None:
    code, out, err = run("invoke", "hello", "--data", '{"headers": true}', "--tenant-id", "blue",
                         "--project", str(project))
    assert code == 0 and json.loads(out)["Lambda-Runtime-Aws-Tenant-Id"] == "blue"
    assert "\tTenant Id: blue" in err
    code, out, err = run("invoke", "hello", "--tenant-id", "no;way", "--project", str(project))
    assert code == ExitCode.USAGE and out == ""
    assert err.strip().splitlines() == [
        "Error: --tenant-id: the tenant id may hold only letters, digits, spaces and . _ : / = + - @"]


def test_invoke_reads_an_event_file_and_defaults_the_function(project: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"echo": "from file"}')
    code, out, _ = run("invoke", "--path", str(event), "--project", str(project))
    assert (code, out) == (0, '"from file"')
    code, out, _ = run("invoke", "-f", "hello", "--project", str(project))
    assert (code, json.loads(out)) == (0, {})


def test_invoke_function_error_writes_the_error_json_to_stdout_and_one_line_to_stderr(project: Path) -> None:
    code, out, err = run("invoke", "--data", '{"fail": "bad"}', "--project", str(project))
    assert code == ExitCode.ERROR
    # stdout is the payload, as `aws lambda invoke` writes it; stderr sums it up in one line
    assert json.loads(out) == {"errorMessage": "bad", "errorType": "Handler.Failed", "stackTrace": ["here"]}
    assert err.strip().splitlines()[-1] == "Error: Handler.Failed: bad"
    assert [line for line in err.splitlines() if line.startswith("Error:")] == ["Error: Handler.Failed: bad"]


def test_invoke_timeout_is_a_function_error(project: Path) -> None:
    code, out, err = run("invoke", "--data", '{"sleep": 30}', "--project", str(project))
    assert code == ExitCode.ERROR
    assert json.loads(out)["errorType"] == "Sandbox.Timedout"
    # The message is Lambda's log line already: the closing line names the type only.
    assert err.strip().splitlines()[-1] == "Error: Sandbox.Timedout (the error JSON is on stdout)"
    assert err.count("Task timed out after 3.00 seconds") == 1


def test_a_function_error_message_is_printed_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the error JSON on stdout, then `Error: <type>: <message>` again on stderr, whatever stdout was.
    monkeypatch.setattr(local_cli, "_stdout_is_terminal", lambda: True)
    code, out, err = run("invoke", "--data", '{"fail": "bad news"}', "--project", str(project))
    assert code == ExitCode.ERROR
    assert out.endswith("\n") and json.loads(out)["errorMessage"] == "bad news"
    assert err.strip().splitlines()[-1] == "Error: Handler.Failed (the error JSON is on stdout)"
    assert "bad news" not in err


def test_ctrl_c_during_invoke_exits_130_and_reaps_the_bootstrap(project: Path, tmp_path: Path) -> None:
    stderr_path = tmp_path / "invoke.err"
    with open(stderr_path, "wb") as stderr:
        invoke = subprocess.Popen(
            [sys.executable, "-m", "runtime_scaffold", "invoke", "--data", '{"sleep": 30}', "--project",
             str(project)], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "init " not in stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        deadline = time.monotonic() + 10  # the log reaches stderr through a writer thread: it may lag the reply
        while "\ninit " not in stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        bootstrap_pid = int(stderr_path.read_text().split("\ninit ")[1].split()[0])
        assert pid_alive(bootstrap_pid)
        invoke.send_signal(signal.SIGINT)
        assert invoke.wait(timeout=15) == 130
        deadline = time.monotonic() + 10
        while pid_alive(bootstrap_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(bootstrap_pid)
        assert "Traceback" not in stderr_path.read_text()
    finally:
        if invoke.poll() is None:
            os.killpg(invoke.pid, signal.SIGKILL)
            invoke.wait(timeout=10)


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--data", "not json"], ExitCode.USAGE, "the event in --data is not valid JSON"),
    (["--path", "/no/such/event.json"], ExitCode.USAGE, "cannot read the event file /no/such/event.json"),
    (["--data", "{}", "--path", "x.json"], ExitCode.USAGE, "--data or --path, not both"),
    (["nope"], ExitCode.PROJECT, "no function 'nope'"),
    (["hello", "-f", "other"], ExitCode.USAGE, "two different functions"),
])
def test_invoke_bad_input_is_one_clear_line(project: Path, args: list[str], code: int, message: str) -> None:
    exit_code, out, err = run("invoke", *args, "--project", str(project))
    assert exit_code == code
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_invoke_outside_a_project(tmp_path: Path) -> None:
    code, _, err = run("invoke", "--project", str(tmp_path))
    assert code == ExitCode.PROJECT and "no serverless.yml" in err


def test_help_texts() -> None:
    for command in ("invoke", "serve"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "--project" in out
    assert "--concurrency" in run("serve", "-h")[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serve_answers_and_stops_cleanly(project: Path, tmp_path: Path, stop_signal: signal.Signals) -> None:
    stderr_path = tmp_path / "serve.err"
    with open(stderr_path, "wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime_scaffold", "serve", "--project", str(project), "--port", "0",
             "--concurrency", "2"], stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline().decode()  # "Local Lambda for fixture listening on http://127.0.0.1:N"
        assert "listening on http://127.0.0.1:" in first
        base = first.rsplit(" ", 1)[1].strip()
        address = f"{base}/2015-03-31/functions/hello/invocations"
        reply = requests.post(address, data=b'{"echo": 7}', timeout=30)
        assert (reply.status_code, reply.json()) == (200, 7)
        deadline = time.monotonic() + 10  # the log reaches stderr through a writer thread: it may lag the reply
        while "\ninit " not in stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        bootstrap_pid = int(stderr_path.read_text().split("\ninit ")[1].split()[0])
        assert pid_alive(bootstrap_pid)
        server.send_signal(stop_signal)
        assert server.wait(timeout=15) == 0
        deadline = time.monotonic() + 10
        while pid_alive(bootstrap_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(bootstrap_pid)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_serve_stopped_mid_invocation_answers_and_cleans_up(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", functions=(f"inflight{os.getpid()}",), timeout=60)
    folders = f"scaffold-inflight{os.getpid()}-*"
    stderr_path = tmp_path / "serve.err"
    with open(stderr_path, "wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime_scaffold", "serve", "--project", str(root), "--port", "0"],
            stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().decode().rsplit(" ", 1)[1].strip()
        address = f"{base}/2015-03-31/functions/inflight{os.getpid()}/invocations"
        replies: list[requests.Response] = []
        caller = threading.Thread(target=lambda: replies.append(
            requests.post(address, data=b'{"sleep": 30}', timeout=30)), daemon=True)
        caller.start()
        deadline = time.monotonic() + 20
        while "handling " not in stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(Path(tempfile.gettempdir()).glob(folders))
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=15) == 0
        caller.join(15)
        assert replies and replies[0].status_code == 200  # an answer, not a dropped connection
        assert replies[0].json()["errorType"] == "Sandbox.Failure"
        assert not list(Path(tempfile.gettempdir()).glob(folders))
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_serve_refuses_a_busy_port(project: Path) -> None:
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run("serve", "--project", str(project), "--port", str(port))
    assert code == ExitCode.EMULATOR and f"cannot listen on 127.0.0.1:{port}" in err


def test_invoke_reads_the_event_from_stdin(project: Path) -> None:
    result = CliRunner().invoke(cli, ["invoke", "--path", "-", "--project", str(project)],
                                input='{"echo": "piped"}')
    assert (result.exit_code, result.stdout) == (0, '"piped"')


def test_invoke_stream_writes_each_chunk_as_it_arrives(tmp_path: Path) -> None:
    """The bootstrap waits, after its first chunk, for a file the test writes only once that chunk has reached
    `scaffold invoke --stream`'s stdout: a command that waited for the whole response would leave it waiting."""
    project = write_project(tmp_path / "p", bootstrap=STREAMING_BOOTSTRAP, timeout=30)
    ack = tmp_path / "ack"
    event = json.dumps({"pieces": ["first|", "last"], "wait_for": str(ack)})
    process = subprocess.Popen([sys.executable, "-m", "runtime_scaffold", "invoke", "--stream", "--data", event,
                                "--project", str(project)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        assert process.stdout.read(6) == b"first|"
        ack.write_text("")
        rest = process.stdout.read()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    acknowledged, last = rest.rsplit(b"}", 1)
    assert json.loads(acknowledged + b"}")["saw_the_callers_ack"] is True and last == b"last"


def test_invoke_stream_reports_a_failure_after_the_first_byte_on_stderr(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", bootstrap=STREAMING_BOOTSTRAP, timeout=30)
    code, out, err = run("invoke", "--stream", "--data", '{"pieces": ["partial"], "fail": "boom"}',
                         "--project", str(project))
    assert (code, out) == (ExitCode.ERROR, "partial")
    assert err.strip().splitlines()[-1] == "Error: Boom: boom (after 7 bytes of the stream)"
    code, out, _ = run("invoke", "--stream", "--data", '{"buffered": "\\"whole\\""}', "--project", str(project))
    assert (code, out) == (0, '"whole"')  # a buffered answer comes as one chunk
