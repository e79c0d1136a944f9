"""The ``scaffold`` command: parse arguments, call the library, print, map errors to exit codes. No logic.

One module per family of commands, each defining plain click commands. The group imports a command's module only
when that command runs (or shows its own help): `scaffold --help` lists the commands from the table below without
importing any of them, and `scaffold new` never loads the emulator, nor `scaffold check` the conformance suite.
"""

from __future__ import annotations

import importlib

import click

from runtime_scaffold import __version__
from runtime_scaffold.cli.options import CONTEXT_SETTINGS

# name -> (module, attribute, short help), in the order a user meets them. tests/test_cli_startup.py checks that
# each short help is the command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "new": ("runtime_scaffold.cli.generate", "new",
            "Write a new project: a custom runtime in a layer, and a function that uses it."),
    "new-extension": ("runtime_scaffold.cli.extension", "new_extension",
                      "Add an external extension in bash to a project's layer."),
    "list": ("runtime_scaffold.cli.generate", "list_languages",
             "List the languages `scaffold new --lang` knows, one line each."),
    "invoke": ("runtime_scaffold.cli.local", "invoke",
               "Run a function's real bootstrap once, locally; print its response."),
    "serve": ("runtime_scaffold.cli.local", "serve", "Serve the project's functions as a local Lambda endpoint."),
    "check": ("runtime_scaffold.cli.verify", "check",
              "Find what would fail the deploy or the first invoke, before deploying."),
    "conform": ("runtime_scaffold.cli.conform", "conform",
                "Check a runtime's bootstrap against the Runtime API contract."),
    "workshop": ("runtime_scaffold.cli.workshop", "workshop",
                 "Write a hands-on workshop on custom runtimes: one runnable project per step."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from COMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _short_help = entry
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help) for name, (_module, _attribute, short_help) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="scaffold")
def cli() -> None:
    """Generate AWS Lambda custom-runtime projects, run them locally without Docker, and check them.

    \b
    Start with:  scaffold new --lang php --name hello-php --no-input
    """


def main() -> None:
    cli(prog_name="scaffold")
