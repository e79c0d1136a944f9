"""Rules on the bootstrap itself: where Lambda looks for it, its mode and its format.

Lambda starts ``/var/task/bootstrap`` or else ``/opt/bootstrap``; nothing else is searched, so a bootstrap one
folder down is as good as missing.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator

from runtime_scaffold.check.file_rules import parse_shebang, read_head
from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.execution_environment import OPT, TASK_ROOT, ExecutionEnvironment, config_name, shown
from runtime_scaffold.packaging import walk_files
from runtime_scaffold.project import Project


def check_bootstrap(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    found = environment.bootstrap()
    if found is None:
        yield from _missing_bootstrap(project, environment)
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
    head = read_head(path)
    shebang = parse_shebang(head)
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


def _missing_bootstrap(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    if any(not package.root.is_dir() for package in environment.layers):
        return  # a layer folder is missing altogether: layer-path-missing already says so
    looked = []
    if environment.task is not None:
        looked.append(f"bootstrap at the project root ({TASK_ROOT}/bootstrap)")
    looked += [
        f"{shown(project, package.root / 'bootstrap')} ({OPT}/bootstrap from {package.label})"
        for package in environment.layers
    ]
    # A layer folder is searched on disk, not only in its zip: service-level package.patterns also apply
    # inside layer folders, so `!runtime/**` drops runtime/runtime/bootstrap from the layer zip as well.
    nested = [
        (inner, package)
        for package in environment.packages()
        for inner in (walk_files(package.root) if package.layer is not None else package.files)
        if inner.rsplit("/", 1)[-1] == "bootstrap" and "/" in inner
    ]
    function = environment.function.key
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
    if environment.task is not None and excluded.is_file():
        message += "; bootstrap exists at the project root but package.patterns leaves it out of the zip"
    if environment.layers:
        fix = f"create {shown(project, environment.layers[0].root / 'bootstrap')} and chmod 755 it"
    else:
        fix = (
            "add an executable bootstrap at the root of a layer folder (layers.<key>.path) and reference "
            f"that layer in functions.{function}.layers as {{ Ref: <LayerLogicalId> }}"
        )
    if environment.unknown_layers:
        yield Finding(
            "bootstrap-missing",
            Severity.WARNING,
            config_name(project),
            message + f"; it can only come from {', '.join(environment.unknown_layers)}, which is not "
            "checked here",
            fix + ", or make sure the external layer provides /opt/bootstrap",
        )
        return
    yield Finding("bootstrap-missing", Severity.ERROR, config_name(project), message, fix)
