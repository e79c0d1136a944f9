"""``AWS_LAMBDA_EXEC_WRAPPER``: the wrapper script managed runtimes start their runtime with (the usual way to
run an internal extension), applied where Lambda applies it and nowhere else.

Lambda's "Modifying the runtime environment" page: wrapper scripts "are supported on all native Lambda
runtimes" and "not supported on OS-only runtimes (the provided runtime family)", where Lambda starts the
``bootstrap`` itself. So for ``provided.*`` functions the variable is passed to the bootstrap and nothing else
happens (the log says so once per cold start, and ``scaffold check`` warns); for a native runtime id the
runtime command is started as ``<wrapper> <runtime command...>``, after the checks the managed runtimes' own
start scripts make (``<wrapper>: does not exist`` and exit status 127, ``<wrapper>: is not an executable``
and 126).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from runtime_scaffold.emulator.environment import LAMBDA_OPT, LAMBDA_TASK_ROOT

VARIABLE = "AWS_LAMBDA_EXEC_WRAPPER"
# What the managed runtimes' start scripts do with the variable, in sh: $0 is the wrapper, "$@" the runtime.
_START = ('if [ ! -f "$0" ]; then echo "$0: does not exist"; exit 127; fi; '
          'if [ ! -x "$0" ]; then echo "$0: is not an executable"; exit 126; fi; exec "$0" "$@"')


def local_path(path: str, *, opt: Path, task_root: Path) -> str:
    """A Lambda path (/opt/..., /var/task/...) as the sandbox has it."""
    for prefix, folder in ((LAMBDA_OPT + "/", opt), (LAMBDA_TASK_ROOT + "/", task_root)):
        if path.startswith(prefix):
            return str(folder / path[len(prefix):])
    return path


def wrap(argv: list[str], *, runtime: str, environment: Mapping[str, str], opt: Path,
         task_root: Path) -> tuple[list[str], str | None]:
    """The command that starts the runtime, and a note for the log when the wrapper is not applied."""
    wrapper = environment.get(VARIABLE)
    if not wrapper:
        return argv, None
    if runtime.startswith("provided") or not runtime:
        return argv, (f"{VARIABLE}={wrapper} is not run: {runtime or 'an OS-only runtime'} starts bootstrap itself, "
                      "as Lambda does (wrapper scripts work on managed runtimes only)")
    return ["/bin/sh", "-c", _START, local_path(wrapper, opt=opt, task_root=task_root), *argv], None
