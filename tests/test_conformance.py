"""`scaffold conform`: both example runtimes pass every scenario, and the suite catches each known bug of the AWS
walkthrough runtime (docs/baseline.md) and of a Python runtime with one deliberate bug at a time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runtime_scaffold.conformance import (
    SCENARIOS,
    ConformanceReport,
    Scenario,
    find_conformance_handler,
    run_conformance,
)
from runtime_scaffold.conformance.handler import declared_features
from runtime_scaffold.conformance.harness import Harness, LogTail, Session, clip
from runtime_scaffold.conformance.runner import run_scenario
from runtime_scaffold.emulator import InvocationResult
from runtime_scaffold.project import load_project

from .conftest import NPM_LANGUAGES, REPO_ROOT, interpreter_environment, require_tool

SUPPORT = REPO_ROOT / "tests" / "support"
WALKTHROUGH = REPO_ROOT / "cookiecutters" / "_workshop" / "walkthrough"
PYTHON_RUNTIME = SUPPORT / "python-runtime"
# The walkthrough costs ~16 ms an event and leaks one file per event: a few dozen show the leak.
WALKTHROUGH_TMP_INVOCATIONS = 30


def conform(*arguments: str, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime_scaffold", "conform", *arguments],
                          capture_output=True, text=True, timeout=timeout, env=env)


def verdicts(report: ConformanceReport) -> dict[str, tuple[bool, str]]:
    return {result.name: (result.passed, result.reason) for result in report.results}


def failing(report: ConformanceReport) -> set[str]:
    return {result.name for result in report.failed}


# -- the examples ---------------------------------------------------------------------------------------


def _assert_all_pass(result: subprocess.CompletedProcess[str], *, features: frozenset[str]) -> None:
    """Every scenario passed, except those of a feature the runtime does not declare, which are skipped."""
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    scenario_lines = [line for line in lines if line.startswith(("PASS ", "FAIL ", "SKIP "))]
    assert [line.split()[1].rstrip(":") for line in scenario_lines] == [scenario.name for scenario in SCENARIOS]
    expected = ["SKIP" if scenario.feature not in (None, *features) else "PASS" for scenario in SCENARIOS]
    assert [line.split()[0] for line in scenario_lines] == expected, result.stdout
    assert lines[0].startswith("Conformance of ") and "_HANDLER=" in lines[0]
    skips = expected.count("SKIP")
    assert f"{expected.count('PASS')} scenarios passed, 0 failed{f', {skips} skipped' if skips else ''} in " \
        in lines[-1]


def _features(folder: Path) -> frozenset[str]:
    project = load_project(folder)
    return declared_features(project, find_conformance_handler(project, next(iter(project.functions.values()))))


def test_bash_example_passes_every_scenario() -> None:
    folder = REPO_ROOT / "examples" / "bash"
    _assert_all_pass(conform("--project", str(folder)), features=_features(folder))


@pytest.mark.slow
def test_php_example_passes_every_scenario() -> None:
    require_tool("php")  # the emulator runs #!/opt/bin/php with the host's php
    folder = REPO_ROOT / "examples" / "php"
    _assert_all_pass(conform("--project", str(folder)), features=_features(folder))


@pytest.mark.slow
@pytest.mark.parametrize("language", NPM_LANGUAGES)
def test_javascript_example_passes_every_scenario(language: str) -> None:
    # Before runtime/build-layer.sh: the emulator runs `exec /opt/bin/<language>` with the pinned binary on PATH.
    example = REPO_ROOT / "examples" / language
    _assert_all_pass(conform("--project", str(example), env=interpreter_environment(language)),
                     features=_features(example))


# -- the AWS walkthrough runtime ---------------------------------------------------------------------------


def walkthrough_project(folder: Path) -> Path:
    """The walkthrough's function as a project: its bootstrap and function.sh as published and a conformance handler
    in its style (the one copy, in cookiecutters/_workshop/walkthrough/, which benchmarks/bootstraps.py measures and
    `scaffold workshop` step 1 teaches) beside a serverless.yml for it."""
    project = folder / "walkthrough"
    shutil.copytree(SUPPORT / "walkthrough", project)
    for name in ("bootstrap", "function.sh", "conformance.sh"):
        shutil.copy2(WALKTHROUGH / name, project / name)
    return project


@pytest.fixture(scope="module")
def walkthrough_report(tmp_path_factory: pytest.TempPathFactory) -> ConformanceReport:
    """The whole suite against the walkthrough as published (`#!/bin/sh`, which the emulator runs with bash, as
    Amazon Linux 2023 does: its /bin/sh is bash)."""
    require_tool("curl")
    project = walkthrough_project(tmp_path_factory.mktemp("walkthrough"))
    assert (project / "bootstrap").read_bytes().startswith(b"#!/bin/sh\n")
    return run_conformance(load_project(project), tmp_invocations=WALKTHROUGH_TMP_INVOCATIONS)


@pytest.mark.parametrize(("scenario", "evidence"), [
    # It never posts /error: under `set -e` a failing handler kills it, the invocation is left unanswered.
    ("handler-error", "none came"),
    ("after-error", "replaced"),
    ("error-500", "did not"),
    # It never posts /init/error: `source` of a missing file just ends it.
    ("init-error", "No such file or directory"),
    # `curl -d "$RESPONSE"` with a response starting with @ sends a file instead (/etc/hostname, or nothing).
    ("echo-leading-at", "expected the '@'-prefixed body"),
    # The handler's unquoted `echo $RESPONSE` collapses newlines and runs of spaces...
    ("echo-whitespace", "first difference at byte 0"),
    # ...expands * to the names of the files beside it...
    ("echo-glob", "bootstrap"),
    # ...and takes a leading -n/-e for options.
    ("echo-leading-dash", "first difference at byte 0"),
    # The event and the response are passed as arguments: past 128 KiB, curl cannot even be started.
    ("echo-1mb", "Argument list too long"),
    ("echo-6mb", "Argument list too long"),
    # One mktemp per invocation, never removed (and one more when its next loop's mktemp, before /next, wins the
    # race with the close: 30 or 31 files, depending on the machine's load).
    ("tmp-clean", f"file(s) left in TMPDIR after {WALKTHROUGH_TMP_INVOCATIONS} invocations"),
    # It never sets _X_AMZN_TRACE_ID nor passes the deadline, request id or ARN to the handler.
    ("trace-id", "the handler saw ''"),
    ("context", "deadlineMs ''"),
    # The collapsed 7 MB response is 3 bytes long: no 413 to handle.
    ("response-413", "answered 202"),
    # `curl ... -d "$RESPONSE"` sends no Lambda-Runtime-Invocation-Id, nor does the handler learn its tenant.
    ("invocation-id-echo", "it had none"),
    ("tenant-id", "it saw ''"),
    # No trap: bash dies of SIGTERM and leaves the curl that waits for the next event.
    ("sigterm-on-shutdown", "left 1 process(es) of its own running"),
])
def test_walkthrough_bug_is_caught(walkthrough_report: ConformanceReport, scenario: str, evidence: str) -> None:
    passed, reason = verdicts(walkthrough_report)[scenario]
    assert not passed
    assert evidence in reason, reason


def test_walkthrough_passes_what_it_gets_right(walkthrough_report: ConformanceReport) -> None:
    """The suite is not failing it wholesale: plain JSON echoes, a warm loop, a curl without a timeout and a loop
    that never reads the optional headers pass; the streaming and concurrency scenarios, which it does not declare,
    are skipped."""
    assert failing(walkthrough_report).isdisjoint({
        "echo-empty-object", "echo-unicode", "echo-quotes", "echo-backslashes", "warm-process", "next-delay",
        "missing-optional-headers",
    }), verdicts(walkthrough_report)
    assert {result.name for result in walkthrough_report.skipped} == {
        "stream-chunks", "stream-error-trailer", "stream-http-prelude", "concurrent-next", "timeout-410"}


def test_a_bin_sh_bootstrap_runs_with_bash_as_on_amazon_linux(tmp_path: Path) -> None:
    """On Amazon Linux 2023 /bin/sh is bash: the walkthrough's `set -o pipefail` works there, so it must work here,
    even where /bin/sh is dash (Debian, Ubuntu), which would exit at once with `Illegal option -o pipefail`."""
    report = run_conformance(load_project(walkthrough_project(tmp_path)), only=["echo-empty-object"])
    passed, reason = verdicts(report)["echo-empty-object"]
    assert passed, reason


# -- one bug at a time -------------------------------------------------------------------------------------


def test_a_correct_python_runtime_passes_every_scenario() -> None:
    _assert_all_pass(conform("correct", "--project", str(PYTHON_RUNTIME), "--tmp-invocations", "200"),
                     features=frozenset({"streaming", "concurrency"}))


@pytest.mark.parametrize(("flaw", "caught_by"), [
    ("no-error-type", {"handler-error", "init-error"}),
    ("next-timeout", {"next-delay", "concurrent-next", "timeout-410"}),  # idle workers wait on /next too
    ("ignores-500", {"next-500", "response-500", "error-500"}),
    ("error-after-413", {"response-413"}),
    ("leaks-tmp", {"tmp-clean"}),
    ("stream-buffered", {"stream-chunks"}),
    ("no-trailers", {"stream-error-trailer"}),
    ("error-after-stream", {"stream-error-trailer"}),
    ("drops-nul", {"stream-http-prelude"}),
    ("no-invocation-id", {"invocation-id-echo"}),
    ("no-tenant", {"tenant-id"}),
    ("needs-trace-id", {"missing-optional-headers"}),
    ("ignores-sigterm", {"sigterm-on-shutdown"}),
    ("serial", {"concurrent-next"}),
    ("plain-logs", {"concurrent-next"}),
    ("error-after-410", {"timeout-410"}),
])
def test_each_deliberate_bug_fails_its_scenarios(flaw: str, caught_by: set[str]) -> None:
    bystanders = [name for name in ("echo-unicode", "handler-error", "context", "invocation-id-echo", "stream-*")
                  if name not in caught_by]  # unaffected ones stay green
    report = run_conformance(load_project(PYTHON_RUNTIME), function=flaw, only=[*caught_by, *bystanders],
                             tmp_invocations=20)
    assert failing(report) == caught_by and not report.skipped, verdicts(report)


# -- the command and its parts -----------------------------------------------------------------------------


def test_a_failure_prints_its_reason_and_exits_6(tmp_path: Path) -> None:
    result = conform("leaks-tmp", "--project", str(PYTHON_RUNTIME), "--only", "tmp-*", "--only", "echo-empty-object",
                     "--tmp-invocations", "5")
    assert result.returncode == 6, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("PASS echo-empty-object  (")
    assert lines[2].startswith("FAIL tmp-clean  (") and "5 file(s) left in TMPDIR after 5 invocations" in lines[2]
    assert "1 scenario passed, 1 failed" in lines[3]
    assert "1 of 2 scenarios failed: tmp-clean" in result.stderr


def test_unknown_scenario_and_missing_handler_are_usage_errors(tmp_path: Path) -> None:
    result = conform("--project", str(PYTHON_RUNTIME), "correct", "--only", "echo-everything")
    assert result.returncode == 2 and "no scenario named 'echo-everything'" in result.stderr
    project = walkthrough_project(tmp_path)
    (project / "conformance.sh").unlink()
    result = conform("--project", str(project))
    assert result.returncode == 4 and "no conformance handler" in result.stderr and "--handler" in result.stderr


def test_help_lists_every_scenario_and_the_handler_protocol() -> None:
    result = conform("--help")
    assert result.returncode == 0
    for scenario in SCENARIOS:
        assert f"  {scenario.name}  " in result.stdout
    assert '{"conform":"error"' in result.stdout and "Conformance handler" in result.stdout


@pytest.mark.parametrize(("folder", "handler"), [
    ("examples/bash", "conformance.handler"),
    ("examples/php", "src/conformance.conformance"),
    ("examples/bun", "src/conformance.handler"),
    ("examples/deno", "src/conformance.handler"),
    ("examples/node", "src/conformance.handler"),
    ("tests/support/python-runtime", "conformance.handler"),
])
def test_the_conformance_handler_is_found(folder: str, handler: str) -> None:
    project = load_project(REPO_ROOT / folder)
    assert find_conformance_handler(project, next(iter(project.functions.values()))) == handler


def test_a_runtime_that_does_not_declare_a_feature_gets_its_scenarios_skipped(tmp_path: Path) -> None:
    """Skipped, not passed: the python runtime streams, but a copy whose handler file does not say so is not
    checked for it, and the report says why."""
    copy = tmp_path / "python-runtime"
    shutil.copytree(PYTHON_RUNTIME, copy)
    handler = copy / "conformance.py"
    handler.write_text(handler.read_text().replace("conformance features: streaming", "no features"))
    result = conform("correct", "--project", str(copy), "--only", "stream-*", "--only", "echo-unicode")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[2] == ("SKIP stream-chunks: the conformance handler does not declare 'streaming' "
                        "(a 'conformance features: streaming' line)")
    assert lines[-1].startswith("1 scenario passed, 0 failed, 3 skipped in ")
    report = run_conformance(load_project(copy), function="correct", only=["stream-chunks"])
    assert report.passed and [r.skipped for r in report.results] == [True] and not report.failed


def test_a_misspelt_feature_is_an_error_not_a_skip(tmp_path: Path) -> None:
    copy = tmp_path / "python-runtime"
    shutil.copytree(PYTHON_RUNTIME, copy)
    handler = copy / "conformance.py"
    handler.write_text(handler.read_text().replace("conformance features: streaming",
                                                   "conformance features: streamin, concurrency"))
    result = conform("correct", "--project", str(copy), "--only", "stream-*")
    assert result.returncode == 4
    assert "unknown conformance feature 'streamin'" in result.stderr
    assert "known: streaming, concurrency" in result.stderr
    assert _features(PYTHON_RUNTIME) == {"streaming", "concurrency"}


def test_an_undocumented_conformance_handler_is_its_first_function(tmp_path: Path) -> None:
    project_root = walkthrough_project(tmp_path)
    (project_root / "conformance.sh").write_text("# no handler string here\nmy_echo() {\n  cat\n}\n")
    project = load_project(project_root)
    assert find_conformance_handler(project, project.function()) == "conformance.my_echo"


def test_a_hung_scenario_fails_at_its_deadline_and_its_bootstrap_is_killed() -> None:
    project = load_project(PYTHON_RUNTIME)
    harness = Harness(project, project.function("correct"), "conformance.handler", tmp_invocations=1)
    pids: list[int] = []

    def hang(harness: Harness) -> str:
        session = harness.open(timeout=60)
        session.invoke(b'{"conform":"context"}')
        pids.extend(session.pids)
        session.invoke(b'{"conform":"sleep","ms":60000}')
        return "not reached"

    result = run_scenario(Scenario("hang", "sleeps past its deadline", hang, lambda _harness: 5.0), harness)
    assert not result.passed and "no verdict within 5 s" in result.reason
    assert result.duration_ms < 30_000
    assert pids and not Path(f"/proc/{pids[0]}").exists()


def test_the_resolved_configuration_can_be_given_as_for_the_other_commands(tmp_path: Path) -> None:
    """--config FILE (the Serverless plugin's resolved configuration) replaces serverless.yml, as for invoke."""
    resolved = tmp_path / "resolved.json"
    config = yaml.safe_load((PYTHON_RUNTIME / "serverless.yml").read_text())
    config["functions"] = {"renamed": config["functions"]["correct"]}
    resolved.write_text(json.dumps(config))
    result = conform("renamed", "--project", str(PYTHON_RUNTIME), "--config", str(resolved), "--only", "echo-unicode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "function renamed" in result.stdout


def test_a_reason_is_never_cut_mid_word() -> None:
    assert clip("the runtime answered with a message", 19) == "the runtime ..."
    assert clip("Traceback ... ValueError: the point is here", 22, keep_end=True) == "... the point is here"
    assert clip("x" * 5000, 40) == "..."  # one word longer than the room: left out whole, not cut
    assert clip("fits  as\tit is", 40) == "fits as it is"
    logs = LogTail(None)
    logs(("word " * 60 + "ending\n").encode())
    message = "alpha " * 40 + "omega"
    session = Session(None, None, None, logs, None)  # type: ignore[arg-type]
    reason = session.describe(InvocationResult("r", json.dumps({"errorMessage": message}).encode(), "Failed"))
    # Before: "Failed (alpha alpha ... alp); its log ends: ...rd word word ending", cut inside words.
    assert reason.startswith("Failed (alpha ") and " ...); its log ends: ... word " in reason
    assert reason.endswith(" word ending")
    assert set(reason.split()) <= {"Failed", "(alpha", "alpha", "...);", "its", "log", "ends:", "...", "word",
                                   "ending"}  # whole words only
