"""What one function's execution environment holds: its zip in /var/task and its layers merged in /opt.

One model for both sides: ``scaffold check``'s file-level rules read this view instead of the project folder, and
the emulator lays out each sandbox's /var/task and /opt from it, so a file left out by ``package.patterns`` or a
layer the function does not reference is absent in both, exactly as it would be in Lambda.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime_scaffold.packaging import function_package_files, has_artifact, layer_package_files
from runtime_scaffold.project import CONFIG_NAMES, Function, Layer, LayerReference, Project

TASK_ROOT = "/var/task"
OPT = "/opt"


@dataclass(frozen=True)
class Package:
    """One zip: the function's (unpacked in /var/task) or a layer's (unpacked in /opt)."""

    label: str  # "function hello" / "layer bash-runtime"
    mount: str  # TASK_ROOT or OPT
    root: Path  # the folder it is built from
    files: dict[str, Path]  # path inside the zip -> file on disk
    layer: Layer | None = None

    def size(self) -> int:
        return sum(path.stat().st_size for path in self.files.values())


@dataclass(frozen=True)
class ResolvedReference:
    """One entry of a function's ``layers:``, with the project layer it names (or most likely meant)."""

    reference: LayerReference
    layer: Layer | None  # the project layer, when Ref names it exactly or unambiguously by mistake
    exact: bool  # False when `layer` is only the suggestion for a wrong id
    declared_resource: bool = False  # Ref to an AWS::Lambda::LayerVersion under resources:


@dataclass
class ExecutionEnvironment:
    """What one function would see in Lambda, computed without starting anything: its package in /var/task and
    its layers in /opt (the emulator's sandbox is the running counterpart)."""

    function: Function
    task: Package | None  # None when a prebuilt artifact replaces the function zip
    layers: list[Package] = field(default_factory=list)  # project layers in extraction order
    references: list[ResolvedReference] = field(default_factory=list)
    unknown_layers: list[str] = field(default_factory=list)  # layers whose contents cannot be seen here

    def opt_file(self, inner: str) -> tuple[Path, Package] | None:
        """The file Lambda would find at /opt/<inner>: later layers overwrite earlier ones."""
        for package in reversed(self.layers):
            if inner in package.files:
                return package.files[inner], package
        return None

    def bootstrap(self) -> tuple[Path, Package] | None:
        """The file Lambda would start: /var/task/bootstrap first, then /opt/bootstrap."""
        if self.task is not None and "bootstrap" in self.task.files:
            return self.task.files["bootstrap"], self.task
        return self.opt_file("bootstrap")

    def packages(self) -> list[Package]:
        return ([self.task] if self.task else []) + self.layers


def _squash(name: str) -> str:
    name = re.sub(r"(?i)(lambda)?layer$", "", name)
    return re.sub(r"[^0-9a-z]", "", name.lower().replace("dash", "").replace("underscore", ""))


def suggest_layer(project: Project, ref: str) -> Layer | None:
    """The project layer a wrong ``{ Ref: ref }`` most likely meant, or None when nothing is close."""
    layers = list(project.layers.values())
    for layer in layers:
        if ref in (layer.key, layer.logical_id):
            return layer
    for layer in layers:
        if ref.lower() in (layer.key.lower(), layer.logical_id.lower()):
            return layer
    squashed = [layer for layer in layers if _squash(layer.key) == _squash(ref)]
    if len(squashed) == 1:
        return squashed[0]
    candidates = {layer.logical_id: layer for layer in layers} | {layer.key: layer for layer in layers}
    close = difflib.get_close_matches(ref, list(candidates), n=1, cutoff=0.6)
    return candidates[close[0]] if close else None


def _is_layer_resource(project: Project, logical_id: str) -> bool:
    section: Any = project.config.get("resources")
    for part in section if isinstance(section, list) else [section]:  # v3 also merges a list of blocks
        resources = part.get("Resources") if isinstance(part, dict) else None
        spec = resources.get(logical_id) if isinstance(resources, dict) else None
        if isinstance(spec, dict) and spec.get("Type") == "AWS::Lambda::LayerVersion":
            return True
    return False


def resolve_reference(project: Project, reference: LayerReference) -> ResolvedReference:
    if reference.ref is None:
        return ResolvedReference(reference, None, exact=False)
    layer = project.layer_by_logical_id(reference.ref)
    if layer is not None:
        return ResolvedReference(reference, layer, exact=True)
    if _is_layer_resource(project, reference.ref):
        return ResolvedReference(reference, None, exact=True, declared_resource=True)
    return ResolvedReference(reference, suggest_layer(project, reference.ref), exact=False)


class ExecutionEnvironmentBuilder:
    """Builds each function's view, packaging every folder once however many functions share it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._config_name = config_name(project)
        self._layer_packages: dict[str, Package] = {}
        self._function_packages: dict[str, Package] = {}

    def layer_package(self, layer: Layer) -> Package | None:
        if has_artifact(self.project.config, layer_key=layer.key):
            return None
        if layer.key not in self._layer_packages:
            files = layer_package_files(layer.path, self.project.config, self._config_name, layer.key)
            self._layer_packages[layer.key] = Package(f"layer {layer.key}", OPT, layer.path, files, layer)
        return self._layer_packages[layer.key]

    def function_package(self, function: Function) -> Package | None:
        if has_artifact(self.project.config, function_key=function.key):
            return None
        package_config = self.project.config.get("package")
        individually = isinstance(package_config, dict) and bool(package_config.get("individually"))
        cache_key = function.key if individually else ""  # one service zip serves every function otherwise
        if cache_key not in self._function_packages:
            files = function_package_files(
                self.project.root, self.project.config, self._config_name, function.key
            )
            label = f"function {function.key}" if individually else "function package"
            self._function_packages[cache_key] = Package(label, TASK_ROOT, self.project.root, files)
        return self._function_packages[cache_key]

    def environment(self, function: Function) -> ExecutionEnvironment:
        environment = ExecutionEnvironment(function=function, task=self.function_package(function))
        for reference in function.layers:
            resolved = resolve_reference(self.project, reference)
            environment.references.append(resolved)
            package = self.layer_package(resolved.layer) if resolved.layer is not None else None
            if package is not None:
                environment.layers.append(package)
            elif resolved.layer is not None:
                environment.unknown_layers.append(f"layer {resolved.layer.key} (a prebuilt package.artifact)")
            elif reference.arn is not None:
                environment.unknown_layers.append(reference.arn)
            else:
                environment.unknown_layers.append(str(reference.ref or reference.raw))
        return environment


def config_name(project: Project) -> str:
    """The project's own config file name, also when the configuration was read from elsewhere (the plugin
    hands over the Framework's resolved configuration as a temporary JSON file)."""
    if project.config_path.parent == project.root:
        return project.config_path.name
    for name in CONFIG_NAMES:
        if (project.root / name).is_file():
            return name
    return CONFIG_NAMES[0]


def shown(project: Project, path: Path) -> str:
    """A path as findings show it: relative to the project when inside it."""
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return str(path)
