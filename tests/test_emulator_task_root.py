"""The task root is the function package: /var/task and /opt laid out from the packaged view `scaffold check` reads,
synced at each cold start and untouched by warm invocations, with Lambda's paths in what callers and logs see."""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.emulator.sandbox_files import SandboxFiles
from runtime_scaffold.execution_environment import ExecutionEnvironmentBuilder
from runtime_scaffold.project import load_project

from .conftest import render
from .emulator_fixtures import PYTHON_BOOTSTRAP, write_project

Factory = Callable[..., LocalLambda]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _add_patterns(root: Path, *patterns: str) -> None:
    config = root / "serverless.yml"
    lines = "".join(f"    - '{pattern}'\n" for pattern in patterns)
    config.write_text(config.read_text().replace("  patterns:\n", f"  patterns:\n{lines}", 1))


def test_a_file_package_patterns_leave_out_is_missing_locally_too(tmp_path: Path) -> None:
    root = render("bash", tmp_path)
    (root / "config.json").write_text('{"greeting": "hi"}')
    (root / "secrets.json").write_text('{"token": "local only"}')
    (root / "function.sh").write_text(
        "handler() {\n"
        "    [[ -e secrets.json ]] || { printf 'secrets.json is not in %s' \"$PWD\"; return 1; }\n"
        "    cat config.json\n"
        "}\n")
    _add_patterns(root, "!secrets.json")
    code, out, _ = run("invoke", "hello", "--project", str(root))
    assert code == 1
    assert json.loads(out)["errorMessage"] == "secrets.json is not in /var/task"  # the sandbox's path, mapped
    # What `scaffold check` computes is what the sandbox holds: without the pattern the file ships, and is there.
    config = root / "serverless.yml"
    config.write_text(config.read_text().replace("    - '!secrets.json'\n", ""))
    code, out, _ = run("invoke", "hello", "--project", str(root))
    assert (code, out) == (0, '{"greeting": "hi"}')


def _task_root(local: LocalLambda) -> Path:
    result = local.invoke(None, b'{"env": true}')
    return Path(json.loads(result.payload)["LAMBDA_TASK_ROOT"])


def test_the_sandbox_holds_exactly_the_package_scaffold_check_computes(tmp_path: Path, local_lambda: Factory
                                                                       ) -> None:
    root = write_project(tmp_path / "p", extra_files={
        "function.py": "handler", "lib/util.py": "u", "notes/todo.md": "t", "tests/test_it.py": "x"})
    config = root / "serverless.yml"
    config.write_text(config.read_text() + "package:\n  patterns:\n    - '!tests/**'\n    - '!notes/**'\n")
    local = local_lambda(root)
    task_root = _task_root(local)
    project = load_project(root)
    package = ExecutionEnvironmentBuilder(project).environment(project.function("hello")).task
    assert package is not None
    laid_out = sorted(path.relative_to(task_root).as_posix() for path in task_root.rglob("*") if path.is_file())
    assert laid_out == sorted(package.files) == ["function.py", "lib/util.py"]
    assert (task_root / "function.py").samefile(root / "function.py")  # a link, not a copy


def test_warm_invocations_leave_the_task_root_alone_and_a_cold_start_resyncs_it(tmp_path: Path,
                                                                               local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p", extra_files={"kept.txt": "one", "replaced.txt": "old", "gone.txt": "g"})
    local = local_lambda(root)
    task_root = _task_root(local)
    (root / "kept.txt").write_text("two")  # an edit in place shows at once: the same file
    (root / "new.txt").write_text("new")
    (root / "replaced.tmp").write_text("new version")
    os.replace(root / "replaced.tmp", root / "replaced.txt")  # how editors save: a new file renamed over the old
    (root / "gone.txt").unlink()
    (task_root / "written-by-the-runtime").write_text("x")
    assert _task_root(local) == task_root  # warm: nothing synced
    assert (task_root / "kept.txt").read_text() == "two"
    assert not (task_root / "new.txt").exists() and (task_root / "replaced.txt").read_text() == "old"
    assert local.invoke(None, b'{"exit": 1}').error_type == "Runtime.ExitError"  # the environment is reset
    assert _task_root(local) == task_root  # cold: synced with the package as it is now
    assert sorted(p.name for p in task_root.iterdir()) == ["kept.txt", "new.txt", "replaced.txt"]
    assert (task_root / "replaced.txt").read_text() == "new version"


def test_layers_merge_in_order_with_their_own_patterns(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for layer, files in {"one": {"bootstrap": "first", "lib/a.so": "a", "share/x": "1", "build.sh": "b"},
                         "two": {"bootstrap": "second", "lib/b.so": "b"}}.items():
        for name, text in files.items():
            (root / layer / name).parent.mkdir(parents=True, exist_ok=True)
            (root / layer / name).write_text(text)
    (root / "serverless.yml").write_text(
        "service: s\nprovider:\n  name: aws\n  runtime: provided.al2023\n"
        "layers:\n  one:\n    path: one\n    package:\n      patterns: ['!build.sh']\n  two:\n    path: two\n"
        "functions:\n  f:\n    handler: h.h\n    layers: [{Ref: OneLambdaLayer}, {Ref: TwoLambdaLayer}]\n")
    files = SandboxFiles(tmp_path / "sandbox")
    files.sync(load_project(root), load_project(root).function("f"))
    assert (files.opt / "bootstrap").read_text() == "second"
    assert sorted(p.name for p in (files.opt / "lib").iterdir()) == ["a.so", "b.so"]
    assert (files.opt / "share" / "x").read_text() == "1"
    assert not (files.opt / "build.sh").exists()  # the layer's own package.patterns leave it out
    assert list(files.task.iterdir()) == []  # the layer folders are not in the function's package


def test_files_are_copied_where_they_cannot_be_linked_and_only_when_they_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(tmp_path / "p", extra_files={"a.txt": "a", "b.txt": "b"})

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    copied: list[str] = []
    copy = shutil.copy2

    def counted_copy(source: Path, target: Path) -> object:
        copied.append(Path(target).name)
        return copy(source, target)

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(shutil, "copy2", counted_copy)
    project = load_project(root)
    files = SandboxFiles(tmp_path / "sandbox")
    files.sync(project, project.function("hello"))
    assert sorted(copied) == ["a.txt", "b.txt", "bootstrap"]  # the layer's too
    assert not (files.task / "a.txt").samefile(root / "a.txt") and (files.task / "a.txt").read_text() == "a"
    (root / "b.txt").write_text("b, edited")
    os.utime(root / "b.txt", ns=(1, 1))  # a different mtime, whatever the clock's resolution
    copied.clear()
    files.sync(project, project.function("hello"))
    assert copied == ["b.txt"]  # the unchanged file is not copied again
    assert (files.task / "b.txt").read_text() == "b, edited"


def test_a_package_artifact_zip_is_the_task_root(tmp_path: Path, local_lambda: Factory) -> None:
    root = write_project(tmp_path / "p", bootstrap=None)
    with zipfile.ZipFile(root / "function.zip", "w") as archive:
        entry = zipfile.ZipInfo("bootstrap")
        entry.external_attr = 0o100755 << 16
        archive.writestr(entry, f"#!{sys.executable}\n{PYTHON_BOOTSTRAP}")
        archive.writestr("data/answer.txt", "42")
    config = root / "serverless.yml"
    config.write_text(config.read_text() + "package:\n  artifact: function.zip\n")
    local = local_lambda(root)
    task_root = _task_root(local)
    assert (task_root / "data" / "answer.txt").read_text() == "42"
    (root / "function.zip").unlink()
    assert local.invoke(None, b'{"exit": 1}').error_type == "Runtime.ExitError"
    result = local.invoke(None, b"{}")  # a cold start with the zip gone: nothing Lambda could start
    assert result.error_type == "Runtime.InvalidEntrypoint"
    assert b"package.artifact" in result.payload and b"does not exist" in result.payload


def test_a_stack_trace_shows_lambda_paths(tmp_path: Path) -> None:
    root = render("php", tmp_path)
    (root / "src" / "hello.php").write_text(
        "<?php\nfunction hello($event) {\n    throw new RuntimeException('no');\n}\n")
    code, out, err = run("invoke", "hello", "--project", str(root))
    assert code == 1
    error = json.loads(out)
    assert error["errorMessage"] == "no"
    assert error["stackTrace"][0] == "/var/task/src/hello.php:3", error
    assert "/tmp/scaffold-" not in out and "/tmp/scaffold-" not in err
