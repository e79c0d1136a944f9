"""Which files the Serverless Framework (v3) puts in each zip, computed the way the Framework does.

Mirrors ``lib/plugins/package/lib/package-service.js``: every file under the folder starts included; then
the exclude list (defaults, the config file, ``package.exclude``, and for a function every layer's
``<path>/**``) and then ``package.patterns`` are applied in order with micromatch (``dot: true``), the last
matching pattern deciding.
Measured with v3.40: a layer folder is left out of the function zip automatically, unless its ``path:`` ends
with ``/`` (``runtime//**`` matches nothing) or a pattern such as ``runtime/**`` adds it back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# The Framework's own defaultExcludes.
DEFAULT_EXCLUDES = (
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
)
# Folders never worth walking unless a pattern names them: they are excluded by default and can be huge.
_PRUNED_DIRS = (".git", ".serverless")


def _translate(pattern: str) -> str:
    """One micromatch-style glob as a regular expression body (no anchors)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                end = i + 2
                if at_start and (end == n or pattern[end] == "/"):
                    if end == n:
                        out.append(".*")  # `a/**`: everything below a
                        i = end
                    else:
                        out.append("(?:.*/)?")  # `**/b`: b at any depth, including the top
                        i = end + 1
                    continue
                i += 1  # `a**b` behaves like `a*b`
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 1)
            if close == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : close]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = close
        elif c == "{":
            depth, j = 0, i
            while j < n:
                if pattern[j] == "{":
                    depth += 1
                elif pattern[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                out.append(
                    "(?:" + "|".join(_translate(part) for part in _split_braces(pattern[i + 1 : j])) + ")"
                )
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _split_braces(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return parts


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled matcher for one glob, as micromatch reads it with ``dot: true``."""
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return re.compile(_translate(pattern) + r"\Z")


@dataclass(frozen=True)
class PatternRule:
    pattern: str
    include: bool


def pattern_rules(excludes: Iterable[str], includes: Iterable[str]) -> tuple[PatternRule, ...]:
    """The Framework's single ordered list: excludes negated first, then includes as written."""
    rules: list[PatternRule] = []
    for pattern in excludes:
        if pattern.startswith("!"):
            rules.append(PatternRule(pattern[1:], include=True))
        else:
            rules.append(PatternRule(pattern, include=False))
    for pattern in includes:
        if pattern.startswith("!"):
            rules.append(PatternRule(pattern[1:], include=False))
        else:
            rules.append(PatternRule(pattern, include=True))
    return tuple(rules)


def is_included(path: str, rules: Sequence[PatternRule]) -> bool:
    included = True
    for rule in rules:
        if glob_regex(rule.pattern).match(path):
            included = rule.include
    return included


def _walk(root: Path, prune: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(posix path relative to ``root``, path on disk) of every file below it, following links as globby does,
    in sorted order; a symlink loop is entered once. Strings, not Paths: a cold start walks every file of a
    package, and Path objects cost more than the walk itself."""
    pruned = set(prune)
    seen: set[str] = set()
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        folders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    if prefix + entry.name not in pruned:
                        folders.append((prefix + entry.name + "/", entry.path))
                elif entry.is_file():  # drops dangling links
                    yield prefix + entry.name, entry.path
            except OSError:
                continue
        stack.extend(reversed(folders))


def walk_files(root: Path, *, prune: Iterable[str] = ()) -> dict[str, Path]:
    """Every file below ``root`` (following links, as globby does), keyed by its posix path relative to it."""
    if not root.is_dir():
        return {}
    return {relative: Path(path) for relative, path in _walk(root, prune)}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _section(mapping: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _common_excludes(config: Mapping[str, Any], config_name: str) -> list[str]:
    excludes = [*DEFAULT_EXCLUDES, config_name]
    plugins = config.get("plugins")
    if isinstance(plugins, Mapping) and plugins.get("localPath"):
        excludes.append(str(plugins["localPath"]))
    excludes += _strings(_section(config, "package").get("exclude"))
    return excludes


def _service_includes(config: Mapping[str, Any]) -> list[str]:
    package = _section(config, "package")
    return _strings(package.get("include")) + _strings(package.get("patterns"))


def _select(root: Path, rules: Sequence[PatternRule]) -> dict[str, Path]:
    named = {rule.pattern.removeprefix("./") for rule in rules if rule.include}
    prune = [d for d in _PRUNED_DIRS if not any(p.startswith(d) for p in named)]
    if not root.is_dir():
        return {}
    matchers = [(glob_regex(rule.pattern).match, rule.include) for rule in rules]
    selected: dict[str, Path] = {}
    for relative, path in _walk(root, prune):
        included = True
        for match, include in matchers:  # is_included, with the rules' matchers looked up once
            if match(relative):
                included = include
        if included:
            selected[relative] = Path(path)
    return selected


def function_package_rules(
    config: Mapping[str, Any], config_name: str, function_key: str
) -> tuple[PatternRule, ...]:
    """The ordered patterns deciding the function zip's contents (relative to the service folder)."""
    excludes = _common_excludes(config, config_name)
    excludes += [
        f"{spec.get('path')}/**" for spec in _section(config, "layers").values() if isinstance(spec, Mapping)
    ]
    if config.get("useDotenv"):
        excludes.append(".env*")
    includes = _service_includes(config)
    if _section(config, "package").get("individually"):
        function_package = _section(_section(_section(config, "functions"), function_key), "package")
        excludes += _strings(function_package.get("exclude"))
        includes += _strings(function_package.get("include")) + _strings(function_package.get("patterns"))
    return pattern_rules(excludes, includes)


def function_package_files(
    root: Path, config: Mapping[str, Any], config_name: str, function_key: str
) -> dict[str, Path]:
    """The function zip (what Lambda unpacks in /var/task), path in zip -> file on disk."""
    return _select(root, function_package_rules(config, config_name, function_key))


def layer_package_files(
    layer_root: Path, config: Mapping[str, Any], config_name: str, layer_key: str
) -> dict[str, Path]:
    """A layer zip (what Lambda unpacks in /opt), path in zip -> file on disk."""
    excludes = _common_excludes(config, config_name)
    layer_package = _section(_section(_section(config, "layers"), layer_key), "package")
    excludes += _strings(layer_package.get("exclude"))
    includes = (
        _service_includes(config)
        + _strings(layer_package.get("include"))
        + _strings(layer_package.get("patterns"))
    )
    return _select(layer_root, pattern_rules(excludes, includes))


def artifact(
    config: Mapping[str, Any], *, function_key: str | None = None, layer_key: str | None = None
) -> str | None:
    """The prebuilt zip (``package.artifact``, relative to the service folder) that replaces what the Framework
    would package, or None."""
    value: Any = None
    if function_key is not None:
        spec = _section(_section(config, "functions"), function_key)
        value = _section(spec, "package").get("artifact") or _section(config, "package").get("artifact")
    elif layer_key is not None:
        value = _section(_section(_section(config, "layers"), layer_key), "package").get("artifact")
    return str(value) if value else None


def has_artifact(
    config: Mapping[str, Any], *, function_key: str | None = None, layer_key: str | None = None
) -> bool:
    """True when a prebuilt zip replaces what the Framework would package (its contents are not checked)."""
    return artifact(config, function_key=function_key, layer_key=layer_key) is not None
