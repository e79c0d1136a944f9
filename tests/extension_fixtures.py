"""Extensions for the tests, written into a fixture project's layer (runtime/extensions/NAME), and a log collector.

The bash extension reads its settings from $STATE/<name>.conf (STATE, a folder the test gives, is in the
function's environment; every setting is optional):
  EXT_EVENTS              the events it registers for (JSON array), default ["INVOKE","SHUTDOWN"]
  EXT_REGISTER_AFTER      a file to wait for before registering
  EXT_POLL_AFTER          a file to wait for before its first event/next
  EXT_ON_INVOKE_WAIT      a file to wait for after each INVOKE, before asking for the next event
  EXT_EXIT_BEFORE_REGISTER=N  exit with status N instead of registering
  EXT_INIT_ERROR=TYPE     post /extension/init/error with that error type, then exit 1
  EXT_EXIT_ON_INVOKE=N    exit with status N when an INVOKE arrives
  EXT_IGNORE_SHUTDOWN=1   keep polling after SHUTDOWN (it must be killed)
It writes to $STATE/<name>.events every event it gets (one JSON per line), $STATE/<name>.registered the
register answer's headers and body.
"""

from __future__ import annotations

import shlex
import textwrap
import threading
from pathlib import Path

from runtime_scaffold.emulator import InvocationResult, LocalLambda

BASH_EXTENSION = textwrap.dedent('''\
    #!/bin/bash
    set -uo pipefail
    name=$(basename "$0")
    state=${STATE:?}
    [[ -f $state/$name.conf ]] && source "$state/$name.conf"
    base="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
    wait_for() { while [[ ! -e $1 ]]; do sleep 0.01; done; }
    [[ -n ${EXT_REGISTER_AFTER:-} ]] && wait_for "$EXT_REGISTER_AFTER"
    if [[ -n ${EXT_EXIT_BEFORE_REGISTER:-} ]]; then
      echo "[$name] exiting before registering"
      exit "$EXT_EXIT_BEFORE_REGISTER"
    fi
    headers=$(mktemp) body=$(mktemp)  # its own files: two sandboxes may run this extension at once
    curl -sS -D "$headers" -o "$body" -XPOST "$base/register" \\
      -H "Lambda-Extension-Name: $name" -H "Lambda-Extension-Accept-Feature: accountId" \\
      -d "{\\"events\\": ${EXT_EVENTS:-[\\"INVOKE\\",\\"SHUTDOWN\\"]}}"
    id=$(grep -i '^Lambda-Extension-Identifier:' "$headers" | tr -d '\\r' | cut -d' ' -f2)
    mv "$headers" "$state/$name.registered"; mv "$body" "$state/$name.body"
    echo "[$name] registered"
    touch "$state/$name.ok"
    if [[ -n ${EXT_INIT_ERROR:-} ]]; then
      curl -sS -o /dev/null -XPOST "$base/init/error" -H "Lambda-Extension-Identifier: $id" \\
        -H "Lambda-Extension-Function-Error-Type: $EXT_INIT_ERROR" -d '{"errorMessage":"no config","errorType":"x"}'
      exit 1
    fi
    [[ -n ${EXT_POLL_AFTER:-} ]] && wait_for "$EXT_POLL_AFTER"
    touch "$state/$name.polling"
    while true; do
      event=$(curl -sS "$base/event/next" -H "Lambda-Extension-Identifier: $id")
      echo "$event" >> "$state/$name.events"
      case $event in
        *'"SHUTDOWN"'*)
          echo "[$name] SHUTDOWN"
          [[ -n ${EXT_IGNORE_SHUTDOWN:-} ]] && { sleep 60; exit 0; }
          exit 0;;
        *'"INVOKE"'*)
          [[ -n ${EXT_EXIT_ON_INVOKE:-} ]] && exit "$EXT_EXIT_ON_INVOKE"
          [[ -n ${EXT_ON_INVOKE_WAIT:-} ]] && wait_for "$EXT_ON_INVOKE_WAIT";;
      esac
    done
    ''')

# A bootstrap that records what happens to it: it traps SIGTERM into $STATE/runtime.sigterm (then exits 0) and
# answers each event with {"registered": ..., "polled": ...}. "registered" is what the Extensions API answered
# when, as it started, it tried to register under the name of each external extension of $PROBE (a 403 means
# that one had registered already); "polled" names the extensions that had asked for their first event when it
# got this one ($STATE/*.polling). An event holding "sleep" makes it sleep 5 s first, "crash" makes it exit 7.
RECORDING_BOOTSTRAP = textwrap.dedent('''\
    #!/bin/bash
    set -uo pipefail
    state=${STATE:?}
    trap 'touch "$state/runtime.sigterm"; exit 0' TERM
    registered=""
    for probe in ${PROBE:-}; do
      registered+="$probe:$(curl -sS -o /dev/null -w '%{http_code}' -XPOST \\
        "http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/register" -H "Lambda-Extension-Name: $probe" -d '{}') "
    done
    api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      headers=$(mktemp)
      body=$(curl -sS -D "$headers" "$api/invocation/next")
      id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '\\r' | cut -d' ' -f2)
      rm -f "$headers"
      echo "handling $id"
      case $body in *sleep*) sleep 5 & wait $!;; esac
      case $body in *crash*) exit 7;; esac
      polled=$(cd "$state" && ls -- *.polling 2>/dev/null | sort | paste -sd, -)
      curl -sS -o /dev/null -XPOST "$api/invocation/$id/response" \\
        -d "{\\"registered\\": \\"$registered\\", \\"polled\\": \\"$polled\\"}"
    done
    ''')


def add_extension(project: Path, name: str, text: str = BASH_EXTENSION, *, executable: bool = True,
                  state: Path | None = None, settings: dict[str, str] | None = None) -> Path:
    """Put an extension into the project's layer; ``settings`` go to its $STATE/<name>.conf."""
    if settings:
        assert state is not None
        (state / f"{name}.conf").write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items()))
    path = project / "runtime" / "extensions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)
    return path


def invoke_together(local: LocalLambda, payload: bytes, *, count: int = 2) -> list[InvocationResult]:
    """``count`` invocations of ``hello`` sent at the same moment, from threads of their own (so that, with
    ``concurrency=count``, each gets a sandbox of its own)."""
    barrier = threading.Barrier(count)
    results: list[InvocationResult] = []

    def invoke() -> None:
        barrier.wait()
        results.append(local.invoke("hello", payload))

    threads = [threading.Thread(target=invoke) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


class Log:
    """A log sink that keeps what it gets (the sandbox calls it on the emulator's loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")

    def lines(self) -> list[str]:
        return self.text.splitlines()
