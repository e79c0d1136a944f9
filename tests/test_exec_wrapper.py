"""AWS_LAMBDA_EXEC_WRAPPER as Lambda applies it: on managed runtimes the runtime starts through the wrapper,
on OS-only runtimes (provided.*) Lambda starts bootstrap itself and the wrapper never runs."""

from __future__ import annotations

import json
from pathlib import Path

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.project import load_project

from .emulator_fixtures import write_project
from .extension_fixtures import Log

WRAPPER = """#!/bin/bash
printf '%s\\n' "$@" > "$STATE/wrapper.args"
export WRAPPED=yes
exec "$@"
"""


def project(tmp_path: Path, runtime: str, wrapper: str = "/opt/wrapper") -> Path:
    state = tmp_path / "state"
    state.mkdir()
    root = write_project(tmp_path / "project", environment={"AWS_LAMBDA_EXEC_WRAPPER": wrapper, "STATE": str(state)})
    config = root / "serverless.yml"
    config.write_text(config.read_text().replace("runtime: provided.al2023", f"runtime: {runtime}"))
    (root / "runtime" / "wrapper").write_text(WRAPPER)
    (root / "runtime" / "wrapper").chmod(0o755)
    return root


def environment_seen(root: Path, log: Log) -> dict[str, str]:
    with LocalLambda(load_project(root), log_sink=log) as local:
        result = local.invoke("hello", b'{"env": true}')
    assert result.error_type is None, result.payload
    seen = json.loads(result.payload)
    assert isinstance(seen, dict)
    return seen


def test_an_os_only_runtime_starts_bootstrap_itself_and_says_the_wrapper_is_not_run(tmp_path: Path) -> None:
    root = project(tmp_path, "provided.al2023")
    log = Log()
    seen = environment_seen(root, log)
    assert seen["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/wrapper" and "WRAPPED" not in seen
    assert not (tmp_path / "state" / "wrapper.args").exists()
    assert ("scaffold: AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper is not run: provided.al2023 starts bootstrap itself, "
            "as Lambda does (wrapper scripts work on managed runtimes only)") in log.lines()


def test_a_managed_runtime_starts_through_the_wrapper_with_the_runtime_command(tmp_path: Path) -> None:
    root = project(tmp_path, "python3.12")
    seen = environment_seen(root, Log())
    assert seen["WRAPPED"] == "yes"
    arguments = (tmp_path / "state" / "wrapper.args").read_text().splitlines()
    assert arguments[-1].endswith("/bootstrap"), arguments  # the runtime's own command, last


def test_a_missing_wrapper_fails_as_the_managed_runtimes_report_it(tmp_path: Path) -> None:
    root = project(tmp_path, "python3.12", wrapper="/opt/nowhere")
    log = Log()
    with LocalLambda(load_project(root), log_sink=log) as local:
        result = local.invoke("hello", b"{}")
    assert result.error_type == "Runtime.ExitError"
    assert "exit status 127" in json.loads(result.payload)["errorMessage"]
    assert any(line.endswith("/opt/nowhere: does not exist") for line in log.lines()), log.text
