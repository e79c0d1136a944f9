"""What the Telemetry API and the Logs API deliver: each event once, as facts, rendered per subscriber in the
shape of the API and schema version it subscribed with.

Telemetry API (``PUT /2022-07-01/telemetry``): schema versions ``2022-07-01``, ``2022-12-13`` (adds ``status`` and
``errorType`` to the report records) and ``2025-01-29`` (adds the function's name and version to
``platform.initStart``, as AWS's Managed Instances emulator writes it). Logs API (``PUT /2020-08-15/logs``):
``2020-08-15`` and ``2021-03-18`` (adds ``platform.runtimeDone``); it has ``platform.end``,
``platform.logsSubscription`` and ``platform.fault`` where the Telemetry API has init events and spans. Field
names and examples: Lambda's "Telemetry API Event schema reference" and "Logs API" pages.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TELEMETRY_SCHEMAS = ("2022-07-01", "2022-12-13", "2025-01-29")
LOGS_SCHEMAS = ("2020-08-15", "2021-03-18")
TRACING_TYPE = "X-Amzn-Trace-Id"
PLATFORM, FUNCTION, EXTENSION = "platform", "function", "extension"


def timestamp(epoch_s: float | None = None) -> str:
    """ISO 8601 with milliseconds, as Lambda stamps records: ``2022-10-12T00:00:15.064Z``."""
    moment = datetime.datetime.fromtimestamp(time.time() if epoch_s is None else epoch_s, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Event:
    """One thing that happened in the environment: a platform event (``kind`` ``platform.start``...), or a log
    line (``kind`` ``function`` / ``extension``, ``facts["line"]``)."""

    kind: str
    facts: Mapping[str, Any]
    time: str = field(default_factory=timestamp)

    @property
    def category(self) -> str:
        return PLATFORM if self.kind.startswith("platform.") else self.kind


def span(name: str, start_epoch_s: float, duration_ms: float) -> dict[str, Any]:
    return {"name": name, "start": timestamp(start_epoch_s), "durationMs": round(duration_ms, 3)}


def _tracing(facts: Mapping[str, Any]) -> dict[str, Any]:
    trace_id: str = facts["trace_id"]
    parent = next((part[len("Parent="):] for part in trace_id.split(";") if part.startswith("Parent=")), None)
    tracing = {"type": TRACING_TYPE, "value": trace_id}
    return {"spanId": parent, **tracing} if parent else tracing


def _status(facts: Mapping[str, Any], record: dict[str, Any], *, with_error: bool) -> None:
    record["status"] = facts["status"]
    if with_error and facts.get("error_type"):
        record["errorType"] = facts["error_type"]


def _telemetry(event: Event, schema: str) -> dict[str, Any] | None:
    facts, newer = event.facts, schema != "2022-07-01"
    kind = event.kind
    record: dict[str, Any]
    if kind == "platform.initStart":
        record = {"initializationType": facts["initialization_type"], "phase": facts["phase"]}
        if schema == "2025-01-29":
            record.update(functionName=facts["function_name"], functionVersion=facts["function_version"])
    elif kind == "platform.initRuntimeDone":
        record = {"initializationType": facts["initialization_type"], "phase": facts["phase"]}
        _status(facts, record, with_error=newer)
    elif kind == "platform.initReport":
        record = {"initializationType": facts["initialization_type"], "phase": facts["phase"],
                  "metrics": {"durationMs": round(facts["duration_ms"], 3)}}
        if newer:
            _status(facts, record, with_error=True)
    elif kind == "platform.start":
        record = {"requestId": facts["request_id"], "version": facts["version"], "tracing": _tracing(facts)}
    elif kind == "platform.runtimeDone":
        record = {"requestId": facts["request_id"]}
        _status(facts, record, with_error=newer)
        record.update(metrics={"durationMs": round(facts["duration_ms"], 3), "producedBytes": facts["produced_bytes"]},
                      spans=facts["spans"], tracing=_tracing(facts))
    elif kind == "platform.report":
        record = {"requestId": facts["request_id"], "metrics": dict(facts["metrics"]), "tracing": _tracing(facts)}
        _status(facts, record, with_error=newer)
    elif kind == "platform.extension":
        record = {"name": facts["name"], "state": facts["state"], "events": list(facts["events"])}
        if facts.get("error_type"):
            record["errorType"] = facts["error_type"]
    elif kind in ("platform.telemetrySubscription", "platform.logsDropped"):
        record = dict(facts)
    else:  # Logs API only (end, fault, logsSubscription)
        return None
    return {"time": event.time, "type": kind, "record": record}


def _logs(event: Event, schema: str) -> dict[str, Any] | None:
    facts, kind = event.facts, event.kind
    record: Any
    if kind == "platform.start":
        record = {"requestId": facts["request_id"], "version": facts["version"]}
    elif kind == "platform.end":
        record = {"requestId": facts["request_id"]}
    elif kind == "platform.report":
        record = {"requestId": facts["request_id"], "metrics": dict(facts["metrics"])}
    elif kind == "platform.runtimeDone":
        if schema != "2021-03-18":
            return None
        status = facts["status"] if facts["status"] in ("success", "timeout") else "failure"
        record = {"requestId": facts["request_id"], "status": status}
    elif kind == "platform.fault":
        record = facts["message"]
    elif kind == "platform.extension":
        record = {"name": facts["name"], "state": facts["state"], "events": list(facts["events"])}
    elif kind in ("platform.logsSubscription", "platform.logsDropped"):
        record = dict(facts)
    else:  # Telemetry API only
        return None
    return {"time": event.time, "type": kind, "record": record}


def render(event: Event, *, api: str, schema: str, json_logs: bool = False) -> bytes | None:
    """The event as one record of ``api`` ("telemetry" or "logs") in ``schema``, as JSON; None when that
    API or schema has no such record."""
    document: dict[str, Any] | None
    if event.category != PLATFORM:
        line: str = event.facts["line"]
        record: Any = line
        if json_logs:  # AWS_LAMBDA_LOG_FORMAT=JSON: a line that is a JSON object is delivered as that object
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                record = parsed
        document = {"time": event.time, "type": event.kind, "record": record}
    elif api == "telemetry":
        document = _telemetry(event, schema)
    else:
        document = _logs(event, schema)
    return None if document is None else json.dumps(document, separators=(",", ":")).encode()
