"""`scaffold new` and `scaffold list` as a user runs them: outputs, modes, and every refusal leaving nothing behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jinja2 import Environment, FileSystemLoader

from runtime_scaffold import __version__, templates
from runtime_scaffold.cli import cli
from runtime_scaffold.errors import ExitCode
from runtime_scaffold.naming import layer_logical_id

from .conftest import ARCHITECTURES, LANGUAGES, NPM_LANGUAGES, interpreter_environment, render, scaffold_bin


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_list_names_every_language_with_a_summary() -> None:
    code, output = run("list")
    assert code == 0
    lines = output.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(LANGUAGES)
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)


def test_list_says_what_each_layer_runs_on_and_whether_it_runs_here(tmp_path: Path) -> None:
    here = tmp_path / "bin"
    here.mkdir()
    (here / "bun").write_text("#!/bin/sh\necho 1.4.5\n")
    (here / "bun").chmod(0o755)
    result = CliRunner(env={"PATH": f"{here}:/usr/bin/nothing"}).invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()}
    assert "bun 1.4.5" in rows["bun"] and "here: bun 1.4.5" in rows["bun"]
    assert "deno 2.9.6" in rows["deno"] and "not on this machine" in rows["deno"]
    assert "node 26.12.1" in rows["node"] and "php 8.3.14" in rows["php"]
    assert "bash (Amazon Linux)" in rows["bash"]


def test_help_and_version() -> None:
    for flag in ("-h", "--help"):
        code, output = run("new", flag)
        assert code == 0 and "--extra-context" in output and "--no-input" in output
    code, output = run("--version")
    assert code == 0 and __version__ in output


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_new_writes_a_project_with_the_runtime_in_a_layer(tmp_path: Path, language: str, architecture: str) -> None:
    code, output = run("new", "--lang", language, "--name", "my-svc", "--arch", architecture, "--no-input",
                       "--output-dir", str(tmp_path))
    assert code == 0, output
    project = tmp_path / "my-svc"
    assert f"Created {project}" in output
    config = yaml.safe_load((project / "serverless.yml").read_text())
    assert config["service"] == "my-svc"
    assert config["frameworkVersion"] == "3 || 4"  # Serverless v3, osls 3 and osls 4 (test_packaging runs each)
    assert config["provider"]["runtime"] == "provided.al2023"
    assert config["provider"]["architecture"] == architecture
    (layer_key, layer), = config["layers"].items()
    assert layer["path"] == "runtime"
    assert layer["compatibleArchitectures"] == [architecture]
    assert layer["compatibleRuntimes"] == ["provided.al2023"]
    assert config["functions"]["hello"]["layers"] == [{"Ref": layer_logical_id(layer_key)}]
    assert "!runtime/**" in config["package"]["patterns"]
    bootstrap = project / "runtime" / "bootstrap"
    assert stat.S_IMODE(bootstrap.stat().st_mode) == 0o755
    assert json.loads((project / "events" / "hello.json").read_text()) == {"name": "World"}
    assert ".serverless/" in (project / ".gitignore").read_text().splitlines()
    readme = (project / "README.md").read_text()
    for section in ("## What each file does", "## How the bootstrap works", "## Handler contract",
                    "## How the layer is shared", "## Run it locally", "## Deploy"):
        assert section in readme
    assert not list(tmp_path.glob(".scaffold-*")), "staging folder left behind"


def test_language_specific_files(tmp_path: Path) -> None:
    bash = render("bash", tmp_path)
    assert yaml.safe_load((bash / "serverless.yml").read_text())["functions"]["hello"]["handler"] == "function.handler"
    assert "handler" in (bash / "function.sh").read_text()
    assert (bash / "runtime" / "bootstrap").read_text().startswith("#!/bin/bash\n")
    php = render("php", tmp_path)
    assert yaml.safe_load((php / "serverless.yml").read_text())["functions"]["hello"]["handler"] == "src/hello.hello"
    assert "function hello(" in (php / "src" / "hello.php").read_text()
    assert (php / "runtime" / "bootstrap").read_text().startswith("#!/opt/bin/php\n")
    assert os.access(php / "runtime" / "build-php.sh", os.X_OK)


@pytest.mark.parametrize("key", ["php7", "php-runtime", "my_runtime", "bashRuntime", "PHP83", "php-8_3-Runtime"])
def test_template_macro_and_python_compute_the_frameworks_layer_id(key: str) -> None:
    # The ids measured with the real Framework (shared/docs/serverless.md) for these keys.
    measured = {
        "php7": "Php7LambdaLayer", "php-runtime": "PhpDashruntimeLambdaLayer",
        "my_runtime": "MyUnderscoreruntimeLambdaLayer", "bashRuntime": "BashRuntimeLambdaLayer",
        "PHP83": "PHP83LambdaLayer", "php-8_3-Runtime": "PhpDash8Underscore3DashRuntimeLambdaLayer",
    }
    env = Environment(loader=FileSystemLoader(str(templates.TEMPLATES_DIR / "_shared" / "templates")))
    macro = env.from_string('{% import "macros.j2" as m %}{{ m.layer_logical_id(key) }}').render(key=key)
    assert macro == layer_logical_id(key) == measured[key]


def test_extra_context_sets_template_variables(tmp_path: Path) -> None:
    code, output = run("new", "--lang", "bash", "--no-input", "-o", str(tmp_path),
                       "--extra-context", "timeout=30", "--extra-context", "aws_region=eu-west-1")
    assert code == 0, output
    config = yaml.safe_load((tmp_path / "hello-bash" / "serverless.yml").read_text())
    assert config["provider"]["timeout"] == 30 and config["provider"]["region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (["--lang", "cobol"], "unknown language 'cobol': choose one of bash, bun, deno, node, php", ExitCode.USAGE),
        (["--lang", "php", "--name", "9lives"], "not a valid service name", ExitCode.USAGE),
        (["--lang", "php", "--name", "has.dot"], "not a valid service name", ExitCode.USAGE),
        (["--lang", "php", "--name", "x" * 41], "too long", ExitCode.USAGE),
        (["--lang", "php", "--extra-context", "timeout"], "--extra-context takes KEY=VALUE", ExitCode.USAGE),
        (["--lang", "php", "--extra-context", "colour=blue"], "'colour' is not a variable", ExitCode.USAGE),
        (["--lang", "php", "--extra-context", "architecture=sparc"], "unknown architecture", ExitCode.USAGE),
        (["--lang", "php", "--arch", "sparc"], "Invalid value for '--arch'", ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "project_slug=Bad_Slug"], "bad project_slug", ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "timeout=abc"], "timeout must be a whole number from 1 to 900",
         ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "timeout=1000"], "not '1000'", ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "timeout=0"], "not '0'", ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "memory_size=64"], "memory_size must be a whole number from 128",
         ExitCode.USAGE),
        (["--lang", "bash", "--extra-context", "memory_size=99999"], "not '99999'", ExitCode.USAGE),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(tmp_path: Path, args: list[str], message: str,
                                                  exit_code: int) -> None:
    code, output = run("new", *args, "--no-input", "--output-dir", str(tmp_path / "out"))
    assert code == exit_code
    assert message in output
    assert not (tmp_path / "out").exists()


def test_existing_folder_needs_force_and_force_replaces_it(tmp_path: Path) -> None:
    first = render("php", tmp_path)
    (first / "src" / "mine.php").write_text("<?php // the user's work\n")
    code, output = run("new", "--lang", "php", "--no-input", "-o", str(first.parent))
    assert code == ExitCode.TEMPLATE and "already exists; use --force" in output
    assert (first / "src" / "mine.php").exists()
    code, output = run("new", "--lang", "php", "--no-input", "-o", str(first.parent), "--force", "--arch", "arm64")
    assert code == 0, output
    assert not (first / "src" / "mine.php").exists()
    assert "architecture: arm64" in (first / "serverless.yml").read_text()
    assert sorted(p.name for p in first.parent.iterdir()) == ["hello-php"]


def test_unwritable_output_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root writes anywhere; a file in the way is the unwritable folder root can still meet
        blocker = tmp_path / "blocker"
        blocker.write_text("")
        code, output = run("new", "--lang", "php", "--no-input", "-o", str(blocker / "sub"))
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, output = run("new", "--lang", "php", "--no-input", "-o", str(locked))
    assert code == ExitCode.TEMPLATE
    assert output.startswith("Error: cannot ")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_where_nothing_can_be_made_is_one_line(tmp_path: Path) -> None:
    # /proc exists and looks writable to root, but the staging folder cannot be made in it.
    result = subprocess.run([sys.executable, "-m", "runtime_scaffold", "new", "--lang", "php", "--no-input",
                             "-o", "/proc"], capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.TEMPLATE
    assert result.stderr.splitlines() == [
        "Error: cannot write to output folder /proc: No such file or directory"], result.stderr


def test_a_staging_folder_that_cannot_be_made_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: object, **kwargs: object) -> str:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(templates.tempfile, "mkdtemp", read_only)
    code, output = run("new", "--lang", "bash", "--no-input", "-o", str(tmp_path / "new" / "folder"))
    assert code == ExitCode.TEMPLATE
    assert output.splitlines() == [f"Error: cannot write to output folder {tmp_path}/new/folder: Read-only file system"]
    assert list(tmp_path.iterdir()) == [], "the folders made for the output are removed again"


def test_a_failure_midway_leaves_no_partial_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cookiecutter.generate

    real = cookiecutter.generate.generate_file
    written = []

    def fail_on_third_file(*args: object, **kwargs: object) -> None:
        written.append(args)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cookiecutter.generate, "generate_file", fail_on_third_file)
    code, output = run("new", "--lang", "php", "--no-input", "-o", str(tmp_path))
    assert code == ExitCode.TEMPLATE and "No space left on device" in output and "nothing was written" in output
    assert list(tmp_path.iterdir()) == []


def test_stock_cookiecutter_renders_the_same_project(tmp_path: Path) -> None:
    for language in LANGUAGES:
        ours = render(language, tmp_path)
        stock_out = tmp_path / f"stock-{language}"
        subprocess.run(
            [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(stock_out),
             str(templates.TEMPLATES_DIR / language)],
            check=True, capture_output=True, env={**os.environ, "HOME": str(tmp_path / "home")},
        )
        assert tree(stock_out / ours.name) == tree(ours)


def test_stock_cookiecutter_refuses_a_bad_service_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "out"),
         str(templates.TEMPLATES_DIR / "bash"), "project_name=9lives"],
        capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path / "home")},
    )
    assert result.returncode != 0
    assert "not a valid Serverless service name" in result.stderr
    assert not (tmp_path / "out" / "9lives").exists()


@pytest.mark.parametrize("value", ["5000", "abc"])
def test_stock_cookiecutter_refuses_a_timeout_lambda_refuses(tmp_path: Path, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "out"),
         str(templates.TEMPLATES_DIR / "bash"), f"timeout={value}", "memory_size=128"],
        capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path / "home")},
    )
    assert result.returncode != 0
    assert "timeout must be a whole number from 1 to 900" in result.stderr
    assert not (tmp_path / "out" / "hello-bash").exists()


def scaffold_new_typed(tmp_path: Path, answers: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`scaffold new` answering its questions from ``answers``, in a real process (a real stdin and stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "runtime_scaffold", "new", "--lang", "bash", "-o", str(out)],
        input=answers, capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(tmp_path / "home")},
    )


@pytest.mark.parametrize(("answers", "refused", "error"), [
    ("9bad\nok-name\n" + "\n" * 8, "[1/7] project_name", "Error: bad project name: '9bad' is not a valid service name"),
    ("ok-name\n\n\n\n\n64\n\n\n", "[6/7] memory_size",
     "Error: memory_size must be a whole number from 128 to 10240 (MB), not '64'"),
])
def test_a_bad_answer_is_refused_at_once_and_asked_again(tmp_path: Path, answers: str, refused: str,
                                                         error: str) -> None:
    result = scaffold_new_typed(tmp_path, answers, tmp_path / "x")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    # The error comes right after the bad answer, and the same question comes again before the next one.
    after = output.split(refused, 1)[1]
    assert after.split(": ", 1)[1].startswith(error)
    assert after.count(refused) == 1 and after.index(refused) < after.index(f"[{int(refused[1]) + 1}/7]")
    assert [line for line in output.splitlines() if "Error:" in line] == [line for line in output.splitlines()
                                                                          if error in line]
    assert yaml.safe_load((tmp_path / "x" / "ok-name" / "serverless.yml").read_text())["service"] == "ok-name"


def test_end_of_input_at_a_prompt_is_one_error_line_and_leaves_no_folder(tmp_path: Path) -> None:
    result = scaffold_new_typed(tmp_path, "half-way\n\n", tmp_path / "x" / "p4")
    assert result.returncode == ExitCode.USAGE
    errors = [line for line in (result.stdout + result.stderr).splitlines() if "Error:" in line or "Abort" in line]
    assert len(errors) == 1 and errors[0].endswith(
        "Error: no answer for description: standard input is closed or ended; pass --no-input to take the defaults "
        "(and options) without asking")
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "x").exists()


def test_a_failed_render_keeps_an_output_folder_that_was_already_there(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import cookiecutter.generate

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cookiecutter.generate, "generate_file", no_space)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's file\n")
    code, output = run("new", "--lang", "bash", "--no-input", "-o", str(mine))
    assert code == ExitCode.TEMPLATE, output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_prompts_ask_for_each_variable_with_defaults(tmp_path: Path) -> None:
    # Enter on every prompt takes the defaults; the name typed first is used.
    answers = "prompted-svc\n" + "\n" * 20
    result = CliRunner().invoke(cli, ["new", "--lang", "bash", "-o", str(tmp_path)], input=answers)
    assert result.exit_code == 0, result.output
    assert "project_name" in result.output and "architecture" in result.output
    assert yaml.safe_load((tmp_path / "prompted-svc" / "serverless.yml").read_text())["service"] == "prompted-svc"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_next_lines_work_as_printed(tmp_path: Path, language: str) -> None:
    """The first "Next:" line runs the function offline, pasted into a shell as printed; the second installs a
    Framework version that packages the project (test_packaging packages with it) and packages."""
    work = tmp_path / "my work"
    work.mkdir()
    scaffold = Path(scaffold_bin())
    # Bun, Deno and Node as a user who has them installed (without, the next test).
    host = interpreter_environment(language) if language in NPM_LANGUAGES else os.environ
    env = {**host, "PATH": f"{scaffold.parent}{os.pathsep}{host['PATH']}"}
    new = subprocess.run([str(scaffold), "new", "--lang", language, "--no-input", "-o", "out"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    lines = new.stdout.splitlines()
    assert lines[0] == f"Created out/hello-{language}"
    assert lines[1] == "Next:"
    first, second = (line.split("   # ")[0].strip() for line in lines[2:4])
    assert first == f"cd out/hello-{language} && scaffold invoke hello --path events/hello.json"
    assert second == "npm install -g serverless@3 && serverless package"
    result = subprocess.run(["bash", "-c", first], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello, World!"}


@pytest.mark.parametrize("language", ["bun", "deno"])
def test_the_next_lines_say_what_a_machine_without_the_interpreter_needs(tmp_path: Path, language: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No bun or deno on PATH: the layer's build comes first when its binary runs here (the default architecture
    is this machine's; test_layer_build runs build-layer.sh and then the function on it), else the install hint."""
    monkeypatch.setenv("PATH", os.defpath)
    here = {"aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, "x86_64")
    other = next(architecture for architecture in ARCHITECTURES if architecture != here)
    defaults = templates.get_language(language).defaults
    for architecture, expected in [
        (here, f"cd {tmp_path}/{here}/hello-{language} && runtime/build-layer.sh && scaffold invoke hello --path "
               f"events/hello.json   # fetches {defaults['_interpreter_name']} {defaults['_interpreter_version']} "
               "into the layer (npm registry), then runs it here without Docker"),
        (other, f"cd {tmp_path}/{other}/hello-{language} && scaffold invoke hello --path events/hello.json   # needs "
                f"{language} on this machine first (the layer's {other} build cannot run here): "
                f"{defaults['_interpreter_install']}"),
    ]:
        result = CliRunner().invoke(cli, ["new", "--lang", language, "--no-input", "--arch", architecture,
                                          "-o", str(tmp_path / architecture)])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[2].strip() == expected


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "runtime_scaffold", "list"], capture_output=True, text=True,
                            check=True)
    assert result.stdout.startswith("bash")


def test_the_php_version_listed_is_the_one_build_php_builds() -> None:
    project = templates.TEMPLATES_DIR / "php" / "{{cookiecutter.project_slug}}"
    script = (project / "runtime" / "build-php.sh").read_text()
    assert f"php_version=${{PHP_VERSION:-{templates.get_language('php').defaults['_interpreter_version']}}}" in script
