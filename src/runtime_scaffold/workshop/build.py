"""Write a workshop folder: one project per step, each with its guide and its changes, and the facilitator's files.

Everything is written in a hidden staging folder beside the target and moved into place in one rename, as
``scaffold new`` does, so a failure midway leaves nothing behind.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from runtime_scaffold import templates
from runtime_scaffold.errors import InvalidInput, TemplateError
from runtime_scaffold.workshop.changes import describe_changes
from runtime_scaffold.workshop.steps import DEFAULT_LANGUAGES, STEPS, WALKTHROUGH_BUGS, Step

WORKSHOP_DIR = templates.TEMPLATES_DIR / "_workshop"
# The templates' web page (function `web`; its serverless.yml block is emptied by the step templates): the
# workshop's steps are about the runtime, so they leave it out, except the one about serving it (Step.web).
WEB_FILES = ("web", "web.sh", "src/web.php", "src/web.mjs", "src/web.ts")
STEP_TEMPLATE = "serverless.step.yml"  # a step without its own serverless.yml.j2 extends its language's
ROOT_FILES = {"README.md": "README.md.j2", "FACILITATOR.md": "FACILITATOR.md.j2", "CHECK.sh": "CHECK.sh.j2",
              "TIME.sh": "TIME.sh.j2"}


@dataclass(frozen=True)
class Workshop:
    root: Path
    steps: tuple[Step, ...]


def select_steps(*, languages: Sequence[str], numbers: Sequence[int] | None) -> tuple[Step, ...]:
    known = {step.language for step in STEPS}
    unknown = [language for language in languages if language not in known]
    if unknown:
        raise InvalidInput(f"the workshop has no {', '.join(map(repr, unknown))} steps: choose from "
                           f"{', '.join(sorted(known))}")
    chosen = tuple(step for step in STEPS if step.language in languages
                   and (numbers is None or step.number in numbers))
    if not chosen:
        raise InvalidInput("no step matches both --lang and --steps")
    return chosen


def _context(step: Step, architecture: str, region: str) -> dict[str, Any]:
    """The cookiecutter context the step's project was rendered with (project_slug derived as cookiecutter does)."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    language = templates.get_language(step.language)
    context = generate_context(
        context_file=str(language.path / "cookiecutter.json"),
        extra_context={"project_name": _project_name(step), "architecture": architecture, "aws_region": region,
                       "description": step.description})
    rendered: dict[str, Any] = dict(prompt_for_config(context, no_input=True))
    return rendered


def _project_name(step: Step) -> str:
    return f"step{step.number:02d}-{step.folder}"


def _environment(step: Step, context: Mapping[str, Any]) -> Any:
    from cookiecutter.environment import StrictEnvironment
    from jinja2 import FileSystemLoader

    language = templates.get_language(step.language).path
    loader = FileSystemLoader([str(WORKSHOP_DIR / "steps" / step.name), str(WORKSHOP_DIR / "templates"),
                               str(language / "{{cookiecutter.project_slug}}"), str(language / "templates")])
    return StrictEnvironment(context={"cookiecutter": context}, loader=loader, keep_trailing_newline=True)


def _line_of(project: Path) -> Callable[[str, str], int]:
    def line_of(file: str, text: str) -> int:
        """The 1-based number of the line of ``file`` (in the step's project) that is ``text``, for the guide."""
        lines = (project / file).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip() == text.strip():
                return number
        raise TemplateError(f"the workshop guide quotes a line that {file} does not have: {text!r}")
    return line_of


def _apply_overlay(step: Step, project: Path, variables: Mapping[str, Any]) -> None:
    for name in step.remove:
        path = project / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name in () if step.web else WEB_FILES:
        path = project / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    readme = project / "README.md"
    if step.keep_runtime_readme:
        readme.rename(project / "RUNTIME.md")
    else:
        readme.unlink()
    overlay = WORKSHOP_DIR / "steps" / step.name
    environment = _environment(step, variables["cookiecutter"])
    own_config = (overlay / "serverless.yml.j2").exists()
    sources = sorted(p for p in overlay.rglob("*") if p.is_file())
    for source in sources:
        relative = source.relative_to(overlay)
        if relative.name == "README.md.j2":
            continue  # written last: it quotes lines of the finished project
        target = project / (str(relative)[:-3] if relative.suffix == ".j2" else relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".j2":
            target.write_text(environment.get_template(relative.as_posix()).render(**variables), encoding="utf-8")
        else:
            shutil.copyfile(source, target)  # a link to the one copy of a runtime file becomes a real file
            target.chmod(source.stat().st_mode | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
                                                  if source.stat().st_mode & stat.S_IXUSR else 0))
    if not own_config:
        config = environment.get_template(STEP_TEMPLATE).render(**variables)
        (project / "serverless.yml").write_text(config, encoding="utf-8")


def _render_step(step: Step, staging: Path, *, architecture: str, region: str,
                 shared: Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The step's project (the language's render with the step's overlay) and the variables its guide sees."""
    project = templates.render_project(
        step.language, output_dir=staging / "render" / step.name, name=_project_name(step),
        architecture=architecture, extra_context={"aws_region": region, "description": step.description},
        )
    context = _context(step, architecture, region)
    variables = {**shared, "cookiecutter": context, "step": step, "line_of": _line_of(project)}
    _apply_overlay(step, project, variables)
    return project, variables


def _write_root(folder: Path, variables: Mapping[str, Any]) -> None:
    from cookiecutter.environment import StrictEnvironment
    from jinja2 import FileSystemLoader

    environment = StrictEnvironment(loader=FileSystemLoader(str(WORKSHOP_DIR / "templates")),
                                    keep_trailing_newline=True)
    for name, template in ROOT_FILES.items():
        path = folder / name
        path.write_text(environment.get_template(template).render(**variables), encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)


def build_workshop(target: Path, *, languages: Sequence[str] = DEFAULT_LANGUAGES, steps: Sequence[int] | None = None,
                   architecture: str = "x86_64", region: str = "us-east-1", force: bool = False,
                   progress: Callable[[Step], None] | None = None) -> Workshop:
    """Write the workshop into ``target`` and return what was written."""
    chosen = select_steps(languages=languages, numbers=steps)
    if architecture not in templates.ARCHITECTURES:
        raise InvalidInput(f"unknown architecture {architecture!r}: choose one of {', '.join(templates.ARCHITECTURES)}")
    target = target.absolute()
    if target.exists() and not (force and target.is_dir()):
        raise TemplateError(f"{target} already exists; use --force to replace it" if target.is_dir()
                            else f"{target} exists and is not a folder")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".scaffold-workshop-", dir=parent))
    except OSError as error:
        raise TemplateError(f"cannot write the workshop in {parent}: {error.strerror or error}") from None
    try:
        folder = staging / "workshop"
        folder.mkdir()
        from runtime_scaffold.conformance.runner import SCENARIOS

        shared = {"steps": chosen, "bugs": WALKTHROUGH_BUGS, "architecture": architecture, "region": region,
                  "scenario_count": len(SCENARIOS)}
        previous: Path | None = None
        for step in chosen:
            if progress is not None:
                progress(step)
            project, variables = _render_step(step, staging, architecture=architecture, region=region,
                                              shared=shared)
            variables["since"] = _previous(chosen, step)
            variables["changes"] = describe_changes(previous, project)
            environment = _environment(step, variables["cookiecutter"])
            for name in ("CHANGES.md", "README.md"):  # the guide last: it may quote the changes
                text = environment.get_template(f"{name}.j2").render(**variables)
                (project / name).write_text(text, encoding="utf-8")
            previous = folder / step.name
            project.rename(previous)
        _write_root(folder, shared)
        templates.move_into_place(folder, target, staging=staging)
        return Workshop(target, chosen)
    except OSError as error:
        raise TemplateError(f"writing the workshop failed: {error}; nothing was written") from None
    except jinja2.TemplateError as error:  # a bug of ours, said in one line rather than a traceback
        raise TemplateError(f"the workshop's templates are broken ({error}); nothing was written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _previous(chosen: Sequence[Step], step: Step) -> Step | None:
    index = chosen.index(step)
    return chosen[index - 1] if index else None
