"""Rules on every file Lambda would execute: scripts (line endings, #! interpreters) and native binaries.

Lambda starts ``/var/task/bootstrap`` or else ``/opt/bootstrap`` with execve(2), as a user that is neither the
file's owner nor in its group; everything here predicts how that call (or the interpreter it names) would
fail.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from runtime_scaffold.check.execution_environment import OPT, TASK_ROOT, ExecutionEnvironment, Package, shown
from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.elf import ELF_MACHINES, elf_machine, machine_name
from runtime_scaffold.project import Project

# Interpreters a #! line may name on Lambda's provided.al2023 (and provided.al2) base image without a layer.
# The image is Amazon Linux's *minimal* container: a shell and coreutils, but no python3, perl, php or node.
# /bin is a link to /usr/bin there, so each command is found under both. Deliberately short: a name missing
# here is reported; the fix is to ship the interpreter in a layer (/opt/bin) or to use /bin/sh or /bin/bash.
AL2023_BASE_COMMANDS = ("sh", "bash", "env")
AL2023_BASE_INTERPRETERS = frozenset(
    f"{folder}/{name}" for folder in ("/bin", "/usr/bin") for name in AL2023_BASE_COMMANDS
)
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
HEADER_BYTES = 256
CRLF_SCAN_LIMIT = 4 * 1024 * 1024
MAX_LISTED = 5


def read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(HEADER_BYTES)
    except OSError:
        return b""


def parse_shebang(head: bytes) -> tuple[str, str] | None:
    """(interpreter, argument) of a #! line, split as the kernel does; None when there is none."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip(" \t\r")
    words = line.split(None, 1)  # the kernel splits at the first blank: one interpreter, one argument
    return (words[0], words[1].strip()) if len(words) == 2 else (line, "")


def _env_command(argument: str) -> str:
    """The command `/usr/bin/env ARG` runs: the first word that is neither an option (`-S`) nor NAME=VALUE.

    env looks it up on Lambda's PATH, /usr/local/bin:/usr/bin/:/bin:/opt/bin, where only /opt/bin can hold
    layer files.
    """
    for word in argument.split():
        if not word.startswith("-") and "=" not in word:
            return word
    return ""


def _interpreter_problem(environment: ExecutionEnvironment, interpreter: str, argument: str) -> str | None:
    """Why ``interpreter`` would not start in the environment, or None when it would (or cannot be known)."""
    if not interpreter:
        return "the #! line names no interpreter"
    if interpreter.startswith(OPT + "/"):
        found = environment.opt_file(interpreter[len(OPT) + 1 :])
        if found is None:
            if environment.unknown_layers:
                return None  # may come from a layer whose contents are not here
            return f"{interpreter} is in none of the function's layers"
        if not found[0].stat().st_mode & stat.S_IXOTH:
            return f"{interpreter} ({found[1].label}) is not executable"
        return None
    if interpreter.startswith(TASK_ROOT + "/"):
        if environment.task is None or interpreter[len(TASK_ROOT) + 1 :] in environment.task.files:
            return None
        return f"{interpreter} is not in the function package"
    if interpreter not in AL2023_BASE_INTERPRETERS:
        return (
            f"{interpreter} is not on Amazon Linux 2023's minimal base image (whose interpreters are "
            f"{', '.join(AL2023_BASE_COMMANDS)} in /bin and /usr/bin) nor in a layer"
        )
    if interpreter.endswith("/env"):
        command = _env_command(argument)
        if command in AL2023_BASE_COMMANDS:
            return None
        if command and (environment.opt_file(f"bin/{command}") is not None or environment.unknown_layers):
            return None
        wanted = repr(command) if command else "command"
        return f"`{interpreter} {argument}` finds no {wanted} on Lambda's PATH (base image or /opt/bin)"
    return None


def _is_shell_script(inner: str, shebang: tuple[str, str] | None) -> bool:
    if inner.endswith((".sh", ".bash")) or inner.rsplit("/", 1)[-1] == "bootstrap":
        return True
    if shebang is None:
        return False
    interpreter, argument = shebang
    name = interpreter.rsplit("/", 1)[-1]
    return name in SHELLS or (name == "env" and _env_command(argument) in SHELLS)


def check_files(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    """CRLF line endings, unusable #! interpreters and foreign ELF binaries in every packaged file."""
    expected = ELF_MACHINES.get(environment.function.architecture)
    bootstrap = environment.bootstrap()
    for package in environment.packages():
        foreign: list[tuple[str, int]] = []
        for inner, path in package.files.items():
            head = read_head(path)
            if head.startswith(b"\x7fELF"):
                machine = elf_machine(head)
                if expected is not None and machine is not None and machine != expected:
                    foreign.append((shown(project, path), machine))
                continue
            shebang = parse_shebang(head)
            is_bootstrap = bootstrap is not None and bootstrap[0] == path
            if _is_shell_script(inner, shebang) and _has_crlf(path, whole=True):
                yield _crlf(project, path, "a shell script")
            elif shebang is not None and _has_crlf(path, whole=False):
                yield _crlf(project, path, "its #! line")
            if shebang is not None and (is_bootstrap or _is_command(package, inner, path)):
                problem = _interpreter_problem(environment, *shebang)
                if problem:
                    # Only the bootstrap is surely executed; another command may never be called.
                    yield Finding(
                        "shebang-interpreter-missing",
                        Severity.ERROR if is_bootstrap else Severity.WARNING,
                        shown(project, path),
                        f'{problem}; starting it in Lambda fails with "no such file or directory"',
                        _interpreter_fix(project, environment, shebang[0]),
                        awaits_build=_awaits_build(environment, shebang[0]),
                    )
            if is_bootstrap and shebang is not None and _is_shell_script(inner, shebang):
                yield from _exec_program(project, environment, path)
        if foreign:
            yield _foreign_elf(environment, package, foreign)


def _exec_program(project: Project, environment: ExecutionEnvironment, bootstrap: Path) -> Iterator[Finding]:
    """A shell bootstrap that hands over to a layer's binary (`exec /opt/bin/bun ...`) needs that binary."""
    from runtime_scaffold.emulator.environment import opt_program  # the one parser of that line

    program = opt_program(bootstrap)
    if program is None or program.shell is None:
        return
    problem = _interpreter_problem(environment, program.path, "")
    if problem:
        yield Finding(
            "bootstrap-program-missing",
            Severity.ERROR,
            shown(project, bootstrap),
            f"the bootstrap execs {program.path}, but {problem}; in Lambda the exec fails (not found: "
            "Runtime.ExitError, exit status 127)",
            next((f"run {script} to put {program.path} into the layer folder before packaging"
                  for script in _build_scripts(project, environment)),
                 f"put the program into a layer as {program.path} (layers are unpacked in /opt)"),
            awaits_build=_awaits_build(environment, program.path),
        )


def _awaits_build(environment: ExecutionEnvironment, interpreter: str) -> bool:
    """True for an interpreter named under /opt that no layer holds yet: the project says a layer brings it,
    so it is most likely built into the layer folder by a step still to run. A broken one (present but not
    executable) or one the base image lacks is a mistake, not a missing build."""
    return interpreter.startswith(OPT + "/") and environment.opt_file(interpreter[len(OPT) + 1 :]) is None


def _interpreter_fix(project: Project, environment: ExecutionEnvironment, interpreter: str) -> str:
    generic = (
        "use #!/bin/bash or #!/bin/sh, or ship the interpreter in a layer and name it as /opt/bin/<name> "
        "(layers are unpacked in /opt)"
    )
    if not interpreter.startswith(OPT + "/"):
        return generic
    scripts = _build_scripts(project, environment)
    if scripts:
        return f"run {scripts[0]} to build {interpreter} into the layer folder before packaging, or {generic}"
    return generic


def _build_scripts(project: Project, environment: ExecutionEnvironment) -> list[str]:
    """A generated project builds its interpreter into the layer folder with a script (e.g. build-php.sh).
    Looked for on disk: the layer's own patterns usually leave the build script out of its zip."""
    return sorted(
        shown(project, script) for package in environment.layers for script in package.root.glob("build*.sh")
    )


def _is_command(package: Package, inner: str, path: Path) -> bool:
    """An executable a bootstrap is likely to run: on PATH from a layer (/opt/bin) or at the task root."""
    if not path.stat().st_mode & stat.S_IXUSR:
        return False
    if package.layer is not None:
        return inner.startswith("bin/") and inner.count("/") == 1
    return "/" not in inner


def _crlf(project: Project, path: Path, what: str) -> Finding:
    where = shown(project, path)
    return Finding(
        "crlf-line-endings",
        Severity.ERROR,
        where,
        f"{where} has Windows (CRLF) line endings in {what}: Lambda fails with "
        "`/bin/bash^M: bad interpreter` or `$'\\r': command not found`",
        f"convert to LF (sed -i 's/\\r$//' {where}) and add `* text=auto eol=lf` to .gitattributes",
    )


def _has_crlf(path: Path, *, whole: bool) -> bool:
    try:
        with path.open("rb") as stream:
            data = stream.read(CRLF_SCAN_LIMIT if whole else HEADER_BYTES)
    except OSError:
        return False
    return b"\r\n" in (data if whole else data.split(b"\n", 1)[0] + b"\n")


def _foreign_elf(environment: ExecutionEnvironment, package: Package, foreign: list[tuple[str, int]]) -> Finding:
    architecture = environment.function.architecture
    listed = ", ".join(
        f"{where} ({machine_name(machine)})"
        for where, machine in foreign[:MAX_LISTED]
    )
    more = f" and {len(foreign) - MAX_LISTED} more" if len(foreign) > MAX_LISTED else ""
    other = "arm64" if architecture == "x86_64" else "x86_64"
    return Finding(
        "elf-architecture",
        Severity.ERROR,
        foreign[0][0],
        # No function name: a layer shared by several functions of one architecture is one finding, not one each.
        f"{package.label} holds {len(foreign)} ELF file(s) not built for {architecture}, the function's "
        f"`architecture:`: {listed}{more}; Lambda fails with exec format error",
        f"rebuild them for {architecture} Linux, or set architecture: {other} if that is what they are for",
    )
