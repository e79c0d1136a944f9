"""The bundled cookiecutter templates: find them, list the languages, render one project atomically.

Rendering happens in a hidden staging folder next to the target, and the finished project is moved into place with
one rename, so a failure midway (a bad answer, a hook that refuses, a full disk) never leaves a partial project.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime_scaffold.errors import InvalidInput, TemplateError
from runtime_scaffold.lambda_limits import MEMORY_RANGE_MB, TIMEOUT_RANGE_S
from runtime_scaffold.naming import service_name_problem


def _templates_dir() -> Path:
    """The bundled templates: inside the installed package (the wheel's copy), else the checkout's top-level
    ``cookiecutters/`` (an editable install, or the source tree on ``PYTHONPATH``)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "cookiecutters", package.parent.parent / "cookiecutters"):
        if candidate.is_dir():
            return candidate
    return package / "cookiecutters"  # missing: list_languages() says so


TEMPLATES_DIR = _templates_dir()
ARCHITECTURES = ("x86_64", "arm64")
# A value outside Lambda's limits deploys nowhere, so refuse it before writing a project.
LIMITS = {"timeout": (*TIMEOUT_RANGE_S, "seconds"), "memory_size": (*MEMORY_RANGE_MB, "MB")}


@dataclass(frozen=True)
class Language:
    """One bundled cookiecutter template."""

    name: str
    summary: str
    path: Path
    defaults: Mapping[str, Any]

    @property
    def variables(self) -> list[str]:
        """The variables a user may set (cookiecutter's private `_x` keys excluded)."""
        return [key for key in self.defaults if not key.startswith("_")]


def _read_language(folder: Path) -> Language:
    try:
        defaults = json.loads((folder / "cookiecutter.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TemplateError(f"the bundled template {folder.name!r} is broken: {error}") from None
    return Language(name=folder.name, summary=str(defaults.get("_summary", "")), path=folder, defaults=defaults)


def list_languages() -> list[Language]:
    """Every bundled language, sorted by name."""
    if not TEMPLATES_DIR.is_dir():
        raise TemplateError(f"the bundled templates are missing ({TEMPLATES_DIR}); reinstall runtime-scaffold")
    return [
        _read_language(folder)
        for folder in sorted(TEMPLATES_DIR.iterdir())
        if not folder.name.startswith("_") and (folder / "cookiecutter.json").is_file()
    ]


def get_language(name: str) -> Language:
    for language in list_languages():
        if language.name == name:
            return language
    valid = ", ".join(language.name for language in list_languages())
    raise InvalidInput(f"unknown language {name!r}: choose one of {valid}")


def parse_extra_context(items: Iterable[str]) -> dict[str, str]:
    """Turn ``KEY=VALUE`` strings into a mapping; anything else is a usage error."""
    context: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise InvalidInput(f"--extra-context takes KEY=VALUE, not {item!r}")
        context[key.strip()] = value
    return context


def _check_context(language: Language, context: Mapping[str, str]) -> None:
    for key in context:
        if key not in language.defaults or key.startswith("_"):
            valid = ", ".join(language.variables)
            raise InvalidInput(f"{key!r} is not a variable of the {language.name} template (variables: {valid})")
    architecture = context.get("architecture")
    if architecture is not None and architecture not in ARCHITECTURES:
        raise InvalidInput(f"unknown architecture {architecture!r}: choose one of {', '.join(ARCHITECTURES)}")
    for key, (low, high, unit) in LIMITS.items():
        value = context.get(key)
        if value is not None and not (value.strip().isdigit() and low <= int(value) <= high):
            raise InvalidInput(f"{key} must be a whole number from {low} to {high} ({unit}), not {value!r}")
    slug = context.get("project_slug")
    if slug is not None:
        problem = service_name_problem(slug)
        if problem:
            raise InvalidInput(f"bad project_slug: {problem}")


def _slug(name: str) -> str:
    """The folder and service name cookiecutter.json derives from a project name (same filters)."""
    return name.lower().replace(" ", "-").replace("_", "-")


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (what mkdir(parents=True) creates)."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing = candidate
    return missing


def _remove_created(output_dir: Path, created: Path | None) -> None:
    """Remove the folders ``render_project`` created, innermost first, but only while they are empty."""
    if created is None:
        return
    for folder in (output_dir, *output_dir.parents):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone else's files) or already gone: leave it
        if folder == created:
            return


@contextmanager
def _quiet_cookiecutter() -> Iterator[None]:
    """Keep cookiecutter's log (a Traceback for a refusing hook) off the terminal; our error says what happened."""
    logger = logging.getLogger("cookiecutter")
    handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _writable_dir(output_dir: Path) -> Path:
    if output_dir.exists() and not output_dir.is_dir():
        raise TemplateError(f"output folder {output_dir} is a file, not a folder")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TemplateError(f"cannot create output folder {output_dir}: {error.strerror}") from None
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise TemplateError(f"cannot write to output folder {output_dir}: permission denied")
    return output_dir.resolve()


def _check_target(target: Path, *, force: bool) -> None:
    if target.is_symlink() or target.exists():
        if not target.is_dir() or target.is_symlink():
            raise TemplateError(f"{target} exists and is not a folder; remove it first")
        if not force:
            raise TemplateError(f"{target} already exists; use --force to replace it")


def _make_bootstraps_executable(project: Path) -> None:
    # Lambda refuses a bootstrap without its executable bit, and Serverless zips the mode found on disk.
    for bootstrap in project.rglob("bootstrap"):
        mode = bootstrap.stat().st_mode
        bootstrap.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def render_project(
    language: str,
    *,
    output_dir: Path,
    name: str | None = None,
    architecture: str | None = None,
    extra_context: Mapping[str, str] | None = None,
    no_input: bool = True,
    force: bool = False,
) -> Path:
    """Render ``language``'s template into ``output_dir`` and return the new project's folder."""
    template = get_language(language)
    context = dict(extra_context or {})
    if name is not None:
        context["project_name"] = name
    if architecture is not None:
        context["architecture"] = architecture
    _check_context(template, context)
    if no_input:
        slug = context.get("project_slug") or _slug(
            context.get("project_name", str(template.defaults["project_name"])))
        problem = service_name_problem(slug)
        if problem:
            raise InvalidInput(f"bad project name: {problem}")
    created = _first_missing(output_dir.absolute())
    output_dir = _writable_dir(output_dir)
    try:
        if no_input:
            _check_target(output_dir / slug, force=force)
        return _render(template, context, output_dir=output_dir, no_input=no_input, force=force)
    except BaseException:
        # A refusal, a failure or an abort (Ctrl-C, Ctrl-D at a prompt) leaves no folder we made behind.
        _remove_created(output_dir, created and created.resolve())
        raise


def _render(template: Language, context: dict[str, str], *, output_dir: Path, no_input: bool, force: bool) -> Path:
    # Imported here, not at the top: cookiecutter brings requests and more (about 0.4 s), which every other
    # command (scaffold invoke above all) would pay at start-up for nothing.
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    language = template.name
    staging = Path(tempfile.mkdtemp(prefix=".scaffold-", dir=output_dir))
    try:
        # A private config keeps cookiecutter's replay files and clones out of the user's home folder.
        config = staging / "cookiecutter-config.yaml"
        config.write_text(f"replay_dir: {json.dumps(str(staging / 'replay'))}\n"
                          f"cookiecutters_dir: {json.dumps(str(staging / 'cookiecutters'))}\n")
        rendered_dir = staging / "project"
        with _quiet_cookiecutter():
            rendered = Path(
                cookiecutter(
                    str(template.path),
                    no_input=no_input,
                    extra_context=context,
                    output_dir=str(rendered_dir),
                    config_file=str(config),
                )
            )
        _make_bootstraps_executable(rendered)
        target = output_dir / rendered.name
        _check_target(target, force=force)
        replaced = staging / "replaced"
        if target.exists():
            target.rename(replaced)
        try:
            rendered.rename(target)
        except OSError:
            if replaced.exists():
                replaced.rename(target)  # --force must not lose the old project when the new one cannot land
            raise
        return target
    except FailedHookException:
        raise TemplateError("the template refused these answers (see the message above); nothing was written") from None
    except CookiecutterException as error:
        raise TemplateError(f"rendering the {language} template failed: {error}; nothing was written") from None
    except OSError as error:
        raise TemplateError(f"writing the project failed: {error}; nothing was written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
