"""The ``scaffold`` command: parse arguments, call the library, print, map errors to exit codes. No logic."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from runtime_scaffold import __version__, templates
from runtime_scaffold.check import RULES, Stage, check_project
from runtime_scaffold.conformance import (
    DEFAULT_TMP_INVOCATIONS,
    SCENARIOS,
    ScenarioResult,
    find_conformance_handler,
    run_conformance,
    select_scenarios,
)
from runtime_scaffold.emulator import LocalLambda, start_invoke_server
from runtime_scaffold.emulator import logs as logs_module
from runtime_scaffold.errors import CheckFailure, ConformanceFailure, ExitCode, FunctionError, InvalidInput
from runtime_scaffold.project import load_project

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="scaffold")
def cli() -> None:
    """Generate AWS Lambda custom-runtime projects, run them locally without Docker, and check them.

    \b
    Start with:  scaffold new --lang php --name hello-php --no-input
    """


def _language_names() -> list[str]:
    return [language.name for language in templates.list_languages()]


def _extra_context(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    return templates.parse_extra_context(values)


@cli.command()
@click.option("--lang", "language", required=True, metavar="LANG",
              help=f"Language of the runtime: {', '.join(_language_names())} (see `scaffold list`).")
@click.option("--name", help="Project name; also the folder and the Serverless service name.")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the project folder is created.")
@click.option("--arch", "architecture", type=click.Choice(templates.ARCHITECTURES),
              help="Lambda architecture the runtime is built for [default: x86_64].")
@click.option("--no-input", is_flag=True, help="Do not prompt; use the defaults and the values given here.")
@click.option("--force", "-f", is_flag=True, help="Replace the project folder if it already exists.")
@click.option("--extra-context", "extra_context", multiple=True, metavar="KEY=VALUE", callback=_extra_context,
              help="Set any template variable (repeatable), e.g. --extra-context timeout=30.")
def new(language: str, name: str | None, output_dir: Path, architecture: str | None, no_input: bool,
        force: bool, extra_context: dict[str, str]) -> None:
    """Create a Serverless Framework project whose runtime is a custom `bootstrap` in a Lambda layer.

    Without --no-input, each template variable is asked for, with its default shown.
    """
    project = templates.render_project(
        language, output_dir=output_dir, name=name, architecture=architecture,
        extra_context=extra_context, no_input=no_input, force=force,
    )
    click.echo(f"Created {project}")
    click.echo(f"Next: cd {project} && serverless package   (see {project / 'README.md'})")


@cli.command("list")
def list_languages() -> None:
    """List the languages `scaffold new --lang` knows, one line each."""
    languages = templates.list_languages()
    width = max(len(language.name) for language in languages)
    for language in languages:
        click.echo(f"{language.name:<{width}}  {language.summary}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


PROJECT_OPTION = click.option(
    "--project", "project_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
    show_default="current folder", help="The project folder holding serverless.yml.")

# Every command the Serverless plugin runs (check, and invoke / serve) takes the Framework's resolved
# configuration this way: `--project DIR --config RESOLVED.json`.
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the configuration from this YAML/JSON file instead of the project's serverless.yml "
    "(the Serverless plugin passes the Framework's resolved configuration this way).",
)


@cli.command(
    "check",
    epilog="\b\nRules:\n"
    + "\n".join(f"  {rule:<28} {summary}" for rule, summary in RULES.items())
    + f"\n\n\b\nExit status: {ExitCode.OK} no errors (warnings allowed), {ExitCode.CHECK} errors found, "
    f"{ExitCode.PROJECT} project unreadable.",
)
@PROJECT_OPTION
@CONFIG_OPTION
@click.option(
    "--ignore",
    "ignored",
    multiple=True,
    metavar="RULE",
    type=click.Choice(list(RULES)),
    help="Do not report this rule (repeatable), e.g. --ignore layers-replaced.",
)
@click.option(
    "--before",
    type=click.Choice([stage.value for stage in Stage]),
    default=Stage.DEPLOY.value,
    show_default=True,
    help="The Serverless command about to run. Before `package`, a file a layer is still to be built with "
    "(an interpreter under /opt, e.g. #!/opt/bin/php before build-php.sh) is a warning; before `deploy`, an "
    "error. The Serverless plugin passes the command it runs before.",
)
def check(project_dir: Path, config_file: Path | None, ignored: tuple[str, ...], before: str) -> None:
    """Find what would make a deploy or the first invoke fail, before deploying.

    Reads serverless.yml and the files each function would get in Lambda (its package in /var/task, its
    layers in /opt), as the Serverless Framework would package them. Starts nothing, changes nothing.

    Prints one block per finding (`error: FILE: what is wrong [rule]` then `  fix: how`), then a summary.
    Warnings are risky but valid settings; only errors make the command fail.

    A freshly generated project may name an interpreter that a build step puts into its layer later
    (the PHP template's #!/opt/bin/php): `--before package` lets it package and warns, the default
    `--before deploy` stops on it.
    """
    project = load_project(project_dir, config_file=config_file)
    findings = [
        finding for finding in check_project(project, before=Stage(before)) if finding.rule not in ignored
    ]
    for finding in findings:
        click.echo(f"{finding.severity.value}: {finding.file}: {finding.message} [{finding.rule}]")
        click.echo(f"  fix: {finding.fix}")
    errors = sum(1 for finding in findings if finding.is_error)
    warnings = len(findings) - errors
    functions = _plural(len(project.functions), "function")
    if not findings:
        click.echo(f"{project.root}: no problems found ({functions} checked)")
        return
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    click.echo(f"{project.root}: {counts} ({functions} checked)")
    if errors:
        raise CheckFailure(f"{_plural(errors, 'error')} found: fix them before deploying")
def _read_event(data: str | None, path: Path | None) -> bytes:
    """The event as bytes, checked to be JSON as the AWS CLI checks `--payload`."""
    if data is not None and path is not None:
        raise InvalidInput("give the event with --data or --path, not both")
    if path is not None:
        try:
            payload = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        except OSError as error:
            raise InvalidInput(f"cannot read the event file {path}: {error.strerror or error}") from None
        source = str(path)
    elif data is not None:
        payload, source = data.encode(), "--data"
    else:
        return b"{}"
    try:
        json.loads(payload)
    except ValueError as error:
        raise InvalidInput(f"the event in {source} is not valid JSON: {error}") from None
    return payload


@cli.command(short_help="Run a function's real bootstrap once, locally; print its response.")
@click.argument("function", required=False)
@click.option("-f", "--function", "function_option", metavar="NAME",
              help="The function to invoke (same as FUNCTION; Serverless's spelling).")
@click.option("-d", "--data", metavar="JSON", help="The event, as JSON text.")
@click.option("-p", "--path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A file holding the event JSON ('-' reads standard input).")
@PROJECT_OPTION
@CONFIG_OPTION
def invoke(function: str | None, function_option: str | None, data: str | None, path: Path | None,
           project_dir: Path, config_file: Path | None) -> None:
    """Run a function's real bootstrap once, locally, without Docker, and print its response.

    \b
    FUNCTION is a key under `functions:` in serverless.yml; it may be left out when there is only one.
    The event defaults to {}. The response body goes to stdout as is; the bootstrap's logs, with
    Lambda's START/END/REPORT lines, go to stderr. A function error (a crash, a timeout, an error the
    runtime reported) prints Lambda's error JSON and exits with status 1.

    \b
    Examples:
      scaffold invoke hello --path events/hello.json
      scaffold invoke --data '{"name": "Ada"}'
    """
    if function and function_option and function != function_option:
        raise InvalidInput(f"two different functions named: {function!r} and {function_option!r}")
    payload = _read_event(data, path)
    with LocalLambda(load_project(project_dir, config_file=config_file)) as local:
        result = local.invoke(function or function_option, payload)
    if result.error_type is not None:
        raise FunctionError(result.payload.decode("utf-8", "replace"))
    sys.stdout.buffer.write(result.payload)
    if sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@cli.command(short_help="Serve the project's functions as a local Lambda endpoint.")
@PROJECT_OPTION
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback exposes your functions to the network.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0 picks a free one).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="Execution environments per function; more parallel invokes wait their turn.")
def serve(project_dir: Path, config_file: Path | None, host: str, port: int, concurrency: int) -> None:
    """Serve the project's functions as a local Lambda endpoint until Ctrl-C.

    \b
    Callers use Lambda's Invoke API, so curl, the AWS CLI and SDKs work against it:
      curl -XPOST http://127.0.0.1:9000/2015-03-31/functions/hello/invocations -d '{}'
      aws lambda invoke --endpoint-url http://127.0.0.1:9000 --function-name hello out.json
    Each function's bootstrap starts on its first invoke and stays warm; its logs go to stderr.
    """
    project = load_project(project_dir, config_file=config_file)
    with LocalLambda(project, concurrency=concurrency) as local:
        server = start_invoke_server(local, host=host, port=port)
        try:
            click.echo(f"Local Lambda for {project.service} listening on http://{server.address}")
            for key in project.functions:
                click.echo(f"  POST http://{server.address}/2015-03-31/functions/{key}/invocations")
            click.echo("Press Ctrl-C to stop.")
            sys.stdout.flush()
            with _interrupt_on_signals():
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("Stopping.", err=True)
        finally:
            server.close()


_SCENARIO_WIDTH = max(len(scenario.name) for scenario in SCENARIOS)


@cli.command(
    short_help="Check a runtime's bootstrap against the Runtime API contract.",
    epilog="\b\nScenarios:\n"
    + "\n".join(f"  {scenario.name:<{_SCENARIO_WIDTH}}  {scenario.summary}" for scenario in SCENARIOS)
    + "\n\n\b\nThe conformance handler echoes every event byte for byte, except events starting with\n"
    '{"conform":"error"|"context"|"sleep"|"output", ...}; its protocol is in the project README\n'
    "(section \"Conformance handler\") and in the README of runtime-scaffold.\n"
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
@click.option("-v", "--verbose", is_flag=True, help="Also say what each passing scenario checked.")
@click.option("--logs", is_flag=True, help="Pass the bootstraps' output (and Lambda's START/END/REPORT lines) "
              "to stderr.")
def conform(function: str | None, project_dir: Path, config_file: Path | None, handler: str | None,
            only: tuple[str, ...], tmp_invocations: int, verbose: bool, logs: bool) -> None:
    """Run the conformance suite against a function's real bootstrap, locally, without Docker.

    \b
    Each scenario starts the bootstrap afresh in the local Lambda (as `scaffold invoke` does) with the
    project's conformance handler as _HANDLER, sends events or injects a fault, and checks what the
    runtime does through the Runtime API. One line per scenario as it runs, then a summary:
      PASS echo-unicode  (12 ms)
      FAIL echo-1mb  (40 ms): expected the 1 MiB event back, got Runtime.ExitError (...)
    FUNCTION is a key under `functions:`; it may be left out when there is only one. Its bootstrap
    and layers are used; its handler is replaced by the conformance handler and its timeout by the
    scenario's.
    """
    select_scenarios(only)  # a misspelt --only fails before anything starts
    project = load_project(project_dir, config_file=config_file)
    started = time.monotonic()

    def progress(result: ScenarioResult) -> None:
        line = f"{'PASS' if result.passed else 'FAIL'} {result.name}  ({result.duration_ms:.0f} ms)"
        if not result.passed or verbose:
            line += f": {result.reason}"
        click.echo(line)

    fn = project.function(function)
    handler = handler or find_conformance_handler(project, fn)
    click.echo(f"Conformance of {project.service} function {fn.key} ({project.root}), _HANDLER={handler}")
    report = run_conformance(project, function=fn.key, handler=handler, only=only,
                             tmp_invocations=tmp_invocations, progress=progress,
                             log_sink=logs_module.stderr_sink if logs else None)
    failed = report.failed
    click.echo(f"{_plural(len(report.results) - len(failed), 'scenario')} passed, {len(failed)} failed "
               f"in {time.monotonic() - started:.1f} s")
    if failed:
        names = ", ".join(result.name for result in failed)
        raise ConformanceFailure(f"{len(failed)} of {len(report.results)} scenarios failed: {names}")


@contextlib.contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so `kill` also reaps every bootstrap; SIGINT is set too, since a shell starts
    background jobs with it ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main() -> None:
    cli(prog_name="scaffold")
