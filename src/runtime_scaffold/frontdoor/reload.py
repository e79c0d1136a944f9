"""`scaffold serve --watch`: what a change to the project does to the running local Lambda.

:class:`ServeReloader` is the :class:`~runtime_scaffold.live_reload.ReloadTarget` of a served project. On a code
change the invocations in flight finish and every warm environment is then retired, so the next invocation
cold-starts with the new code (:meth:`LocalLambda.recycle`). On a configuration change the re-read project takes
over too: environment, layers, timeouts, functions, and the front door's routes. A configuration that does not load
(YAML, or a route the Framework would refuse) keeps the previous one. Each change is one log line saying what
changed and what was recycled.

Under the Serverless plugin, `scaffold serve` reads the Framework's resolved configuration (``--config``), which
the Framework cannot resolve again from here: a changed serverless.yml is then read directly (scaffold's own
variable resolution), and the log line says so.
"""

from __future__ import annotations

from collections.abc import Callable

from runtime_scaffold.emulator.local_lambda import LocalLambda
from runtime_scaffold.emulator.pool import Recycled
from runtime_scaffold.frontdoor.listeners import FrontDoor
from runtime_scaffold.frontdoor.routes import read_routes
from runtime_scaffold.live_reload import ProjectChange, ProjectWatcher
from runtime_scaffold.project import Project, find_config, load_project

Say = Callable[[str], None]


def recycled_text(recycled: Recycled) -> str:
    total = recycled.idle + recycled.busy
    if total == 0:
        return "no warm environment to recycle"
    text = f"{total} environment{'s' if total > 1 else ''} recycled"
    if recycled.busy:
        text += f" ({recycled.busy} once {'its invocation ends' if recycled.busy == 1 else 'their invocations end'})"
    return text


class ServeReloader:
    """Applies each change the watcher reports to ``local`` and ``front_door``, and says so through ``say``."""

    def __init__(self, local: LocalLambda, front_door: FrontDoor | None, *, say: Say, direct: bool = False) -> None:
        self.local = local
        self.front_door = front_door
        self._say = say
        self._direct = direct

    def _what(self, change: ProjectChange) -> str:
        return change.describe(self.local.project.root)

    def on_code_change(self, change: ProjectChange) -> None:
        recycled = self.local.recycle()
        self._say(f"scaffold: {self._what(change)}: {recycled_text(recycled)}; the next invocation starts cold")

    def on_config_change(self, project: Project, change: ProjectChange) -> None:
        what = self._what(change)
        recycled = self.local.recycle(project)
        routes = self.front_door.update(project) if self.front_door is not None else ""
        how = "re-read directly (not through the Framework)" if self._direct else "re-read"
        self._say(f"scaffold: {what}: configuration {how}{'; ' + routes if routes else ''}; "
                  f"{recycled_text(recycled)}")

    def on_config_error(self, reason: str, change: ProjectChange) -> None:
        self._say(f"scaffold: {self._what(change)}, but the configuration does not load: {reason}; "
                  "still serving the previous one")


def is_snapshot(project: Project) -> bool:
    """Whether the configuration came from a file outside the project (the plugin's resolved configuration, in
    a temporary folder), which nothing will edit: serverless.yml is then watched and re-read directly."""
    return not project.config_path.is_relative_to(project.root)


def start_watching(project: Project, local: LocalLambda, front_door: FrontDoor | None, *, say: Say) -> ProjectWatcher:
    """A started watcher of ``project`` that applies each change to ``local`` and ``front_door``."""
    root, stage, region = project.root, project.stage, project.region
    snapshot = is_snapshot(project)
    config = find_config(root) if snapshot else project.config_path

    def load() -> Project:
        fresh = load_project(root, config_file=None if snapshot else config, stage=stage, region=region)
        read_routes(fresh)  # a route the Framework would refuse is a configuration that does not load
        return fresh

    reloader = ServeReloader(local, front_door, say=say, direct=snapshot)
    watcher = ProjectWatcher(project, reloader, load=load, config_files=[config], on_failure=say)
    watcher.start()
    return watcher


def watch_line(watcher: ProjectWatcher) -> str:
    """What `scaffold serve --watch` says it watches."""
    project = watcher.project
    where = ", ".join(str(path) for path in watcher.paths)
    line = f"Watching {where} for changes"
    if is_snapshot(project):
        line += (f" ({find_config(project.root).name} is re-read directly on a change, not through the Framework: "
                 "only ${self:}, ${opt:}, ${sls:} and ${env:} variables are resolved then)")
    return line
