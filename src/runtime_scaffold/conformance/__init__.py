"""``scaffold conform``: a runtime's bootstrap checked against the Runtime API contract (docs/runtime-api.md §7).

Each scenario starts the project's real bootstrap in a fresh local Lambda (the emulator), with the project's
conformance handler as _HANDLER, and checks what reaches the Runtime API: echoed events byte for byte, /error and
/init/error posts, the context a handler sees, behaviour under injected faults (a late /next, 500s, a 413), and
files left in TMPDIR.
"""

from runtime_scaffold.conformance.handler import find_conformance_handler
from runtime_scaffold.conformance.runner import (
    DEFAULT_TMP_INVOCATIONS,
    EXTENSION_SCENARIOS,
    SCENARIOS,
    ConformanceReport,
    ScenarioResult,
    check_extension,
    conformance_function,
    run_conformance,
    select_scenarios,
)
from runtime_scaffold.conformance.scenario import Scenario

__all__ = [
    "DEFAULT_TMP_INVOCATIONS",
    "EXTENSION_SCENARIOS",
    "SCENARIOS",
    "ConformanceReport",
    "Scenario",
    "ScenarioResult",
    "check_extension",
    "conformance_function",
    "find_conformance_handler",
    "run_conformance",
    "select_scenarios",
]
