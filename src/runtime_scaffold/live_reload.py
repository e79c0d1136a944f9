"""Live reload's watcher: notice edits to a project's files, tell code from configuration, re-read the
configuration, and hand the outcome to whoever serves the project (`scaffold serve --watch`).

Watched: the project folder (handler files and everything the function package holds), every layer folder
(also those outside the project, such as ``path: ../shared-runtime``), and the configuration files (serverless.yml,
or whichever files the caller says the configuration comes from). Ignored: the Framework's ``.serverless/``,
``node_modules/``, VCS folders and editors' swap and backup files (watchfiles' default filter, plus ours).

A burst of writes (an editor saving, a ``git checkout``) is one change: watchfiles (inotify/FSEvents through
Rust's ``notify``, no polling) waits for ``quiet_ms`` without events, at most ``debounce_ms``. A change that
touches a configuration file is a configuration change (it implies new code too); any other is a code change.
A configuration that no longer parses keeps the old one, and the target hears why in one line.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import watchfiles

from runtime_scaffold.errors import ScaffoldError
from runtime_scaffold.project import Project

# Beside watchfiles' defaults: the Framework's build output, and vim's write probe file.
IGNORED_DIRS = (".serverless",)
IGNORED_NAMES = (r"^4913$",)
# How often the watch loop wakes without events, to notice stop() (watchfiles' rust_timeout).
WAKE_MS = 200


class ChangeKind(str, enum.Enum):
    CODE = "code"
    CONFIGURATION = "configuration"


@dataclass(frozen=True)
class ProjectChange:
    """One debounced batch of file changes."""

    kind: ChangeKind
    paths: tuple[Path, ...]  # absolute; configuration files first

    def describe(self, root: Path) -> str:
        """``src/web.php changed`` or ``serverless.yml and 2 other files changed``, paths relative to ``root``."""
        names = [_relative(path, root) for path in self.paths]
        if len(names) == 1:
            return f"{names[0]} changed"
        others = len(names) - 1
        return f"{names[0]} and {others} other file{'s' if others > 1 else ''} changed"


class ReloadTarget(Protocol):
    """What the server implements: called from the watcher's thread, one call at a time."""

    def on_code_change(self, change: ProjectChange) -> None: ...

    def on_config_change(self, project: Project, change: ProjectChange) -> None: ...

    def on_config_error(self, reason: str, change: ProjectChange) -> None: ...


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def watched_paths(project: Project, config_files: Iterable[Path] = ()) -> list[Path]:
    """What to watch: the project folder, the layer folders outside it, and any configuration file outside
    those (that file alone: its folder may be large, e.g. a temporary folder)."""
    paths = [project.root]
    for layer in project.layers.values():
        if layer.path.is_dir() and not any(layer.path.is_relative_to(p) for p in paths):
            paths.append(layer.path)
    for config in config_files:
        if not any(config.is_relative_to(p) for p in paths):
            paths.append(config)
    return paths


class ProjectWatcher:
    """Watches a project in a background thread and calls ``target`` for each change. ``load`` re-reads the
    configuration (e.g. ``lambda: load_project(root)``); ``config_files`` default to the project's config_path."""

    def __init__(self, project: Project, target: ReloadTarget, *, load: Callable[[], Project],
                 config_files: Sequence[Path] | None = None, quiet_ms: int = 100, debounce_ms: int = 1600,
                 on_failure: Callable[[str], None] | None = None) -> None:
        self.project = project
        self._target = target
        self._load = load
        self._config_files = frozenset(p.resolve() for p in (config_files or (project.config_path,)))
        self._quiet_ms = quiet_ms
        self._debounce_ms = debounce_ms
        self._on_failure = on_failure or (lambda message: None)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProjectWatcher:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def paths(self) -> list[Path]:
        return watched_paths(self.project, sorted(self._config_files))

    def start(self, *, ready_timeout_s: float = 10.0) -> None:
        """Start watching; returns once the watches are in place (so an edit made next is seen)."""
        self._thread = threading.Thread(target=self._run, name="scaffold-watch", daemon=True)
        self._thread.start()
        if not self._ready.wait(ready_timeout_s):
            self.stop()
            raise ScaffoldError(f"could not start watching {self.project.root} within {ready_timeout_s:.0f} s")

    def stop(self, *, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _filter(self) -> watchfiles.DefaultFilter:
        roots = [self.project.root, *(layer.path for layer in self.project.layers.values())]
        config_files = self._config_files

        class Filter(watchfiles.DefaultFilter):
            def __call__(self, change: watchfiles.Change, path: str) -> bool:
                candidate = Path(path)
                if candidate in config_files:
                    return True
                if not any(candidate.is_relative_to(root) for root in roots):
                    return False
                return super().__call__(change, path)

        return Filter(ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *IGNORED_DIRS),
                      ignore_entity_patterns=(*watchfiles.DefaultFilter.ignore_entity_patterns, *IGNORED_NAMES))

    def _run(self) -> None:
        while not self._stop.is_set():
            paths = self.paths
            try:
                for batch in watchfiles.watch(*paths, watch_filter=self._filter(), debounce=self._debounce_ms,
                                              step=self._quiet_ms, stop_event=self._stop, rust_timeout=WAKE_MS,
                                              yield_on_timeout=True, raise_interrupt=False):
                    self._ready.set()
                    if batch and self._handle(batch) and self.paths != paths:
                        break  # the layers moved: watch the new set
            except (OSError, RuntimeError) as error:  # a folder vanished, inotify's watch limit...
                self._on_failure(f"watching stopped: {error}")
                self._ready.set()
                return

    def _handle(self, batch: set[tuple[watchfiles.Change, str]]) -> bool:
        """Report one batch; True when the configuration was reloaded."""
        # A file made and gone within the batch is an editor's (or sed -i's) temporary file, renamed over the
        # one it saved: not a change. Configuration files first, so a description names them.
        made = {path for kind, path in batch if kind is watchfiles.Change.added}
        gone = {path for kind, path in batch if kind is watchfiles.Change.deleted}
        transient = {path for path in made & gone if not Path(path).exists()}
        paths = tuple(sorted({Path(path) for _, path in batch if path not in transient},
                             key=lambda p: (p not in self._config_files, not p.exists(), p)))
        if not paths:
            return False
        touches_config = paths[0] in self._config_files
        change = ProjectChange(ChangeKind.CONFIGURATION if touches_config else ChangeKind.CODE, paths)
        try:
            if not touches_config:
                self._target.on_code_change(change)
                return False
            try:
                project = self._load()
            except ScaffoldError as error:
                self._target.on_config_error(" ".join(error.message.split()), change)  # one line
                return False
            self.project = project
            self._target.on_config_change(project, change)
            return True
        except Exception as error:  # a failing target must not end live reload silently
            self._on_failure(f"reloading after {change.describe(self.project.root)} failed: {error}")
            return False
