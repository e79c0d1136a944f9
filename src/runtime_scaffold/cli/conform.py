"""`scaffold conform`: what in a runtime's bootstrap breaks the Runtime API contract."""

from __future__ import annotations

import time
from pathlib import Path

import click

from runtime_scaffold.cli.options import CONFIG_OPTION, PROJECT_OPTION, open_project, plural
from runtime_scaffold.conformance import (
    DEFAULT_TMP_INVOCATIONS,
    EXTENSION_SCENARIOS,
    SCENARIOS,
    ScenarioResult,
    check_extension,
    conformance_function,
    find_conformance_handler,
    run_conformance,
    select_scenarios,
)
from runtime_scaffold.emulator import logs as logs_module
from runtime_scaffold.errors import ConformanceFailure, ExitCode

_SCENARIO_WIDTH = max(len(scenario.name) for scenario in (*SCENARIOS, *EXTENSION_SCENARIOS))


@click.command(
    short_help="Check a runtime's bootstrap against the Runtime API contract.",
    epilog="\b\nScenarios:\n"
    + "\n".join(f"  {scenario.name:<{_SCENARIO_WIDTH}}  {scenario.summary}" for scenario in SCENARIOS)
    + "\n\n\b\nWith --extension NAME, instead:\n"
    + "\n".join(f"  {scenario.name:<{_SCENARIO_WIDTH}}  {scenario.summary}" for scenario in EXTENSION_SCENARIOS)
    + "\n\n\b\nThe conformance handler echoes every event byte for byte, except events starting with\n"
    '{"conform":"error"|"context"|"sleep"|"output"|"stream"|..., ...}; its protocol is in the project\n'
    "README (section \"Conformance handler\") and in the README of runtime-scaffold. Scenarios of a\n"
    "feature (streaming, concurrency) run only when the handler's file declares it in a line\n"
    "'conformance features: streaming, concurrency'; otherwise they are reported as skipped.\n"
    f"\n\b\nExit status: {ExitCode.OK} every scenario passed, {ExitCode.CONFORMANCE} at least one failed,\n"
    f"{ExitCode.PROJECT} project unreadable or no conformance handler found.",
)
@click.argument("function", required=False)
@PROJECT_OPTION
@CONFIG_OPTION
@click.option("--handler", metavar="HANDLER",
              help="The _HANDLER of the conformance handler [default: found from the project's conformance.* "
                   "file, e.g. conformance.handler].")
@click.option("--only", multiple=True, metavar="NAME",
              help="Run only this scenario (repeatable; shell-style patterns such as 'echo-*' work).")
@click.option("--tmp-invocations", default=DEFAULT_TMP_INVOCATIONS, show_default=True,
              type=click.IntRange(1, 1_000_000), help="Invocations the tmp-clean scenario runs before it looks "
              "at TMPDIR.")
@click.option("--extension", metavar="NAME",
              help="Check the external extension NAME of the function's layers (a file of their extensions/ "
              "folders) against the Extensions API contract, instead of the runtime.")
@click.option("-v", "--verbose", is_flag=True, help="Also say what each passing scenario checked.")
@click.option("--logs", is_flag=True, help="Pass the bootstraps' output (and Lambda's START/END/REPORT lines) "
              "to stderr.")
def conform(function: str | None, project_dir: Path | None, config_file: Path | None, handler: str | None,
            only: tuple[str, ...], tmp_invocations: int, extension: str | None, verbose: bool, logs: bool) -> None:
    """Run the conformance suite against a function's real bootstrap, locally, without Docker.

    \b
    Each scenario starts the bootstrap afresh in the local Lambda (as `scaffold invoke` does) with the
    project's conformance handler as _HANDLER, sends events or injects a fault, and checks what the
    runtime does through the Runtime API. One line per scenario as it runs, then a summary:
      PASS echo-unicode  (12 ms)
      FAIL echo-1mb  (40 ms): expected the 1 MiB event back, got Runtime.ExitError (...)
    FUNCTION is a key under `functions:`; it may be left out when there is only one, or when all of
    them run the same bootstrap (then the first is used). Its bootstrap and layers are used; its
    handler is replaced by the conformance handler and its timeout by the scenario's.
    """
    select_scenarios(only, extension=extension is not None)  # a misspelt --only fails before anything starts
    project = open_project(project_dir, config_file=config_file)
    started = time.monotonic()

    def progress(result: ScenarioResult) -> None:
        line = f"{result.status} {result.name}" + ("" if result.skipped else f"  ({result.duration_ms:.0f} ms)")
        if not result.passed or verbose:
            line += f": {result.reason}"
        click.echo(line)

    fn = conformance_function(project, function)
    if extension is not None:
        check_extension(project, fn, extension)
    handler = handler or find_conformance_handler(project, fn)
    subject = f"Conformance of extension {extension} of" if extension else "Conformance of"
    click.echo(f"{subject} {project.service} function {fn.key} ({project.root}), _HANDLER={handler}")
    report = run_conformance(project, function=fn.key, handler=handler, only=only,
                             tmp_invocations=tmp_invocations, progress=progress,
                             log_sink=logs_module.stderr_sink if logs else None, extension=extension)
    failed, skips = report.failed, report.skipped
    click.echo(f"{plural(len(report.results) - len(failed) - len(skips), 'scenario')} passed, {len(failed)} failed"
               + (f", {len(skips)} skipped" if skips else "") + f" in {time.monotonic() - started:.1f} s")
    if failed:
        names = ", ".join(result.name for result in failed)
        raise ConformanceFailure(f"{len(failed)} of {len(report.results)} scenarios failed: {names}")


