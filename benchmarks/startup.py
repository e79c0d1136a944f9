"""Start-up of `scaffold` command lines against the floor `python -c 'import click'` sets, in one run.

Each command line runs --runs times, all of them taking turns (so a burst of load on the machine hits each about
equally), with the `scaffold` installed beside this interpreter. Prints the median and spread of each and its
ratio to the floor's median; the goal (issue 12) is `scaffold --help` within 2x of the floor.

Usage:  python benchmarks/startup.py [--runs 20] [--project examples/bash]
`hyperfine -N -w 3 "python -c 'import click'" "scaffold --help"` measures the same, where hyperfine is installed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def command_lines(project: Path) -> dict[str, list[str]]:
    scaffold = str(Path(sys.executable).with_name("scaffold"))
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
    }


def run_once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--project", type=Path, default=REPO_ROOT / "examples" / "bash")
    options = parser.parse_args()
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


if __name__ == "__main__":
    main()
