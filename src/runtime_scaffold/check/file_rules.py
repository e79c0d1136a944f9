"""Rules on the files Lambda would execute: bootstrap, scripts and native binaries.

Lambda starts ``/var/task/bootstrap`` or else ``/opt/bootstrap`` with execve(2), as a user that is neither the
file's owner nor in its group; everything here predicts how that call (or the interpreter it names) would
fail.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.check.packaging import walk_files
from runtime_scaffold.check.sandbox import OPT, TASK_ROOT, Package, Sandbox, shown
from runtime_scaffold.project import Project

# Interpreters a #! line may name on Lambda's provided.al2023 (and provided.al2) base image without a layer.
# The image is Amazon Linux's *minimal* container: a shell and coreutils, but no python3, perl, php or node.
# /bin is a link to /usr/bin there, so each command is found under both. Deliberately short: a name missing
# here is reported; the fix is to ship the interpreter in a layer (/opt/bin) or to use /bin/sh or /bin/bash.
AL2023_BASE_COMMANDS = ("sh", "bash", "env")
AL2023_BASE_INTERPRETERS = frozenset(
    f"{folder}/{name}" for folder in ("/bin", "/usr/bin") for name in AL2023_BASE_COMMANDS
)
# Lambda's PATH: /usr/local/bin:/usr/bin/:/bin:/opt/bin (only /opt/bin can hold layer files).
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
# ELF e_machine values (System V ABI) for Lambda's two architectures, and names for a few common others.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
ELF_MACHINE_NAMES = {3: "i386", 40: "32-bit ARM", 62: "x86_64", 183: "arm64", 243: "RISC-V"}
HEADER_BYTES = 256
CRLF_SCAN_LIMIT = 4 * 1024 * 1024
MAX_LISTED = 5


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(HEADER_BYTES)
    except OSError:
        return b""


def _shebang(head: bytes) -> tuple[str, str] | None:
    """(interpreter, argument) of a #! line, split as the kernel does; None when there is none."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip(" \t\r")
    interpreter, _, argument = line.partition(" ")
    return interpreter, argument.strip()


def _env_command(argument: str) -> str:
    """The command `/usr/bin/env ARG` runs (`-S` splits the argument, as for `env -S bash -e`)."""
    for word in argument.split():
        if word == "-S" or (word.startswith("-") and "=" not in word):
            continue
        if "=" in word:
            continue
        return word
    return ""


def _interpreter_problem(sandbox: Sandbox, interpreter: str, argument: str) -> str | None:
    """Why ``interpreter`` would not start in the sandbox, or None when it would (or cannot be known)."""
    if not interpreter:
        return "the #! line names no interpreter"
    if interpreter.startswith(OPT + "/"):
        found = sandbox.opt_file(interpreter[len(OPT) + 1 :])
        if found is None:
            if sandbox.unknown_layers:
                return None  # may come from a layer whose contents are not here
            return f"{interpreter} is in none of the function's layers"
        if not found[0].stat().st_mode & stat.S_IXOTH:
            return f"{interpreter} ({found[1].label}) is not executable"
        return None
    if interpreter.startswith(TASK_ROOT + "/"):
        if sandbox.task is None or interpreter[len(TASK_ROOT) + 1 :] in sandbox.task.files:
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
        if command and (sandbox.opt_file(f"bin/{command}") is not None or sandbox.unknown_layers):
            return None
        wanted = repr(command) if command else "command"
        return f"`{interpreter} {argument}` finds no {wanted} on Lambda's PATH (base image or /opt/bin)"
    return None


def locate_bootstrap(sandbox: Sandbox) -> tuple[Path, Package] | None:
    """The file Lambda would start: /var/task/bootstrap first, then /opt/bootstrap."""
    if sandbox.task is not None and "bootstrap" in sandbox.task.files:
        return sandbox.task.files["bootstrap"], sandbox.task
    return sandbox.opt_file("bootstrap")


def check_bootstrap(project: Project, sandbox: Sandbox) -> Iterator[Finding]:
    found = locate_bootstrap(sandbox)
    if found is None:
        yield from _missing_bootstrap(project, sandbox)
        return
    path = found[0]
    where = shown(project, path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o005 != 0o005:
        yield Finding(
            "bootstrap-not-executable",
            Severity.ERROR,
            where,
            f"bootstrap has mode {mode:04o}: Lambda's user (neither owner nor group) cannot "
            f"{'execute' if mode & 0o001 == 0 else 'read'} it, so every invoke fails with "
            "Runtime.InvalidEntrypoint (permission denied); the Framework copies this mode into the zip",
            f"chmod 755 {where} (and `git update-index --chmod=+x {where}` so a checkout keeps it)",
        )
    head = _head(path)
    shebang = _shebang(head)
    if head.startswith(b"\xef\xbb\xbf#!"):
        yield Finding(
            "bootstrap-format",
            Severity.ERROR,
            where,
            "bootstrap starts with a UTF-8 byte order mark before #!, so the kernel does not see the "
            "#! line: exec format error (Runtime.InvalidEntrypoint)",
            "save the file as UTF-8 without BOM",
        )
    elif shebang is None and not head.startswith(b"\x7fELF"):
        kind = (
            "a macOS (Mach-O) binary"
            if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf")
            else "a Windows binary"
            if head.startswith(b"MZ")
            else "neither a #! script nor a Linux ELF executable"
        )
        yield Finding(
            "bootstrap-format",
            Severity.ERROR,
            where,
            f"bootstrap is {kind}: Lambda's exec fails with exec format error (Runtime.InvalidEntrypoint)",
            "start a script with a #! line (e.g. #!/bin/bash) or build the binary for Linux",
        )


def _missing_bootstrap(project: Project, sandbox: Sandbox) -> Iterator[Finding]:
    looked = []
    if sandbox.task is not None:
        looked.append(f"bootstrap at the project root ({TASK_ROOT}/bootstrap)")
    looked += [
        f"{shown(project, package.root / 'bootstrap')} ({OPT}/bootstrap from {package.label})"
        for package in sandbox.layers
    ]
    # A layer folder is searched on disk, not only in its zip: service-level package.patterns also apply
    # inside layer folders, so `!runtime/**` drops runtime/runtime/bootstrap from the layer zip as well.
    nested = [
        (inner, package)
        for package in sandbox.packages()
        for inner in (walk_files(package.root) if package.layer is not None else package.files)
        if inner.rsplit("/", 1)[-1] == "bootstrap" and "/" in inner
    ]
    function = sandbox.function.key
    if any(not package.root.is_dir() for package in sandbox.layers):
        return  # a layer folder is missing altogether: layer-path-missing already says so
    if nested:
        inner, package = min(nested, key=lambda item: item[0].count("/"))
        where = shown(project, package.root / inner)
        target = shown(project, package.root / "bootstrap")
        yield Finding(
            "bootstrap-nested",
            Severity.ERROR,
            where,
            f"function {function}'s bootstrap would be {package.mount}/{inner}, one folder too deep: "
            f"Lambda only starts {TASK_ROOT}/bootstrap or {OPT}/bootstrap (Couldn't find valid "
            "bootstrap, Runtime.InvalidEntrypoint)",
            f"move it to {target}, or point the layer's path: at the folder that holds it",
        )
        return
    message = (
        f"function {function} has no bootstrap: Lambda would fail with \"Couldn't find valid bootstrap(s): "
        f'[{TASK_ROOT}/bootstrap {OPT}/bootstrap]" (Runtime.InvalidEntrypoint). Looked at: '
        + "; ".join(looked)
    )
    excluded = project.root / "bootstrap"
    if sandbox.task is not None and excluded.is_file():
        message += "; bootstrap exists at the project root but package.patterns leaves it out of the zip"
    if sandbox.layers:
        fix = f"create {shown(project, sandbox.layers[0].root / 'bootstrap')} and chmod 755 it"
    else:
        fix = (
            "add an executable bootstrap at the root of a layer folder (layers.<key>.path) and reference "
            f"that layer in functions.{function}.layers as {{ Ref: <LayerLogicalId> }}"
        )
    if sandbox.unknown_layers:
        yield Finding(
            "bootstrap-missing",
            Severity.WARNING,
            project.config_path.name,
            message + f"; it can only come from {', '.join(sandbox.unknown_layers)}, which is not "
            "checked here",
            fix + ", or make sure the external layer provides /opt/bootstrap",
        )
        return
    yield Finding("bootstrap-missing", Severity.ERROR, project.config_path.name, message, fix)


def _is_shell_script(inner: str, shebang: tuple[str, str] | None) -> bool:
    if inner.endswith((".sh", ".bash")) or inner.rsplit("/", 1)[-1] == "bootstrap":
        return True
    if shebang is None:
        return False
    interpreter, argument = shebang
    name = interpreter.rsplit("/", 1)[-1]
    return name in SHELLS or (name == "env" and _env_command(argument) in SHELLS)


def check_files(project: Project, sandbox: Sandbox) -> Iterator[Finding]:
    """CRLF line endings, unusable #! interpreters and foreign ELF binaries in every packaged file."""
    expected = ELF_MACHINES.get(sandbox.function.architecture)
    bootstrap = locate_bootstrap(sandbox)
    for package in sandbox.packages():
        foreign: list[tuple[str, int]] = []
        for inner, path in package.files.items():
            head = _head(path)
            if head.startswith(b"\x7fELF"):
                machine = _elf_machine(head)
                if expected is not None and machine is not None and machine != expected:
                    foreign.append((shown(project, path), machine))
                continue
            shebang = _shebang(head)
            is_bootstrap = bootstrap is not None and bootstrap[0] == path
            if _is_shell_script(inner, shebang) and _has_crlf(path, whole=True):
                yield _crlf(project, path, "a shell script")
            elif shebang is not None and _has_crlf(path, whole=False):
                yield _crlf(project, path, "its #! line")
            if shebang is not None and (is_bootstrap or _is_command(package, inner, path)):
                problem = _interpreter_problem(sandbox, *shebang)
                if problem:
                    # Only the bootstrap is surely executed; another command may never be called.
                    yield Finding(
                        "shebang-interpreter-missing",
                        Severity.ERROR if is_bootstrap else Severity.WARNING,
                        shown(project, path),
                        f'{problem}; starting it in Lambda fails with "no such file or directory"',
                        "use #!/bin/bash or #!/bin/sh, or ship the interpreter in a layer and name it "
                        "as /opt/bin/<name> (layers are unpacked in /opt)",
                    )
        if foreign:
            yield _foreign_elf(sandbox, package, foreign)


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


def _elf_machine(head: bytes) -> int | None:
    if len(head) < 20:
        return None
    if head[5] == 2:  # EI_DATA: big-endian
        return int.from_bytes(head[18:20], "big")
    return int.from_bytes(head[18:20], "little")


def _foreign_elf(sandbox: Sandbox, package: Package, foreign: list[tuple[str, int]]) -> Finding:
    architecture = sandbox.function.architecture
    listed = ", ".join(
        f"{where} ({ELF_MACHINE_NAMES.get(machine, f'e_machine {machine}')})"
        for where, machine in foreign[:MAX_LISTED]
    )
    more = f" and {len(foreign) - MAX_LISTED} more" if len(foreign) > MAX_LISTED else ""
    other = "arm64" if architecture == "x86_64" else "x86_64"
    return Finding(
        "elf-architecture",
        Severity.ERROR,
        foreign[0][0],
        f"{package.label} holds {len(foreign)} ELF file(s) not built for {architecture}, the "
        f"architecture of function {sandbox.function.key}: {listed}{more}; Lambda fails with "
        "exec format error",
        f"rebuild them for {architecture} Linux, or set architecture: {other} if that is what they are for",
    )
