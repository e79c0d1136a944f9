"""What a sandbox looks like from inside: the task root, the layers merged into an ``opt`` folder, the
bootstrap Lambda would pick, and the environment variables Lambda sets (docs/runtime-api.md §4)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION
from runtime_scaffold.project import Function, Project

# Credentials are the only host variables passed in: Lambda sets its own; the user's let a handler reach AWS.
PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
LAMBDA_TASK_ROOT, LAMBDA_OPT = "/var/task", "/opt"
XRAY_DAEMON_ADDRESS = "169.254.79.129:2000"  # what Lambda sets; nothing listens there, as without X-Ray


class InvalidEntrypoint(Exception):
    """No bootstrap Lambda could start; the message is what Lambda's Runtime.InvalidEntrypoint would say."""


@dataclass(frozen=True)
class Entrypoint:
    bootstrap: Path
    argv: list[str]
    note: str | None = None  # which interpreter a `#!/opt/...` shebang resolved to, for the log


def lay_out_opt(layers: Sequence[Path], opt: Path) -> None:
    """Make ``opt`` hold the layers' files as Lambda's /opt would: extracted in order, later layers winning.

    One layer (the usual case) is a symlink to its folder, so edits show up at once; several are merged file
    by file with symlinks.
    """
    if opt.is_symlink() or opt.is_file():
        opt.unlink()
    elif opt.exists():
        shutil.rmtree(opt)
    present = [layer for layer in layers if layer.is_dir()]
    if len(present) == 1:
        opt.symlink_to(present[0], target_is_directory=True)
        return
    opt.mkdir(parents=True)
    for layer in present:
        for folder, _, files in os.walk(layer):
            target_folder = opt / Path(folder).relative_to(layer)
            target_folder.mkdir(parents=True, exist_ok=True)
            for name in files:
                target = target_folder / name
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(Path(folder) / name)


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _looked_at(path: Path) -> str:
    state = "not executable" if path.is_file() else "not there"
    return f"{os.path.realpath(path)} ({state})"


def _opt_bootstrap(opt: Path) -> str:
    if opt.is_symlink() or (opt / "bootstrap").exists():
        return "is " + _looked_at(opt / "bootstrap")
    if not opt.is_dir() or not any(opt.iterdir()):
        return "would come from a layer, and the function has none of the project's layers"
    return "is in none of the function's layers"


def _posix_shell(bootstrap: Path, first_line: bytes) -> list[str]:
    """How to run a ``#!/bin/sh`` bootstrap as Lambda does: on Amazon Linux 2023 /bin/sh is bash, so a bootstrap
    that relies on bash's ``sh`` (the AWS walkthrough's ``set -o pipefail``) works there, and must work here too
    where /bin/sh is dash (Debian, Ubuntu)."""
    bash = shutil.which("bash", path=os.defpath + ":/usr/local/bin")
    if bash is None or Path("/bin/sh").resolve().name == "bash":
        return [str(bootstrap)]
    arguments = first_line[len(b"#!/bin/sh"):].decode(errors="replace").split()
    return [bash, "--posix", *arguments, str(bootstrap)]  # bash started as sh runs in POSIX mode


def find_entrypoint(task_root: Path, opt: Path, *, host_path: str) -> Entrypoint:
    """The bootstrap Lambda would run: the task root's first, then the layers'; `/opt` shebangs resolved."""
    candidates = [task_root / "bootstrap", opt / "bootstrap"]
    bootstrap = next((c for c in candidates if _is_executable_file(c)), None)
    if bootstrap is None:
        # Lambda's own words name its paths; the local files they stand for follow (the sandbox's opt folder
        # is temporary, so it is shown by what it holds, not by its own path).
        raise InvalidEntrypoint(f"Couldn't find valid bootstrap(s): [{LAMBDA_TASK_ROOT}/bootstrap "
                                f"{LAMBDA_OPT}/bootstrap]; here {LAMBDA_TASK_ROOT}/bootstrap is "
                                f"{_looked_at(candidates[0])} and {LAMBDA_OPT}/bootstrap {_opt_bootstrap(opt)}")
    return command_for(bootstrap, opt, host_path=host_path)


def command_for(executable: Path, opt: Path, *, host_path: str) -> Entrypoint:
    """How to run an executable of the sandbox (the bootstrap, an extension) as Lambda's kernel would run it:
    ``#!/bin/sh`` as Amazon Linux's bash, ``#!/opt/...`` with the layer's interpreter, else the host's."""
    with open(executable, "rb") as file:
        first_line = file.readline(512)
    if first_line.split(maxsplit=1)[:1] == [b"#!/bin/sh"]:
        return Entrypoint(executable, _posix_shell(executable, first_line))
    if not first_line.startswith(b"#!/opt/"):
        return Entrypoint(executable, [str(executable)])
    # Lambda's kernel would run /opt/<x>; here /opt is not ours, so run the layer's copy, else the host's.
    interpreter, _, argument = first_line[2:].decode(errors="replace").strip().partition(" ")
    arguments = [argument.strip()] if argument.strip() else []
    in_layer = opt / interpreter[len("/opt/"):]
    if _is_executable_file(in_layer):
        return Entrypoint(executable, [str(in_layer), *arguments, str(executable)],
                          f"{interpreter}: running the layer's {os.path.realpath(in_layer)}")
    on_host = shutil.which(Path(interpreter).name, path=host_path)
    if on_host is None:
        raise InvalidEntrypoint(f"fork/exec {executable}: no such file or directory "
                                f"(interpreter {interpreter} is neither in the layers nor on PATH)")
    return Entrypoint(executable, [on_host, *arguments, str(executable)],
                      f"{interpreter} is not in the layers: running the host's {on_host}")


def lambda_environment(
    *,
    function: Function,
    region: str,
    task_root: Path,
    opt: Path,
    runtime_dir: Path,
    runtime_api: str,
    host_environment: Mapping[str, str],
) -> dict[str, str]:
    """Lambda's variables for a custom runtime; reserved ones win over the function's own, as in Lambda."""
    host_path = host_environment.get("PATH", os.defpath)
    host_libraries = host_environment.get("LD_LIBRARY_PATH", "")
    environment = {
        # Unreserved: Lambda's defaults with the host's tools first, since the host is the "OS" here; the
        # layer's bin and lib come last, in Lambda's order, so a layer built for AL2023 cannot shadow them.
        "LANG": "en_US.UTF-8",
        "PATH": f"{host_path}:{opt / 'bin'}",
        "LD_LIBRARY_PATH": ":".join(filter(None, [host_libraries, str(runtime_dir), str(runtime_dir / "lib"),
                                                  str(task_root), str(task_root / "lib"), str(opt / "lib")])),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": XRAY_DAEMON_ADDRESS,
    }
    environment.update(function.environment)
    environment.update({name: host_environment[name] for name in PASSED_THROUGH if name in host_environment})
    environment.update({
        "_HANDLER": function.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": FUNCTION_VERSION,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{FUNCTION_VERSION}]"
                                      f"{uuid.uuid4().hex}",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "TZ": "UTC",
    })
    # Lambda's environment-variable page: AWS_EXECUTION_ENV "is not defined for OS-only runtimes (the provided
    # family)"; docs/runtime-api.md marks it uncertain, so only managed runtime ids get it.
    if function.runtime and not function.runtime.startswith("provided"):
        environment["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{function.runtime}"
    return environment


def missing_layers(project: Project, function: Function) -> list[str]:
    """Why the function's /opt may lack its runtime: layer references that name none of the project's layers
    (with the id ``scaffold check`` would suggest), and layers given by ARN, which cannot be downloaded here."""
    from runtime_scaffold.check.execution_environment import suggest_layer  # only on this failure path: check is large

    reasons = []
    for reference in function.layers:
        if reference.ref is not None and project.layer_by_logical_id(reference.ref) is None:
            layer = suggest_layer(project, reference.ref)
            hint = (f"did you mean {{ Ref: {layer.logical_id} }} (layer {layer.key!r})?" if layer is not None
                    else "its layers are: " + (", ".join(f"{{ Ref: {each.logical_id} }}"
                                                         for each in project.layers.values()) or "none"))
            reasons.append(f"{{ Ref: {reference.ref} }} names no layer of the project: {hint}")
    remote = [reference.arn for reference in function.layers if reference.arn]
    if remote:
        reasons.append(f"layers given by ARN are not available locally: {', '.join(remote)}")
    return reasons
