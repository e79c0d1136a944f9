"""Options and helpers the commands share."""

from __future__ import annotations

from pathlib import Path

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def plural(count: int, noun: str) -> str:
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
