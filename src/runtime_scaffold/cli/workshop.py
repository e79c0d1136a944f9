"""`scaffold workshop`: write the custom-runtime workshop, one runnable project per step."""

from __future__ import annotations

from pathlib import Path

import click

from runtime_scaffold.errors import InvalidInput


def _languages(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise InvalidInput("--lang takes a comma-separated list of languages, e.g. bash,php")
    return names


def _steps(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[int] | None:
    from runtime_scaffold.workshop import parse_steps

    if value is None:
        return None
    try:
        return parse_steps(value)
    except ValueError as error:
        raise InvalidInput(f"--steps: {error}") from None


@click.command(short_help="Write a hands-on workshop on custom runtimes: one runnable project per step.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lang", "languages", default="bash,php,node", show_default=True, callback=_languages,
              metavar="LIST", help="The languages whose steps to include (steps 1-3 are bash, 4 and 5 PHP, 6 Node.js).")
@click.option("--steps", "numbers", callback=_steps, metavar="RANGE",
              help="The steps to write, e.g. 1-3 or 1,3,4 [default: all of the chosen languages'].")
@click.option("--arch", "architecture", type=click.Choice(("x86_64", "arm64")),
              help="Lambda architecture of every step [default: x86_64].")
@click.option("--no-input", is_flag=True, help="Do not ask for the architecture and region; use the defaults.")
@click.option("--force", "-f", is_flag=True, help="Replace DIRECTORY if it already exists.")
def workshop(directory: Path, languages: tuple[str, ...], numbers: list[int] | None, architecture: str | None,
             no_input: bool, force: bool) -> None:
    """Write DIRECTORY: a workshop on AWS Lambda custom runtimes that a facilitator hands out.

    \b
    One folder per step (01-walkthrough, 02-layer, ...), each a complete project with a participant
    README.md (goal, what changed, what to run, what you should see, an exercise) and CHANGES.md (the
    diff from the step before); FACILITATOR.md (timings, points to make, common mistakes); CHECK.sh,
    which tells whether each step works; TIME.sh, which times the steps' runtimes against each other.
    Everything runs offline, without Docker or an AWS account.

    \b
    Example:
      scaffold workshop custom-runtimes --no-input && cd custom-runtimes && ./CHECK.sh
    """
    from runtime_scaffold.workshop import Step, build_workshop, select_steps

    region = "us-east-1"
    if architecture is None:
        architecture = "x86_64"
        if not no_input:
            select_steps(languages=languages, numbers=numbers)  # refuse bad choices before asking anything
            architecture = click.prompt("Lambda architecture", default="x86_64",
                                        type=click.Choice(("x86_64", "arm64")))
            region = click.prompt("AWS region", default=region)

    def progress(step: Step) -> None:
        click.echo(f"  {step.name:<18} {step.title}")

    click.echo(f"Writing the workshop into {directory}:")
    result = build_workshop(directory, languages=languages, steps=numbers, architecture=architecture,
                            region=region, force=force, progress=progress)
    click.echo(f"Created {result.root} ({len(result.steps)} steps)")
    click.echo(f"Next: cd {result.root} && ./CHECK.sh   (participants start in {result.steps[0].name}/README.md; "
               "you in FACILITATOR.md)")
