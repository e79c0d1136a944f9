"""Rules on external extensions (the files of /opt/extensions) and on AWS_LAMBDA_EXEC_WRAPPER.

Lambda launches every file of ``/opt/extensions`` (the merged layers' ``extensions/`` folders; folders in it
are skipped) before the runtime, as the function's user, and fails the init with ``Extension.LaunchError`` when
one cannot be executed or there are more than 10. So, unlike a file a bootstrap may or may not run, each of
them is surely executed: a missing interpreter is an error here. CRLF line endings are file_rules' business
(every packaged script is checked there).
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from runtime_scaffold.check.file_rules import (
    _awaits_build,
    _interpreter_fix,
    _interpreter_problem,
    parse_shebang,
    read_head,
)
from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.execution_environment import ExecutionEnvironment, Package, shown
from runtime_scaffold.lambda_limits import MAX_EXTENSIONS
from runtime_scaffold.project import Project

FOLDER = "extensions/"
EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"


def extension_files(environment: ExecutionEnvironment) -> dict[str, tuple[Path, Package]]:
    """/opt/extensions as Lambda would see it: name -> (file, layer), later layers winning."""
    found: dict[str, tuple[Path, Package]] = {}
    for package in environment.layers:
        for inner, path in package.files.items():
            if inner.startswith(FOLDER) and inner.count("/") == 1:
                found[inner[len(FOLDER):]] = (path, package)
    return dict(sorted(found.items()))


def check_extensions(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    files = extension_files(environment)
    if len(files) > MAX_EXTENSIONS:
        first = next(iter(files.values()))[0]
        yield Finding(
            "extensions-too-many", Severity.ERROR, shown(project, first.parent),
            f"function {environment.function.key} gets {len(files)} files in /opt/extensions "
            f"({', '.join(files)}): Lambda launches at most {MAX_EXTENSIONS} extensions, and the init fails "
            "with Extension.LaunchError (ErrTooManyExtensions)",
            f"keep at most {MAX_EXTENSIONS} executables in the layers' extensions/ folders (support files "
            "belong elsewhere, e.g. in /opt/<extension-name>/)",
        )
    for name, (path, _) in files.items():
        where = shown(project, path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o005 != 0o005:
            yield Finding(
                "extension-not-executable", Severity.ERROR, where,
                f"extension {name} has mode {mode:04o}: Lambda's user (neither owner nor group) cannot "
                f"{'execute' if mode & 0o001 == 0 else 'read'} it, so every cold start fails with "
                "Extension.LaunchError (fork/exec /opt/extensions/" + name + ": permission denied)",
                f"chmod 755 {where} (and `git update-index --chmod=+x {where}` so a checkout keeps it)",
            )
        shebang = parse_shebang(read_head(path))
        if shebang is not None:
            problem = _interpreter_problem(environment, *shebang)
            if problem:
                yield Finding(
                    "shebang-interpreter-missing", Severity.ERROR, where,
                    f"{problem}; Lambda launches every file of /opt/extensions, and this one fails with "
                    "Extension.LaunchError (no such file or directory)",
                    _interpreter_fix(project, environment, shebang[0]),
                    awaits_build=_awaits_build(environment, shebang[0]),
                )


def check_exec_wrapper(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    """AWS_LAMBDA_EXEC_WRAPPER does nothing on OS-only runtimes (Lambda's "Modifying the runtime environment":
    "Wrapper scripts are not supported on OS-only runtimes (the provided runtime family)")."""
    function = environment.function
    wrapper = function.environment.get(EXEC_WRAPPER)
    if wrapper is None or not function.runtime.startswith("provided"):
        return
    yield Finding(
        "exec-wrapper-ignored", Severity.WARNING, "serverless.yml",
        f"function {function.key} sets {EXEC_WRAPPER}={wrapper}, but {function.runtime} is an OS-only runtime: "
        "Lambda starts its bootstrap directly and never runs the wrapper",
        f"start the wrapper from the bootstrap itself (exec \"${EXEC_WRAPPER}\" ... as managed runtimes do), "
        "or run what it starts as an external extension in a layer's extensions/ folder",
    )
