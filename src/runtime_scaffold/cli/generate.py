"""`scaffold new` and `scaffold list`: write a project from a bundled template."""

from __future__ import annotations

from pathlib import Path

import click

from runtime_scaffold import templates


def _language_names() -> list[str]:
    return [language.name for language in templates.list_languages()]


def _extra_context(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    return templates.parse_extra_context(values)


@click.command(short_help="Write a new project: a custom runtime in a layer, and a function that uses it.")
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


@click.command("list")
def list_languages() -> None:
    """List the languages `scaffold new --lang` knows, one line each: the interpreter (and version) its layer
    gets, whether this machine has one to run it locally before the layer is built, and what the template is."""
    from runtime_scaffold.interpreters import availability  # runs each interpreter's --version: list only

    languages = templates.list_languages()
    rows = [(language.name, *availability(language), language.summary) for language in languages]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]]))


