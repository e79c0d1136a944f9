"""Without --project, scaffold invoke/serve/check/conform use the nearest serverless.yml from the current folder
upwards (as git finds .git) and name it on stderr; --path is read relative to the current folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from runtime_scaffold.errors import ExitCode, ProjectError
from runtime_scaffold.project import find_project_root

from .conftest import read_until, render, scaffold_bin


def scaffold(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([scaffold_bin(), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def using_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Using project")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return render("bash", tmp_path)


@pytest.fixture
def deep(project: Path) -> Path:
    """A folder two levels below the project root, as a user's shell might be in."""
    folder = project / "src" / "deeper"
    folder.mkdir(parents=True)
    return folder


# --- the lookup itself ------------------------------------------------------------------------------------


def test_the_nearest_serverless_yml_upwards_wins(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "services" / "inner"
    (inner / "a" / "b").mkdir(parents=True)
    (outer / "serverless.yml").write_text("service: outer\n")
    (inner / "serverless.yaml").write_text("service: inner\n")  # the Framework's other spelling counts too
    assert find_project_root(inner / "a" / "b") == inner.resolve()
    assert find_project_root(inner) == inner.resolve()
    assert find_project_root(outer / "services") == outer.resolve()


def test_no_serverless_yml_anywhere_above_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty" / "sub"
    empty.mkdir(parents=True)
    with pytest.raises(ProjectError, match=r"no serverless.yml in .*/empty/sub or any folder above it: .*--project"):
        find_project_root(empty)
    result = scaffold("check", cwd=empty)
    assert result.returncode == ExitCode.PROJECT
    assert result.stderr.strip().startswith("Error: no serverless.yml in ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# --- each command, run from below the project -------------------------------------------------------------


def test_invoke_from_a_subfolder_uses_the_project_and_says_so(project: Path, deep: Path) -> None:
    result = scaffold("invoke", "hello", "--data", '{"name": "Deep"}', cwd=deep)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, Deep!"}
    assert using_lines(result.stderr) == [f"Using project {project.name} ({project.resolve()})"]
    assert result.stderr.startswith("Using project")  # before the bootstrap's START line


def test_event_path_is_relative_to_the_current_folder(project: Path, deep: Path) -> None:
    (deep / "mine.json").write_text('{"name": "Here"}')
    result = scaffold("invoke", "hello", "--path", "mine.json", cwd=deep)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, Here!"}
    result = scaffold("invoke", "hello", "--path", "../../events/hello.json", cwd=deep)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, World!"}
    result = scaffold("invoke", "hello", "--path", "events/hello.json", cwd=deep)  # not the project's
    assert result.returncode == ExitCode.USAGE
    assert "cannot read the event file events/hello.json" in result.stderr


def test_check_from_a_subfolder(project: Path, deep: Path) -> None:
    result = scaffold("check", cwd=deep)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{project.resolve()}: no problems found" in result.stdout
    assert using_lines(result.stderr) == [f"Using project {project.name} ({project.resolve()})"]


def test_conform_from_a_subfolder(project: Path, deep: Path) -> None:
    result = scaffold("conform", "--only", "echo-empty-object", cwd=deep)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS echo-empty-object" in result.stdout
    assert using_lines(result.stderr) == [f"Using project {project.name} ({project.resolve()})"]


def test_serve_from_a_subfolder(project: Path, deep: Path) -> None:
    with subprocess.Popen([scaffold_bin(), "serve", "--port", "0"], cwd=deep, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as server:
        try:
            url = read_until(server, rb"http://\S+/2015-03-31/functions/hello/invocations", timeout=60)
            request = urllib.request.Request(url, data=b'{"name": "Served"}', method="POST")
            with urllib.request.urlopen(request, timeout=30) as reply:
                assert json.loads(reply.read()) == {"message": "Hello, Served!"}
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                _, stderr = server.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                _, stderr = server.communicate()
    assert using_lines(stderr.decode()) == [f"Using project {project.name} ({project.resolve()})"]


def test_an_explicit_project_is_used_as_given_and_not_announced(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "serverless.yml").write_text(yaml.safe_dump({"service": "not-this-one"}))
    result = scaffold("check", "--project", str(project), cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{project.resolve()}: no problems found" in result.stdout
    assert using_lines(result.stderr) == []
    result = scaffold("check", "--project", str(project / "runtime"), cwd=project)  # no lookup from there
    assert result.returncode == ExitCode.PROJECT
    assert "no serverless.yml in" in result.stderr and "any folder above" not in result.stderr
