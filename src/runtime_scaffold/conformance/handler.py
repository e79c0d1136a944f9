"""Find the project's conformance handler: the ``conformance.*`` file a template ships beside its sample handler."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from runtime_scaffold.errors import ProjectError
from runtime_scaffold.project import Function, Project

# Folders that never hold the function's code (build output, dependencies, the layers' own files are skipped too).
_SKIPPED = {".git", ".serverless", "node_modules", "vendor", "__pycache__", ".venv", "venv"}
# The file documents its handler string, e.g. "(_HANDLER=src/conformance.conformance)".
_DOCUMENTED = re.compile(r"_HANDLER=([A-Za-z0-9_./-]+\.[A-Za-z_][A-Za-z0-9_]*)")
# What the runtime supports, on one comment line of the file: "conformance features: streaming, concurrency".
_FEATURES = re.compile(r"conformance features:[ \t]*([^\r\n]*)")
KNOWN_FEATURES = ("streaming", "concurrency")
# Otherwise, the first function it defines: bash `name() {` / `function name`, PHP `function name(`, Python `def name(`.
_DEFINED = re.compile(r"^\s*(?:function\s+([A-Za-z_]\w*)|def\s+([A-Za-z_]\w*)\s*\(|([A-Za-z_]\w*)\s*\(\s*\)\s*\{)",
                      re.MULTILINE)


def _candidates(project: Project) -> list[Path]:
    layers = {layer.path for layer in project.layers.values()}
    found = []
    for folder, subfolders, files in os.walk(project.root):
        # Pruned, not filtered afterwards: node_modules alone can hold many thousands of files.
        subfolders[:] = sorted(name for name in subfolders if name not in _SKIPPED and not name.startswith(".")
                               and Path(folder, name) not in layers)
        for name in sorted(files):
            path = Path(folder, name)
            if path.stem == "conformance" and path.suffix not in (".md", ".txt", ".json", ""):
                found.append(path)
    return found


def handler_of(path: Path, project: Project) -> str | None:
    """The _HANDLER string for a conformance file, from its own documentation or its first function."""
    text = path.read_text(encoding="utf-8", errors="replace")
    module = path.relative_to(project.root).with_suffix("").as_posix()
    for match in _DOCUMENTED.finditer(text):
        if match.group(1).rpartition(".")[0] == module:
            return match.group(1)
    defined = _DEFINED.search(text)
    if defined:
        return f"{module}.{next(name for name in defined.groups() if name)}"
    return None


def find_conformance_handler(project: Project, function: Function) -> str:
    """The _HANDLER of the project's conformance handler; ProjectError when there is none or several."""
    candidates = _candidates(project)
    if len(candidates) > 1:  # prefer the one beside the function's own handler (src/ for PHP)
        folder = Path(function.handler).parent
        beside = [path for path in candidates if path.parent == project.root / folder]
        candidates = beside or candidates
    if not candidates:
        raise ProjectError(f"no conformance handler (conformance.*) in {project.root}: generate one with "
                           "`scaffold new`, or write one (see `scaffold conform --help`) and pass --handler")
    if len(candidates) > 1:
        names = ", ".join(str(path.relative_to(project.root)) for path in candidates)
        raise ProjectError(f"several conformance handlers in {project.root} ({names}): pass --handler")
    handler = handler_of(candidates[0], project)
    if handler is None:
        raise ProjectError(f"cannot tell which function of {candidates[0]} is the handler: pass --handler")
    return handler


def with_handler_packaged(project: Project, function: Function, handler: str) -> Project:
    """``project`` with the handler's file added to the function's package: the templates leave their
    conformance handler out of the deployed zip, and the local Lambda lays out /var/task from that zip."""
    module = handler.rpartition(".")[0]
    if not module:
        return project
    config: dict[str, Any] = dict(project.config)
    package = dict(config.get("package") or {})
    if package.get("individually"):  # the function's own patterns come last and decide
        functions = dict(config.get("functions") or {})
        spec = dict(functions.get(function.key) or {})
        own = dict(spec.get("package") or {})
        own["patterns"] = [*(own.get("patterns") or []), f"{module}.*"]
        spec["package"], functions[function.key] = own, spec
        config["functions"] = functions
    else:
        package["patterns"] = [*(package.get("patterns") or []), f"{module}.*"]
        config["package"] = package
    return dataclasses.replace(project, config=config)


def handler_file(project: Project, handler: str) -> Path | None:
    """The file a _HANDLER names (``src/conformance.conformance`` -> ``src/conformance.php``), if there is one."""
    module = handler.rpartition(".")[0]
    folder = (project.root / module).parent
    name = Path(module).name
    if not module or not folder.is_dir():
        return None
    found = sorted(path for path in folder.iterdir()
                   if path.is_file() and path.stem == name and path.suffix not in (".md", ".txt", ".json"))
    return found[0] if found else None


def declared_features(project: Project, handler: str) -> frozenset[str]:
    """The features the conformance handler's file declares (none when it declares none, or cannot be found);
    ProjectError for a name that is not a known feature, so that a misspelt one is not silently skipped."""
    path = handler_file(project, handler)
    if path is None:
        return frozenset()
    match = _FEATURES.search(path.read_text(encoding="utf-8", errors="replace"))
    if match is None:
        return frozenset()
    names = {name.strip().lower() for name in re.split(r"[,\s]+", match.group(1)) if name.strip()}
    unknown = sorted(names - set(KNOWN_FEATURES))
    if unknown:
        raise ProjectError(f"{path}: unknown conformance feature {', '.join(map(repr, unknown))} in its "
                           f"'conformance features:' line (known: {', '.join(KNOWN_FEATURES)})")
    return frozenset(names)
