"""The ``scaffold`` command: parse arguments, call the library, print, map errors to exit codes. No logic."""

from __future__ import annotations

from pathlib import Path

import click

from runtime_scaffold import __version__
from runtime_scaffold.check import RULES, check_project
from runtime_scaffold.errors import CheckFailure, ExitCode
from runtime_scaffold.project import load_project

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="scaffold")
def cli() -> None:
    """Generate AWS Lambda custom-runtime projects, run them locally without Docker, and check them.

    \b
    Start with:  scaffold new --lang php --name hello-php --no-input
    """


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@cli.command(
    "check",
    epilog="\b\nRules:\n"
    + "\n".join(f"  {rule:<28} {summary}" for rule, summary in RULES.items())
    + f"\n\n\b\nExit status: {ExitCode.OK} no errors (warnings allowed), {ExitCode.CHECK} errors found, "
    f"{ExitCode.PROJECT} project unreadable.",
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default="current folder",
    help="Project folder holding serverless.yml.",
)
def check(project_dir: Path) -> None:
    """Find what would make a deploy or the first invoke fail, before deploying.

    Reads serverless.yml and the files each function would get in Lambda (its package in /var/task, its
    layers in /opt), as the Serverless Framework would package them. Starts nothing, changes nothing.

    Prints one block per finding (`error: FILE: what is wrong [rule]` then `  fix: how`), then a summary.
    Warnings are risky but valid settings; only errors make the command fail.
    """
    project = load_project(project_dir)
    findings = check_project(project)
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


def main() -> None:
    cli(prog_name="scaffold")
