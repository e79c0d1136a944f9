"""The generated projects' Serverless plugin, under the real Serverless Framework v3, osls 3 and osls 4, offline.

`serverless package` and `deploy` run `scaffold check` first and stop on its errors; `serverless invoke local`
runs a custom runtime through `scaffold invoke` instead of Docker. Every AWS SDK call is answered by the
preload in tests/support (conftest.serverless), never sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    FRAMEWORKS,
    LANGUAGES,
    NPM_LANGUAGES,
    REPO_ROOT,
    edit_config,
    handler_files_missing,
    hello,
    interpreter_environment,
    read_until,
    render,
    require_tool,
    scaffold_bin,
    serverless,
    serverless_command,
)

pytestmark = pytest.mark.slow

CHECK_FAILED = "scaffold check found errors that would fail the deploy"
INSTALL_HINT = (
    "runtime-scaffold's `scaffold` command was not found: install runtime-scaffold from its repository (in a "
    "checkout: `python3 -m venv .venv && .venv/bin/pip install .`) and put its .venv/bin on PATH, or set "
    "SCAFFOLD_BIN to that scaffold"
)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# This machine's architecture in Lambda's words: a project using the local PHP as its layer's must say it.
HOST_ARCHITECTURE = {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def build_php_locally(project: Path) -> None:
    """Stand in for runtime/build-php.sh (which needs Docker): the layer's bin/php is this machine's PHP.
    Render the project with architecture=HOST_ARCHITECTURE, or scaffold check reports a foreign binary."""
    php = project / "runtime" / "bin" / "php"
    php.parent.mkdir()
    php.symlink_to(require_tool("php"))


# --- package ------------------------------------------------------------------------------------------------


# Bun, Deno and Node are alike here (test_packaging and test_layer_build package each): bun stands for them.
@pytest.mark.parametrize("language", [language for language in LANGUAGES if language not in ("deno", "node")])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_generated_project_packages_with_the_check_run_first(tmp_path: Path, language: str, framework: str) -> None:
    project = render(language, tmp_path)
    result = serverless(project, "package", framework=framework)
    assert result.returncode == 0, output(result)
    if language == "bash":
        assert f"{project}: no problems found (2 functions checked)" in result.stdout
    elif language == "php":  # PHP is built into the layer later (Docker): packaging goes on, and says deploy would stop
        assert "warning: runtime/bootstrap: /opt/bin/php is in none of the function's layers" in result.stdout
        assert "(a warning before package; deploy stops on it) [shebang-interpreter-missing]" in result.stdout
    else:  # likewise until runtime/build-layer.sh has fetched the binary
        assert f"warning: runtime/bootstrap: the bootstrap execs /opt/bin/{language}, but" in result.stdout
        assert "(a warning before package; deploy stops on it) [bootstrap-program-missing]" in result.stdout
    listing = subprocess.run([require_tool("zipinfo"), "-1", str(project / ".serverless" / f"{project.name}.zip")],
                             capture_output=True, text=True, check=True).stdout.split()
    assert handler_files_missing(language, listing) == [], listing
    assert not [name for name in listing if name.startswith(("plugins/", "runtime/", "events/"))], listing


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_plugin_logs_through_the_frameworks_log_under_verbose(tmp_path: Path, framework: str) -> None:
    """The plugin uses the `{ log }` its constructor is given (Serverless v3, osls, Serverless v4 pass one)."""
    project = render("bash", tmp_path)
    command = "runtime-scaffold: " + scaffold_bin() + " check --before package"
    quiet = serverless(project, "package", framework=framework)
    assert quiet.returncode == 0 and command not in output(quiet), output(quiet)
    verbose = serverless(project, "package", "--verbose", framework=framework)
    assert verbose.returncode == 0 and command in output(verbose), output(verbose)


def remove_handler(project: Path) -> None:
    (project / "function.sh").unlink()


def ref_to_layer_key(project: Path) -> None:
    edit_config(project, lambda c: hello(c).update(layers=[{"Ref": "bash-runtime"}]))


def retain_layer(project: Path) -> None:
    edit_config(project, lambda c: c["layers"]["bash-runtime"].update(retain=True))


def bootstrap_not_executable(project: Path) -> None:
    (project / "runtime" / "bootstrap").chmod(0o644)


def bootstrap_crlf(project: Path) -> None:
    bootstrap = project / "runtime" / "bootstrap"
    bootstrap.write_bytes(bootstrap.read_bytes().replace(b"\n", b"\r\n"))


def region_set_from_a_variable(project: Path) -> None:
    """A reserved key whose value only the Framework resolves; the check sees the key in the resolved config."""
    edit_config(project, lambda c: hello(c).update(environment={"AWS_REGION": "${self:provider.region}"}))


def handler_excluded_by_function_patterns(project: Path) -> None:
    """Only seen when the plugin hands over package.individually and the function's own patterns."""
    def change(config: dict[str, Any]) -> None:
        config["package"]["individually"] = True
        hello(config)["package"] = {"patterns": ["!function.sh"]}

    edit_config(project, change)


def handler_excluded_by_a_file_variable(project: Path) -> None:
    """Only the Framework resolves ${file(...)}: scaffold check alone cannot read these patterns."""
    patterns = yaml.safe_load((project / "serverless.yml").read_text())["package"]["patterns"]
    (project / "package.yml").write_text(yaml.safe_dump({"patterns": [*patterns, "!function.sh"]}))
    edit_config(project, lambda c: c.update(package="${file(./package.yml)}"))


@pytest.mark.parametrize(
    ("breakage", "rule", "says"),
    [
        (bootstrap_not_executable, "bootstrap-not-executable", "chmod 755 runtime/bootstrap"),
        (ref_to_layer_key, "layer-ref-unknown", "BashDashruntimeLambdaLayer"),
        (bootstrap_crlf, "crlf-line-endings", "Windows (CRLF) line endings"),
        (retain_layer, "layer-ref-retain", "retain: true"),
        (remove_handler, "handler-file-missing", "function.*"),
        (handler_excluded_by_function_patterns, "handler-file-missing", "function.sh"),
        (handler_excluded_by_a_file_variable, "handler-file-missing", "function.sh"),
        (region_set_from_a_variable, "environment-reserved", "functions.hello.environment sets AWS_REGION"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_broken_project_stops_package_with_the_checks_message(tmp_path: Path, breakage: Callable[[Path], None],
                                                                rule: str, says: str) -> None:
    project = render("bash", tmp_path)
    breakage(project)
    result = serverless(project, "package")
    assert result.returncode != 0, output(result)
    error_lines = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert any(line.endswith(f"[{rule}]") for line in error_lines), output(result)
    assert says in result.stdout
    assert CHECK_FAILED in output(result)
    assert "error found" not in output(result)  # scaffold's own summary of the failure is not said a second time
    assert not list(project.glob(".serverless/*.zip"))  # stopped before anything was packaged


@pytest.mark.parametrize("framework", [name for name in FRAMEWORKS if name != "serverless"])
def test_check_problem_stops_osls_too(tmp_path: Path, framework: str) -> None:
    project = render("bash", tmp_path)
    bootstrap_not_executable(project)
    result = serverless(project, "package", framework=framework)
    assert result.returncode != 0 and "[bootstrap-not-executable]" in result.stdout, output(result)
    assert CHECK_FAILED in output(result)
    assert not list(project.glob(".serverless/*.zip"))


# --- deploy -------------------------------------------------------------------------------------------------


def aws_calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.mark.parametrize("command", [["deploy"], ["deploy", "function", "-f", "hello"]], ids=" ".join)
def test_deploy_of_unbuilt_php_stops_at_the_check(tmp_path: Path, command: list[str]) -> None:
    project = render("php", tmp_path)
    log = tmp_path / "aws-calls.log"
    result = serverless(project, *command, env={"RUNTIME_SCAFFOLD_AWS_LOG": str(log)})
    assert result.returncode != 0, output(result)
    assert "error: runtime/bootstrap: /opt/bin/php is in none of the function's layers" in result.stdout
    assert "run runtime/build-php.sh" in result.stdout
    assert CHECK_FAILED in output(result)
    assert not list(project.glob(".serverless/*.zip"))
    # The Framework asks STS for the account id (telemetry) when a deploy starts, before any plugin runs; the
    # preload refuses it. Nothing that deploys (CloudFormation, S3, Lambda) was even attempted.
    assert set(aws_calls(log)) <= {"sts.getCallerIdentity"}, aws_calls(log)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_deploy_of_built_php_passes_the_check(tmp_path: Path, framework: str) -> None:
    project = render("php", tmp_path, architecture=HOST_ARCHITECTURE)
    build_php_locally(project)
    log = tmp_path / "aws-calls.log"
    result = serverless(project, "deploy", framework=framework, env={"RUNTIME_SCAFFOLD_AWS_LOG": str(log)})
    assert f"{project}: no problems found" in result.stdout, output(result)
    assert CHECK_FAILED not in output(result)
    # Past the check, the deploy goes on until its first AWS call, which the preload refuses.
    assert result.returncode != 0
    assert set(aws_calls(log)) - {"sts.getCallerIdentity"}, output(result)


def fake_scaffold(tmp_path: Path, name: str, script: str) -> Path:
    """An executable stand-in for `scaffold` (SCAFFOLD_BIN), in a folder of its own."""
    path = tmp_path / name / "scaffold"
    path.parent.mkdir()
    path.write_text(script)
    path.chmod(0o755)
    return path


# --- scaffold not installed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_missing_scaffold_gives_one_clear_install_message(tmp_path: Path, framework: str) -> None:
    project = render("bash", tmp_path)
    missing = tmp_path / "nowhere" / "scaffold"
    result = serverless(project, "package", framework=framework, env={"SCAFFOLD_BIN": str(missing)})
    assert result.returncode != 0
    assert output(result).count(INSTALL_HINT) == 1, output(result)
    [line] = [line for line in output(result).splitlines() if INSTALL_HINT in line]
    assert line.endswith(f"{INSTALL_HINT} (tried SCAFFOLD_BIN={missing})")  # one line, nothing wrapped
    assert f"SCAFFOLD_BIN={missing}" in output(result)
    assert "    at " not in output(result)  # a message, not a stack trace


def test_too_old_scaffold_is_told_to_upgrade(tmp_path: Path) -> None:
    """A project keeps the plugin it was generated with; the installed scaffold may predate its arguments."""
    project = render("bash", tmp_path)
    old = fake_scaffold(tmp_path, "old", "#!/bin/sh\necho \"Error: No such option '--before'.\" >&2\nexit 2\n")
    result = serverless(project, "package", env={"SCAFFOLD_BIN": str(old)})
    assert result.returncode != 0
    assert ("`scaffold check` rejected the arguments this plugin passes (No such option '--before'.): upgrade "
            "runtime-scaffold (in its checkout: `git pull && .venv/bin/pip install .`)") in output(result)
    assert output(result).count("No such option") == 1, output(result)


def test_scaffold_refusing_input_is_not_told_to_upgrade(tmp_path: Path) -> None:
    """scaffold exits 2 on invalid input too; only click's unknown-argument words mean an older scaffold."""
    project = render("bash", tmp_path)
    refusing = fake_scaffold(tmp_path, "refusing",
                             "#!/bin/sh\necho 'Error: provider.timeout must be a whole number' >&2\nexit 2\n")
    result = serverless(project, "package", env={"SCAFFOLD_BIN": str(refusing)})
    assert result.returncode != 0
    # scaffold's own words, said once, as the reason the check could not run (not as errors it found)
    assert "scaffold check could not check this service: provider.timeout must be a whole number" in output(result)
    assert output(result).count("provider.timeout must be a whole number") == 1, output(result)
    assert "upgrade" not in output(result)
    assert CHECK_FAILED not in output(result)


# --- invoke local -------------------------------------------------------------------------------------------


def responses(stdout: str) -> list[Any]:
    """Every JSON object or array in the output, on one line or pretty-printed over several (as the Framework
    prints a response): the function's answer is one of them, whatever else is logged around it."""
    decoder = json.JSONDecoder()
    found, index = [], 0
    while index < len(stdout):
        if stdout[index] in "{[":
            try:
                value, index = decoder.raw_decode(stdout, index)
            except ValueError:
                index += 1
            else:
                found.append(value)
        else:
            index += 1
    return found


def test_other_runtimes_are_left_to_the_framework(tmp_path: Path) -> None:
    project = render("bash", tmp_path)
    (project / "node.js").write_text("exports.handler = async (event) => ({ fromNode: event.name });\n")
    edit_config(project, lambda c: c["functions"].update(node={"handler": "node.handler", "runtime": "nodejs20.x"}))
    result = serverless(project, "invoke", "local", "-f", "node", "--data", '{"name": "Node"}')
    assert result.returncode == 0, output(result)
    assert responses(result.stdout) == [{"fromNode": "Node"}]


STAND_IN = """#!/bin/sh
# Stands in for `scaffold invoke FUNCTION --path EVENT --project DIR --config FILE`: keeps what it was given
# and answers with the event, as both example handlers do.
printf '%s\\n' "$@" > "$0.args"
while [ $# -gt 0 ]; do
  case "$1" in
    --path) cp "$2" "$0.event"; cat "$2"; echo; shift ;;
    --config) cp "$2" "$0.config" ;;
  esac
  shift
done
"""


def test_invoke_local_hands_the_event_and_resolved_config_to_scaffold(tmp_path: Path) -> None:
    """The plugin's side of `serverless invoke local`, with a stand-in for `scaffold invoke`."""
    project = render("bash", tmp_path)
    edit_config(project, lambda c: hello(c).update(environment={"GREETING": "${sls:stage}-hi"}))
    stand_in = fake_scaffold(tmp_path, "bin", STAND_IN)
    env = {"SCAFFOLD_BIN": str(stand_in)}

    result = serverless(project, "invoke", "local", "-f", "hello", "--path", "events/hello.json", env=env)
    assert result.returncode == 0, output(result)
    assert {"name": "World"} in responses(result.stdout)
    args = Path(f"{stand_in}.args").read_text().split("\n")
    assert args[:3] == ["invoke", "hello", "--path"]
    assert args[4:8] == ["--project", str(project), "--config", args[7]]
    config = json.loads(Path(f"{stand_in}.config").read_text())
    assert config["functions"]["hello"]["environment"] == {"GREETING": "dev-hi"}  # variables resolved
    assert config["functions"]["hello"]["layers"] == [{"Ref": "BashDashruntimeLambdaLayer"}]
    assert config["layers"]["bash-runtime"]["path"] == "runtime"
    assert config["provider"]["timeout"] == 6 and config["provider"]["memorySize"] == 128

    result = serverless(project, "invoke", "local", "-f", "hello", "--stage", "prod", "--data", '{"name": "Data"}',
                        "--env", "EXTRA=1", env=env)
    assert result.returncode == 0, output(result)
    assert json.loads(Path(f"{stand_in}.event").read_text()) == {"name": "Data"}
    config = json.loads(Path(f"{stand_in}.config").read_text())
    assert config["functions"]["hello"]["environment"] == {"GREETING": "prod-hi", "EXTRA": "1"}
    assert config["provider"]["stage"] == "prod"


def test_invoke_that_could_not_run_says_why_once(tmp_path: Path) -> None:
    """scaffold invoke failing before the function answered (no payload on stdout): its reason is the Framework's
    error, said once."""
    project = render("bash", tmp_path)
    failing = fake_scaffold(tmp_path, "failing", "#!/bin/sh\necho 'a log line' >&2\n"
                            "echo 'Error: layer bash-runtime has no path' >&2\nexit 4\n")
    result = serverless(project, "invoke", "local", "-f", "hello", env={"SCAFFOLD_BIN": str(failing)})
    assert result.returncode == 1
    assert "a log line" in result.stderr  # what came before the reason is shown as it came
    assert "scaffold invoke could not run hello: layer bash-runtime has no path" in output(result)
    assert output(result).count("has no path") == 1, output(result)


def test_a_last_log_line_that_looks_like_an_error_is_shown_on_success(tmp_path: Path) -> None:
    project = render("bash", tmp_path)
    chatty = fake_scaffold(tmp_path, "chatty", "#!/bin/sh\nprintf '{}'\necho 'Error: only a log line' >&2\n")
    result = serverless(project, "invoke", "local", "-f", "hello", env={"SCAFFOLD_BIN": str(chatty)})
    assert result.returncode == 0, output(result)
    assert "Error: only a log line" in result.stderr
    assert result.stdout.startswith("{}\n")


def test_invoke_local_sends_text_that_is_not_json_as_a_json_string(tmp_path: Path) -> None:
    project = render("bash", tmp_path)
    stand_in = fake_scaffold(tmp_path, "bin", STAND_IN)
    result = serverless(project, "invoke", "local", "-f", "hello", "--data", "plain text",
                        env={"SCAFFOLD_BIN": str(stand_in)})
    assert result.returncode == 0, output(result)
    assert Path(f"{stand_in}.event").read_text() == '"plain text"'  # what Lambda receives for such a payload
    assert "runtime-scaffold-" not in output(result)  # no temporary file path shown


def _emulator_missing() -> str | None:
    """Why `serverless invoke local` cannot run here yet, or None. The emulator (`scaffold invoke`) is built on
    another branch; until it is merged these tests are skipped, with this reason."""
    scaffold = Path(sys.executable).with_name("scaffold")  # as conftest.scaffold_bin, without failing
    command = [str(scaffold)] if scaffold.is_file() else ["scaffold"]
    try:
        probe = subprocess.run([*command, "invoke", "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"`scaffold invoke --help` does not run: {error}"
    if probe.returncode != 0:
        return "`scaffold invoke --help` fails: the emulator is not in this checkout yet"
    return None


EMULATOR_MISSING = _emulator_missing()
needs_emulator = pytest.mark.skipif(EMULATOR_MISSING is not None, reason=str(EMULATOR_MISSING))


def direct_response(project: Path, *event: str, env: dict[str, str] | None = None) -> Any:
    """What `scaffold invoke hello` itself answers in ``project`` (its stdout is the response, as is)."""
    result = subprocess.run([scaffold_bin(), "invoke", "hello", *event, "--project", str(project)], env=env,
                            cwd=project, capture_output=True, text=True, timeout=120, start_new_session=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def example_copy(language: str, tmp_path: Path) -> Path:
    """A copy of the committed example project (the Framework may write into it)."""
    project = tmp_path / f"hello-{language}"
    shutil.copytree(REPO_ROOT / "examples" / language, project, symlinks=True,
                    ignore=shutil.ignore_patterns(".serverless"))
    return project


@needs_emulator
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_invoke_local_runs_the_example_without_docker(tmp_path: Path, language: str, framework: str) -> None:
    """Each example, as committed (PHP's #!/opt/bin/php runs the machine's php until its layer has one; Bun, Deno
    and Node before runtime/build-layer.sh run the pinned binaries on PATH, as for a user who has them)."""
    project = example_copy(language, tmp_path)
    env = interpreter_environment(language) if language in NPM_LANGUAGES else None
    result = serverless(project, "invoke", "local", "-f", "hello", "--path", "events/hello.json",
                        framework=framework, env=env, timeout=120)
    assert result.returncode == 0, output(result)
    [response] = responses(result.stdout)
    assert "World" in json.dumps(response)  # the example handlers answer with the event's name
    assert response == direct_response(project, "--path", "events/hello.json", env=env)
    assert result.stdout.endswith("\n")  # the shell's prompt (or the next output) starts on a line of its own
    assert "docker" not in output(result).lower()


@needs_emulator
def test_invoke_local_runs_php_with_its_built_layer(tmp_path: Path) -> None:
    project = render("php", tmp_path, architecture=HOST_ARCHITECTURE)
    build_php_locally(project)
    result = serverless(project, "invoke", "local", "-f", "hello", "--path", "events/hello.json", timeout=120)
    assert result.returncode == 0, output(result)
    [response] = responses(result.stdout)
    assert response == direct_response(project, "--path", "events/hello.json")


@needs_emulator
def test_invoke_local_with_data(tmp_path: Path) -> None:
    project = render("bash", tmp_path)
    event = '{"name": "Data"}'
    result = serverless(project, "invoke", "local", "-f", "hello", "--data", event, timeout=120)
    assert result.returncode == 0, output(result)
    [response] = responses(result.stdout)
    assert "Data" in json.dumps(response)
    assert response == direct_response(project, "--data", event)


@needs_emulator
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_function_error_prints_the_error_json_then_its_message_once(tmp_path: Path, framework: str) -> None:
    """The example handler wants {"name": ...}, so a string event is the function's error: as the Framework ends
    a Node handler's failure, the error JSON on a line of its own, then one `Error:` line, exit status 1."""
    project = render("bash", tmp_path)
    result = serverless(project, "invoke", "local", "-f", "hello", "--data", "plain text", framework=framework,
                        timeout=120)
    assert result.returncode == 1, output(result)
    last_stdout_line = result.stdout.splitlines()[-1]
    assert json.loads(last_stdout_line)["errorType"] == "HandlerError"  # nothing ran into it
    error_lines = [line for line in output(result).splitlines() if "Error:" in line]
    assert error_lines == ['Error: HandlerError: the event has no "name" string, e.g. {"name": "World"}'], \
        output(result)
    assert result.stderr.rstrip().endswith(error_lines[0])
    assert "upgrade" not in output(result) and "not valid JSON" not in output(result)
    assert "runtime-scaffold-" not in output(result)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the Framework and the scaffold serve it started (it stops its bootstraps on SIGTERM), whatever."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@needs_emulator
def test_scaffold_serve_answers_the_invoke_api(tmp_path: Path) -> None:
    project = render("bash", tmp_path)
    command, env = serverless_command("scaffold", "serve", "--port", "0")
    with subprocess.Popen(command, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, start_new_session=True) as process:
        try:
            url = read_until(process, rb"http://\S+/2015-03-31/functions/hello/invocations", timeout=60)
            request = urllib.request.Request(url, data=b'{"name": "Serve"}', method="POST")
            with urllib.request.urlopen(request, timeout=30) as reply:
                response = json.loads(reply.read())
            assert "Serve" in json.dumps(response)
            assert response == direct_response(project, "--data", '{"name": "Serve"}')
        finally:
            stop_group(process)


@needs_emulator
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_scaffold_serve_watch_serves_the_page_and_reloads(tmp_path: Path, framework: str) -> None:
    """`serverless scaffold serve --watch`: the web page through the Framework's resolved configuration; an edit
    to the handler shows on the next request, and serverless.yml, which the Framework cannot resolve again from
    here, is re-read by scaffold itself, as the log line says."""
    project = render("bash", tmp_path)
    command, env = serverless_command("scaffold", "serve", "--port", "0", "--watch", framework=framework)
    with subprocess.Popen(command, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, start_new_session=True) as process:
        try:
            page = read_until(process, rb"http://\S+/(?=  ->  web \(HTTP API)", timeout=90)
            read_until(process, rb"Press Ctrl-C to stop", timeout=30)
            with urllib.request.urlopen(page, timeout=30) as reply:
                assert b'<form method="post">' in reply.read()
            handler = project / "web.sh"
            handler.write_text(handler.read_text().replace("Hello, ", "Howdy, "))
            read_until(process, rb"web.sh changed: 1 environment recycled", timeout=60)
            with urllib.request.urlopen(urllib.request.Request(page, data=b"name=Ada"), timeout=30) as reply:
                assert b"Howdy, Ada!" in reply.read()
            edit_config(project, lambda config: config["functions"]["web"]["events"].append(
                {"httpApi": "GET /about"}))
            read_until(process, rb"configuration re-read directly \(not through the Framework\); "
                                rb"route added: GET /about", timeout=60)
            with urllib.request.urlopen(f"{page}about", timeout=30) as reply:
                assert reply.status == 200
        finally:
            stop_group(process)
