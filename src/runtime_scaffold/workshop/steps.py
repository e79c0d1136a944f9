"""The steps of the custom-runtime workshop, in the order of the talk: what each is rendered from and what it teaches.

A step is a project rendered from one of the language templates (so its runtime files are byte for byte what
``scaffold new`` writes), then changed by the step's overlay folder, ``cookiecutters/_workshop/steps/<folder>/``:
files there replace or join the rendered ones (``*.j2`` files are rendered with the same context), and ``remove``
names rendered files the step does not have. The overlay's runtime files are links to the one copy of each (the
AWS walkthrough's in ``cookiecutters/_workshop/walkthrough/``), never second copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bug:
    """Why the walkthrough runtime fails one conformance scenario, and the line of its files that causes it."""

    scenario: str
    file: str  # bootstrap, function.sh or conformance.sh: where the cause is
    line: str  # the text of that line (its number is looked up when the guide is written)
    why: str


# What `scaffold conform` reports against the AWS walkthrough runtime (steps 1 and 2), scenario by scenario. The
# workshop's tests check that conform fails exactly these, so the guide can never drift from the tool.
WALKTHROUGH_BUGS: tuple[Bug, ...] = (
    Bug("handler-error", "bootstrap", 'RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")',
        "a handler that fails makes this command substitution fail, and `set -e` ends the whole runtime: nothing "
        "is ever posted to `/invocation/<id>/error`, so the caller waits for the timeout"),
    Bug("after-error", "bootstrap", "set -euo pipefail",
        "for the same reason the next event finds a new process (a cold start) instead of the warm one"),
    Bug("error-500", "bootstrap", "set -euo pipefail",
        "asked to report an error, it never reaches `/error` at all, so it cannot react to the 500 that follows"),
    Bug("init-error", "bootstrap", 'source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"',
        "when the handler file is missing, `source` fails and the script ends: no `/init/error` is posted, so "
        "Lambda can only say that the runtime exited"),
    Bug("echo-leading-at", "bootstrap",
        'curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"',
        "`curl -d @name` sends the contents of the file `name`: a response that starts with `@` is replaced by a "
        "file of the machine (or by nothing)"),
    Bug("echo-whitespace", "function.sh", "echo $RESPONSE",
        "the unquoted `echo $RESPONSE` splits the response into words: newlines, tabs and runs of spaces become "
        "single spaces (and `$(...)` drops trailing newlines)"),
    Bug("echo-glob", "function.sh", "echo $RESPONSE",
        "unquoted, a `*` or `?` in the response is expanded to the names of files in the current folder"),
    Bug("echo-leading-dash", "function.sh", "echo $RESPONSE",
        "unquoted, a response that starts with `-n` or `-e` is taken by `echo` as its own options"),
    Bug("echo-1mb", "bootstrap", 'RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")',
        "the event is passed as a command-line argument, and Linux refuses one argument over 128 KiB: "
        "`Argument list too long`, and the runtime dies"),
    Bug("echo-6mb", "bootstrap",
        'curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"',
        "the response goes to curl as an argument too: the same limit, for anything up to Lambda's 6 MB"),
    Bug("tmp-clean", "bootstrap", 'HEADERS="$(mktemp)"',
        "one temporary file per event, never removed: on Lambda `/tmp` is finite and shared by every event of the "
        "environment"),
    Bug("trace-id", "bootstrap",
        "REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)",
        "only the request id is read from the event's headers: `Lambda-Runtime-Trace-Id` never becomes "
        "`_X_AMZN_TRACE_ID`, so X-Ray and the SDKs lose the trace"),
    Bug("context", "bootstrap",
        "REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)",
        "nor do the deadline and the function's ARN reach the handler: it cannot tell how much time it has left"),
    Bug("invocation-id-echo", "bootstrap",
        'curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"',
        "the response goes back without the `Lambda-Runtime-Invocation-Id` header `/next` gave: Lambda cannot tell "
        "it from the late answer of an attempt that timed out and was retried"),
    Bug("tenant-id", "bootstrap",
        "REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)",
        "nor does `Lambda-Runtime-Aws-Tenant-Id`: a handler of a tenant-isolated function cannot tell its tenant"),
    Bug("sigterm-on-shutdown", "bootstrap",
        'EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")',
        "there is no `trap` for SIGTERM: when the environment ends, bash dies of it at once and leaves this curl, "
        "still waiting for the next event, running until Lambda kills what is left"),
    Bug("response-413", "function.sh", "echo $RESPONSE",
        "the 7 MB answer is collapsed by `echo` to a few bytes, so the runtime never meets Lambda's 6 MB limit it "
        "should handle (and `curl` without `-f` would ignore the 413 anyway)"),
)


@dataclass(frozen=True)
class Step:
    number: int
    folder: str  # also the overlay's folder name under cookiecutters/_workshop/steps/
    title: str
    language: str  # the template the step is rendered from
    minutes: int  # the facilitator's time budget
    conform_passes: bool  # False: `scaffold conform` fails exactly WALKTHROUGH_BUGS
    description: str  # the project's `description` (serverless.yml's first line)
    remove: tuple[str, ...] = ()  # rendered files or folders the step does not have
    needs: tuple[str, ...] = field(default=())  # programs a participant's machine needs for this step
    # The language's own README stays, as RUNTIME.md, where the step's project is the language's project as is.
    keep_runtime_readme: bool = False
    web: bool = False  # the template's `web` function and page stay (the other steps are about the runtime alone)
    solution: bool = False  # the overlay has a solution/ folder for the exercise (kept out of the package)

    @property
    def name(self) -> str:
        return f"{self.number:02d}-{self.folder}"


STEPS: tuple[Step, ...] = (
    Step(1, "walkthrough", "The AWS walkthrough as published", "bash", 25, conform_passes=False,
         description="Workshop step 1: the AWS walkthrough's bash runtime as published, in the function package",
         remove=("runtime",), needs=("bash", "curl")),
    Step(2, "layer", "The runtime moved into a layer", "bash", 15, conform_passes=False,
         description="Workshop step 2: the walkthrough's runtime moved into a Lambda layer", needs=("bash", "curl")),
    Step(3, "bash-runtime", "A correct bash runtime", "bash", 25, conform_passes=True,
         description="Workshop step 3: a correct bash runtime in a Lambda layer", needs=("bash",),
         keep_runtime_readme=True),
    Step(4, "php", "A second language in the same layer pattern: PHP", "php", 20, conform_passes=True,
         description="Workshop step 4: a PHP runtime in a Lambda layer", needs=("php",), keep_runtime_readme=True),
    Step(5, "web", "A local web server: the PHP function answering a browser", "php", 20, conform_passes=True,
         description="Workshop step 5: a PHP function behind an HTTP API, served locally to a browser",
         needs=("php", "a web browser"), keep_runtime_readme=True, web=True),
    Step(6, "going-further", "Going further: a third language (Node.js) and response streaming", "node", 25,
         conform_passes=True,
         description="Workshop step 6: a Node.js runtime in a layer built from the npm registry, streaming",
         needs=("node (18 or newer)",), keep_runtime_readme=True, solution=True),
)


# Every language the steps use, in the order they come: the default of `scaffold workshop --lang`.
DEFAULT_LANGUAGES: tuple[str, ...] = tuple(dict.fromkeys(step.language for step in STEPS))


def parse_steps(text: str) -> list[int]:
    """``"1-3,5"`` -> [1, 2, 3, 5]; ValueError with a reason for anything else."""
    numbers: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a step number or a range like 1-3")
        first, last = int(low), int(high) if dash else int(low)
        if first > last:
            raise ValueError(f"{part!r} runs backwards")
        numbers.update(range(first, last + 1))
    known = {step.number for step in STEPS}
    unknown = sorted(numbers - known)
    if unknown:
        raise ValueError(f"no step {', '.join(map(str, unknown))}: the steps are {min(known)}-{max(known)}")
    return sorted(numbers)
