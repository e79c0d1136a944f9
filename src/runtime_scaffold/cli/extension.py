"""`scaffold new-extension`: add a Telemetry API extension in bash to a project's layer."""

from __future__ import annotations

from pathlib import Path

import click

from runtime_scaffold.cli.options import PROJECT_OPTION, open_project


@click.command("new-extension", short_help="Add an external extension in bash to a project's layer.")
@click.argument("name")
@PROJECT_OPTION
@click.option("--layer", metavar="KEY", help="The layer (a key under `layers:`) to put it in [default: the only "
              "layer, or the one every function uses].")
@click.option("--force", is_flag=True, help="Replace the extension's files if they exist.")
def new_extension(name: str, project_dir: Path | None, layer: str | None, force: bool) -> None:
    """Add the external extension NAME, in bash, to a layer of an existing project.

    \b
    It registers with the Extensions API, subscribes a listener to the Telemetry API, writes each record
    (the function's lines, platform.start/runtimeDone/report, ...) to the log, and exits on SHUTDOWN:
      <layer>/extensions/NAME                    the extension (Lambda launches every file of /opt/extensions)
      <layer>/NAME/telemetry-listener.awk        its listener, in gawk (bash cannot listen on a socket)
      README.md                                  a section "Extension NAME": what it does, its hooks
    Any project works (bash, PHP, ...): an extension is a program of its own. NAME is the file name, as
    Lambda knows extensions. Nothing is written if a file exists (without --force) or anything fails.

    \b
    Examples:
      scaffold new-extension telemetry-logger
      scaffold invoke hello        # the log shows [telemetry-logger] {"type":"platform.report",...}
    """
    from runtime_scaffold.extension_template import add_extension

    project = open_project(project_dir, config_file=None)
    added = add_extension(project, name=name, layer=layer, force=force)
    click.echo(f"Added extension {added.name} to layer {added.layer.key}:")
    for path in added.written:
        click.echo(f"  {path.relative_to(project.root)}")
    function = next(iter(project.functions), "FUNCTION")
    click.echo("Next:")
    click.echo(f"  scaffold invoke {function}              # its records appear in the log")
    click.echo(f"  scaffold conform --extension {added.name}   # checks it against the Extensions API contract")
