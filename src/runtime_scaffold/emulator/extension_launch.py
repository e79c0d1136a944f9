"""External extensions as processes: found in the merged layers' ``extensions/`` folder, started before the
runtime with Lambda's environment for extensions, each with a log pipe of its own and its exit watched.

Lambda launches every file of ``/opt/extensions`` that is not a folder, in name order (RIE
``agents.ListExternalAgentPaths``); a file it cannot execute fails the init with ``Extension.LaunchError``, as
does an 11th extension. Extensions see the function's environment except the variables that belong to the
runtime's process (the Extensions API page lists them). Each is started by :func:`process.spawn` in a process
group of its own, so the runtime's SIGTERM and SIGKILL at shutdown never reach it by accident.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.emulator import logs
from runtime_scaffold.emulator.environment import InvalidEntrypoint, command_for
from runtime_scaffold.emulator.process import BootstrapProcess, spawn
from runtime_scaffold.lambda_limits import MAX_EXTENSIONS

FOLDER = "extensions"
# Lambda's Extensions API page: "Extensions can access the function's environment variables, except for the
# following variables that are specific to the runtime process".
RUNTIME_ONLY_VARIABLES = frozenset({
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT", "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT", "_HANDLER",
})
LAMBDA_EXTENSIONS_FOLDER = "/opt/extensions"


def discover(opt: Path) -> list[Path]:
    """The files Lambda would launch as external extensions, in the order it launches them."""
    folder = opt / FOLDER
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:  # no such folder: no external extensions
        return []
    return [Path(entry.path) for entry in entries if not entry.is_dir()]


def extension_environment(runtime_environment: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in runtime_environment.items() if name not in RUNTIME_ONLY_VARIABLES}


def describe_extension_exit(returncode: int) -> str:
    """How Lambda words an extension's unexpected end (RIE's watchEvents: ``exit code 0`` or Go's status)."""
    if returncode == 0:
        return "exit code 0"
    if returncode < 0:
        from runtime_scaffold.emulator.process import describe_exit

        return describe_exit(returncode).removeprefix("Runtime exited with error: ")
    return f"exit status {returncode}"


@dataclass
class LaunchedExtension:
    name: str
    process: BootstrapProcess
    stream: logs.LogStream


@dataclass(frozen=True)
class Started:
    """What the launcher's thread started: per extension its process and the read end of its log pipe, or why it
    could not start (Lambda's words)."""

    processes: list[tuple[str, object, int]]  # (name, Popen, read end)
    failures: list[tuple[str, str]]  # (name, message)
    notes: list[str]


def _start_one(path: Path, *, environment: Mapping[str, str], cwd: Path, opt: Path, host_path: str,
               prefix: Sequence[str]) -> tuple[object, int, str | None]:
    shown = f"{LAMBDA_EXTENSIONS_FOLDER}/{path.name}"
    if not os.access(path, os.X_OK):
        raise InvalidEntrypoint(f"fork/exec {shown}: permission denied")
    entry = command_for(path, task_root=cwd, opt=opt, host_path=host_path)
    if entry.exec_fails:  # Lambda fails the launch itself: Extension.LaunchError, not a crash after a start
        raise InvalidEntrypoint(f"fork/exec {shown}: no such file or directory ({entry.note})")
    read_end, write_end = os.pipe()
    try:
        popen = spawn([*prefix, *entry.argv], cwd=cwd, env=environment, output_fd=write_end)
    except OSError as error:
        os.close(read_end)
        reason = "exec format error" if error.errno == errno.ENOEXEC else (error.strerror or str(error)).lower()
        raise InvalidEntrypoint(f"fork/exec {shown}: {reason}") from None
    finally:
        os.close(write_end)
    return popen, read_end, entry.note and f"extension {path.name}: {entry.note}"


def start_processes(paths: Sequence[Path], *, environment: Mapping[str, str], cwd: Path, opt: Path,
                    host_path: str, prefix: Sequence[str] = ()) -> Started:
    """Start each extension (file system and fork work: call it off the loop)."""
    processes: list[tuple[str, object, int]] = []
    failures: list[tuple[str, str]] = []
    notes: list[str] = []
    if len(paths) > MAX_EXTENSIONS:
        failures.append((paths[MAX_EXTENSIONS].name, "ErrTooManyExtensions"))
        return Started(processes, failures, [f"{len(paths)} files in {LAMBDA_EXTENSIONS_FOLDER}: Lambda starts at "
                                             f"most {MAX_EXTENSIONS} extensions"])
    child_environment = extension_environment(environment)
    for path in paths:
        try:
            popen, read_end, note = _start_one(path, environment=child_environment, cwd=cwd, opt=opt,
                                               host_path=host_path, prefix=prefix)
        except InvalidEntrypoint as error:
            failures.append((path.name, str(error)))
            break  # Lambda stops launching at the first failure
        processes.append((path.name, popen, read_end))
        if note:
            notes.append(note)
    return Started(processes, failures, notes)


def watch(started: Started, *, loop: asyncio.AbstractEventLoop,
          sink_for: Callable[[str], logs.LogSink]) -> list[LaunchedExtension]:
    """Take the started processes onto the loop: their exits and their log pipes."""
    launched = []
    for name, popen, read_end in started.processes:
        process = BootstrapProcess(popen, loop)  # type: ignore[arg-type]
        stream = logs.LogStream(read_end, sink_for(name), add_reader=loop.add_reader,
                                remove_reader=loop.remove_reader)
        launched.append(LaunchedExtension(name, process, stream))
    return launched
