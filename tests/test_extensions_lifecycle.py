"""External and internal extensions through a real local Lambda: discovery, the Init, Invoke and Shutdown
phases, and the errors Lambda reports (docs/runtime-api.md §6 and §8.5)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project

from .emulator_fixtures import write_project
from .extension_fixtures import BASH_EXTENSION, RECORDING_BOOTSTRAP, Log, add_extension, invoke_together


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def project_with(tmp_path: Path, state: Path, *, extensions: dict[str, dict[str, str]] | None = None,
                 timeout: int = 6, bootstrap: str = RECORDING_BOOTSTRAP, environment: dict[str, str] | None = None
                 ) -> Path:
    """A project whose bootstrap is the recording one, with bash extensions, each with its settings."""
    env = {"STATE": str(state), **(environment or {})}
    root = write_project(tmp_path / "project", bootstrap=bootstrap, timeout=timeout, environment=env)
    for name, settings in (extensions or {}).items():
        add_extension(root, name, state=state, settings=settings)
    return root


def events(state: Path, name: str) -> list[dict[str, object]]:
    path = state / f"{name}.events"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate: object, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def local_for(root: Path, log: Log) -> LocalLambda:
    return LocalLambda(load_project(root), log_sink=log)


def test_an_external_extension_registers_before_the_runtime_starts_and_gets_invoke_and_shutdown(
        tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"recorder": {}}, environment={"PROBE": "recorder"})
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
        function = local.project.function("hello")
        arn = local.function_arn(function)
    assert result.error_type is None, result.payload
    # When the runtime started, the extension's name was taken already: it had registered.
    assert json.loads(result.payload) == {"registered": "recorder:403 ", "polled": "recorder.polling"}
    registered = (state / "recorder.registered").read_text()
    assert "Lambda-Extension-Identifier:" in registered
    assert json.loads((state / "recorder.body").read_text()) == {
        "functionName": function.name, "functionVersion": "$LATEST", "handler": function.handler,
        "accountId": "123456789012"}
    invoke, shutdown = events(state, "recorder")
    assert invoke["eventType"] == "INVOKE"
    assert invoke["requestId"] == result.request_id and invoke["invokedFunctionArn"] == arn
    assert isinstance(invoke["deadlineMs"], int) and invoke["deadlineMs"] > time.time() * 1000 - 60_000
    tracing = invoke["tracing"]
    assert isinstance(tracing, dict) and tracing["type"] == "X-Amzn-Trace-Id" and "Root=1-" in tracing["value"]
    assert shutdown["eventType"] == "SHUTDOWN" and shutdown["shutdownReason"] == "spindown"
    assert isinstance(shutdown["deadlineMs"], int)
    lines = log.lines()
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in lines
    assert (state / "runtime.sigterm").exists(), "with an extension registered the runtime gets SIGTERM"
    assert not any("killed" in line for line in lines), log.text


def test_init_waits_for_every_extension_to_register_and_to_ask_for_its_first_event(tmp_path: Path,
                                                                                     state: Path) -> None:
    go_register, go_poll = state / "go-register", state / "go-poll"
    root = project_with(tmp_path, state, environment={"PROBE": "late-poll late-register"}, extensions={
        "late-register": {"EXT_REGISTER_AFTER": str(go_register)}, "late-poll": {"EXT_POLL_AFTER": str(go_poll)}})
    log = Log()
    with local_for(root, log) as local:
        outcome: list[object] = []
        thread = threading.Thread(target=lambda: outcome.append(local.invoke("hello", b"{}")))
        thread.start()
        wait_for(lambda: (state / "late-poll.ok").exists(), "the other extension to register")
        go_register.touch()
        wait_for(lambda: (state / "late-register.ok").exists(), "the late extension to register")
        go_poll.touch()
        thread.join(30)
    result = outcome[0]
    assert result.error_type is None, result.payload  # type: ignore[attr-defined]
    # Both had registered when the runtime started, and both had asked for an event when it got its first.
    assert json.loads(result.payload) == {  # type: ignore[attr-defined]
        "registered": "late-poll:403 late-register:403 ", "polled": "late-poll.polling,late-register.polling"}


def test_the_caller_is_answered_before_the_extensions_finish_and_the_report_waits_for_them(
        tmp_path: Path, state: Path) -> None:
    release = state / "release"
    root = project_with(tmp_path, state, extensions={"slow": {"EXT_ON_INVOKE_WAIT": str(release)}})
    log = Log()
    with local_for(root, log) as local:
        first = local.invoke("hello", b"{}")
        assert first.error_type is None, first.payload  # answered while the extension still works on it
        assert f"REPORT RequestId: {first.request_id}" not in log.text
        second: list[object] = []
        thread = threading.Thread(target=lambda: second.append(local.invoke("hello", b"{}")))
        thread.start()
        release.touch()
        thread.join(30)
    lines = log.lines()
    report = next(i for i, line in enumerate(lines) if line.startswith(f"REPORT RequestId: {first.request_id}"))
    start = next(i for i, line in enumerate(lines) if line.startswith(f"START RequestId: {second[0].request_id}"))
    assert report < start, "the next event waits until the extensions are done with the previous one"


def test_without_extensions_the_runtime_gets_sigterm_only_when_the_environment_closes(tmp_path: Path,
                                                                                       state: Path) -> None:
    """No extension: a reset after a failure kills at once (Lambda's 0 ms phase), but closing the environment
    gives the runtime SIGTERM and 500 ms, so that `sigterm-on-shutdown` can check a runtime on its own."""
    root = project_with(tmp_path, state, timeout=1)
    with local_for(root, Log()) as local:
        assert local.invoke("hello", b'{"sleep": 3}').error_type == "Sandbox.Timedout"
        assert not (state / "runtime.sigterm").exists(), "a reset after a timeout is a kill, with no extension"
        assert local.invoke("hello", b"{}").error_type is None
    assert (state / "runtime.sigterm").exists(), "closing the environment sends SIGTERM first"


def test_a_timeout_resets_with_sigterm_and_shutdown_reason_timeout(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"recorder": {}}, timeout=1)
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b'{"sleep": 1}')
        assert result.error_type == "Sandbox.Timedout"
        wait_for(lambda: len(events(state, "recorder")) >= 2, "the SHUTDOWN of the reset")
        assert events(state, "recorder")[1]["shutdownReason"] == "timeout"
        assert (state / "runtime.sigterm").exists()
        (state / "recorder.events").unlink()
        assert local.invoke("hello", b"{}").error_type is None  # a fresh environment, its extension again
    assert [event["eventType"] for event in events(state, "recorder")] == ["INVOKE", "SHUTDOWN"]


def test_a_runtime_crash_resets_with_shutdown_reason_failure(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"recorder": {}})
    with local_for(root, Log()) as local:
        assert local.invoke("hello", b'{"crash": 1}').error_type == "Runtime.ExitError"
        wait_for(lambda: len(events(state, "recorder")) >= 2, "the SHUTDOWN of the reset")
    assert events(state, "recorder")[1]["shutdownReason"] == "failure"


def test_an_extension_that_ignores_shutdown_is_killed_at_the_end_of_the_phase(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"stubborn": {"EXT_IGNORE_SHUTDOWN": "1"}})
    log = Log()
    local = local_for(root, log)
    assert local.invoke("hello", b"{}").error_type is None
    started = time.time()
    local.close()
    took_ms = (time.time() - started) * 1000
    shutdown = events(state, "stubborn")[-1]
    assert shutdown["eventType"] == "SHUTDOWN"
    deadline = shutdown["deadlineMs"]
    assert isinstance(deadline, int) and started * 1000 < deadline <= started * 1000 + took_ms + 1
    assert any("stubborn did not exit within the 2000 ms Shutdown phase (spindown): killed" in line
               for line in log.lines()), log.text


def test_an_extension_not_registered_for_shutdown_gets_no_shutdown_event(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"invoke-only": {"EXT_EVENTS": '["INVOKE"]'}})
    log = Log()
    with local_for(root, log) as local:
        assert local.invoke("hello", b"{}").error_type is None
    assert [event["eventType"] for event in events(state, "invoke-only")] == ["INVOKE"]
    assert "EXTENSION\tName: invoke-only\tState: Ready\tEvents: [INVOKE]" in log.lines()
    assert "killed" not in log.text


@pytest.mark.parametrize(("settings", "error_type", "message"), [
    ({"EXT_EXIT_BEFORE_REGISTER": "3"}, "Extension.Crash", "exit status 3"),
    ({"EXT_EXIT_BEFORE_REGISTER": "0"}, "Extension.Crash", "exit code 0"),
    ({"EXT_INIT_ERROR": "Extension.ConfigInvalid"}, "Extension.ConfigInvalid", "reported Extension.ConfigInvalid"),
    ({"EXT_INIT_ERROR": "NoCategory"}, "Extension.InitError", "reported NoCategory"),
])
def test_an_extension_failing_its_init_fails_the_invocation_as_lambda_reports_it(
        tmp_path: Path, state: Path, settings: dict[str, str], error_type: str, message: str) -> None:
    root = project_with(tmp_path, state, extensions={"broken": settings})
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == error_type, result.payload
    body = json.loads(result.payload)
    assert body["errorType"] == error_type and body["errorMessage"].startswith(f"RequestId: {result.request_id} ")
    assert message in body["errorMessage"]
    assert f"Status: error\tError Type: {error_type}" in log.text


def test_an_extension_that_is_not_executable_is_a_launch_error(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state)
    add_extension(root, "plain-file", executable=False)
    with local_for(root, Log()) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Extension.LaunchError"
    assert "fork/exec /opt/extensions/plain-file: permission denied" in json.loads(result.payload)["errorMessage"]


def test_an_extension_whose_interpreter_is_nowhere_is_a_launch_error(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state)
    add_extension(root, "no-interpreter", "#!/opt/bin/nowhere-to-be-found\n")
    with local_for(root, Log()) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Extension.LaunchError"
    assert ("fork/exec /opt/extensions/no-interpreter: no such file or directory"
            in json.loads(result.payload)["errorMessage"])


def test_more_than_ten_extensions_is_a_launch_error(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state)
    for number in range(11):
        add_extension(root, f"ext-{number:02d}")
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Extension.LaunchError"
    assert "ErrTooManyExtensions" in json.loads(result.payload)["errorMessage"]
    assert "11 files in /opt/extensions: Lambda starts at most 10 extensions" in log.text
    assert not list(state.glob("*.ok")), "none is started"


def test_an_extension_that_never_registers_times_the_invocation_out_and_is_named(tmp_path: Path,
                                                                                  state: Path) -> None:
    root = project_with(tmp_path, state, timeout=1,
                        extensions={"mute": {"EXT_REGISTER_AFTER": str(state / "never")}})
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in json.loads(result.payload)["errorMessage"]
    assert "extension mute did not register (POST /2020-01-01/extension/register) before the deadline" in log.text


def test_an_extension_failing_while_the_runtime_initialises_ends_the_init_with_its_error(tmp_path: Path,
                                                                                          state: Path) -> None:
    """The runtime's Init is waited for as a phase of its own: an extension's init error posted while the runtime
    is still initialising ends it at once with that error (not with the Init's timeout), in both Inits."""
    slow_runtime = RECORDING_BOOTSTRAP.replace(
        'api="http', 'touch "$state/runtime.started"; sleep 60 & wait $!\napi="http')
    extension = BASH_EXTENSION.replace('if [[ -n ${EXT_INIT_ERROR:-} ]]; then',
                                       'if [[ -n ${EXT_INIT_ERROR:-} ]]; then wait_for "$state/runtime.started"')
    root = project_with(tmp_path, state, bootstrap=slow_runtime)
    add_extension(root, "late-error", extension, state=state, settings={"EXT_INIT_ERROR": "Extension.ConfigInvalid"})
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Extension.ConfigInvalid", result.payload
    lines = log.lines()
    assert any(line.startswith("INIT_REPORT") and "Phase: init" in line and "Extension.ConfigInvalid" in line
               for line in lines), log.text
    assert any(line.startswith("INIT_REPORT") and "Phase: invoke" in line for line in lines), log.text


def test_an_extension_crashing_during_an_invocation_fails_it_and_resets(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"fragile": {"EXT_EXIT_ON_INVOKE": "4"}},
                        bootstrap=RECORDING_BOOTSTRAP.replace('echo "handling $id"', 'echo "handling $id"; sleep 1'))
    with local_for(root, Log()) as local:
        result = local.invoke("hello", b"{}")
        assert result.error_type == "Extension.Crash", result.payload
        assert "exit status 4" in json.loads(result.payload)["errorMessage"]
        assert local.invoke("hello", b"{}").error_type == "Extension.Crash"  # a fresh environment, same crash


# A bootstrap whose process registers an internal extension (any name that is not a file of /opt/extensions)
# before its first /next, polls for it in the background, and reports what the Extensions API answered.
INTERNAL_BOOTSTRAP = RECORDING_BOOTSTRAP.replace('registered=""', '''\
base="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
shutdown_status=$(curl -sS -o /dev/null -w '%{http_code}' -XPOST "$base/register" -H 'Lambda-Extension-Name: agent' \\
  -d '{"events": ["INVOKE", "SHUTDOWN"]}')
headers=$(mktemp)
curl -sS -D "$headers" -o /dev/null -XPOST "$base/register" -H 'Lambda-Extension-Name: agent' \\
  -d '{"events": ["INVOKE"]}'
id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | tr -d '\\r' | cut -d' ' -f2)
echo "shutdown:$shutdown_status" > "$state/internal.statuses"
( while true; do
    curl -sS "$base/event/next" -H "Lambda-Extension-Identifier: $id" >> "$state/agent.events"
    echo >> "$state/agent.events"
  done ) &
registered=""''')
# After init, with each event: registering one more internal extension is refused (registration is closed).
INTERNAL_BOOTSTRAP = INTERNAL_BOOTSTRAP.replace('''  polled=$(cd''', '''\
  late=$(curl -sS -o /dev/null -w '%{http_code}' -XPOST "$base/register" \\
    -H 'Lambda-Extension-Name: late' -d '{}')
  echo "late:$late" >> "$state/internal.statuses"
  polled=$(cd''')


def test_an_internal_extension_registers_from_the_runtime_process_for_invoke_only(tmp_path: Path,
                                                                                    state: Path) -> None:
    root = project_with(tmp_path, state, bootstrap=INTERNAL_BOOTSTRAP)
    log = Log()
    with local_for(root, log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type is None, result.payload
    assert (state / "internal.statuses").read_text().split() == ["shutdown:403", "late:403"]
    invoke = events(state, "agent")[0]
    assert invoke["eventType"] == "INVOKE" and invoke["requestId"] == result.request_id
    assert "EXTENSION\tName: agent\tState: Ready\tEvents: [INVOKE]" in log.lines()
    assert (state / "runtime.sigterm").exists(), "an internal extension alone gives the runtime its SIGTERM too"


def test_two_sandboxes_of_one_function_each_have_their_own_extensions(tmp_path: Path, state: Path) -> None:
    root = project_with(tmp_path, state, extensions={"recorder": {}})
    with LocalLambda(load_project(root), concurrency=2, log_sink=Log()) as local:
        results = invoke_together(local, b"{}")
    assert all(r.error_type is None for r in results), results
