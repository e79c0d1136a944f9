"""What laying out /var/task and /opt from the package costs a cold start, on the examples and a bigger project.

Usage:  python benchmarks/task_root.py [--rounds 20] [--files 5000]

For each project, in one run: the first layout of a sandbox's folders (hard links: SandboxFiles.sync into an
empty folder), a re-sync with nothing changed (what each later cold start of that sandbox does), and a whole cold
start through LocalLambda (layout, spawn, the bootstrap's init, one event), each the median of --rounds; the
layout's share of the cold start is the figure to compare. "bigger" is the bash example plus --files small files
in a vendor/ folder (a handler with its dependencies). A warm invocation does none of this.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.emulator.logs import discard_sink
from runtime_scaffold.emulator.sandbox_files import SandboxFiles
from runtime_scaffold.project import load_project

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure(root: Path, rounds: int) -> tuple[float, float, float, int]:
    project = load_project(root)
    function = project.function("hello")
    first, again, cold = [], [], []
    files_count = 0
    for _ in range(rounds):
        folder = Path(tempfile.mkdtemp(prefix="bench-task-root-"))
        try:
            files = SandboxFiles(folder)
            started = time.perf_counter()
            environment = files.sync(project, function)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            files.sync(project, function)
            again.append(time.perf_counter() - started)
            files_count = len(environment.task.files) if environment.task else 0
        finally:
            shutil.rmtree(folder)
        with LocalLambda(project, log_sink=discard_sink) as local:
            started = time.perf_counter()
            result = local.invoke("hello", b'{"name": "World"}')
            cold.append(time.perf_counter() - started)
            if result.error_type is not None:
                sys.exit(f"{root}: the cold start failed: {result.payload[:200]!r}")
    return _median_ms(first), _median_ms(again), _median_ms(cold), files_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--files", type=int, default=5000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bigger-") as scratch:
        bigger = Path(scratch) / "bigger"
        shutil.copytree(EXAMPLES / "bash", bigger, symlinks=True)
        for number in range(options.files):
            path = bigger / "vendor" / f"pkg{number // 100}" / f"file{number}.sh"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# dependency {number}\n")
        print(f"{'project':8} {'files':>6} {'first layout':>13} {'re-sync':>9} {'cold start':>11} {'layout/cold':>12}")
        for name, root in (("bash", EXAMPLES / "bash"), ("php", EXAMPLES / "php"), ("bigger", bigger)):
            first, again, cold, count = measure(root, options.rounds)
            print(f"{name:8} {count:6d} {first:10.2f} ms {again:6.2f} ms {cold:8.2f} ms {first / cold:11.2f}x")


if __name__ == "__main__":
    main()
