"""Start-up of `scaffold` command lines against the floor `python -c 'import click'` sets, in one run.

Each command line runs --runs times, all of them taking turns (so a burst of load on the machine hits each about
equally), with the `scaffold` installed beside this interpreter. Prints the median and spread of each and its
ratio to the floor's median; the goal (issue 12) is `scaffold --help` within 2x of the floor. The last two rows
run the project's first function once: `scaffold invoke` against a bare harness (this script's --bare-harness: a
Python process that starts bench_server.py's Runtime API and the bootstrap, hands it the event, waits for the
response and stops it); the goal there is within 1.2x.

Usage:  python benchmarks/startup.py [--runs 20] [--project examples/bash]
`hyperfine -N -w 3 "python -c 'import click'" "scaffold --help"` measures the same, where hyperfine is installed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_server import BenchServer

REPO_ROOT = Path(__file__).resolve().parent.parent


EVENT = b'{"name": "World"}'
HARNESS = "bare harness: the bootstrap once"


def first_function(project: Path) -> tuple[str, str]:
    """Name and handler of the first function in the project's serverless.yml."""
    import yaml  # not in the harness's own process: it is given both

    functions = yaml.safe_load((project / "serverless.yml").read_text())["functions"]
    name = next(iter(functions))
    return name, functions[name]["handler"]


def bare_harness(project: Path, function: str) -> None:
    """One invocation of the project's bootstrap against a bare Runtime API, nothing else (its threads are left
    to die with the process, as `scaffold invoke` leaves its own)."""
    name, handler = function.split("=", 1)
    server = BenchServer()
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": server.address, "_HANDLER": handler,
           "LAMBDA_TASK_ROOT": str(project), "AWS_LAMBDA_FUNCTION_NAME": name}
    bootstrap = subprocess.Popen([str(project / "runtime" / "bootstrap")], cwd=project, env=env,
                                 start_new_session=True)
    try:
        server.put(EVENT)
        sys.stdout.buffer.write(server.responses.get(timeout=30)[2])
    finally:
        os.killpg(bootstrap.pid, signal.SIGKILL)
        bootstrap.wait(timeout=10)


def command_lines(project: Path) -> dict[str, list[str]]:
    scaffold = str(Path(sys.executable).with_name("scaffold"))
    function, handler = first_function(project)
    return {
        "floor: python -c 'import click'": [sys.executable, "-c", "import click"],
        # What `scaffold --help` imported when the group loaded every command's module up front.
        "import of every command module": [sys.executable, "-c", "import runtime_scaffold.cli.generate, "
                                           "runtime_scaffold.cli.local, runtime_scaffold.cli.verify, "
                                           "runtime_scaffold.cli.conform"],
        "scaffold --help": [scaffold, "--help"],
        "scaffold new --help": [scaffold, "new", "--help"],
        "scaffold list": [scaffold, "list"],
        "scaffold check --help": [scaffold, "check", "--help"],
        "scaffold invoke --help": [scaffold, "invoke", "--help"],
        f"scaffold check --project {project.name}": [scaffold, "check", "--project", str(project)],
        HARNESS: [sys.executable, __file__, "--bare-harness", f"{function}={handler}", "--project",
                  str(project)],
        f"scaffold invoke {function} ({project.name})": [scaffold, "invoke", function, "--project", str(project),
                                                        "--data", EVENT.decode()],
    }


def run_once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--project", type=Path, default=REPO_ROOT / "examples" / "bash")
    parser.add_argument("--bare-harness", metavar="FUNCTION=HANDLER", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare_harness:
        return bare_harness(options.project.resolve(), options.bare_harness)
    commands = command_lines(options.project)
    for command in commands.values():  # warm the file cache
        run_once(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(options.runs):
        for name, command in commands.items():
            times[name].append(run_once(command))
    floor = statistics.median(next(iter(times.values())))
    width = max(len(name) for name in commands)
    print(f"{'command line':<{width}}  median    min      max      vs floor   ({options.runs} runs each, interleaved)")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<{width}}  {median * 1000:6.1f} ms {min(samples) * 1000:6.1f} ms {max(samples) * 1000:6.1f} ms"
              f"  {median / floor:5.2f}x")
    invoke = statistics.median(times[list(commands)[-1]]) / statistics.median(times[HARNESS])
    print(f"scaffold invoke / bare harness: {invoke:.2f}x (goal: at most 1.2x)")


if __name__ == "__main__":
    main()
