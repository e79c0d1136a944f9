"""Read a Serverless Framework project: functions, handlers, layers and their logical ids.

Only what runtime-scaffold needs is modelled. Variables of the forms ``${self:a.b}``, ``${opt:stage}``,
``${sls:stage}``, ``${env:NAME}`` (each with an optional ``, default``) are resolved; others are left as text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime_scaffold.errors import ProjectError
from runtime_scaffold.naming import layer_logical_id

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")
# The Framework's own defaults for a provider that does not say (Serverless v3).
DEFAULT_STAGE = "dev"
DEFAULT_REGION = "us-east-1"
DEFAULT_MEMORY_MB = 1024
DEFAULT_TIMEOUT_S = 6
DEFAULT_ARCHITECTURE = "x86_64"


@dataclass(frozen=True)
class Layer:
    """A layer declared by the project under ``layers:``."""

    key: str
    path: Path  # absolute folder whose contents become /opt
    logical_id: str
    retain: bool = False
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerReference:
    """One entry of a function's ``layers:`` list: a ``{Ref: LogicalId}`` or an ARN string."""

    ref: str | None = None  # the logical id named by Ref
    arn: str | None = None
    raw: Any = None


@dataclass(frozen=True)
class Function:
    """A function declared under ``functions:`` with the provider's defaults applied."""

    key: str
    name: str  # the deployed name, <service>-<stage>-<key> unless `name:` says otherwise
    handler: str
    runtime: str
    architecture: str
    memory_size: int
    timeout: int
    environment: Mapping[str, str]
    layers: tuple[LayerReference, ...]
    layers_from_provider: bool  # True when the function has no `layers:` of its own


@dataclass(frozen=True)
class Project:
    """A project folder and what its serverless.yml declares."""

    root: Path
    config_path: Path
    service: str
    stage: str
    region: str
    runtime: str
    architecture: str
    functions: Mapping[str, Function]
    layers: Mapping[str, Layer]
    package_patterns: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def function(self, key: str | None = None) -> Function:
        """The function named ``key``; without a key, the project's only function."""
        if key is None:
            if len(self.functions) == 1:
                return next(iter(self.functions.values()))
            names = ", ".join(self.functions) or "none"
            raise ProjectError(f"{self.config_path} declares several functions ({names}): name one")
        if key in self.functions:
            return self.functions[key]
        for function in self.functions.values():
            if function.name == key:
                return function
        names = ", ".join(self.functions) or "none"
        raise ProjectError(f"no function {key!r} in {self.config_path} (functions: {names})")

    def layer_by_logical_id(self, logical_id: str) -> Layer | None:
        for layer in self.layers.values():
            if layer.logical_id == logical_id:
                return layer
        return None

    def function_layers(self, function: Function) -> list[Layer]:
        """The project's own layers a function references, in the order Lambda extracts them."""
        found = []
        for reference in function.layers:
            layer = self.layer_by_logical_id(reference.ref) if reference.ref else None
            if layer is not None:
                found.append(layer)
        return found


class _CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that accepts CloudFormation's short tags (``!Ref X`` becomes ``{"Ref": "X"}``)."""


def _cloudformation_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _cloudformation_tag)

_VARIABLE = re.compile(r"\$\{([^{}]+)\}")


def _resolve(value: Any, document: Mapping[str, Any], options: Mapping[str, str], depth: int = 0) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, document, options, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, document, options, depth) for v in value]
    if not isinstance(value, str) or depth > 10:
        return value

    def lookup(expression: str) -> Any:
        source, _, default = expression.partition(",")
        source = source.strip()
        default = default.strip().strip("'\"")
        found: Any = None
        if source.startswith("self:"):
            found = document
            for part in source[5:].split("."):
                found = found.get(part) if isinstance(found, dict) else None
        elif source.startswith("opt:"):
            found = options.get(source[4:])
        elif source == "sls:stage":
            found = options.get("stage")
        elif source.startswith("env:"):
            found = os.environ.get(source[4:])
        else:
            return "${" + expression + "}"
        if found is None:
            return default if default else "${" + expression + "}"
        return _resolve(found, document, options, depth + 1)

    whole = _VARIABLE.fullmatch(value)
    if whole:
        return lookup(whole.group(1))
    return _VARIABLE.sub(lambda m: str(lookup(m.group(1))), value)


def _config_in(folder: Path) -> Path | None:
    for name in CONFIG_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def find_config(root: Path) -> Path:
    found = _config_in(root)
    if found is None:
        raise ProjectError(f"no serverless.yml in {root}: run this in a generated project or pass --project DIR")
    return found


def find_project_root(start: Path) -> Path:
    """The nearest folder holding serverless.yml (or .yaml), from ``start`` upwards, as git finds ``.git``: the
    search stops at the filesystem root, and at the edge of ``start``'s filesystem (git's default too), so a
    mounted project folder never picks up a serverless.yml of the machine's own."""
    start = start.resolve()
    device = start.stat().st_dev
    for folder in (start, *start.parents):
        try:
            if folder.stat().st_dev != device:
                break
        except OSError:
            break
        if _config_in(folder) is not None:
            return folder
    raise ProjectError(
        f"no serverless.yml in {start} or any folder above it: run this in a generated project or pass --project DIR"
    )


def _as_int(value: Any, what: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProjectError(f"{what} must be a whole number, not {value!r}") from None


def _layer_reference(entry: Any) -> LayerReference:
    if isinstance(entry, dict) and "Ref" in entry:
        return LayerReference(ref=str(entry["Ref"]), raw=entry)
    if isinstance(entry, str):
        return LayerReference(arn=entry, raw=entry)
    return LayerReference(raw=entry)


def load_project(
    root: Path, *, config_file: Path | None = None, stage: str | None = None, region: str | None = None
) -> Project:
    """Read the serverless.yml in ``root`` (or ``config_file``, e.g. the Framework's resolved JSON) into a Project."""
    root = root.resolve()
    if config_file is not None and not config_file.is_file():
        raise ProjectError(f"configuration file {config_file} does not exist")
    config_path = config_file.resolve() if config_file is not None else find_config(root)
    try:
        raw = yaml.load(config_path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    except yaml.YAMLError as error:
        raise ProjectError(f"{config_path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ProjectError(f"{config_path} does not hold a mapping")
    provider_raw: dict[str, Any] = raw["provider"] if isinstance(raw.get("provider"), dict) else {}
    options = {"stage": stage or str(provider_raw.get("stage") or DEFAULT_STAGE)}
    options["stage"] = str(_resolve(options["stage"], raw, {"stage": DEFAULT_STAGE}))
    options["region"] = region or str(_resolve(provider_raw.get("region") or DEFAULT_REGION, raw, options))
    config: dict[str, Any] = _resolve(raw, raw, options)

    service = config.get("service")
    if isinstance(service, dict):  # the older `service: {name: ...}` form
        service = service.get("name")
    if not isinstance(service, str) or not service:
        raise ProjectError(f"{config_path} has no `service:` name")
    provider = config.get("provider") or {}
    runtime = str(provider.get("runtime", ""))
    architecture = str(provider.get("architecture") or DEFAULT_ARCHITECTURE)

    layers: dict[str, Layer] = {}
    for key, spec in (config.get("layers") or {}).items():
        spec = spec or {}
        if not isinstance(spec, dict) or "path" not in spec:
            raise ProjectError(f"{config_path}: layer {key!r} has no `path:`")
        layers[key] = Layer(
            key=key,
            path=(root / str(spec["path"])).resolve(),
            logical_id=layer_logical_id(key),
            retain=bool(spec.get("retain", False)),
            description=str(spec.get("description", "")),
            compatible_runtimes=tuple(spec.get("compatibleRuntimes") or ()),
            compatible_architectures=tuple(spec.get("compatibleArchitectures") or ()),
        )

    provider_env = {k: str(v) for k, v in (provider.get("environment") or {}).items()}
    provider_layers = provider.get("layers") or []
    functions: dict[str, Function] = {}
    for key, spec in (config.get("functions") or {}).items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ProjectError(f"{config_path}: function {key!r} is not a mapping")
        own_layers = spec.get("layers")
        environment = dict(provider_env)
        environment.update({k: str(v) for k, v in (spec.get("environment") or {}).items()})
        functions[key] = Function(
            key=key,
            name=str(spec.get("name") or f"{service}-{options['stage']}-{key}"),
            handler=str(spec.get("handler", "")),
            runtime=str(spec.get("runtime") or runtime),
            architecture=str(spec.get("architecture") or architecture),
            memory_size=_as_int(spec.get("memorySize", provider.get("memorySize")), f"{key}.memorySize",
                                DEFAULT_MEMORY_MB),
            timeout=_as_int(spec.get("timeout", provider.get("timeout")), f"{key}.timeout", DEFAULT_TIMEOUT_S),
            environment=environment,
            layers=tuple(_layer_reference(e) for e in (own_layers if own_layers is not None else provider_layers)),
            layers_from_provider=own_layers is None,
        )

    package = config.get("package")
    if not isinstance(package, dict):  # e.g. ${file(...)}, which only the Framework (and so the plugin) resolves
        package = {}
    return Project(
        root=root,
        config_path=config_path,
        service=service,
        stage=options["stage"],
        region=options["region"],
        runtime=runtime,
        architecture=architecture,
        functions=functions,
        layers=layers,
        package_patterns=tuple(str(p) for p in package.get("patterns") or ()),
        config=config,
    )
