"""A function's configuration as Lambda's control plane describes it (``FunctionConfiguration``), from the project.

What a deployed function would report, read from serverless.yml and the packaged view
(:mod:`runtime_scaffold.execution_environment`): runtime, handler, memory, timeout, environment, architectures,
its layers under the ARNs Lambda would give them (``arn:aws:lambda:REGION:ACCOUNT:layer:NAME:1``, the first
version of each), the size and SHA-256 of its zip, and the states of a function ready to invoke (``Active``,
``Successful``). The zip is measured by building it in memory the way the Framework does (deflated, one entry per
file); a measurement is kept while no file of the package changes, so repeated calls cost one ``stat`` per file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime_scaffold.emulator.function_names import function_arn, partition
from runtime_scaffold.emulator.invocation import FUNCTION_VERSION
from runtime_scaffold.execution_environment import ExecutionEnvironmentBuilder, Package
from runtime_scaffold.packaging import artifact
from runtime_scaffold.project import Function, Layer, Project

_EPOCH = (1980, 1, 1, 0, 0, 0)  # a fixed timestamp: the same files always give the same zip and digest
_measured: dict[tuple[tuple[str, int, int], ...], tuple[int, str]] = {}
_measured_lock = threading.Lock()


def _zip_measure(files: Mapping[str, Path]) -> tuple[int, str]:
    """(size in bytes, base64 SHA-256) of the zip holding ``files``."""
    key = tuple(sorted((name, (info := path.stat()).st_size, info.st_mtime_ns) for name, path in files.items()))
    with _measured_lock:
        known = _measured.get(key)
    if known is not None:
        return known
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files.items()):
            entry = zipfile.ZipInfo(name, _EPOCH)
            entry.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    data = buffer.getvalue()
    measured = len(data), base64.b64encode(hashlib.sha256(data).digest()).decode()
    with _measured_lock:
        if len(_measured) > 64:
            _measured.clear()
        _measured[key] = measured
    return measured


def _file_measure(path: Path) -> tuple[int, str]:
    data = path.read_bytes() if path.is_file() else b""  # a missing artifact: `scaffold check` reports it
    return len(data), base64.b64encode(hashlib.sha256(data).digest()).decode()


def _package_measure(project: Project, package: Package | None, *, function_key: str | None = None,
                     layer_key: str | None = None) -> tuple[int, str]:
    if package is not None:
        return _zip_measure(package.files)
    prebuilt = artifact(project.config, function_key=function_key, layer_key=layer_key)
    return _file_measure(project.root / prebuilt) if prebuilt else _file_measure(project.root / ".")


def layer_name(project: Project, layer: Layer) -> str:
    """The layer's ``LayerName``: its ``name:``, else its key (as the Framework names it)."""
    layers = project.config.get("layers")
    spec = layers.get(layer.key) if isinstance(layers, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    return str(name) if name else layer.key


def layer_version_arn(project: Project, account_id: str, layer: Layer) -> str:
    return (f"arn:{partition(project.region)}:lambda:{project.region}:{account_id}:layer:"
            f"{layer_name(project, layer)}:1")


def _role(project: Project, account_id: str) -> str:
    provider = project.config.get("provider")
    provider = provider if isinstance(provider, dict) else {}
    iam = provider.get("iam")
    role = iam.get("role") if isinstance(iam, dict) else provider.get("role")
    if isinstance(role, str) and role.startswith("arn:"):
        return role
    return (f"arn:{partition(project.region)}:iam::{account_id}:role/"
            f"{project.service}-{project.stage}-{project.region}-lambdaRole")


def _last_modified(project: Project) -> str:
    """When the configuration last changed: serverless.yml's modification time, in Lambda's format."""
    try:
        modified = project.config_path.stat().st_mtime
    except OSError:
        modified = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(modified))


def tags(project: Project, function: Function) -> dict[str, str]:
    """``provider.tags`` with the function's own ``tags:`` over them, as the Framework deploys them."""
    found: dict[str, str] = {}
    provider = project.config.get("provider")
    functions = project.config.get("functions")
    spec = functions.get(function.key) if isinstance(functions, dict) else None
    for section in (provider, spec):
        values = section.get("tags") if isinstance(section, dict) else None
        if isinstance(values, dict):
            found.update({str(key): str(value) for key, value in values.items()})
    return found


def function_configuration(project: Project, account_id: str, function: Function, *,
                           builder: ExecutionEnvironmentBuilder | None = None) -> dict[str, Any]:
    """The function's ``FunctionConfiguration`` (GetFunctionConfiguration's answer, one item of ListFunctions)."""
    builder = builder or ExecutionEnvironmentBuilder(project)
    environment = builder.environment(function)
    code_size, code_sha = _package_measure(project, environment.task, function_key=function.key)
    layers: list[dict[str, Any]] = []
    for resolved in environment.references:
        if resolved.layer is not None and resolved.exact:
            size = _package_measure(project, builder.layer_package(resolved.layer), layer_key=resolved.layer.key)[0]
            layers.append({"Arn": layer_version_arn(project, account_id, resolved.layer), "CodeSize": size})
        elif resolved.reference.arn is not None:
            layers.append({"Arn": resolved.reference.arn, "CodeSize": 0})  # another account's: its size is unknown
    arn = function_arn(project.region, account_id, function.name)
    configuration: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": arn,
        "Runtime": function.runtime,
        "Role": _role(project, account_id),
        "Handler": function.handler,
        "CodeSize": code_size,
        "Description": "",
        "Timeout": function.timeout,
        "MemorySize": function.memory_size,
        "LastModified": _last_modified(project),
        "CodeSha256": code_sha,
        "Version": FUNCTION_VERSION,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": _revision(code_sha, function),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [function.architecture],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"},
    }
    if function.environment:
        configuration["Environment"] = {"Variables": dict(function.environment)}
    if layers:
        configuration["Layers"] = layers
    return configuration


def _revision(code_sha: str, function: Function) -> str:
    """A RevisionId that changes when the code or the configuration does (Lambda's is a UUID too)."""
    digest = hashlib.sha256(repr((code_sha, function)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
