"""How fast each way of checking that an event is JSON is, at 1 MB, and which of them take Lambda's valid events.

Usage:  python benchmarks/json_validation.py [--rounds 20]

Options measured in one run, on three 1 MB events (one long string; 150,000 numbers; 15,000 small objects):
  json.loads      Python's parser: builds every object; refuses nesting past ~1,000 levels and 4,300-digit ints
  orjson.loads    Rust; builds every object; refuses nesting past 1,024 levels and integers past 64 bits
  regex-reduce    an own checker: regexes collapse strings, scalars and innermost containers, no recursion
  yyjson          C, no recursion, numbers kept as text, no Python object built (what the emulator uses)
Each row is the median time per check and its ratio to json.loads; "deep/long" says whether the option accepts
10,000 levels of nesting and a 10,000-digit number, both valid events on Lambda.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable

from runtime_scaffold.emulator.json_check import json_error

_STRING = re.compile(rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"')
_SCALAR = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_CONTAINER = re.compile(rb"\[(?:[snv](?:,[snv])*)?\]|\{(?:s:[snv](?:,s:[snv])*)?\}")


def regex_reduce(data: bytes) -> bool:
    """The own checker that was tried first: valid when the document reduces to one value."""
    text = _SCALAR.sub(b"n", _STRING.sub(b"s", data)).translate(None, b" \t\n\r")
    if text.translate(None, b"{}[],:sn"):
        return False
    while len(text) > 1:
        reduced = _CONTAINER.sub(b"v", text)
        if reduced == text:
            return False
        text = reduced
    return text in (b"s", b"n", b"v")


def _options() -> dict[str, Callable[[bytes], object]]:
    options: dict[str, Callable[[bytes], object]] = {"json.loads": json.loads}
    try:
        import orjson
        options["orjson.loads"] = orjson.loads
    except ImportError:
        pass
    options["regex-reduce"] = regex_reduce
    options["yyjson"] = lambda data: json_error(data) is None
    return options


def _accepts(check: Callable[[bytes], object], data: bytes) -> bool:
    try:
        return check(data) is not False
    except (ValueError, RecursionError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    events = {
        "string": json.dumps({"echo": "x" * 1_000_000}).encode(),
        "numbers": json.dumps(list(range(150_000))).encode(),
        "objects": json.dumps([{"id": i, "name": f"user{i}", "tags": ["a", "b"], "ok": True}
                               for i in range(15_000)]).encode(),
    }
    deep, long = b"[" * 10_000 + b"]" * 10_000, b"[" + b"9" * 10_000 + b"]"
    options = _options()
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # interleaved, so load on the machine falls on every option alike
        for name, check in options.items():
            for event, data in events.items():
                started = time.perf_counter()
                check(data)
                samples.setdefault((name, event), []).append(time.perf_counter() - started)
    print(f"{'option':14}" + "".join(f"{event + ' (ms)':>16}" for event in events) + f"{'deep/long':>12}")
    for name, check in options.items():
        cells = []
        for event in events:
            median = statistics.median(samples[(name, event)])
            base = statistics.median(samples[("json.loads", event)])
            cells.append(f"{median * 1000:8.2f} ({median / base:4.2f}x)")
        verdict = f"{'yes' if _accepts(check, deep) else 'no'}/{'yes' if _accepts(check, long) else 'no'}"
        print(f"{name:14}" + "".join(f"{cell:>16}" for cell in cells) + f"{verdict:>12}")


if __name__ == "__main__":
    main()
