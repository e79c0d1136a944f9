"""Rules on serverless.yml itself: runtime id, layer references, layer counts, timeout and memory limits,
reserved environment variables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from runtime_scaffold.check.execution_environment import ExecutionEnvironment, config_name, shown
from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.lambda_limits import (
    MAX_LAYERS,
    MEMORY_RANGE_MB,
    RESERVED_ENVIRONMENT_VARIABLES,
    TIMEOUT_RANGE_S,
)
from runtime_scaffold.project import Project

RECOMMENDED_RUNTIME = "provided.al2023"
# arn:aws:lambda:<region>:<account>:layer:<name>:<version>; partitions such as aws-cn and aws-us-gov included.
LAYER_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


def _function_spec(project: Project, key: str) -> dict[str, Any]:
    spec = (project.config.get("functions") or {}).get(key)
    return spec if isinstance(spec, dict) else {}


def _provider(project: Project) -> dict[str, Any]:
    provider = project.config.get("provider")
    return provider if isinstance(provider, dict) else {}


def expects_bootstrap(environment: ExecutionEnvironment) -> bool:
    """True when the function is meant to run a custom runtime (provided* runtime, or a bootstrap shipped)."""
    if environment.function.runtime.startswith("provided"):
        return True
    return any("bootstrap" in package.files for package in environment.packages())


def check_runtime(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    function = environment.function
    config = config_name(project)
    setting = (
        f"functions.{function.key}.runtime"
        if "runtime" in _function_spec(project, function.key)
        else "provider.runtime"
    )
    runtime = function.runtime
    fix = f"set {setting}: {RECOMMENDED_RUNTIME}"
    if runtime == RECOMMENDED_RUNTIME:
        return
    if runtime == "provided.al2":
        yield Finding(
            "runtime-deprecated",
            Severity.WARNING,
            config,
            f"{setting} is provided.al2 (Amazon Linux 2), deprecated since Jul 31 2026: it gets no "
            "more security patches, and Lambda then blocks creating and later updating functions on it",
            f"{fix} (rebuild native binaries for Amazon Linux 2023)",
        )
    elif runtime == "provided":
        yield Finding(
            "runtime-unsupported",
            Severity.ERROR,
            config,
            f"{setting} is `provided` (Amazon Linux 1), a deprecated runtime Lambda no longer accepts",
            fix,
        )
    elif not runtime:
        yield Finding(
            "runtime-unsupported",
            Severity.ERROR,
            config,
            "provider.runtime is not set: the Framework then deploys functions without their own "
            "runtime as nodejs16.x, which never runs a bootstrap",
            f"set provider.runtime: {RECOMMENDED_RUNTIME}",
        )
    elif runtime.startswith("provided"):
        yield Finding(
            "runtime-unsupported",
            Severity.ERROR,
            config,
            f"{setting} is {runtime!r}, which is not a Lambda runtime id "
            "(custom runtimes are provided.al2023 or provided.al2)",
            fix,
        )
    elif expects_bootstrap(environment):
        yield Finding(
            "runtime-unsupported",
            Severity.ERROR,
            config,
            f"{setting} is the managed runtime {runtime!r}, which ignores the bootstrap that "
            f"function {function.key} ships: Lambda would run its own runtime instead",
            fix,
        )


def check_limits(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    function = environment.function
    spec = _function_spec(project, function.key)
    limits = (
        ("timeout", "timeout", function.timeout, TIMEOUT_RANGE_S, "seconds", "timeout-out-of-range"),
        ("memorySize", "memory size", function.memory_size, MEMORY_RANGE_MB, "MB", "memory-out-of-range"),
    )
    for key, what, value, (low, high), unit, rule in limits:
        if low <= value <= high:
            continue
        setting = f"functions.{function.key}.{key}" if key in spec else f"provider.{key}"
        yield Finding(
            rule,
            Severity.ERROR,
            config_name(project),
            f"{setting} is {value}, outside Lambda's {what} range of {low} to {high} {unit}: the deploy fails",
            f"set {setting} to a value from {low} to {high}",
        )


def check_environment(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    """Reserved keys set in provider.environment or the function's own environment. Read from the configuration
    (not the merged Function.environment) so that each finding names the block the key is written in; a key in
    provider.environment is the same finding for every function, and check_project reports it once."""
    function = environment.function
    blocks = (
        ("provider.environment", _provider(project).get("environment")),
        (f"functions.{function.key}.environment", _function_spec(project, function.key).get("environment")),
    )
    for where, variables in blocks:
        if not isinstance(variables, dict):
            continue
        for key in variables:
            if str(key) not in RESERVED_ENVIRONMENT_VARIABLES:
                continue
            yield Finding(
                "environment-reserved",
                Severity.ERROR,
                config_name(project),
                f"{where} sets {key}, a variable Lambda reserves and sets itself: the deploy fails "
                "(Lambda refuses to configure reserved keys)",
                f"remove {key} from {where}; Lambda sets it itself (for a value of your own, use another "
                f"name, e.g. APP_{str(key).lstrip('_')})",
            )


def check_layer_references(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    function = environment.function
    config = config_name(project)
    where = (
        f"provider.layers (used by function {function.key})"
        if function.layers_from_provider
        else f"functions.{function.key}.layers"
    )
    valid = (
        ", ".join(layer.logical_id for layer in project.layers.values())
        or "none: the service declares no layers"
    )
    for resolved in environment.references:
        reference = resolved.reference
        if reference.ref is not None:
            if resolved.declared_resource:
                continue
            layer = resolved.layer
            if not resolved.exact:
                hint = (
                    f"did you mean {{ Ref: {layer.logical_id} }} (layer {layer.key!r})?"
                    if layer is not None
                    else f"the service's layer ids are: {valid}"
                )
                yield Finding(
                    "layer-ref-unknown",
                    Severity.ERROR,
                    config,
                    f"{where} has {{ Ref: {reference.ref} }}, but no layer has the logical id "
                    f"{reference.ref!r}: the Framework copies it into the template as is, so only the deploy fails",
                    f"{hint} The Framework names layer <key> as <Key with - as Dash and _ as "
                    "Underscore>LambdaLayer",
                )
            elif layer is not None and layer.retain:
                yield Finding(
                    "layer-ref-retain",
                    Severity.ERROR,
                    config,
                    f"layer {layer.key!r} has retain: true, so the Framework appends a content hash to its "
                    f"logical id and {{ Ref: {reference.ref} }} in {where} names nothing",
                    f"remove retain: true from layers.{layer.key}, or publish the layer from another "
                    "service and reference its versioned ARN",
                )
        elif reference.arn is not None:
            if "${" in reference.arn or LAYER_VERSION_ARN.match(reference.arn):
                continue
            yield Finding(
                "layer-arn-invalid",
                Severity.ERROR,
                config,
                f"{where} has {reference.arn!r}, which is not a layer version ARN",
                "use arn:aws:lambda:<region>:<account>:layer:<name>:<version> (the version number "
                "is required)",
            )


def check_layer_lists(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    function = environment.function
    config = config_name(project)
    provider_layers = _provider(project).get("layers") or []
    if not function.layers_from_provider and isinstance(provider_layers, list) and provider_layers:
        own = [reference.raw for reference in function.layers]
        dropped = [entry for entry in provider_layers if entry not in own]
        if dropped:
            names = ", ".join(_describe(entry) for entry in dropped)
            yield Finding(
                "layers-replaced",
                Severity.WARNING,
                config,
                f"functions.{function.key}.layers replaces provider.layers instead of adding to it: "
                f"{function.key} does not get {names}",
                f"repeat the provider layers in functions.{function.key}.layers if the function needs "
                "them, or move its layers to provider.layers",
            )
    if len(function.layers) > MAX_LAYERS:
        yield Finding(
            "layers-too-many",
            Severity.ERROR,
            config,
            f"function {function.key} uses {len(function.layers)} layers; Lambda allows at most {MAX_LAYERS}",
            "merge layers (one runtime layer plus dependencies) or ship some files in the function package",
        )


def check_layer_paths(project: Project) -> Iterator[Finding]:
    config = config_name(project)
    for layer in project.layers.values():
        if not layer.path.is_dir():
            yield Finding(
                "layer-path-missing",
                Severity.ERROR,
                config,
                f"layer {layer.key!r} has path: {shown(project, layer.path)}, which is not a folder",
                f"create the folder or fix layers.{layer.key}.path",
            )


def _describe(entry: Any) -> str:
    if isinstance(entry, dict) and "Ref" in entry:
        return f"{{ Ref: {entry['Ref']} }}"
    return str(entry)
