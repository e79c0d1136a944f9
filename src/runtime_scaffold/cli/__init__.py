"""The ``scaffold`` command: parse arguments, call the library, print, map errors to exit codes. No logic.

One module per family of commands; each defines plain click commands, added to the group here.
"""

from __future__ import annotations

import click

from runtime_scaffold import __version__
from runtime_scaffold.cli import generate, local, verify, workshop
from runtime_scaffold.cli.options import CONTEXT_SETTINGS


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="scaffold")
def cli() -> None:
    """Generate AWS Lambda custom-runtime projects, run them locally without Docker, and check them.

    \b
    Start with:  scaffold new --lang php --name hello-php --no-input
    """



for command in (generate.new, generate.list_languages, local.invoke, local.serve, verify.check, verify.conform,
                workshop.workshop):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="scaffold")
