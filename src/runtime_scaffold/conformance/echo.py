"""Echo scenarios: events of many shapes and sizes must come back byte for byte."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from runtime_scaffold.conformance import payloads
from runtime_scaffold.conformance.harness import Harness
from runtime_scaffold.conformance.scenario import Scenario, expect_echo

# Seconds per invocation: enough for 6 MB through a slow runtime on a busy machine.
SMALL_TIMEOUT_S = 10
LARGE_TIMEOUT_S = 30


def _echo(events: Sequence[bytes] | Callable[[], Sequence[bytes]], what: str,
          timeout: int) -> Callable[[Harness], str]:
    def run(harness: Harness) -> str:
        batch = events() if callable(events) else events
        session = harness.open(timeout=timeout)
        for payload in batch:
            expect_echo(session, payload, what)
        total = sum(len(payload) for payload in batch)
        count = f"{len(batch)} events" if len(batch) > 1 else "the event"
        return f"{count} ({total} bytes) came back byte for byte"
    return run


def _scenario(name: str, summary: str, events: Sequence[bytes] | Callable[[], Sequence[bytes]],
              what: str, timeout: int = SMALL_TIMEOUT_S) -> Scenario:
    count = len(events) if not callable(events) else 1
    return Scenario(name, summary, _echo(events, what, timeout), lambda _harness: 10.0 + count * timeout)


SCENARIOS = [
    _scenario("echo-empty-object", "{} comes back as {}", [payloads.EMPTY_OBJECT], "{}"),
    _scenario("echo-shapes", "arrays, scalars, deep nesting, long keys, duplicate keys", payloads.SHAPES,
              "the JSON value"),
    _scenario("echo-unicode", "UTF-8 text (accents, CJK, emoji, RTL, BOM) unchanged", [payloads.UNICODE],
              "the UTF-8 event"),
    _scenario("echo-control-escapes", "JSON escapes (\\u0000, \\n, \\t, ESC) and printf directives unchanged",
              [payloads.CONTROL_ESCAPES], "the escaped control characters"),
    _scenario("echo-quotes", "double and single quotes, backquotes, $(...) unchanged", [payloads.QUOTES],
              "the quotes"),
    _scenario("echo-backslashes", "backslashes, single, double and at the end of strings", [payloads.BACKSLASHES],
              "the backslashes"),
    _scenario("echo-glob", "*, ?, [a-z] and ~ are not expanded to file names", [payloads.GLOB],
              "the glob characters"),
    _scenario("echo-leading-at", "a body starting with @ is sent as is (curl -d @FILE would send a file)",
              [payloads.LEADING_AT], "the '@'-prefixed body"),
    _scenario("echo-leading-dash", "a body starting with - is not taken for an option (echo -n)",
              [payloads.LEADING_DASH], "the '-'-prefixed body"),
    _scenario("echo-whitespace", "newlines, double spaces, tabs, CRLF, leading and trailing whitespace kept",
              [payloads.WHITESPACE], "the whitespace"),
    _scenario("echo-1mb", "a 1 MiB event (too big for an argument list) comes back whole",
              lambda: [payloads.filled(payloads.ONE_MB)], "the 1 MiB event", LARGE_TIMEOUT_S),
    _scenario("echo-6mb", "an event just under Lambda's 6 MB limit comes back whole",
              lambda: [payloads.filled(payloads.UNDER_SIX_MB)], "the 6 MB event", LARGE_TIMEOUT_S),
]
