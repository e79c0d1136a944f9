"""`scaffold conform --extension NAME`: the generated extension passes the Extensions API contract, and each
broken extension fails exactly the scenarios meant to catch its bug."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.conformance import EXTENSION_SCENARIOS, run_conformance
from runtime_scaffold.errors import ExitCode, ProjectError
from runtime_scaffold.extension_template import add_extension as add_generated
from runtime_scaffold.project import load_project

from .conftest import edit_config, render
from .extension_fixtures import add_extension

ALL = {scenario.name for scenario in EXTENSION_SCENARIOS}


def project_with_extension(tmp_path: Path, settings: dict[str, str]) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    root = render("bash", tmp_path)
    edit_config(root, lambda c: c["provider"].update(environment={"STATE": str(state)}))
    add_extension(root, "fixture", state=state, settings=settings)
    return root


def failures(root: Path, name: str) -> dict[str, str]:
    report = run_conformance(load_project(root), extension=name)
    assert {result.name for result in report.results} == ALL
    return {result.name: result.reason for result in report.failed}


def test_the_generated_extension_passes_every_scenario(tmp_path: Path) -> None:
    root = render("bash", tmp_path)
    add_generated(load_project(root), name="telemetry-logger")
    result = CliRunner().invoke(cli, ["conform", "--project", str(root), "--extension", "telemetry-logger"],
                                prog_name="scaffold")
    assert result.exit_code == ExitCode.OK, result.output
    assert "Conformance of extension telemetry-logger of" in result.output
    assert "4 scenarios passed, 0 failed" in result.output


@pytest.mark.parametrize(("settings", "failing", "words"), [
    ({"EXT_IGNORE_SHUTDOWN": "1"}, {"extension-shutdown", "extension-shutdown-timeout"},
     "was still running and was killed"),
    # Stuck after an INVOKE, it never asks for the SHUTDOWN event either: killed in both Shutdown phases.
    ({"EXT_ON_INVOKE_WAIT": "/nonexistent/never"}, ALL - {"extension-registers"}, "held invocation"),
    ({"EXT_EXIT_ON_INVOKE": "4"}, {"extension-keeps-polling", "extension-shutdown", "extension-shutdown-timeout"},
     "Extension.Crash"),
    ({"EXT_EXIT_BEFORE_REGISTER": "1"}, ALL, "Extension.Crash"),
])
def test_each_broken_extension_fails_the_scenarios_meant_to_catch_it(
        tmp_path: Path, settings: dict[str, str], failing: set[str], words: str) -> None:
    failed = failures(project_with_extension(tmp_path, settings), "fixture")
    assert set(failed) == failing, failed
    assert any(words in reason for reason in failed.values()), failed


def test_an_extension_the_layers_do_not_have_is_refused_before_anything_starts(tmp_path: Path) -> None:
    root = render("bash", tmp_path)
    with pytest.raises(ProjectError, match="no extension 'missing' in its layers' extensions/ folders; it has: none"):
        run_conformance(load_project(root), extension="missing")
    result = CliRunner().invoke(cli, ["conform", "--project", str(root), "--extension", "missing"],
                                prog_name="scaffold")
    assert result.exit_code == ExitCode.PROJECT and "Conformance of" not in result.output
