"""runtime/build-layer.sh of the Bun, Deno and Node templates, for real: it fetches the pinned binary from the npm
registry for each architecture, and the project it builds passes `scaffold check` with no finding, packages with
both frameworks with the binary at /opt/bin/<name>, mode 0755, and runs locally on the layer's own binary.
Downloads happen once per language and architecture in a session (npm's cache serves the checksum tests)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.elf import ELF_MACHINES, file_machine, host_machine
from runtime_scaffold.naming import layer_logical_id
from runtime_scaffold.templates import get_language

from .conftest import ARCHITECTURES, NPM_LANGUAGES, render, require_tool, scaffold_bin, serverless_package

pytestmark = pytest.mark.slow  # downloads 100-150 MB binaries from the npm registry, zips them
Built = Callable[[str, str], tuple[Path, str]]
# Each language packages with both frameworks: one on each architecture.
FRAMEWORK_FOR = {"x86_64": "serverless", "arm64": "osls"}
HOST_ARCHITECTURE = next(name for name, machine in ELF_MACHINES.items() if machine == host_machine())


def build_layer(project: Path, *arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    require_tool("npm")
    return subprocess.run([str(project / "runtime" / "build-layer.sh"), *arguments], capture_output=True, text=True,
                          timeout=600, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """built(language, architecture) -> (a project whose layer build-layer.sh has built, its progress output)."""
    cache: dict[tuple[str, str], tuple[Path, str]] = {}

    def get(language: str, architecture: str) -> tuple[Path, str]:
        if (language, architecture) not in cache:
            folder = tmp_path_factory.mktemp(f"built-{language}-{architecture}")
            project = render(language, folder, architecture=architecture)
            result = build_layer(project)  # no argument: provider.architecture of serverless.yml
            assert result.returncode == 0, result.stdout + result.stderr
            cache[(language, architecture)] = (project, result.stderr)
        return cache[(language, architecture)]

    return get


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("language", NPM_LANGUAGES)
def test_a_built_project_checks_clean_and_packages_the_binary(built: Built, language: str, architecture: str) -> None:
    project, progress = built(language, architecture)
    defaults = get_language(language).defaults
    package = defaults[f"_npm_package_{architecture}"]
    assert f"asking the npm registry for {package}@{defaults['_interpreter_version']}" in progress
    assert "checksum matches the registry: sha512-" in progress and "done: " in progress
    binary = project / "runtime" / "bin" / language
    assert stat.S_IMODE(binary.stat().st_mode) == 0o755
    assert file_machine(binary) == ELF_MACHINES[architecture]
    assert [p.name for p in binary.parent.iterdir()] == [language], "nothing half-built is left beside it"

    check = subprocess.run([scaffold_bin(), "check", "--project", str(project)], capture_output=True, text=True)
    assert check.returncode == 0 and "no problems found" in check.stdout, check.stdout + check.stderr

    build = serverless_package(project, framework=FRAMEWORK_FOR[architecture])
    with zipfile.ZipFile(build / f"{language}-runtime.zip") as layer:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in layer.infolist()}
    assert modes[f"bin/{language}"] == 0o755 and modes["bootstrap"] == 0o755  # /opt/bin/<name>, /opt/bootstrap
    assert f"{defaults['_runtime_entry']}" in modes and "build-layer.sh" not in modes
    template = build / "cloudformation-template-update-stack.json"
    layer_resource = json.loads(template.read_text())["Resources"][layer_logical_id(str(defaults["_layer_key"]))]
    assert layer_resource["Properties"]["CompatibleArchitectures"] == [architecture]  # cfn-lint: test_packaging


@pytest.mark.parametrize("language", NPM_LANGUAGES)
def test_the_layers_binary_runs_locally_once_built(built: Built, language: str, tmp_path: Path) -> None:
    project, _ = built(language, HOST_ARCHITECTURE)
    copy = Path(shutil.copytree(project, tmp_path / "p", symlinks=True, ignore=shutil.ignore_patterns(".serverless")))
    # No bun, deno or node on PATH: only the layer's own binary can answer.
    result = CliRunner(env={"PATH": "/usr/bin/nothing:/bin"}).invoke(
        cli, ["invoke", "hello", "--project", str(copy), "--data", '{"name": "Layer"}'])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, Layer!"}
    assert f"scaffold: /opt/bin/{language}: running the layer's {copy / 'runtime' / 'bin' / language}" in result.stderr


def test_a_layer_built_for_the_other_architecture_is_not_run_here(built: Built, tmp_path: Path) -> None:
    other = next(name for name in ARCHITECTURES if name != HOST_ARCHITECTURE)
    project, _ = built("bun", other)
    result = CliRunner(env={"PATH": "/usr/bin/nothing:/bin"}).invoke(
        cli, ["invoke", "hello", "--project", str(project), "--data", "{}"])
    assert result.exit_code == 1
    assert f"is for {other}, this machine is {HOST_ARCHITECTURE}" in result.stderr
    assert "install bun here (npm install -g bun@1.4.5)" in result.stderr


@pytest.mark.parametrize("language", NPM_LANGUAGES)
def test_a_failed_download_leaves_no_layer(language: str, tmp_path: Path) -> None:
    project = render(language, tmp_path)
    unreachable = {**os.environ, "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/", "NPM_CONFIG_FETCH_RETRIES": "0",
                   "NPM_CONFIG_CACHE": str(tmp_path / "empty-cache"), "NPM_CONFIG_OFFLINE": "false"}
    result = build_layer(project, env=unreachable)
    assert result.returncode != 0
    assert f"build-layer.sh: npm view {get_language(language).defaults['_npm_package_x86_64']}@" in result.stderr
    assert not (project / "runtime" / "bin").exists()


def test_a_checksum_mismatch_installs_nothing(tmp_path: Path) -> None:
    project = render("node", tmp_path)
    old = project / "runtime" / "bin" / "node"
    old.parent.mkdir()
    old.write_text("the binary of an earlier build")
    # An npm whose registry answers another digest than the package's: the download must be refused.
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "npm").write_text(f'#!/bin/sh\nif [ "$1" = view ]; then echo sha512-{"A" * 86}==; exit 0; fi\n'
                              f'exec {require_tool("npm")} "$@"\n')
    (fake / "npm").chmod(0o755)
    result = build_layer(project, env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr and "the registry says sha512-AAAA" in result.stderr
    assert old.read_text() == "the binary of an earlier build"
    assert [p.name for p in old.parent.iterdir()] == ["node"]


def test_an_unknown_architecture_is_refused(tmp_path: Path) -> None:
    project = render("deno", tmp_path)
    result = build_layer(project, "sparc")
    assert result.returncode == 1
    assert "unknown architecture 'sparc': use x86_64 or arm64" in result.stderr
    assert not (project / "runtime" / "bin").exists()
