"""`scaffold new-extension`: add the bash Telemetry API extension to an existing project's layer.

The files come from ``cookiecutters/_shared/extension/`` (one copy for every language: an external extension
is an executable of its own, whatever the runtime's language), rendered with the templates' escaping filters:
``<layer>/extensions/<name>`` (the extension, executable), ``<layer>/<name>/telemetry-listener.awk`` (its
listener; not in ``extensions/``, where Lambda would try to launch it) and a section of the project's README.
Every file is rendered before any is written, and each is written to a temporary file renamed into place, so a
refusal or an error leaves the project as it was.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.errors import InvalidInput, ProjectError, TemplateError
from runtime_scaffold.project import Layer, Project
from runtime_scaffold.templates import ESCAPES_MODULE, TEMPLATES_DIR

SOURCE = TEMPLATES_DIR / "_shared" / "extension"
# A file name every shell, header and file system takes as it is (Lambda's extension name is the file name).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BEGIN, _END = "<!-- scaffold new-extension {name} -->", "<!-- end of extension {name} -->"


@dataclass(frozen=True)
class AddedExtension:
    name: str
    layer: Layer
    written: list[Path]  # the files created or replaced, the README included


def choose_layer(project: Project, key: str | None) -> Layer:
    """The layer named by ``key``, else the only one, else the one every function uses."""
    layers = project.layers
    if key is not None:
        if key not in layers:
            raise InvalidInput(f"no layer {key!r} in {project.config_path.name}; its layers are: "
                               f"{', '.join(layers) or 'none'}")
        return layers[key]
    if len(layers) == 1:
        return next(iter(layers.values()))
    used = {layer.key for function in project.functions.values() for layer in project.function_layers(function)}
    shared = [layer for layer in layers.values()
              if all(layer in project.function_layers(f) for f in project.functions.values())]
    if len(shared) == 1:
        return shared[0]
    if not layers:
        raise ProjectError(f"{project.config_path.name} declares no layer (layers:) to put the extension in")
    raise InvalidInput(f"the project has several layers ({', '.join(layers)}); choose one with --layer "
                       f"(used by the functions: {', '.join(sorted(used)) or 'none'})")


def _render(name: str, *, layer: Layer, project: Project) -> dict[str, str]:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    if not SOURCE.is_dir():
        raise TemplateError(f"the extension template is missing: {SOURCE}")
    environment = Environment(loader=FileSystemLoader(str(SOURCE)), extensions=[f"{ESCAPES_MODULE}.Escapes"],
                              keep_trailing_newline=True, undefined=StrictUndefined, autoescape=False)
    layer_dir = os.path.relpath(layer.path, project.root)
    function = next(iter(project.functions), "FUNCTION")
    values = {"name": name, "layer": layer.key, "layer_dir": layer_dir, "function": function}
    try:
        return {
            "extension": environment.get_template("extension.sh").render(values),
            "listener": (SOURCE / "telemetry-listener.awk").read_text(encoding="utf-8"),
            "readme": environment.get_template("readme.md").render(values),
        }
    except (OSError, ValueError) as error:
        raise TemplateError(f"the extension template cannot be rendered: {error}") from None


def _readme_with(text: str, section: str, name: str) -> str:
    begin, end = _BEGIN.format(name=name), _END.format(name=name)
    block = f"{begin}\n{section.rstrip()}\n{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + block + rest.split(end, 1)[1].lstrip("\n")
    return text.rstrip("\n") + "\n\n" + block if text.strip() else block


def _write_all(files: list[tuple[Path, str, int]]) -> None:
    """Each (path, text, mode) into a temporary file beside its target, then every one renamed into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text, mode in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((temporary, path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
                file.write(text)
            os.chmod(temporary, mode)
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)


def add_extension(project: Project, *, name: str, layer: str | None = None, force: bool = False) -> AddedExtension:
    """Write the extension ``name`` into a layer of ``project``; refuse to replace files without ``force``."""
    if not NAME.fullmatch(name):
        raise InvalidInput(f"extension name {name!r} is not a plain file name: use letters, digits, '.', '_' and "
                           "'-', starting with a letter or digit, at most 64 characters")
    chosen = choose_layer(project, layer)
    targets = {"extension": chosen.path / "extensions" / name,
               "listener": chosen.path / name / "telemetry-listener.awk"}
    if not force:
        existing = [str(path.relative_to(project.root)) for path in targets.values() if path.exists()]
        if existing:
            raise TemplateError(f"{', '.join(existing)} already exist; pass --force to replace them")
    if (chosen.path / name).exists() and not (chosen.path / name).is_dir():
        raise TemplateError(f"{(chosen.path / name).relative_to(project.root)} is a file, not a folder")
    rendered = _render(name, layer=chosen, project=project)
    readme_path = project.root / "README.md"
    try:
        readme = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    except OSError as error:
        raise ProjectError(f"cannot read {readme_path}: {error.strerror}") from None
    executable = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    try:
        _write_all([(targets["listener"], rendered["listener"], 0o644),
                    (targets["extension"], rendered["extension"], executable),
                    (readme_path, _readme_with(readme, rendered["readme"], name), 0o644)])
    except OSError as error:
        raise TemplateError(f"cannot write the extension into {chosen.path}: {error.strerror or error}") from None
    return AddedExtension(name, chosen, [targets["extension"], targets["listener"], readme_path])
