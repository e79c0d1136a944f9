"""The ``scaffold`` command: parse arguments, call the library, print, map errors to exit codes. No logic."""

from __future__ import annotations

import click

from runtime_scaffold import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="scaffold")
def cli() -> None:
    """Generate AWS Lambda custom-runtime projects, run them locally without Docker, and check them.

    \b
    Start with:  scaffold new --lang php --name hello-php --no-input
    """


def main() -> None:
    cli(prog_name="scaffold")
