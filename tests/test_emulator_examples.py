"""The example projects (examples/<language>) answer their events through `scaffold invoke` and the Invoke API.
The examples are part of the repository: a missing bootstrap, php or pinned bun/deno/node is a failure, not a
skip."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.emulator import LocalLambda, start_invoke_server

from .conftest import LANGUAGES, NPM_LANGUAGES, interpreter_environment, require_tool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
Factory = Callable[..., LocalLambda]


def example(language: str, tmp_path: Path) -> Path:
    source = EXAMPLES / language
    assert (source / "runtime" / "bootstrap").is_file(), f"examples/{language} has no runtime/bootstrap"
    if language == "php":
        require_tool("php")
    return Path(shutil.copytree(source, tmp_path / language, symlinks=True))


def host(language: str) -> dict[str, str]:
    """The machine's environment, with the pinned interpreter first on PATH for the languages that need one."""
    return interpreter_environment(language) if language in NPM_LANGUAGES else dict(os.environ)


@pytest.mark.parametrize("language", LANGUAGES)
def test_invoke_answers_the_sample_event(language: str, tmp_path: Path) -> None:
    root = example(language, tmp_path)
    event = str(root / "events" / "hello.json")
    result = CliRunner(env=host(language)).invoke(cli, ["invoke", "hello", "--path", event, "--project", str(root)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, World!"}
    assert "REPORT RequestId: " in result.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_serve_reports_function_errors(language: str, tmp_path: Path, local_lambda: Factory) -> None:
    server = start_invoke_server(local_lambda(example(language, tmp_path), host_environment=host(language)), port=0)
    try:
        address = f"http://{server.address}/2015-03-31/functions/hello/invocations"
        ok = requests.post(address, data=b'{"name": "Ada"}', timeout=30)
        assert ok.json() == {"message": "Hello, Ada!"}
        failed = requests.post(address, data=b"{}", timeout=30)
        assert failed.status_code == 200 and failed.headers["X-Amz-Function-Error"] == "Unhandled"
        assert "name" in failed.json()["errorMessage"]
    finally:
        server.close()
