"""Real bootstraps as subprocesses through LocalLambda: lifecycle, environment, failures as Lambda says."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.errors import InvalidInput, ProjectError

from .conftest import wait_dead
from .emulator_fixtures import PYTHON_BOOTSTRAP, write_project

Factory = Callable[..., LocalLambda]


def invoke(local: LocalLambda, event: object, function: str | None = None) -> tuple[object, str | None]:
    result = local.invoke(function, json.dumps(event).encode())
    return json.loads(result.payload), result.error_type


def test_echo_warm_and_the_report_lines(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    first = local.invoke(None, b'{"echo": {"hello": "world"}}')
    second = local.invoke("hello", b'{"echo": 2}')
    assert json.loads(first.payload) == {"hello": "world"} and first.error_type is None
    assert second.payload == b"2"
    assert first.init_duration_ms is not None and second.init_duration_ms is None  # warm
    text = logs.text  # type: ignore[attr-defined]
    assert text.count("init ") == 1  # one bootstrap served both
    for result in (first, second):
        assert f"START RequestId: {result.request_id} Version: $LATEST" in text
        assert f"END RequestId: {result.request_id}" in text
        assert f"REPORT RequestId: {result.request_id}\tDuration: " in text
    assert "\tInit Duration: " in text and "\tMemory Size: 256 MB\tMax Memory Used: " in text
    # the bootstrap's own line for an invocation comes between its START and END
    start = text.index(f"START RequestId: {second.request_id}")
    end = text.index(f"END RequestId: {second.request_id}")
    assert start < text.index(f"handling {second.request_id}") < end


def test_event_headers_are_real(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p", timeout=7))
    before = time.time() * 1000
    headers, _ = invoke(local, {"headers": True})
    assert isinstance(headers, dict)
    deadline = int(headers["Lambda-Runtime-Deadline-Ms"])
    assert before + 6000 < deadline <= time.time() * 1000 + 7000
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello"
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    assert len(headers["Lambda-Runtime-Aws-Request-Id"]) == 36


def test_lambda_environment(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p", environment={"GREETING": "hi", "TZ": "Europe/Paris"})
    local = local_lambda(root, host_environment={"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "AKID",
                                                  "SECRET_OF_THE_HOST": "x"})
    env, _ = invoke(local, {"env": True})
    assert isinstance(env, dict)
    assert env["_HANDLER"] == "function.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(root.resolve())
    assert env["TZ"] == "UTC"  # reserved: the function cannot override it
    assert env["GREETING"] == "hi"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fixture-dev-hello"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fixture-dev-hello"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert "AWS_EXECUTION_ENV" not in env  # not defined for the provided.* family
    assert env["AWS_ACCESS_KEY_ID"] == "AKID"
    assert "SECRET_OF_THE_HOST" not in env  # a clean environment, as in Lambda
    host, _, port = env["AWS_LAMBDA_RUNTIME_API"].partition(":")
    assert host == "127.0.0.1" and port.isdigit()  # plain host:port, no scheme
    assert env["PATH"].endswith("/opt/bin") and env["LD_LIBRARY_PATH"].endswith("/opt/lib")
    assert Path(env["PATH"].rsplit(":", 1)[1]).parent.joinpath("bootstrap").resolve() == \
        (root / "runtime" / "bootstrap").resolve()


def test_function_error(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    error, error_type = invoke(local, {"fail": "bad input"})
    assert error == {"errorMessage": "bad input", "errorType": "Handler.Failed", "stackTrace": ["here"]}
    assert error_type == "Handler.Failed"
    assert invoke(local, {"echo": 1}) == (1, None)  # the environment stays warm after a function error


def test_timeout_kills_the_process_group(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    # The bootstrap leaves a helper in its process group; Lambda's reset ends it too.
    bootstrap = (
        "#!/bin/bash\n"
        "sleep 300 &\necho helper $! >&2\n"
        f"exec {sys.executable} \"$(dirname \"$0\")/bootstrap.py\"\n"
    )
    # 3 s, so the fresh bootstrap afterwards has room for a slow cold start on a busy machine
    root = write_project(tmp_path / "p", bootstrap=bootstrap, timeout=3)
    (root / "runtime" / "bootstrap.py").write_text(PYTHON_BOOTSTRAP)
    local = local_lambda(root)
    result = local.invoke(None, b'{"sleep": 60}')
    assert result.error_type == "Sandbox.Timedout"
    assert json.loads(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 3.00 seconds"}
    text = logs.text  # type: ignore[attr-defined]
    assert f"{result.request_id} Task timed out after 3.00 seconds" in text
    assert "Status: timeout" in text
    helper = int(text.split("helper ")[1].split()[0])
    bootstrap_pid = int(text.split("init ")[1].split()[0])
    assert wait_dead(helper) and wait_dead(bootstrap_pid)
    assert invoke(local, {"echo": "again"}) == ("again", None)  # a fresh bootstrap
    assert logs.text.count("init ") == 2  # type: ignore[attr-defined]


def test_exit_is_runtime_exit_error_and_the_next_invoke_starts_afresh(tmp_path: Path,
                                                                     local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    error, error_type = invoke(local, {"exit": 42})
    assert error_type == "Runtime.ExitError"
    assert isinstance(error, dict) and error["errorMessage"].endswith(
        "Error: Runtime exited with error: exit status 42")
    error, _ = invoke(local, {"exit": 0})
    assert isinstance(error, dict)
    assert error["errorMessage"].endswith("Runtime exited without providing a reason")
    error, _ = invoke(local, {"signal": 15})
    assert isinstance(error, dict)
    assert error["errorMessage"].endswith("Runtime exited with error: signal: terminated")
    assert invoke(local, {"echo": "alive"}) == ("alive", None)


def test_non_executable_bootstrap(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p", executable=False)
    local = local_lambda(root)
    error, error_type = invoke(local, {})
    assert error_type == "Runtime.InvalidEntrypoint"
    assert isinstance(error, dict)
    message = error["errorMessage"]
    assert "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" in message
    assert f"/var/task/bootstrap is {root.resolve()}/bootstrap (not there)" in message
    assert f"/opt/bootstrap is {(root / 'runtime' / 'bootstrap').resolve()} (not executable)" in message
    assert "/tmp/scaffold-" not in message  # the sandbox's own folder is gone by the time anyone reads this


def test_missing_bootstrap(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p", bootstrap=None))
    result = local.invoke(None, b"{}")
    assert result.error_type == "Runtime.InvalidEntrypoint"
    assert b"Runtime.InvalidEntrypoint" in result.log_tail


def test_missing_bootstrap_names_layers_given_by_arn(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p", bootstrap=None)
    arn = "arn:aws:lambda:us-east-1:534081306603:layer:php-82:60"
    config = root / "serverless.yml"
    config.write_text(config.read_text().replace("      - {Ref: RuntimeLambdaLayer}", f"      - {arn}"))
    error, error_type = invoke(local_lambda(root), {})
    assert error_type == "Runtime.InvalidEntrypoint"
    assert isinstance(error, dict)
    assert f"layers given by ARN are not available locally: {arn}" in error["errorMessage"]


@pytest.mark.parametrize(("ref", "hint"), [
    ("RuntimeLayer", "did you mean { Ref: RuntimeLambdaLayer } (layer 'runtime')?"),
    ("Zzz", "its layers are: { Ref: RuntimeLambdaLayer }"),
])
def test_missing_bootstrap_names_a_ref_to_no_layer(tmp_path: Path, local_lambda: Factory, ref: str,
                                                   hint: str) -> None:
    root = write_project(tmp_path / "p")
    config = root / "serverless.yml"
    config.write_text(config.read_text().replace("{Ref: RuntimeLambdaLayer}", f"{{Ref: {ref}}}"))
    error, error_type = invoke(local_lambda(root), {})
    assert error_type == "Runtime.InvalidEntrypoint"
    assert isinstance(error, dict)
    assert f"{{ Ref: {ref} }} names no layer of the project: {hint}" in error["errorMessage"]
    assert "/opt/bootstrap would come from a layer, and the function has none" in error["errorMessage"]


def test_bootstrap_without_shebang_is_an_exec_format_error(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p")
    (root / "runtime" / "bootstrap").write_text("echo no shebang\n")  # bash would run it; exec(2) does not
    local = local_lambda(root)
    error, error_type = invoke(local, {})
    assert error_type == "Runtime.InvalidEntrypoint"
    assert isinstance(error, dict) and error["errorMessage"].endswith("exec format error")


def test_task_root_bootstrap_wins_over_the_layer(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p")
    write_project(root, in_layer=False, bootstrap='print("task root", flush=True)\nimport sys\nsys.exit(7)\n')
    error, _ = invoke(local_lambda(root), {})
    assert isinstance(error, dict) and error["errorMessage"].endswith("exit status 7")


def test_opt_shebang_runs_the_layer_interpreter(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    root = write_project(tmp_path / "p", bootstrap="#!/opt/bin/python3\n" + PYTHON_BOOTSTRAP)
    (root / "runtime" / "bin").mkdir()
    (root / "runtime" / "bin" / "python3").symlink_to(sys.executable)
    assert invoke(local_lambda(root), {"echo": 1}) == (1, None)
    assert "#!/opt/bin/python3" not in logs.text  # type: ignore[attr-defined]
    assert "scaffold: /opt/bin/python3: running the layer's" in logs.text  # type: ignore[attr-defined]


def test_opt_shebang_falls_back_to_the_host_interpreter(tmp_path: Path, local_lambda: Factory,
                                                        logs: object) -> None:
    root = write_project(tmp_path / "p", bootstrap="#!/opt/bin/python3\n" + PYTHON_BOOTSTRAP)
    bin_dir = tmp_path / "hostbin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    local = local_lambda(root, host_environment={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert invoke(local, {"echo": 1}) == (1, None)
    assert f"/opt/bin/python3 is not in the layers: running the host's {bin_dir}/python3" in \
        logs.text  # type: ignore[attr-defined]


def test_opt_shebang_with_no_interpreter_anywhere(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    root = write_project(tmp_path / "p", bootstrap="#!/opt/bin/no-such-interpreter\n")
    local = local_lambda(root, host_environment={"PATH": str(tmp_path)})
    error, error_type = invoke(local, {})
    # The exec fails as on Lambda; how to get the interpreter is said once, in the log, not in the error too.
    assert error_type == "Runtime.ExitError"
    assert isinstance(error, dict) and error["errorMessage"].endswith("exit status 127")
    hint = ("scaffold: /opt/bin/no-such-interpreter is neither in the layers nor on PATH: "
            "put no-such-interpreter on PATH")
    assert logs.text.count(hint) == 1  # type: ignore[attr-defined]


def test_init_error_reaches_the_first_invoke_and_init_is_retried(tmp_path: Path, local_lambda: Factory,
                                                                 logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p", environment={"INIT_FAIL": "1"}))
    for _ in range(2):
        error, error_type = invoke(local, {})
        assert error == {"errorMessage": "boom at init", "errorType": "Init.Boom"}
        assert error_type == "Init.Boom"
    assert logs.text.count("init ") == 2  # type: ignore[attr-defined]
    assert logs.wait_for("init/error status: 202")  # type: ignore[attr-defined]


def test_double_post_and_wrong_id(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    assert invoke(local, {"twice": True}) == ("first", None)
    assert logs.wait_for("codes 202 403 400")  # type: ignore[attr-defined]


def test_six_megabyte_limits(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    fits, error_type = local.invoke(None, json.dumps({"size": 6 * 1024 * 1024}).encode()), None
    assert fits.error_type is None and len(fits.payload) == 6 * 1024 * 1024
    error, error_type = invoke(local, {"size": 6 * 1024 * 1024 + 101})
    assert error_type == "Function.ResponseSizeTooLarge"
    message = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    assert error == {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
    assert logs.wait_for("error after 413 403")  # type: ignore[attr-defined]
    big_event = json.dumps({"echo": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(InvalidInput, match="6291456"):
        local.invoke(None, big_event)
    assert invoke(local, {"echo": "still fine"}) == ("still fine", None)


def test_log_tail_is_the_last_4_kb_of_the_invocation(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    local.invoke(None, b"{}")
    result = local.invoke(None, b'{"echo": 1}')
    tail = result.log_tail.decode()
    assert tail.startswith(f"START RequestId: {result.request_id}")
    assert f"handling {result.request_id}" in tail and tail.rstrip().split("\n")[-1].startswith("REPORT")
    assert "init " not in tail  # the previous invocation's lines are not this one's
    big = local.invoke(None, json.dumps({"fail": "y" * 10000}).encode())
    assert len(big.log_tail) <= 4096


def test_unknown_function_and_aliases(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p"))
    with pytest.raises(ProjectError, match="no function 'nope'"):
        local.invoke("nope", b"{}")
    for name in ("function", "hello", "fixture-dev-hello",
                 "arn:aws:lambda:us-east-1:123456789012:function:fixture-dev-hello:$LATEST"):
        assert local.function(name).key == "hello"
    two = local_lambda(write_project(tmp_path / "two", functions=("a", "b")))
    with pytest.raises(ProjectError, match="several functions"):
        two.invoke(None, b"{}")
    with pytest.raises(ProjectError):
        two.function("function")  # the alias exists only for one-function projects


def test_close_reaps_every_bootstrap(tmp_path: Path, logs: object) -> None:
    from runtime_scaffold.project import load_project
    names = (f"reap{os.getpid()}a", f"reap{os.getpid()}b")
    local = LocalLambda(load_project(write_project(tmp_path / "p", functions=names)), log_sink=logs,
                        concurrency=2)  # type: ignore[arg-type]
    with local:
        assert invoke(local, {"echo": 1}, names[0]) == (1, None)
        assert invoke(local, {"echo": 2}, names[1]) == (2, None)
        pids = [int(line.split()[1]) for line in logs.text.splitlines()  # type: ignore[attr-defined]
                if line.startswith("init ")]
        assert len(list(Path(tempfile.gettempdir()).glob(f"scaffold-reap{os.getpid()}*"))) == 2
    assert len(pids) == 2
    assert all(wait_dead(pid) for pid in pids)
    assert not list(Path(tempfile.gettempdir()).glob(f"scaffold-reap{os.getpid()}*"))  # folders removed


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_bash_bootstrap_with_curl(tmp_path: Path, local_lambda: Factory) -> None:
    # The tutorial's bash runtime, with a body large enough for curl to send `Expect: 100-continue`.
    bootstrap = """#!/bin/bash
set -euo pipefail
source "$LAMBDA_TASK_ROOT/$(echo $_HANDLER | cut -d. -f1).sh"
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  echo "$RESPONSE" | curl -sS -X POST --data-binary @- \\
    "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" >/dev/null
done
"""
    handler = ('handler () { echo "{\\"got\\": $1, '
               '\\"pad\\": \\"$(head -c 2000000 /dev/zero | tr "\\0" a)\\"}"; }\n')
    root = write_project(tmp_path / "p", bootstrap=bootstrap, extra_files={"function.sh": handler})
    local = local_lambda(root)
    for number in range(3):
        result = local.invoke(None, json.dumps({"n": number}).encode())
        assert result.error_type is None, result.payload[:300]
        document = json.loads(result.payload)
        assert document["got"] == {"n": number} and len(document["pad"]) == 2_000_000


def test_init_counts_against_the_timeout(tmp_path: Path, local_lambda: Factory) -> None:
    local = local_lambda(write_project(tmp_path / "p", timeout=1, environment={"INIT_SLEEP": "60"}))
    error, error_type = invoke(local, {})
    assert error_type == "Sandbox.Timedout"
    assert isinstance(error, dict) and error["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_hooks_inject_a_500_on_next_and_see_every_post(tmp_path: Path, local_lambda: Factory) -> None:
    from runtime_scaffold.emulator import Invocation, Reply, RuntimeCall, RuntimeHooks

    class FailFirstNext(RuntimeHooks):
        def __init__(self) -> None:
            self.calls: list[RuntimeCall] = []
            self.failed = False

        def next_reply(self, sandbox_id: str, invocation: Invocation) -> Reply | None:
            if self.failed:
                return None
            self.failed = True
            return Reply(500, b'{"errorType": "Sandbox.Failure", "errorMessage": "injected"}')

        def observe(self, call: RuntimeCall) -> None:
            self.calls.append(call)

    hooks = FailFirstNext()
    local = local_lambda(write_project(tmp_path / "p"), hooks=hooks)
    error, error_type = invoke(local, {"echo": 1})
    assert error_type == "Runtime.ExitError"  # the bootstrap exits on a 500, as the contract asks
    assert isinstance(error, dict) and error["errorMessage"].endswith("exit status 3")
    assert invoke(local, {"echo": 2}) == (2, None)
    seen = [(call.kind, call.status) for call in hooks.calls]
    assert seen == [("next", 500), ("next", 200), ("response", 202)]
    assert hooks.calls[-1].body == b"2"


def test_chunked_response_body(tmp_path: Path, local_lambda: Factory) -> None:
    assert invoke(local_lambda(write_project(tmp_path / "p")), {"chunked": True}) == ("chunked", None)


PHP_BOOTSTRAP = r"""#!/opt/bin/php
<?php
// A minimal PHP runtime: the shape of the project's generated bootstrap, not a copy of it.
$api = getenv('AWS_LAMBDA_RUNTIME_API');
[$file, $function] = explode('.', getenv('_HANDLER'));
require getenv('LAMBDA_TASK_ROOT') . '/' . $file . '.php';
while (true) {
    $headers = [];
    $curl = curl_init("http://$api/2018-06-01/runtime/invocation/next");
    curl_setopt($curl, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($curl, CURLOPT_HEADERFUNCTION, function ($c, $line) use (&$headers) {
        $parts = explode(':', $line, 2);
        if (count($parts) === 2) { $headers[strtolower(trim($parts[0]))] = trim($parts[1]); }
        return strlen($line);
    });
    $event = json_decode(curl_exec($curl), true);
    $id = $headers['lambda-runtime-aws-request-id'];
    $body = json_encode($function($event, $headers));
    $curl = curl_init("http://$api/2018-06-01/runtime/invocation/$id/response");
    curl_setopt($curl, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($curl, CURLOPT_POST, true);
    curl_setopt($curl, CURLOPT_POSTFIELDS, $body);
    curl_exec($curl);
}
"""


@pytest.mark.skipif(shutil.which("php") is None, reason="needs php-cli")
def test_php_bootstrap_runs_on_the_host_php(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    handler = ('<?php\nfunction hello($event, $context) '
               '{ return ["hello" => $event["name"], "tz" => getenv("TZ")]; }\n')
    root = write_project(tmp_path / "p", bootstrap=PHP_BOOTSTRAP, functions={"hello": "hello.hello"},
                         extra_files={"hello.php": handler})
    local = local_lambda(root)
    assert invoke(local, {"name": "Ada"}) == ({"hello": "Ada", "tz": "UTC"}, None)
    assert invoke(local, {"name": "Grace"}) == ({"hello": "Grace", "tz": "UTC"}, None)
    assert f"running the host's {shutil.which('php')}" in logs.text  # type: ignore[attr-defined]


def test_a_bootstrap_that_exits_at_once_is_an_exit_error_not_a_timeout(tmp_path: Path,
                                                                        local_lambda: Factory) -> None:
    # It may die before the event is even queued; the invocation must not wait for the deadline.
    local = local_lambda(write_project(tmp_path / "p", bootstrap="#!/bin/sh\nexit 1\n", timeout=30))
    for _ in range(3):
        started = time.monotonic()
        error, error_type = invoke(local, {})
        assert error_type == "Runtime.ExitError"
        assert isinstance(error, dict) and error["errorMessage"].endswith("exit status 1")
        assert time.monotonic() - started < 25  # a bound, not a timing claim: far below the 30 s timeout


def test_log_lines_without_newline_are_passed_on(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    bootstrap = PYTHON_BOOTSTRAP.replace('print("init", os.getpid(), flush=True)',
                                         'print("init", os.getpid(), flush=True)\n'
                                         'sys.stdout.write("z" * 200000); sys.stdout.flush()')
    local = local_lambda(write_project(tmp_path / "p", bootstrap=bootstrap))
    assert invoke(local, {"echo": 1}) == (1, None)
    assert logs.text.count("z") >= 200000  # type: ignore[attr-defined]


def test_hooks_learn_how_the_bootstrap_ended(tmp_path: Path, local_lambda: Factory) -> None:
    from runtime_scaffold.emulator import RuntimeHooks

    class Exits(RuntimeHooks):
        def __init__(self) -> None:
            self.codes: list[int] = []

        def exited(self, sandbox_id: str, returncode: int) -> None:
            self.codes.append(returncode)

    hooks = Exits()
    local = local_lambda(write_project(tmp_path / "p", timeout=1), hooks=hooks)
    assert invoke(local, {"exit": 7})[1] == "Runtime.ExitError"
    assert invoke(local, {"sleep": 30})[1] == "Sandbox.Timedout"
    assert hooks.codes == [7, -9]  # by itself, then killed at the deadline
