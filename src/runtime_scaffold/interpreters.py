"""The interpreters the bundled languages run on: which version a language's layer gets, how to install one on this
machine, and whether this machine has one (for `scaffold list`, and for the local runner's hint when a bootstrap's
interpreter is nowhere). The facts live in each template's cookiecutter.json (`_interpreter`,
`_interpreter_version`, `_interpreter_install`), beside the rest of what a language is."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.elf import ELF_MACHINES, host_machine
from runtime_scaffold.templates import Language, list_languages

VERSION_TIMEOUT_S = 10.0
LAYER_BUILD_SCRIPT = "runtime/build-layer.sh"  # the npm-registry layers' build: it needs no Docker
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Interpreter:
    command: str  # the program's name: php, bun, ...
    layer_version: str  # what the layer gets; "" when Amazon Linux provides it (bash)
    install: str  # how to get one on this machine, for a person to read


@dataclass(frozen=True)
class LocalInterpreter:
    path: str
    version: str  # the version `<path> --version` reports ("26.12.1"), or "" when it does not say


def of_language(language: Language) -> Interpreter | None:
    command = str(language.defaults.get("_interpreter", ""))
    if not command:
        return None
    return Interpreter(command, str(language.defaults.get("_interpreter_version", "")),
                       str(language.defaults.get("_interpreter_install", "")))


def install_hint(command: str) -> str | None:
    """How to install ``command`` here, from the template of the language that runs on it; None if none does."""
    for language in list_languages():
        interpreter = of_language(language)
        if interpreter is not None and interpreter.command == command and interpreter.install:
            return interpreter.install
    return None


def find_local(command: str, *, path: str | None = None) -> LocalInterpreter | None:
    """``command`` on PATH (or ``path``) with the version it reports, or None when there is none."""
    found = shutil.which(command, path=path)
    if found is None:
        return None
    try:
        output = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                                stdin=subprocess.DEVNULL, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        output = ""
    version = _VERSION.search(output)
    return LocalInterpreter(found, version.group(0) if version else "")


def availability(language: Language, *, path: str | None = None) -> tuple[str, str]:
    """For `scaffold list`: what the language's layer runs on, and what of it this machine has."""
    interpreter = of_language(language)
    if interpreter is None:
        return "-", "-"
    layer = f"{interpreter.command} {interpreter.layer_version or '(Amazon Linux)'}"
    local = find_local(interpreter.command, path=path)
    if local is None:
        return layer, "not on this machine"
    return layer, f"here: {interpreter.command} {local.version or local.path}"


@dataclass(frozen=True)
class LocalRunNeeds:
    """What a new project needs before its first local run, for `scaffold new`'s "Next:" lines."""

    command: str | None  # a command that provides the interpreter (the layer's build), or None: install one
    note: str  # what the command does, or what to install


def local_run_needs(language: Language, project: Path, *, architecture: str,
                    path: str | None = None) -> LocalRunNeeds | None:
    """None when this machine has the language's interpreter on PATH (or the language needs none); else the
    layer's build when it needs no Docker and gives a binary for this machine's architecture, else the install
    hint."""
    interpreter = of_language(language)
    if interpreter is None or shutil.which(interpreter.command, path=path) is not None:
        return None
    name = str(language.defaults.get("_interpreter_name") or interpreter.command)
    if (project / LAYER_BUILD_SCRIPT).is_file() and ELF_MACHINES.get(architecture) == host_machine():
        return LocalRunNeeds(LAYER_BUILD_SCRIPT, f"fetches {name} {interpreter.layer_version} into the layer "
                             "(npm registry), then runs it here without Docker")
    why = "" if not (project / LAYER_BUILD_SCRIPT).is_file() else f" (the layer's {architecture} build cannot run here)"
    return LocalRunNeeds(None, f"needs {interpreter.command} on this machine first{why}: {interpreter.install}")
