"""Run the scenarios one after the other, each in its own local Lambda and within its own deadline."""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runtime_scaffold.conformance import concurrency, echo, extensions, faults, lifecycle, streaming, tenancy
from runtime_scaffold.conformance.handler import declared_features, find_conformance_handler
from runtime_scaffold.conformance.harness import Aborted, Failed, Harness
from runtime_scaffold.conformance.scenario import Scenario
from runtime_scaffold.emulator.logs import LogSink
from runtime_scaffold.errors import InvalidInput, ProjectError
from runtime_scaffold.project import Function, Project

SCENARIOS: tuple[Scenario, ...] = (*echo.SCENARIOS, *lifecycle.SCENARIOS, *faults.SCENARIOS, *streaming.SCENARIOS,
                                   *tenancy.SCENARIOS, *concurrency.SCENARIOS)
EXTENSION_SCENARIOS: tuple[Scenario, ...] = extensions.SCENARIOS  # scaffold conform --extension NAME
DEFAULT_TMP_INVOCATIONS = 1000
# After its deadline, a scenario's bootstraps are killed; this long is left for its thread to notice.
_ABORT_GRACE_S = 10.0


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    passed: bool
    reason: str  # one line: what was expected and what was seen (or, on a pass, what was checked)
    duration_ms: float
    skipped: bool = False  # the runtime does not declare the scenario's feature: neither passed nor failed

    @property
    def status(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"


@dataclass
class ConformanceReport:
    root: Path
    function: str
    handler: str
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ScenarioResult]:
        return [result for result in self.results if not result.passed and not result.skipped]

    @property
    def skipped(self) -> list[ScenarioResult]:
        return [result for result in self.results if result.skipped]

    @property
    def passed(self) -> bool:
        return not self.failed


def select_scenarios(patterns: Iterable[str] = (), *, extension: bool = False) -> list[Scenario]:
    """The scenarios whose names match any of the glob patterns (all of them without patterns): the runtime's,
    or with ``extension`` an extension's."""
    patterns = list(patterns)
    known = EXTENSION_SCENARIOS if extension else SCENARIOS
    if not patterns:
        return list(known)
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(s.name, p) for s in known)]
    if unknown:
        raise InvalidInput(f"no scenario named {', '.join(map(repr, unknown))}; "
                           f"the scenarios are: {', '.join(s.name for s in known)}")
    return [s for s in known if any(fnmatch.fnmatchcase(s.name, p) for p in patterns)]


def check_extension(project: Project, function: Function, name: str) -> None:
    """Refuse, before anything starts, an extension the function's layers do not have."""
    found = layer_extensions(project, function)
    if name not in found:
        raise ProjectError(f"function {function.key} has no extension {name!r} in its layers' extensions/ folders; "
                           f"it has: {', '.join(found) or 'none'}")


def layer_extensions(project: Project, function: Function) -> list[str]:
    """The names of the external extensions the function's layers give it (the files of /opt/extensions)."""
    names: set[str] = set()
    for layer in project.function_layers(function):
        folder = layer.path / "extensions"
        if folder.is_dir():
            names.update(entry.name for entry in folder.iterdir() if not entry.is_dir())
    return sorted(names)


def skipped(scenario: Scenario) -> ScenarioResult:
    return ScenarioResult(scenario.name, False, f"the conformance handler does not declare {scenario.feature!r} "
                          f"(a 'conformance features: {scenario.feature}' line)", 0.0, skipped=True)


def run_scenario(scenario: Scenario, harness: Harness) -> ScenarioResult:
    """Run one scenario in a thread of its own, so that a bootstrap that hangs fails it at its deadline."""
    outcome: list[tuple[bool, str]] = []

    def target() -> None:
        try:
            outcome.append((True, scenario.run(harness)))
        except Failed as failure:
            outcome.append((False, str(failure)))
        except Aborted:
            pass
        except Exception as error:  # the emulator refusing something is the runtime's failure too
            outcome.append((False, f"{type(error).__name__}: {error}"))
        finally:
            harness.close()

    budget = scenario.budget_s(harness)
    started = time.monotonic()
    thread = threading.Thread(target=target, name=f"conform-{scenario.name}", daemon=True)
    thread.start()
    try:
        thread.join(budget)
    except BaseException:  # Ctrl-C: stop the scenario's bootstraps now, not at interpreter exit
        harness.abort()
        raise
    if thread.is_alive():
        harness.abort()
        thread.join(_ABORT_GRACE_S)
        outcome[:] = [(False, f"no verdict within {budget:.0f} s: the runtime hung (its bootstraps were killed)")]
    passed, reason = outcome[0] if outcome else (False, "the scenario stopped without a verdict")
    one_line = " ".join(line.strip() for line in reason.splitlines())  # quoted bytes are repr()s: spaces kept
    return ScenarioResult(scenario.name, passed, one_line, (time.monotonic() - started) * 1000)


def conformance_function(project: Project, name: str | None) -> Function:
    """The function whose bootstrap is checked: ``name``, else the only one, else the first when every function
    runs the same bootstrap (same runtime, same layers: the handler is replaced anyway), as the templates' do."""
    functions = list(project.functions.values())
    if name is None and len(functions) > 1:
        first = functions[0]
        runtimes = {(f.runtime, f.architecture, tuple(project.function_layers(f))) for f in functions}
        if len(runtimes) == 1:
            return first
    return project.function(name)


def run_conformance(
    project: Project,
    *,
    function: str | None = None,
    handler: str | None = None,
    only: Sequence[str] = (),
    tmp_invocations: int = DEFAULT_TMP_INVOCATIONS,
    progress: Callable[[ScenarioResult], None] | None = None,
    log_sink: LogSink | None = None,
    extension: str | None = None,
) -> ConformanceReport:
    """Run the conformance scenarios against a function's real bootstrap, with the conformance handler as
    _HANDLER (found in the project unless given). A scenario of a feature the handler's file does not declare
    is skipped. ``progress`` gets each result as soon as it is known; ``log_sink`` gets the bootstraps' output
    (dropped by default). With ``extension``, the extension scenarios check that external extension of the
    function's layers instead of the runtime."""
    if tmp_invocations < 1:
        raise InvalidInput(f"the temp-file check needs at least 1 invocation, not {tmp_invocations}")
    scenarios = select_scenarios(only, extension=extension is not None)
    resolved = conformance_function(project, function)
    if extension is not None:
        check_extension(project, resolved, extension)
    handler = handler or find_conformance_handler(project, resolved)
    report = ConformanceReport(project.root, resolved.key, handler)
    features = declared_features(project, handler)
    for scenario in scenarios:
        if scenario.feature is not None and scenario.feature not in features:
            result = skipped(scenario)
        else:
            harness = Harness(project, resolved, handler, tmp_invocations=tmp_invocations, log_sink=log_sink,
                              extension=extension)
            result = run_scenario(scenario, harness)
        report.results.append(result)
        if progress is not None:
            progress(result)
    return report
