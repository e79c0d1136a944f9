"""What a sandbox looks like from inside: the bootstrap Lambda would pick from its task root and ``opt`` folder
(laid out by :mod:`sandbox_files`), and the environment variables Lambda sets (docs/runtime-api.md §4)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.elf import file_machine, host_machine, machine_name
from runtime_scaffold.emulator.invocation import FUNCTION_VERSION
from runtime_scaffold.execution_environment import suggest_layer
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
    note: str | None = None  # what runs in place of the /opt program the bootstrap starts, for the log
    exec_fails: bool = False  # its #! interpreter is nowhere: the kernel's exec fails (argv only says so)


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


# A shell bootstrap that hands over to a layer's binary: `exec /opt/bin/bun /opt/lambda-runtime/index.ts`.
_EXEC_LINE = re.compile(r"^[ \t]*exec[ \t]+(/opt/[^\s;&|'\"`$()]+)", re.MULTILINE)
_OPT_PATH = re.compile(r"(?<![\w./-])/opt/[^\s;&|'\"`$()]*")
SHELLS = frozenset({"sh", "bash", "dash"})
SCRIPT_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class OptProgram:
    """The program under /opt (from a layer) that a bootstrap starts: named by its ``#!`` line, or by the ``exec``
    line of a shell bootstrap. Locally there is no /opt: the runner needs a stand-in for it."""

    path: str  # as Lambda sees it: /opt/bin/php
    argument: str = ""  # the #! line's one argument
    shell: str | None = None  # for an exec line: the shell (and its #! argument) that runs the script


def opt_program(bootstrap: Path) -> OptProgram | None:
    with open(bootstrap, "rb") as file:
        head = file.read(SCRIPT_HEAD_BYTES).decode(errors="replace")
    if not head.startswith("#!"):
        return None
    interpreter, _, argument = head[2:].split("\n", 1)[0].strip().partition(" ")
    if interpreter.startswith(LAMBDA_OPT + "/"):
        return OptProgram(interpreter, argument.strip())
    if Path(interpreter).name in SHELLS:
        found = _EXEC_LINE.search(head)
        if found:
            return OptProgram(found.group(1), argument.strip(), shell=interpreter)
    return None


@dataclass(frozen=True)
class StandIn:
    """What runs here in place of an /opt program, and the log's line on it; ``path`` None: nothing can."""

    path: str | None
    note: str


def _how_to_get(program: str, task_root: Path, opt: Path, build_scripts: Callable[[], list[str]] | None) -> str:
    from runtime_scaffold.interpreters import install_hint  # only on this failure path: it reads the templates

    ways: list[str] = []
    if build_scripts is not None:
        scripts = build_scripts()
    else:
        scripts = []
        for script in sorted(opt.glob("build-*.sh")):
            real = Path(os.path.realpath(script))
            scripts.append(str(real.relative_to(task_root.resolve()) if real.is_relative_to(task_root.resolve())
                               else real))
    ways.extend(f"build it into the layer with {script}" for script in scripts)
    name = Path(program).name
    hint = install_hint(name)
    ways.append(f"install {name} here ({hint})" if hint else f"put {name} on PATH")
    return ", or ".join(ways)


def local_program(program: str, *, task_root: Path, opt: Path, host_path: str,
                  build_scripts: Callable[[], list[str]] | None = None,
                  source: Callable[[Path], Path] | None = None) -> StandIn:
    """The layer's own copy of ``program`` when it can run on this machine, else the host's on PATH;
    ``build_scripts()`` lists the layers' ``build-*.sh`` for the hint (default: those in ``opt``), ``source(path)``
    the project's file a file of ``opt`` is laid out from (default: itself), shown with its links resolved."""
    in_layer = opt / program[len(LAMBDA_OPT) + 1:]
    problem = None  # why the layer's copy cannot run here
    if _is_executable_file(in_layer):
        real = os.path.realpath(source(in_layer) if source is not None else in_layer)
        machine, here = file_machine(in_layer), host_machine()
        if machine is None or here is None or machine == here:
            return StandIn(str(in_layer), f"{program}: running the layer's {real}")
        problem = f"the layer's {real} is for {machine_name(machine)}, this machine is {machine_name(here)}"
    on_host = shutil.which(Path(program).name, path=host_path)
    if on_host is not None:
        why = "is not in the layers" if problem is None else f"cannot run here ({problem})"
        return StandIn(on_host, f"{program} {why}: running the host's {on_host}")
    why = "is neither in the layers nor on PATH" if problem is None else f"cannot run here ({problem}) nor is on PATH"
    return StandIn(None, f"{program} {why}: {_how_to_get(program, task_root, opt, build_scripts)}")


def _localised(script: str, program: str, stand_in: str, opt: Path) -> str:
    """The shell bootstrap with each /opt path pointing into the sandbox's opt folder, and ``program`` at its
    stand-in (paths are put in as they are: the sandbox's folders hold no blanks or quotes)."""
    def local(match: re.Match[str]) -> str:
        return stand_in if match.group(0) == program else f"{opt}/{match.group(0)[len(LAMBDA_OPT) + 1:]}"
    return _OPT_PATH.sub(local, script)


def _posix_shell(arguments: list[str]) -> list[str] | None:
    """How to run a ``#!/bin/sh`` script as Lambda does: on Amazon Linux 2023 /bin/sh is bash, so a bootstrap
    that relies on bash's ``sh`` (the AWS walkthrough's ``set -o pipefail``) works there, and must work here too
    where /bin/sh is dash (Debian, Ubuntu); None where the script can run as it is."""
    bash = shutil.which("bash", path=os.defpath + ":/usr/local/bin")
    if bash is None or Path("/bin/sh").resolve().name == "bash":
        return None
    return [bash, "--posix", *arguments]  # bash started as sh runs in POSIX mode


def _shell(interpreter: str, argument: str) -> list[str]:
    """The command line of the shell a bootstrap's ``#!`` line names, up to the script."""
    posix = _posix_shell(argument.split()) if interpreter == "/bin/sh" else None
    return posix or [interpreter, *([argument] if argument else [])]


def find_entrypoint(task_root: Path, opt: Path, *, host_path: str,
                    looked_at: Callable[[str], str] | None = None,
                    build_scripts: Callable[[], list[str]] | None = None,
                    source: Callable[[Path], Path] | None = None) -> Entrypoint:
    """The bootstrap Lambda would run: the task root's first, then the layers'; the /opt program it starts
    resolved to one that runs here.

    ``looked_at("/var/task/bootstrap")`` says what stands behind a Lambda path ("is ...") when none can run;
    ``build_scripts()`` names the layers' build scripts for a hint as the project has them
    (``runtime/build-layer.sh``: a layer's patterns usually leave them out of /opt), and ``source(path)`` the
    project's file behind a file of the sandbox, for the log's note on the program that runs.
    """
    candidates = [task_root / "bootstrap", opt / "bootstrap"]
    bootstrap = next((c for c in candidates if _is_executable_file(c)), None)
    if bootstrap is None:
        # Lambda's own words name its paths; the local files they stand for follow (the sandbox's folders are
        # temporary, so they are shown by what they hold, not by their own paths).
        task_bootstrap, opt_bootstrap = f"{LAMBDA_TASK_ROOT}/bootstrap", f"{LAMBDA_OPT}/bootstrap"
        task_text = looked_at(task_bootstrap) if looked_at else "is " + _looked_at(candidates[0])
        opt_text = looked_at(opt_bootstrap) if looked_at else _opt_bootstrap(opt)
        raise InvalidEntrypoint(f"Couldn't find valid bootstrap(s): [{task_bootstrap} {opt_bootstrap}]; here "
                                f"{task_bootstrap} {task_text} and {opt_bootstrap} {opt_text}")
    return command_for(bootstrap, task_root=task_root, opt=opt, host_path=host_path, build_scripts=build_scripts,
                       source=source)


def command_for(executable: Path, *, task_root: Path, opt: Path, host_path: str,
                build_scripts: Callable[[], list[str]] | None = None,
                source: Callable[[Path], Path] | None = None) -> Entrypoint:
    """How to run an executable of the sandbox (the bootstrap, an external extension) as Lambda would: ``#!/bin/sh``
    as Amazon Linux's bash, the /opt program it starts resolved to one that runs here (``build_scripts`` and
    ``source`` as for :func:`find_entrypoint`)."""
    program = opt_program(executable)
    if program is None:
        with open(executable, "rb") as file:
            first_line = file.readline(512)
        shell = None
        if first_line.split(maxsplit=1)[:1] == [b"#!/bin/sh"]:
            shell = _posix_shell(first_line[len(b"#!/bin/sh"):].decode(errors="replace").split())
        return Entrypoint(executable, [*(shell or []), str(executable)])
    stand_in = local_program(program.path, task_root=task_root, opt=opt, host_path=host_path,
                             build_scripts=build_scripts, source=source)
    if program.shell is not None:
        # The same shell runs the same script (bash --posix for /bin/sh, as above), with the layer's folder where
        # Lambda has /opt; with no stand-in its exec fails as it would on Lambda (not found, exit status 127).
        script = _localised(executable.read_text(errors="replace"), program.path,
                            stand_in.path or f"{opt}/{program.path[len(LAMBDA_OPT) + 1:]}", opt)
        shell = _shell(program.shell, program.argument)
        return Entrypoint(executable, [*shell, "-c", script, str(executable)], stand_in.note)
    arguments = [program.argument] if program.argument else []
    if stand_in.path is None:
        # The kernel's exec fails for the missing interpreter, as on Lambda; the note says how to get one (once:
        # in the log, not in the error Lambda reports).
        return Entrypoint(executable, ["/bin/sh", "-c", 'exec "$0"', str(executable)], stand_in.note,
                          exec_fails=True)
    return Entrypoint(executable, [stand_in.path, *arguments, str(executable)], stand_in.note)


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
