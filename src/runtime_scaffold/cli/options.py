"""Options and helpers the commands share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from runtime_scaffold.errors import ProjectError

if TYPE_CHECKING:  # reading a project needs YAML, which `scaffold new` and `--help` need not import
    from runtime_scaffold.project import Project

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


PROJECT_OPTION = click.option(
    "--project", "project_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="The project folder holding serverless.yml [default: the nearest folder holding one, from the current "
    "folder upwards, as git finds .git].")

# Every command the Serverless plugin runs (check, and invoke / serve) takes the Framework's resolved
# configuration this way: `--project DIR --config RESOLVED.json`.
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the configuration from this YAML/JSON file instead of the project's serverless.yml "
    "(the Serverless plugin passes the Framework's resolved configuration this way).",
)


def open_project(project_dir: Path | None, *, config_file: Path | None) -> Project:
    """The project a command works on: ``--project DIR`` as given, else the one found from the current folder
    upwards, which is then named on stderr (one line: the user did not name it)."""
    from runtime_scaffold.project import find_project_root, load_project

    if project_dir is not None:
        return load_project(project_dir, config_file=config_file)
    try:
        here = Path.cwd()
    except OSError as error:  # the current folder was removed under the shell
        raise ProjectError(f"cannot tell the current folder ({error.strerror}): pass --project DIR") from None
    project = load_project(find_project_root(here), config_file=config_file)
    click.echo(f"Using project {project.service} ({project.root})", err=True)
    return project
