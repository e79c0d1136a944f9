"""Live reload's watcher, with real file edits: code and configuration are told apart, a configuration that no
longer parses keeps the old one with a one-line reason, ignored files are ignored, layers outside the project
are watched. Every wait has a deadline; nothing here depends on how fast the machine is."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_scaffold.live_reload import ChangeKind, ProjectChange, ProjectWatcher, watched_paths
from runtime_scaffold.project import Project, load_project

from .conftest import edit_config, hello
from .emulator_fixtures import write_project

DEADLINE_S = 20.0


class Recorder:
    """A ReloadTarget that queues what it is told."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[str, object, ProjectChange]] = queue.Queue()

    def on_code_change(self, change: ProjectChange) -> None:
        self.calls.put(("code", None, change))

    def on_config_change(self, project: Project, change: ProjectChange) -> None:
        self.calls.put(("config", project, change))

    def on_config_error(self, reason: str, change: ProjectChange) -> None:
        self.calls.put(("error", reason, change))

    def next(self) -> tuple[str, object, ProjectChange]:
        try:
            return self.calls.get(timeout=DEADLINE_S)
        except queue.Empty:
            pytest.fail(f"the watcher reported nothing within {DEADLINE_S:.0f} s")

    def until(self, kind: str, needle: str = "") -> tuple[object, ProjectChange]:
        """The first report of ``kind`` (whose detail holds ``needle``): a slow machine may show the watcher a
        file between its truncation and its new content, which is reported first, as an editor's would be."""
        while True:
            seen, detail, change = self.next()
            if seen == kind and needle in str(detail):
                return detail, change


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p", extra_files={"function.sh": "handler() { :; }\n"})


@pytest.fixture
def watching(project_root: Path) -> Iterator[tuple[ProjectWatcher, Recorder]]:
    recorder = Recorder()
    failures: list[str] = []
    watcher = ProjectWatcher(load_project(project_root), recorder, load=lambda: load_project(project_root),
                             on_failure=failures.append)
    with watcher:
        assert watcher.running
        yield watcher, recorder
    assert not watcher.running  # stop() ends the thread
    assert failures == []


def test_a_handler_edit_is_a_code_change(watching: tuple[ProjectWatcher, Recorder], project_root: Path) -> None:
    _, recorder = watching
    (project_root / "function.sh").write_text("handler() { echo new; }\n")
    kind, _, change = recorder.next()
    assert kind == "code" and change.kind is ChangeKind.CODE
    assert change.paths == (project_root / "function.sh",)
    assert change.describe(project_root) == "function.sh changed"


def test_an_edit_through_a_renamed_temporary_file_names_the_file_edited(
        watching: tuple[ProjectWatcher, Recorder], project_root: Path) -> None:
    """sed -i (and many editors) write a temporary file and rename it over the one edited: the line names the
    file edited, not the temporary one that no longer exists."""
    _, recorder = watching
    temporary = project_root / "a-temporary-file"  # sorts before function.sh
    temporary.write_text("handler() { echo sed; }\n")
    temporary.rename(project_root / "function.sh")
    _, _, change = recorder.next()
    assert change.describe(project_root) == "function.sh changed", change


def test_a_layer_edit_is_a_code_change(watching: tuple[ProjectWatcher, Recorder], project_root: Path) -> None:
    _, recorder = watching
    (project_root / "runtime" / "bootstrap").write_text("#!/bin/sh\nexit 0\n")
    kind, _, change = recorder.next()
    assert kind == "code" and change.paths == (project_root / "runtime" / "bootstrap",)


def test_ignored_files_do_not_count(watching: tuple[ProjectWatcher, Recorder], project_root: Path) -> None:
    _, recorder = watching
    for ignored in (".serverless/cloudformation-template.json", "node_modules/x/index.js", ".git/HEAD",
                    ".function.sh.swp", "function.sh~", "4913"):
        (project_root / ignored).parent.mkdir(parents=True, exist_ok=True)
        (project_root / ignored).write_text("x")
    (project_root / "function.sh").write_text("handler() { echo after; }\n")
    # The real edit comes after the ignored ones: had any of them been reported, it would come first.
    _, _, change = recorder.next()
    assert change.paths == (project_root / "function.sh",)


def test_configuration_is_reread(watching: tuple[ProjectWatcher, Recorder], project_root: Path) -> None:
    watcher, recorder = watching
    edit_config(project_root, lambda config: hello(config).update(timeout=12))
    project, change = recorder.until("config")
    assert change.kind is ChangeKind.CONFIGURATION
    assert isinstance(project, Project) and project.function("hello").timeout == 12
    assert watcher.project is project
    assert change.describe(project_root).startswith("serverless.yml")


def test_a_broken_configuration_keeps_the_old_one(watching: tuple[ProjectWatcher, Recorder],
                                                  project_root: Path) -> None:
    watcher, recorder = watching
    before = watcher.project
    (project_root / "serverless.yml").write_text("service: [unclosed\n")
    reason, _ = recorder.until("error", "is not valid YAML")
    assert isinstance(reason, str) and "serverless.yml is not valid YAML" in reason and "\n" not in reason
    assert watcher.project is before
    # Fixing it is a configuration change again.
    write_project(project_root, timeout=9, extra_files={"function.sh": "handler() { :; }\n"})
    project, _ = recorder.until("config")
    assert isinstance(project, Project) and project.function("hello").timeout == 9


def test_a_layer_outside_the_project_is_watched(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    shared = tmp_path / "shared-runtime"
    shared.mkdir()
    (shared / "lib.sh").write_text("# v1\n")
    edit_config(root, lambda config: config["layers"].update(extra={"path": "../shared-runtime"}))
    project = load_project(root)
    assert watched_paths(project, [project.config_path]) == [root, shared]
    recorder = Recorder()
    with ProjectWatcher(project, recorder, load=lambda: load_project(root)):
        (shared / "lib.sh").write_text("# v2\n")
        kind, _, change = recorder.next()
    assert kind == "code" and change.paths == (shared / "lib.sh",)
    assert change.describe(root) == f"{shared / 'lib.sh'} changed"


def test_a_configuration_file_outside_the_project(tmp_path: Path) -> None:
    """The plugin's case: the resolved configuration is a file of its own elsewhere."""
    root = write_project(tmp_path / "p")
    elsewhere = tmp_path / "resolved"
    elsewhere.mkdir()
    resolved = elsewhere / "config.yml"
    resolved.write_text((root / "serverless.yml").read_text())
    (elsewhere / "unrelated.txt").write_text("x")
    recorder = Recorder()
    load = lambda: load_project(root, config_file=resolved)  # noqa: E731
    with ProjectWatcher(load(), recorder, load=load, config_files=[resolved]):
        (elsewhere / "unrelated.txt").write_text("y")
        resolved.write_text(resolved.read_text().replace("timeout: 6", "timeout: 7"))
        project, change = recorder.until("config")
    assert change.paths == (resolved,)
    assert isinstance(project, Project) and project.function("hello").timeout == 7


def test_describe_many_files() -> None:
    root = Path("/p")
    change = ProjectChange(ChangeKind.CONFIGURATION, (root / "serverless.yml", root / "a.sh", root / "b.sh"))
    assert change.describe(root) == "serverless.yml and 2 other files changed"
