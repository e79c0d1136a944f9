"""`scaffold workshop`: every step is a real project that checks, packages and runs; the guide says what conform
really reports; CHECK.sh tells a broken step from a working one; step 3's runtime is `scaffold new`'s; step 5's page
opens in a real browser; step 6's solution really streams."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.conformance import run_conformance
from runtime_scaffold.project import load_project
from runtime_scaffold.workshop import STEPS, WALKTHROUGH_BUGS, build_workshop, parse_steps

from .conftest import interpreter_environment, render, require_tool, scaffold_bin, serverless_package
from .test_packaging import framework_route_dependency


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workshop(tmp_path_factory.mktemp("ws") / "workshop").root


@pytest.fixture
def node_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 6 runs its runtime with the `node` on PATH until its layer is built: the pinned one, as on CI."""
    monkeypatch.setenv("PATH", interpreter_environment("node")["PATH"])


def step_dir(workshop: Path, number: int) -> Path:
    (step,) = (s for s in STEPS if s.number == number)
    return workshop / step.name


def test_the_folder_holds_every_step_and_the_facilitators_files(workshop: Path) -> None:
    assert sorted(p.name for p in workshop.iterdir()) == sorted(
        [step.name for step in STEPS] + ["CHECK.sh", "FACILITATOR.md", "README.md", "TIME.sh"])
    for step in STEPS:
        guide = (workshop / step.name / "README.md").read_text()
        for section in ("## Goal", "## What changed", "## Run it", "## Exercise"):
            assert section in guide, (step.name, section)
        assert (workshop / step.name / "CHANGES.md").is_file()
    facilitator = (workshop / "FACILITATOR.md").read_text()
    assert "## Timings" in facilitator and "## Common mistakes" in facilitator and "bash 4" in facilitator
    assert os.access(workshop / "CHECK.sh", os.X_OK) and os.access(workshop / "TIME.sh", os.X_OK)
    for script in ("CHECK.sh", "TIME.sh"):
        subprocess.run([require_tool("shellcheck"), str(workshop / script)], check=True)


def test_step_three_runtime_is_byte_for_byte_what_scaffold_new_writes(workshop: Path, tmp_path: Path) -> None:
    fresh = render("bash", tmp_path)
    for name in ("runtime/bootstrap", "function.sh", "conformance.sh"):
        assert (step_dir(workshop, 3) / name).read_bytes() == (fresh / name).read_bytes(), name
    php = render("php", tmp_path)
    for number in (4, 5):
        assert (step_dir(workshop, number) / "runtime/bootstrap").read_bytes() == \
            (php / "runtime/bootstrap").read_bytes()
    # Step 5's handler is the template's (its page too, titled with the step's name); step 4 has neither.
    assert (step_dir(workshop, 5) / "src/web.php").read_bytes() == (php / "src/web.php").read_bytes()
    assert "<title>step05-web</title>" in (step_dir(workshop, 5) / "web/page.html").read_text()
    assert not (step_dir(workshop, 4) / "src/web.php").exists() and not (step_dir(workshop, 4) / "web").exists()
    node = render("node", tmp_path)
    for name in ("runtime/bootstrap", "runtime/build-layer.sh", "runtime/lambda-runtime/index.mjs", "src/hello.mjs"):
        assert (step_dir(workshop, 6) / name).read_bytes() == (node / name).read_bytes(), name


def test_the_walkthrough_steps_ship_the_one_copy_of_its_runtime(workshop: Path) -> None:
    one_copy = Path(__file__).resolve().parent.parent / "cookiecutters" / "_workshop" / "walkthrough"
    assert (step_dir(workshop, 1) / "bootstrap").read_bytes() == (one_copy / "bootstrap").read_bytes()
    assert (step_dir(workshop, 2) / "runtime" / "bootstrap").read_bytes() == (one_copy / "bootstrap").read_bytes()
    assert not (step_dir(workshop, 1) / "runtime").exists()


def test_changes_show_the_move_into_a_layer(workshop: Path) -> None:
    changes = (step_dir(workshop, 2) / "CHANGES.md").read_text()
    assert "`runtime/bootstrap`: moved from `bootstrap`, unchanged" in changes
    assert "+layers:" in changes and "Ref:" in changes


@pytest.mark.usefixtures("node_on_path")
@pytest.mark.parametrize("number", [step.number for step in STEPS])
def test_each_step_checks_clean_before_package(workshop: Path, number: int) -> None:
    result = subprocess.run([scaffold_bin(), "check", "--before", "package", "--project",
                             str(step_dir(workshop, number))], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("number", [step.number for step in STEPS])
def test_each_step_packages_with_the_serverless_framework(workshop: Path, tmp_path: Path, number: int) -> None:
    import shutil

    project = tmp_path / "step"
    shutil.copytree(step_dir(workshop, number), project, symlinks=True)
    build = serverless_package(project)
    with zipfile.ZipFile(build / f"{load_project(project).service}.zip") as function_zip:
        names = function_zip.namelist()
    assert not {"README.md", "CHANGES.md", "RUNTIME.md"} & set(names), names
    assert not [name for name in names if name.startswith("solution/")], names  # step 6's answer stays home
    lint = subprocess.run([require_tool("cfn-lint"), "--format", "json",
                           str(build / "cloudformation-template-update-stack.json")], capture_output=True, text=True)
    assert lint.returncode in (0, 4), lint.stdout + lint.stderr  # 4: warnings only
    assert [finding for finding in json.loads(lint.stdout or "[]") if not framework_route_dependency(finding)] == []
    template = json.loads((build / "cloudformation-template-update-stack.json").read_text())
    layers = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::LayerVersion"]
    assert bool(layers) == (number != 1), layers  # step 1 has no layer; every later step has one


def conform_verdicts(project: Path) -> dict[str, bool]:
    """Pass or fail per scenario; the skipped ones (a feature the step's runtime does not declare) are neither."""
    report = run_conformance(load_project(project), tmp_invocations=50)
    return {result.name: result.passed for result in report.results if not result.skipped}


@pytest.mark.slow
@pytest.mark.usefixtures("node_on_path")
@pytest.mark.parametrize("number", [step.number for step in STEPS])
def test_conform_gives_the_verdicts_the_guide_promises(workshop: Path, number: int) -> None:
    (step,) = (s for s in STEPS if s.number == number)
    verdicts = conform_verdicts(step_dir(workshop, number))
    failed = {name for name, passed in verdicts.items() if not passed}
    if step.conform_passes:
        assert not failed, failed
    else:
        assert failed == {bug.scenario for bug in WALKTHROUGH_BUGS}
        guide = (step_dir(workshop, 1) / "README.md").read_text()
        for bug in WALKTHROUGH_BUGS:  # the guide's table names each scenario with the line that causes it
            row = next(line for line in guide.splitlines() if line.startswith(f"| `{bug.scenario}` |"))
            number_in_guide = int(re.search(r"line (\d+)", row).group(1))  # type: ignore[union-attr]
            source = (step_dir(workshop, 1) / bug.file).read_text().splitlines()
            assert source[number_in_guide - 1].strip() == bug.line.strip(), row


def check_sh(workshop: Path, *steps: str) -> subprocess.CompletedProcess[str]:
    env = {**interpreter_environment("node"), "SCAFFOLD_BIN": scaffold_bin()}
    return subprocess.run(["bash", str(workshop / "CHECK.sh"), *steps], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.mark.slow
def test_check_sh_passes_every_step_and_reports_a_broken_one(tmp_path: Path) -> None:
    workshop = build_workshop(tmp_path / "ws").root
    result = check_sh(workshop)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(STEPS) and all(": ok: " in line for line in lines), lines

    (step_dir(workshop, 3) / "runtime" / "bootstrap").chmod(0o644)  # the classic: the bit lost on the way
    (step_dir(workshop, 4) / "src" / "hello.php").write_text("<?php\nfunction nope() {}\n")  # handler gone
    page = step_dir(workshop, 5) / "src" / "web.php"  # the page's handler answers 500
    page.write_text(page.read_text().replace("'statusCode' => 200", "'statusCode' => 500"))
    result = check_sh(workshop)
    assert result.returncode == 1
    verdicts = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert verdicts["step 1 (01-walkthrough)"].startswith("ok")
    assert verdicts["step 3 (03-bash-runtime)"].startswith("FAILED: scaffold check")
    assert verdicts["step 4 (04-php)"].startswith("FAILED: scaffold invoke")
    assert verdicts["step 5 (05-web)"].startswith("FAILED: the web page did not answer 200"), verdicts
    assert verdicts["step 6 (06-going-further)"].startswith("ok: check clean, invoke answers")
    one = check_sh(workshop, "3")
    assert one.returncode == 1 and len(one.stdout.splitlines()) == 1
    assert check_sh(workshop, "1").returncode == 0
    unknown = check_sh(workshop, "9")
    assert unknown.returncode == 2 and "no step named 9" in unknown.stderr


def test_cli_writes_a_subset_and_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["workshop", str(tmp_path / "ws"), "--lang", "bash", "--steps", "1-2",
                                 "--no-input"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ws").iterdir() if p.is_dir()) == ["01-walkthrough", "02-layer"]
    again = runner.invoke(cli, ["workshop", str(tmp_path / "ws"), "--no-input"])
    assert again.exit_code != 0 and "already exists" in again.output and "Traceback" not in again.output
    for arguments, message in [
        (["--steps", "7"], "no step 7"), (["--lang", "bash,php", "--steps", "6"], "no step matches"),
        (["--steps", "3-1"], "runs backwards"), (["--steps", "x"], "not a step"),
        (["--lang", "cobol"], "no 'cobol' steps"), (["--lang", "php", "--steps", "1"], "no step matches"),
    ]:
        out = tmp_path / "refused"
        result = runner.invoke(cli, ["workshop", str(out), "--no-input", *arguments])
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".scaffold-workshop-")]


def test_prompts_ask_for_the_architecture(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["workshop", str(tmp_path / "ws"), "--steps", "3"], input="arm64\neu-west-1\n")
    assert result.exit_code == 0, result.output
    config = (tmp_path / "ws" / "03-bash-runtime" / "serverless.yml").read_text()
    assert "architecture: arm64" in config and "region: eu-west-1" in config


def test_parse_steps() -> None:
    assert parse_steps("1-3,4") == [1, 2, 3, 4]
    assert parse_steps(" 2 ") == [2]


@pytest.mark.slow
def test_time_sh_measures_two_steps(workshop: Path) -> None:
    require_tool("curl")
    env = {**os.environ, "SCAFFOLD_BIN": scaffold_bin(), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(workshop / "TIME.sh"), "1", "3", "--events", "20"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {"01-walkthrough", "03-bash-runtime"}
    for values in rows.values():
        assert float(values[0]) > 0 and values[1] != "?", rows


@pytest.mark.slow
def test_step_five_page_opens_in_a_browser_and_greets(tmp_path: Path) -> None:
    """What step 5's guide promises: `scaffold serve` shows the page in a real browser, and the form's post greets."""
    from .browser import Chromium
    from .test_frontdoor_watch import Serve

    require_tool("php")
    project = build_workshop(tmp_path / "ws", steps=[5]).root / "05-web"
    guide = (project / "README.md").read_text()
    serve = Serve(project, tmp_path / "serve.err")
    try:
        for route in ("GET     http://127.0.0.1:", "POST    http://127.0.0.1:"):  # as the guide shows them
            assert route in serve.banner and route in guide, serve.banner
        with Chromium(tmp_path / "profile") as browser:
            page = browser.new_page()
            page.goto(f"{serve.base}/")
            assert page.evaluate("document.title") == "step05-web"
            page.evaluate("document.querySelector('#name').value = 'Ada'")
            page.navigating("document.querySelector('button[type=submit]').click()")
            assert page.text(".greeting") == "Hello, Ada!"
    finally:
        serve.close()


@pytest.mark.slow
@pytest.mark.usefixtures("node_on_path")
def test_step_six_solution_streams_and_the_exercise_starts_buffered(workshop: Path, tmp_path: Path) -> None:
    """The solution of step 6 answers `scaffold invoke --stream` with the greeting's pieces, and fails after the
    first one only through the stream (the trailers); the step itself starts with the buffered handler."""
    import shutil

    project = Path(shutil.copytree(step_dir(workshop, 6), tmp_path / "step6", symlinks=True))

    def invoke(*arguments: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([scaffold_bin(), "invoke", "hello", "--project", str(project), *arguments],
                              capture_output=True, timeout=120, stdin=subprocess.DEVNULL)

    before = invoke("--stream", "--path", str(project / "events" / "hello.json"))
    assert before.returncode == 0 and json.loads(before.stdout) == {"message": "Hello, World!"}, before
    shutil.copyfile(project / "solution" / "src" / "hello.mjs", project / "src" / "hello.mjs")
    streamed = invoke("--stream", "--path", str(project / "events" / "hello.json"))
    assert streamed.returncode == 0, streamed.stderr.decode()
    assert streamed.stdout == b"Hello,\nWorld!\n"
    buffered = invoke("--data", '{"name": "Ada"}')  # a plain Invoke: the same bytes, at once
    assert buffered.returncode == 0 and buffered.stdout == b"Hello,\nAda!\n", buffered
    refused = invoke("--stream", "--data", "{}")  # fails before the first write: an ordinary function error
    assert refused.returncode == 1 and b"TypeError" in refused.stderr, refused
