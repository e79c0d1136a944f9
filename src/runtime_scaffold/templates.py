"""The bundled cookiecutter templates: find them, list the languages, render one project atomically.

Rendering happens in a hidden staging folder next to the target, and the finished project is moved into place with
one rename, so a failure midway (a bad answer, a hook that refuses, a full disk) never leaves a partial project.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime_scaffold import answers
from runtime_scaffold.errors import InvalidInput, TemplateError


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
# The templates' Jinja filters, loaded through `"_extensions": ["scaffold_escapes.Escapes"]` in each cookiecutter.json.
ESCAPES_MODULE = "scaffold_escapes"


class _EscapesFinder(importlib.abc.MetaPathFinder):
    """Finds the templates' filter module for a Jinja environment built in this process outside cookiecutter's
    own rendering (which puts the template folder on sys.path): a template's context names the extension, and
    whoever renders with that context (scaffold new, the tests, an overlay) gets the same filters. Last on
    sys.meta_path, so it never shadows a module found the usual way."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        module = TEMPLATES_DIR / "_shared" / f"{ESCAPES_MODULE}.py"
        if fullname != ESCAPES_MODULE or not module.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, module)


if not any(isinstance(finder, _EscapesFinder) for finder in sys.meta_path):
    sys.meta_path.append(_EscapesFinder())


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


def move_into_place(finished: Path, target: Path, *, staging: Path) -> None:
    """Rename ``finished`` to ``target`` in one step; an existing ``target`` (``--force``) is set aside in
    ``staging`` first and put back if the new one cannot land, so a failure never loses the old one."""
    replaced = staging / "replaced"
    if target.exists():
        target.rename(replaced)
    try:
        finished.rename(target)
    except OSError:
        if replaced.exists():
            replaced.rename(target)
        raise


def _make_bootstraps_executable(project: Path) -> None:
    # Lambda refuses a bootstrap without its executable bit, and Serverless zips the mode found on disk.
    for bootstrap in project.rglob("bootstrap"):
        mode = bootstrap.stat().st_mode
        bootstrap.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def sample_invocation(project: Path) -> tuple[str, str] | None:
    """A function of a rendered project and a sample event for it (a path relative to the project), to show
    the first command worth running; None when the project has neither."""
    import yaml  # cookiecutter has loaded it already when this runs after a render

    try:
        functions = yaml.safe_load((project / "serverless.yml").read_text(encoding="utf-8")).get("functions")
        events = sorted((project / "events").glob("*.json"))
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
    if not isinstance(functions, dict) or not functions or not events:
        return None
    function = next(iter(functions))
    event = next((path for path in events if path.stem == function), events[0])
    return str(function), str(event.relative_to(project))


def render_project(
    language: str,
    *,
    output_dir: Path,
    name: str | None = None,
    architecture: str | None = None,
    extra_context: Mapping[str, str] | None = None,
    force: bool = False,
) -> Path:
    """Render ``language``'s template into ``output_dir`` and return the new project's folder.

    ``extra_context`` holds the answers to any of the template's variables (``name`` and ``architecture`` are
    short for project_name and architecture); the others take their defaults. Each is checked first
    (answers.check_answer) and written as given; a bad one is refused before anything is written."""
    template = get_language(language)
    given = dict(extra_context or {})
    if name is not None:
        given["project_name"] = name
    if architecture is not None:
        given["architecture"] = architecture
    values = answers.complete(template, given)
    created = _first_missing(output_dir.absolute())
    output_dir = _writable_dir(output_dir)
    try:
        _check_target(output_dir / values["project_slug"], force=force)
        return _render(template, values, output_dir=output_dir, force=force)
    except BaseException:
        # A refusal, a failure or an abort (Ctrl-C) leaves no folder we made behind.
        _remove_created(output_dir, created and created.resolve())
        raise


def _staging_dir(output_dir: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=".scaffold-", dir=output_dir))
    except OSError as error:  # /proc, /sys, a read-only mount: the folder exists, but nothing can be made in it
        raise TemplateError(f"cannot write to output folder {output_dir}: {error.strerror}") from None


def _render(template: Language, values: Mapping[str, str], *, output_dir: Path, force: bool) -> Path:
    # Imported here, not at the top: cookiecutter brings requests and more (about 0.4 s), which every other
    # command (scaffold invoke above all) would pay at start-up for nothing.
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter
    from jinja2 import TemplateError as JinjaError

    language = template.name
    staging = _staging_dir(output_dir)
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
                    no_input=True,
                    extra_context=answers.for_cookiecutter(template, values),
                    output_dir=str(rendered_dir),
                    config_file=str(config),
                )
            )
        _make_bootstraps_executable(rendered)
        target = output_dir / rendered.name
        _check_target(target, force=force)
        move_into_place(rendered, target, staging=staging)
        return target
    except FailedHookException:
        raise TemplateError("the template refused these answers (see the message above); nothing was written") from None
    except (CookiecutterException, JinjaError, ValueError) as error:
        raise TemplateError(f"rendering the {language} template failed: {error}; nothing was written") from None
    except OSError as error:
        raise TemplateError(f"writing the project failed: {error}; nothing was written") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
