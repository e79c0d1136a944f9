"""`scaffold new` and `scaffold list`: write a project from a bundled template."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from runtime_scaffold import answers, templates
from runtime_scaffold.errors import InvalidInput, ScaffoldError

# The Framework version that packages every generated project as it is (README, "Deploy").
INSTALL_FRAMEWORK = "npm install -g serverless@3"


def _language_names() -> list[str]:
    return [language.name for language in templates.list_languages()]


def _extra_context(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    return templates.parse_extra_context(values)


@click.command(short_help="Write a new project: a custom runtime in a layer, and a function that uses it.")
@click.option("--lang", "language", required=True, metavar="LANG",
              help=f"Language of the runtime: {', '.join(_language_names())} (see `scaffold list`).")
@click.option("--name", help="Project name; the folder and the Serverless service name are made from it "
              "(lower case, spaces and underscores as hyphens).")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the project folder is created.")
@click.option("--arch", "architecture", type=click.Choice(templates.ARCHITECTURES),
              help="Lambda architecture the runtime is built for [default: x86_64].")
@click.option("--no-input", is_flag=True, help="Do not ask; use the defaults for what is not given here.")
@click.option("--force", "-f", is_flag=True, help="Replace the project folder if it already exists.")
@click.option("--extra-context", "extra_context", multiple=True, metavar="KEY=VALUE", callback=_extra_context,
              help="Set any template variable (repeatable), e.g. --extra-context timeout=30.")
def new(language: str, name: str | None, output_dir: Path, architecture: str | None, no_input: bool,
        force: bool, extra_context: dict[str, str]) -> None:
    """Create a Serverless Framework project whose runtime is a custom `bootstrap` in a Lambda layer.

    Without --no-input, each template variable not given by an option is asked for, with its default shown;
    an answer the template cannot take is refused at once and asked again. Every value is written into the
    files exactly as given (escaped for YAML, shell, ...), never evaluated; the README's section "What
    `scaffold new` checks" lists what is refused.
    """
    template = templates.get_language(language)
    given = dict(extra_context)
    if name is not None:
        given["project_name"] = name
    if architecture is not None:
        given["architecture"] = architecture
    if not no_input:
        given = _ask(template, given)
    project = templates.render_project(language, output_dir=output_dir, extra_context=given, force=force)
    _say_what_was_normalised(template, given)
    shown = _shown(project)
    click.echo(f"Created {shown}")
    click.echo("Next:")
    steps = [(f"{INSTALL_FRAMEWORK} && serverless package", "then packages it (needs AWS credentials)")]
    sample = templates.sample_invocation(project)
    if sample:
        from runtime_scaffold.interpreters import local_run_needs  # runs no interpreter: PATH only

        function, event = sample
        invoke = f"scaffold invoke {function} --path {shlex.quote(event)}"
        what = "runs it here, offline, without Docker"
        needs = local_run_needs(template, project, architecture=answers.complete(template, given)["architecture"])
        if needs is not None:
            invoke, what = (f"{needs.command} && {invoke}" if needs.command else invoke), needs.note
        steps.insert(0, (f"cd {shlex.quote(shown)} && {invoke}", what))
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        click.echo(f"  {command:<{width}}   # {what}")
    click.echo(f"See {Path(shown) / 'README.md'}")


def _shown(project: Path) -> str:
    """The project folder as the user would type it: relative to the current folder when it is below it."""
    try:
        return os.path.relpath(project) if project.is_relative_to(Path.cwd()) else str(project)
    except (OSError, ValueError):
        return str(project)


def _say_what_was_normalised(template: templates.Language, given: Mapping[str, str]) -> None:
    name = given.get("project_name", str(template.defaults.get("project_name", "")))
    slug = given.get("project_slug", answers.slug_for(name))
    if slug == answers.slug_for(name) != name:
        click.echo(f"Project name {name!r} -> folder and service name {slug!r} "
                   "(lower case, hyphens for spaces and underscores)")


def _ask(template: templates.Language, given: Mapping[str, str]) -> dict[str, str]:
    """Ask for each variable not in ``given``, in the template's order, checking each answer as it is typed."""
    answered = {key: answers.check_answer(template, key, value) for key, value in given.items()}
    for number, key in enumerate(template.variables, 1):
        if key in answered:
            continue
        answered[key] = _ask_one(template, key, answered, f"[{number}/{len(template.variables)}]")
    return answered


def _ask_one(template: templates.Language, key: str, answered: Mapping[str, str], counter: str) -> str:
    default = template.defaults[key]
    choices = default if isinstance(default, list) else None
    if choices:
        default = choices[0]
    elif key == "project_slug" and "project_name" in answered:
        default = answers.slug_for(answered["project_name"])

    def check(text: str) -> str:
        try:
            answers.check_answer(template, key, text)
            if key == "project_name" and "project_slug" not in answered:
                answers.check_project_name(text)
        except ScaffoldError as error:
            raise click.BadParameter(error.message) from None  # click says it and asks again
        return text

    label = f"{counter} {key}" + (f" ({', '.join(choices)})" if choices else "")
    if sys.stdin is None:  # started with standard input not open at all (`<&-`)
        raise _no_answer(key)
    try:
        value: str = click.prompt(label, default=str(default), value_proc=check)
    except click.Abort as abort:
        if isinstance(abort.__context__, EOFError):  # end of input, not Ctrl-C
            raise _no_answer(key) from None
        raise
    return value


def _no_answer(key: str) -> InvalidInput:
    return InvalidInput(f"no answer for {key}: standard input is closed or ended; "
                        "pass --no-input to take the defaults (and options) without asking")


@click.command("list")
def list_languages() -> None:
    """List the languages `scaffold new --lang` knows, one line each.

    Each line: the interpreter (and version) its layer gets, whether this machine has one to run it locally
    before the layer is built, and what the template is.
    """
    from runtime_scaffold.interpreters import availability  # runs each interpreter's --version: list only

    languages = templates.list_languages()
    rows = [(language.name, *availability(language), language.summary) for language in languages]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]]))
