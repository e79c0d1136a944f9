"""`scaffold new-extension NAME` as a user runs it: the generated bash extension, through `scaffold invoke`, prints
the invocation's telemetry (the function's lines and its platform.report) and exits cleanly on SHUTDOWN."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.errors import ExitCode

from .conftest import render

NAME = "telemetry-logger"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def records(log: str) -> list[dict[str, object]]:
    """The telemetry records the extension printed, in order."""
    prefix = f"[{NAME}] {{"
    return [json.loads(line[len(prefix) - 1:]) for line in log.splitlines() if line.startswith(prefix)]


def test_the_generated_extension_prints_the_invocations_telemetry_and_shuts_down_cleanly(tmp_path: Path) -> None:
    root = render("bash", tmp_path)
    code, out, err = run("new-extension", NAME, "--project", str(root))
    assert code == ExitCode.OK, err
    extension = root / "runtime" / "extensions" / NAME
    assert os.access(extension, os.X_OK) and b"\r" not in extension.read_bytes()
    assert (root / "runtime" / NAME / "telemetry-listener.awk").is_file()
    assert f"## Extension {NAME}" in (root / "README.md").read_text()

    code, out, err = run("invoke", "hello", "--data", '{"name": "ext"}', "--project", str(root))
    assert code == ExitCode.OK, err
    assert json.loads(out) == {"message": "Hello, ext!"}
    request_id = re.search(r"START RequestId: (\S+)", err)
    assert request_id is not None, err
    seen = records(err)
    types = [record["type"] for record in seen]
    for expected in ("platform.initStart", "platform.initRuntimeDone", "platform.extension", "platform.initReport",
                     "platform.start", "function", "platform.runtimeDone", "platform.report"):
        assert expected in types, (expected, types)
    # in Lambda's order: the function's line between the invocation's start and its report
    assert types.index("platform.start") < types.index("function") < types.index("platform.report")
    function_lines = [r["record"] for r in seen if r["type"] == "function"]
    assert any(f"greeting ext (request {request_id[1]})" in str(line) for line in function_lines), function_lines
    report = next(r["record"] for r in seen if r["type"] == "platform.report")
    assert isinstance(report, dict) and report["requestId"] == request_id[1] and report["status"] == "success"
    assert f"[{NAME}] SHUTDOWN (spindown): exiting" in err
    assert "killed" not in err  # it exited by itself within the Shutdown phase


def test_an_existing_extension_needs_force_and_a_bad_name_is_one_line(tmp_path: Path) -> None:
    root = render("bash", tmp_path)
    assert run("new-extension", NAME, "--project", str(root))[0] == ExitCode.OK
    extension = root / "runtime" / "extensions" / NAME
    extension.write_text("#!/bin/bash\n# changed by hand\n")
    code, _, err = run("new-extension", NAME, "--project", str(root))
    assert code != ExitCode.OK and "already exist; pass --force to replace them" in err
    assert "changed by hand" in extension.read_text()  # nothing was written
    assert run("new-extension", NAME, "--project", str(root), "--force")[0] == ExitCode.OK
    assert "changed by hand" not in extension.read_text()
    assert (root / "README.md").read_text().count(f"## Extension {NAME}") == 1


@pytest.mark.parametrize("name", ["../escape", "a b", ""])
def test_a_name_that_is_not_a_file_name_is_refused(tmp_path: Path, name: str) -> None:
    root = render("bash", tmp_path)
    code, _, err = run("new-extension", name, "--project", str(root))
    assert code == ExitCode.USAGE and "is not a plain file name" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (root / "runtime" / "extensions").exists()
