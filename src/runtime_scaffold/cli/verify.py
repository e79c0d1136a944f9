"""`scaffold check`: what would fail at deploy. (`scaffold conform` is in cli/conform.py, so that `check` does not
import the emulator and the conformance suite.)"""

from __future__ import annotations

from pathlib import Path

import click

from runtime_scaffold.check import RULES, Stage, check_project
from runtime_scaffold.cli.options import CONFIG_OPTION, PROJECT_OPTION, open_project, plural
from runtime_scaffold.errors import CheckFailure, ExitCode


@click.command(
    "check",
    short_help="Find what would fail the deploy or the first invoke, before deploying.",
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
def check(project_dir: Path | None, config_file: Path | None, ignored: tuple[str, ...], before: str) -> None:
    """Find what would make a deploy or the first invoke fail, before deploying.

    Reads serverless.yml and the files each function would get in Lambda (its package in /var/task, its
    layers in /opt), as the Serverless Framework would package them. Starts nothing, changes nothing.

    Prints one block per finding (`error: FILE: what is wrong [rule]` then `  fix: how`), then a summary.
    Warnings are risky but valid settings; only errors make the command fail.

    A freshly generated project may name an interpreter that a build step puts into its layer later
    (the PHP template's #!/opt/bin/php): `--before package` lets it package and warns, the default
    `--before deploy` stops on it.
    """
    project = open_project(project_dir, config_file=config_file)
    findings = [
        finding for finding in check_project(project, before=Stage(before)) if finding.rule not in ignored
    ]
    for finding in findings:
        click.echo(f"{finding.severity.value}: {finding.file}: {finding.message} [{finding.rule}]")
        click.echo(f"  fix: {finding.fix}")
    errors = sum(1 for finding in findings if finding.is_error)
    warnings = len(findings) - errors
    functions = plural(len(project.functions), "function")
    if not findings:
        click.echo(f"{project.root}: no problems found ({functions} checked)")
        return
    counts = f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    click.echo(f"{project.root}: {counts} ({functions} checked)")
    if errors:
        raise CheckFailure(f"{plural(errors, 'error')} found: fix them before deploying")
