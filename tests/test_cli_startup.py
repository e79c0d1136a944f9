"""`scaffold` starts fast because each command imports only what it uses: the group lists commands from a static
table, and a command's module is imported when that command runs or shows its help. What each command line
imports is read from Python's own import log (`-X importtime`); how fast that is lives in benchmarks/startup.py."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from runtime_scaffold.cli import COMMANDS, cli

# Modules that only some commands need, and the ones that bring them.
EMULATOR = {"runtime_scaffold.emulator", "runtime_scaffold.cli.local", "http.server", "socketserver"}
CONFORMANCE = {"runtime_scaffold.conformance", "runtime_scaffold.cli.conform"}
CHECK = {"runtime_scaffold.check", "runtime_scaffold.cli.verify"}
GENERATOR = {"runtime_scaffold.cli.generate", "runtime_scaffold.templates", "runtime_scaffold.answers", "cookiecutter",
             "jinja2"}
PROJECT = {"runtime_scaffold.project", "yaml"}
NETWORK = {"requests", "urllib3"}
HTTP = {"http.client", "http.server", "ssl", "email"}  # the emulator's servers need them; nothing else does


def imported(*args: str) -> set[str]:
    """Every module `scaffold ARGS` imports, read from `python -X importtime`."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "runtime_scaffold", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_group_help_imports_no_command() -> None:
    modules = imported("--help")
    assert "click" in modules and "runtime_scaffold.cli" in modules  # the log is read right
    assert not modules & (EMULATOR | CONFORMANCE | CHECK | GENERATOR | PROJECT | NETWORK | HTTP)


@pytest.mark.parametrize(("args", "unused"), [
    (["new", "--help"], EMULATOR | CONFORMANCE | CHECK | PROJECT | NETWORK | HTTP | {"cookiecutter"}),
    (["list"], EMULATOR | CONFORMANCE | CHECK | PROJECT | NETWORK | HTTP | {"cookiecutter"}),
    (["check", "--help"], EMULATOR | CONFORMANCE | GENERATOR | NETWORK | HTTP),
    (["invoke", "--help"], CONFORMANCE | CHECK | GENERATOR | NETWORK),
    (["conform", "--help"], CHECK | GENERATOR | NETWORK),
])
def test_each_command_imports_only_what_it_uses(args: list[str], unused: set[str]) -> None:
    assert not imported(*args) & unused


def test_the_table_gives_each_command_its_own_short_help() -> None:
    context = click.Context(cli)
    for name, (_module, _attribute, short_help) in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == short_help, name


def test_group_help_lists_every_command_in_order() -> None:
    result = subprocess.run([sys.executable, "-m", "runtime_scaffold", "--help"], capture_output=True, text=True,
                            check=True, timeout=60)
    listed = [line.split()[0] for line in result.stdout.split("Commands:\n", 1)[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == list(COMMANDS)
