"""`scaffold check`: a correct project has no finding; each broken variant trips exactly its own rule."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runtime_scaffold.check import RULES, Finding, Severity, Stage, check_project
from runtime_scaffold.cli import cli
from runtime_scaffold.errors import ExitCode
from runtime_scaffold.naming import layer_logical_id
from runtime_scaffold.packaging import glob_regex
from runtime_scaffold.project import load_project

from .conftest import REPO_ROOT, edit_config, hello, render

# Serverless Framework v3: the repository's own (npm ci, as .ci/run does), else a copy installed for experiments.
FRAMEWORK_DIR = next(
    (
        folder
        for folder in (REPO_ROOT / "node_modules" / "serverless", Path("/tmp/slsprobe/node_modules/serverless"))
        if (folder / "bin" / "serverless.js").is_file()
    ),
    Path("/nonexistent"),
)
SERVERLESS = FRAMEWORK_DIR / "bin" / "serverless.js"
NODE = shutil.which("node")
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:extras:{}"

GOOD_CONFIG: dict[str, Any] = {
    "service": "hello-bash",
    "frameworkVersion": "3",
    "provider": {"name": "aws", "runtime": "provided.al2023", "architecture": "x86_64"},
    "layers": {"bash-runtime": {"path": "runtime", "description": "bash custom runtime"}},
    "package": {"patterns": ["!runtime/**"]},
    "functions": {
        "hello": {
            "handler": "function.handler",
            "layers": [{"Ref": "BashDashruntimeLambdaLayer"}],
        }
    },
}
BOOTSTRAP = """#!/bin/bash
set -euo pipefail
source "$LAMBDA_TASK_ROOT/${_HANDLER%.*}.sh"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$("${_HANDLER##*.}" "$EVENT")
  API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
  curl -sS "$API/$REQUEST_ID/response" -d "$RESPONSE"
done
"""
FUNCTION_SH = """handler() {
  echo '{"statusCode": 200, "body": "hello"}'
}
"""


def write(path: Path, content: str | bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    path.chmod(mode)
    return path


def elf_header(machine: int) -> bytes:
    """The first bytes of a 64-bit little-endian ELF executable for ``machine`` (e_machine)."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + (2).to_bytes(2, "little") + machine.to_bytes(2, "little") + bytes(44)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "hello-bash"
    write(root / "serverless.yml", yaml.safe_dump(GOOD_CONFIG, sort_keys=False))
    write(root / "runtime" / "bootstrap", BOOTSTRAP, 0o755)
    write(root / "function.sh", FUNCTION_SH)
    write(root / "events" / "hello.json", '{"name": "World"}\n')
    return root


def findings_of(root: Path) -> list[Finding]:
    return check_project(load_project(root))


def run_check(root: Path) -> Any:
    return CliRunner().invoke(cli, ["check", "--project", str(root)], prog_name="scaffold")


def test_good_project_has_no_finding(project: Path) -> None:
    assert findings_of(project) == []
    result = run_check(project)
    assert result.exit_code == ExitCode.OK, result.output
    assert "no problems found (1 function checked)" in result.output


# --- one broken variant per rule -------------------------------------------------------------------------


def remove_bootstrap(root: Path) -> None:
    (root / "runtime" / "bootstrap").unlink()


def bootstrap_not_executable(root: Path) -> None:
    (root / "runtime" / "bootstrap").chmod(0o644)


def bootstrap_owner_only(root: Path) -> None:
    (root / "runtime" / "bootstrap").chmod(0o700)


def bootstrap_crlf(root: Path) -> None:
    write(root / "runtime" / "bootstrap", BOOTSTRAP.replace("\n", "\r\n"), 0o755)


def function_sh_crlf(root: Path) -> None:
    write(root / "function.sh", FUNCTION_SH.replace("\n", "\r\n"))


def bootstrap_nested_in_runtime(root: Path) -> None:
    (root / "runtime" / "runtime").mkdir()
    (root / "runtime" / "bootstrap").rename(root / "runtime" / "runtime" / "bootstrap")


def bootstrap_nested_in_bin(root: Path) -> None:
    (root / "runtime" / "bin").mkdir()
    (root / "runtime" / "bootstrap").rename(root / "runtime" / "bin" / "bootstrap")


def shebang_python(root: Path) -> None:
    write(root / "runtime" / "bootstrap", BOOTSTRAP.replace("#!/bin/bash", "#!/usr/bin/python3"), 0o755)


def shebang_php_not_in_layer(root: Path) -> None:
    write(root / "runtime" / "bootstrap", "#!/opt/bin/php\n<?php\necho 1;\n", 0o755)


def exec_of_a_binary_not_in_layer(root: Path) -> None:
    write(root / "runtime" / "bootstrap", "#!/bin/sh\nexec /opt/bin/bun /opt/lambda-runtime/index.ts\n", 0o755)


def shebang_env_php_not_in_layer(root: Path) -> None:
    write(root / "runtime" / "bootstrap", "#!/usr/bin/env php\n<?php\necho 1;\n", 0o755)


def elf_for_arm(root: Path) -> None:
    write(root / "runtime" / "bin" / "jq", elf_header(183), 0o755)


def elf_for_x86_on_arm(root: Path) -> None:
    write(root / "runtime" / "bin" / "jq", elf_header(62), 0o755)
    edit_config(root, lambda c: c["provider"].update(architecture="arm64"))


def bootstrap_with_bom(root: Path) -> None:
    write(root / "runtime" / "bootstrap", b"\xef\xbb\xbf" + BOOTSTRAP.encode(), 0o755)


def bootstrap_without_shebang(root: Path) -> None:
    write(root / "runtime" / "bootstrap", BOOTSTRAP.replace("#!/bin/bash\n", ""), 0o755)


def bootstrap_macho(root: Path) -> None:
    write(root / "runtime" / "bootstrap", b"\xcf\xfa\xed\xfe" + bytes(60), 0o755)


def ref_to_layer_key(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(layers=[{"Ref": "bash-runtime"}]))


def ref_to_php_runtime_key(root: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["layers"] = {"php-runtime": {"path": "runtime"}}
        hello(config)["layers"] = [{"Ref": "php-runtime"}]

    edit_config(root, change)


def ref_camel_case(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(layers=[{"Ref": "BashRuntimeLambdaLayer"}]))


def ref_retained_layer(root: Path) -> None:
    edit_config(root, lambda c: c["layers"]["bash-runtime"].update(retain=True))


def arn_without_version(root: Path) -> None:
    edit_config(root, lambda c: hello(c)["layers"].append(ARN.format("")[:-1]))


def layer_path_missing(root: Path) -> None:
    shutil.rmtree(root / "runtime")


def function_layers_replace_provider(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(layers=[ARN.format(3)]))


def six_layers(root: Path) -> None:
    edit_config(root, lambda c: hello(c)["layers"].extend(ARN.format(n) for n in range(1, 6)))


def provider_timeout_too_long(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(timeout=1000))


def function_timeout_zero(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(timeout=0))


def provider_memory_too_small(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(memorySize=64))


def function_memory_too_large(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(memorySize=99999))


def provider_environment_sets_aws_region(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(environment={"STAGE": "dev", "AWS_REGION": "eu-west-1"}))


def function_environment_sets_handler(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(environment={"_HANDLER": "other.handler"}))


def function_environment_sets_default_region(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(environment={"AWS_DEFAULT_REGION": "eu-west-1"}))


def handler_file_missing(root: Path) -> None:
    (root / "function.sh").unlink()


def handler_file_excluded(root: Path) -> None:
    edit_config(root, lambda c: c["package"]["patterns"].append("!function.sh"))


def handler_without_dot(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(handler="handler"))


def too_large(root: Path) -> None:
    with (root / "data.bin").open("wb") as stream:  # sparse: the size counts, the disk stays empty
        stream.truncate(200 * 1024 * 1024)
    with (root / "runtime" / "lib.bin").open("wb") as stream:
        stream.truncate(51 * 1024 * 1024)


def layer_path_with_trailing_slash(root: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["layers"]["bash-runtime"]["path"] = "runtime/"
        del config["package"]

    edit_config(root, change)


def layer_readded_by_pattern(root: Path) -> None:
    edit_config(root, lambda c: c["package"].update(patterns=["runtime/**"]))


def runtime_provided(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(runtime="provided"))


def runtime_al2(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(runtime="provided.al2"))


def runtime_managed(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].update(runtime="nodejs20.x"))


def runtime_absent(root: Path) -> None:
    edit_config(root, lambda c: c["provider"].pop("runtime"))


EXTENSION = "#!/bin/bash\nexit 0\n"


def extension_not_executable(root: Path) -> None:
    write(root / "runtime" / "extensions" / "logger", EXTENSION, 0o644)


def extension_owner_only(root: Path) -> None:
    write(root / "runtime" / "extensions" / "logger", EXTENSION, 0o700)


def extension_crlf(root: Path) -> None:
    write(root / "runtime" / "extensions" / "logger", EXTENSION.replace("\n", "\r\n"), 0o755)


def extension_python_shebang(root: Path) -> None:
    write(root / "runtime" / "extensions" / "logger", "#!/usr/bin/python3\n", 0o755)


def eleven_extensions(root: Path) -> None:
    for number in range(11):
        write(root / "runtime" / "extensions" / f"ext-{number:02d}", EXTENSION, 0o755)


def exec_wrapper_on_provided(root: Path) -> None:
    edit_config(root, lambda c: hello(c).update(environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper"}))


E, W = Severity.ERROR, Severity.WARNING
# (break the good project, rule expected, severity, file reported, words the message or fix must hold)
VARIANTS: list[tuple[Callable[[Path], None], str, Severity, str, tuple[str, ...]]] = [
    (remove_bootstrap, "bootstrap-missing", E, "serverless.yml",
     ("Couldn't find valid bootstrap", "/var/task/bootstrap",
      "runtime/bootstrap (/opt/bootstrap from layer")),
    (bootstrap_not_executable, "bootstrap-not-executable", E, "runtime/bootstrap", ("0644", "chmod 755")),
    (bootstrap_owner_only, "bootstrap-not-executable", E, "runtime/bootstrap", ("0700", "chmod 755")),
    (bootstrap_crlf, "crlf-line-endings", E, "runtime/bootstrap", ("CRLF", "bad interpreter")),
    (function_sh_crlf, "crlf-line-endings", E, "function.sh", ("CRLF", "sed -i")),
    (bootstrap_nested_in_runtime, "bootstrap-nested", E, "runtime/runtime/bootstrap",
     ("/opt/runtime/bootstrap", "one folder too deep", "move it to runtime/bootstrap")),
    (bootstrap_nested_in_bin, "bootstrap-nested", E, "runtime/bin/bootstrap", ("/opt/bin/bootstrap",)),
    (shebang_python, "shebang-interpreter-missing", E, "runtime/bootstrap",
     ("/usr/bin/python3", "Amazon Linux 2023")),
    (shebang_php_not_in_layer, "shebang-interpreter-missing", E, "runtime/bootstrap",
     ("/opt/bin/php is in none of the function's layers",)),
    (shebang_env_php_not_in_layer, "shebang-interpreter-missing", E, "runtime/bootstrap", ("'php'", "PATH")),
    (exec_of_a_binary_not_in_layer, "bootstrap-program-missing", E, "runtime/bootstrap",
     ("execs /opt/bin/bun", "/opt/bin/bun is in none of the function's layers", "exit status 127")),
    (elf_for_arm, "elf-architecture", E, "runtime/bin/jq", ("runtime/bin/jq (arm64)", "x86_64")),
    (elf_for_x86_on_arm, "elf-architecture", E, "runtime/bin/jq", ("runtime/bin/jq (x86_64)", "arm64")),
    (bootstrap_with_bom, "bootstrap-format", E, "runtime/bootstrap", ("byte order mark",)),
    (bootstrap_without_shebang, "bootstrap-format", E, "runtime/bootstrap", ("exec format error",)),
    (bootstrap_macho, "bootstrap-format", E, "runtime/bootstrap", ("macOS",)),
    (ref_to_layer_key, "layer-ref-unknown", E, "serverless.yml",
     ("{ Ref: bash-runtime }", "did you mean { Ref: BashDashruntimeLambdaLayer }")),
    (ref_to_php_runtime_key, "layer-ref-unknown", E, "serverless.yml",
     ("did you mean { Ref: PhpDashruntimeLambdaLayer }",)),
    (ref_camel_case, "layer-ref-unknown", E, "serverless.yml",
     ("did you mean { Ref: BashDashruntimeLambdaLayer }",)),
    (ref_retained_layer, "layer-ref-retain", E, "serverless.yml", ("retain: true", "hash")),
    (arn_without_version, "layer-arn-invalid", E, "serverless.yml", ("version",)),
    (layer_path_missing, "layer-path-missing", E, "serverless.yml", ("path: runtime",)),
    (function_layers_replace_provider, "layers-replaced", W, "serverless.yml",
     ("replaces provider.layers", ARN.format(3))),
    (six_layers, "layers-too-many", E, "serverless.yml", ("6 layers", "at most 5")),
    (provider_timeout_too_long, "timeout-out-of-range", E, "serverless.yml",
     ("provider.timeout is 1000", "1 to 900 seconds")),
    (function_timeout_zero, "timeout-out-of-range", E, "serverless.yml", ("functions.hello.timeout is 0",)),
    (provider_memory_too_small, "memory-out-of-range", E, "serverless.yml",
     ("provider.memorySize is 64", "128 to 10240 MB")),
    (function_memory_too_large, "memory-out-of-range", E, "serverless.yml", ("functions.hello.memorySize is 99999",)),
    (provider_environment_sets_aws_region, "environment-reserved", E, "serverless.yml",
     ("provider.environment sets AWS_REGION", "remove AWS_REGION from provider.environment", "APP_AWS_REGION")),
    (function_environment_sets_handler, "environment-reserved", E, "serverless.yml",
     ("functions.hello.environment sets _HANDLER", "APP_HANDLER")),
    (function_environment_sets_default_region, "environment-reserved", E, "serverless.yml",
     ("functions.hello.environment sets AWS_DEFAULT_REGION",)),
    (handler_file_missing, "handler-file-missing", E, "serverless.yml", ("function.*", "/var/task")),
    (handler_file_excluded, "handler-file-missing", E, "function.sh", ("package.patterns",)),
    (handler_without_dot, "handler-undeterminable", W, "serverless.yml", ("<file>.<method>",)),
    (too_large, "package-too-large", E, "serverless.yml",
     ("251.0 MB", "250 MB", "layer bash-runtime 51.0 MB")),
    (layer_path_with_trailing_slash, "layer-shipped-twice", W, "runtime/",
     ("shipped twice", "1 file, 0.5 KB", "path as 'runtime'")),
    (layer_readded_by_pattern, "layer-shipped-twice", W, "runtime/", ("shipped twice", "end the list with")),
    (runtime_provided, "runtime-unsupported", E, "serverless.yml", ("Amazon Linux 1", "provided.al2023")),
    (runtime_al2, "runtime-deprecated", W, "serverless.yml", ("Jul 31 2026", "provided.al2023")),
    (runtime_managed, "runtime-unsupported", E, "serverless.yml", ("nodejs20.x", "ignores the bootstrap")),
    (runtime_absent, "runtime-unsupported", E, "serverless.yml", ("nodejs16.x",)),
    (extension_not_executable, "extension-not-executable", E, "runtime/extensions/logger",
     ("mode 0644", "Extension.LaunchError", "chmod 755")),
    (extension_owner_only, "extension-not-executable", E, "runtime/extensions/logger", ("mode 0700", "execute")),
    (extension_crlf, "crlf-line-endings", E, "runtime/extensions/logger", ("CRLF",)),
    (extension_python_shebang, "shebang-interpreter-missing", E, "runtime/extensions/logger",
     ("/usr/bin/python3", "Extension.LaunchError")),
    (eleven_extensions, "extensions-too-many", E, "runtime/extensions",
     ("11 files in /opt/extensions", "at most 10", "ErrTooManyExtensions")),
    (exec_wrapper_on_provided, "exec-wrapper-ignored", W, "serverless.yml",
     ("AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper", "OS-only runtime", "never runs the wrapper")),
]


@pytest.mark.parametrize(
    ("breaker", "rule", "severity", "file", "words"), VARIANTS, ids=[v[0].__name__ for v in VARIANTS]
)
def test_each_broken_variant_trips_exactly_its_rule(
    project: Path,
    breaker: Callable[[Path], None],
    rule: str,
    severity: Severity,
    file: str,
    words: tuple[str, ...],
) -> None:
    breaker(project)
    findings = findings_of(project)
    assert [f.rule for f in findings] == [rule], findings
    finding = findings[0]
    assert finding.severity is severity
    assert finding.file == file
    text = finding.message + " " + finding.fix
    for word in words:
        assert word in text, (word, text)

    result = run_check(project)
    assert f"{severity.value}: {file}: {finding.message} [{rule}]\n  fix: {finding.fix}\n" in result.output
    if severity is Severity.ERROR:
        assert result.exit_code == ExitCode.CHECK, result.output
        assert "1 error, 0 warnings" in result.output
    else:
        assert result.exit_code == ExitCode.OK, result.output
        assert "0 errors, 1 warning" in result.output


def test_every_rule_has_a_variant() -> None:
    assert {v[1] for v in VARIANTS} == set(RULES)


# --- what must NOT be reported ----------------------------------------------------------------------------


def test_variables_a_function_may_set_are_not_reported(project: Path) -> None:
    """Lambda lets a function set these (LANG, PATH, LD_LIBRARY_PATH, TZ are unreserved); keys are case-sensitive."""
    unreserved = {"LANG": "C.UTF-8", "PATH": "/opt/bin:/usr/bin", "LD_LIBRARY_PATH": "/opt/lib", "TZ": "Europe/Paris",
                  "aws_region": "x", "AWS_REGION_NAME": "x", "APP_HANDLER": "x"}
    edit_config(project, lambda c: hello(c).update(environment=unreserved))
    assert findings_of(project) == []


def test_a_reserved_key_in_provider_environment_is_reported_once(project: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["provider"]["environment"] = {"AWS_LAMBDA_FUNCTION_NAME": "x"}
        config["functions"]["other"] = dict(hello(config), environment={"LAMBDA_TASK_ROOT": "/srv"})

    edit_config(project, change)
    findings = findings_of(project)
    assert [(f.rule, f.message.split(",")[0]) for f in findings] == [
        ("environment-reserved", "provider.environment sets AWS_LAMBDA_FUNCTION_NAME"),
        ("environment-reserved", "functions.other.environment sets LAMBDA_TASK_ROOT"),
    ]


def test_reserved_keys_are_lambdas_list() -> None:
    """The one list the check (and later the emulator) reads: AWS's reserved keys, TZ not among them."""
    from runtime_scaffold.lambda_limits import RESERVED_ENVIRONMENT_VARIABLES

    assert {"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"} == RESERVED_ENVIRONMENT_VARIABLES


def test_interpreters_shipped_in_the_layer_are_found(project: Path) -> None:
    write(project / "runtime" / "bin" / "php", elf_header(62), 0o755)
    write(project / "runtime" / "bootstrap", "#!/opt/bin/php\n<?php\n", 0o755)
    write(project / "runtime" / "helper", "#!/usr/bin/env php\n<?php\n", 0o755)
    write(project / "runtime" / "tool", "#!/usr/bin/env -S bash -eu\n", 0o755)
    assert findings_of(project) == []


def test_a_binary_a_shell_bootstrap_execs_is_found_in_the_layer(project: Path) -> None:
    write(project / "runtime" / "bin" / "bun", elf_header(62), 0o755)
    write(project / "runtime" / "bootstrap", "#!/bin/sh\nexec /opt/bin/bun /opt/lambda-runtime/index.ts\n", 0o755)
    assert findings_of(project) == []


def test_interpreter_in_layer_must_be_executable(project: Path) -> None:
    write(project / "runtime" / "bin" / "php", elf_header(62), 0o644)
    write(project / "runtime" / "bootstrap", "#!/opt/bin/php\n<?php\n", 0o755)
    [finding] = findings_of(project)
    assert finding.rule == "shebang-interpreter-missing"
    assert "not executable" in finding.message


def test_matching_elf_and_elf_bootstrap_are_fine(project: Path) -> None:
    write(project / "runtime" / "bootstrap", elf_header(183), 0o755)
    write(project / "runtime" / "lib" / "libfoo.so", elf_header(183))
    edit_config(project, lambda c: c["provider"].update(architecture="arm64"))
    assert findings_of(project) == []


def test_many_foreign_binaries_make_one_finding(project: Path) -> None:
    for n in range(8):
        write(project / "runtime" / "lib" / f"lib{n}.so", elf_header(183))
    [finding] = findings_of(project)
    assert finding.rule == "elf-architecture"
    assert "8 ELF file(s)" in finding.message and "and 3 more" in finding.message


def test_layer_folder_is_left_out_by_the_framework_without_patterns(project: Path) -> None:
    edit_config(project, lambda c: c.pop("package"))
    assert findings_of(project) == []


def test_bootstrap_at_the_function_root_is_enough(project: Path) -> None:
    write(project / "bootstrap", BOOTSTRAP, 0o755)
    edit_config(project, lambda c: (c.pop("layers"), hello(c).pop("layers")))
    assert findings_of(project) == []


def test_bootstrap_left_out_by_patterns_is_missing(project: Path) -> None:
    write(project / "bootstrap", BOOTSTRAP, 0o755)
    shutil.rmtree(project / "runtime")
    def change(config: dict[str, Any]) -> None:
        del config["layers"], hello(config)["layers"]
        config["package"]["patterns"] = ["!bootstrap"]

    edit_config(project, change)
    [finding] = findings_of(project)
    assert finding.rule == "bootstrap-missing"
    assert "package.patterns leaves it out" in finding.message


def test_bootstrap_from_an_external_layer_is_only_a_warning(project: Path) -> None:
    remove_bootstrap(project)
    edit_config(project, lambda c: hello(c).update(layers=[ARN.format(7)]))
    [finding] = findings_of(project)
    assert (finding.rule, finding.severity) == ("bootstrap-missing", Severity.WARNING)
    assert ARN.format(7) in finding.message


def test_provider_layers_are_used_when_the_function_has_none(project: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["provider"]["layers"] = hello(config).pop("layers")

    edit_config(project, change)
    assert findings_of(project) == []


def test_function_repeating_provider_layers_is_not_warned(project: Path) -> None:
    edit_config(project, lambda c: c["provider"].update(layers=[{"Ref": "BashDashruntimeLambdaLayer"}]))
    assert findings_of(project) == []


def test_handler_in_a_subfolder_and_layer_resource(project: Path) -> None:
    write(project / "src" / "hello.php", "<?php function hello($e, $c) { return 1; }\n")
    edit_config(project, lambda c: hello(c).update(handler="src/hello.hello"))
    assert findings_of(project) == []


def test_ref_to_a_declared_layer_resource_is_accepted(project: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["resources"] = {"Resources": {"SharedLayer": {"Type": "AWS::Lambda::LayerVersion"}}}
        hello(config)["layers"].append({"Ref": "SharedLayer"})

    edit_config(project, change)
    assert findings_of(project) == []


def test_unknown_ref_without_a_close_name_lists_the_valid_ids(project: Path) -> None:
    edit_config(project, lambda c: hello(c).update(layers=[{"Ref": "Zzz"}]))
    rules = {f.rule: f for f in findings_of(project)}
    assert "BashDashruntimeLambdaLayer" in rules["layer-ref-unknown"].fix


def test_a_shared_layer_problem_is_reported_once(project: Path) -> None:
    bootstrap_not_executable(project)
    edit_config(project, lambda c: c["functions"].update(other=dict(hello(c))))
    findings = findings_of(project)
    assert [f.rule for f in findings] == ["bootstrap-not-executable"]
    assert "2 functions checked" in run_check(project).output


def test_container_image_functions_are_skipped(project: Path) -> None:
    edit_config(project, lambda c: c["functions"].update(img={"image": "123456789012.dkr.ecr.x/y:latest"}))
    assert findings_of(project) == []


def test_errors_come_before_warnings(project: Path) -> None:
    runtime_al2(project)
    bootstrap_not_executable(project)
    assert [f.severity for f in findings_of(project)] == [Severity.ERROR, Severity.WARNING]


def test_unreadable_project_exits_with_the_project_code(tmp_path: Path) -> None:
    result = run_check(tmp_path)
    assert result.exit_code == ExitCode.PROJECT
    assert "no serverless.yml" in result.output


def test_help_lists_the_rules() -> None:
    result = CliRunner().invoke(cli, ["check", "--help"], prog_name="scaffold")
    assert result.exit_code == 0
    assert "--project DIRECTORY" in result.output
    assert "--before [package|deploy]" in result.output and "#!/opt/bin/php" in result.output
    for rule in RULES:
        assert rule in result.output


# --- glob matching, against micromatch when the Framework is installed -------------------------------------

GLOB_CASES = {
    "*.sh": ["b.sh"],
    "runtime/**": ["runtime/bootstrap", "runtime/bin/php"],
    "./runtime/**": ["runtime/bootstrap", "runtime/bin/php"],
    "runtime//**": [],
    "**/*.sh": ["a/b.sh", "b.sh"],
    "runtime/*": ["runtime/bootstrap"],
    "{src,runtime}/**": ["runtime/bootstrap", "runtime/bin/php", "src/hello.php"],
    "**/bootstrap": ["runtime/bootstrap"],
    "src/*.{php,sh}": ["src/hello.php"],
    ".env*": [".env"],
    "**": ["a/b.sh", "b.sh", "runtime/bootstrap", "runtime/bin/php", ".env", "x/.hidden", "src/hello.php"],
}
GLOB_FILES = ["a/b.sh", "b.sh", "runtime/bootstrap", "runtime/bin/php", ".env", "x/.hidden", "src/hello.php"]


@pytest.mark.parametrize(("pattern", "expected"), GLOB_CASES.items())
def test_glob_matching(pattern: str, expected: list[str]) -> None:
    assert [f for f in GLOB_FILES if glob_regex(pattern).match(f)] == expected


@pytest.mark.slow
@pytest.mark.skipif(not SERVERLESS.exists() or NODE is None, reason="Serverless Framework v3 not installed")
def test_glob_matching_agrees_with_micromatch() -> None:
    assert NODE is not None
    script = (
        "const mm = require('micromatch'); const [files, patterns] = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(patterns.map((p) => mm(files, [p], { dot: true }))));"
    )
    out = subprocess.run(
        [NODE, "-e", script, json.dumps([GLOB_FILES, list(GLOB_CASES)])],
        cwd=FRAMEWORK_DIR, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert json.loads(out) == list(GLOB_CASES.values())


# --- the real Serverless Framework v3 ----------------------------------------------------------------------

needs_serverless = pytest.mark.skipif(
    not SERVERLESS.exists() or NODE is None, reason="Serverless Framework v3 not installed"
)
SLS_ENV = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "SLS_DEPRECATION_DISABLE": "*"}


@pytest.mark.slow
@needs_serverless
def test_layer_ids_match_the_frameworks_naming() -> None:
    keys = ["php7", "php-runtime", "my_runtime", "bashRuntime", "PHP83", "php-8_3-Runtime", "bash-runtime"]
    script = (
        "const naming = require('./lib/plugins/aws/lib/naming.js');"
        "const keys = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify(keys.map((k) => naming.getLambdaLayerLogicalId(k))));"
    )
    out = subprocess.run(
        [str(NODE), "-e", script, json.dumps(keys)],
        cwd=FRAMEWORK_DIR, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert json.loads(out) == [layer_logical_id(key) for key in keys]


@pytest.mark.slow
@needs_serverless
def test_serverless_print_reads_the_good_project_as_we_do(project: Path) -> None:
    result = subprocess.run(
        [str(NODE), str(SERVERLESS), "print", "--format", "json"],
        cwd=project, capture_output=True, text=True, timeout=120, env={**os.environ, **SLS_ENV},
        start_new_session=True,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout[result.stdout.index("{"):])
    ours = load_project(project)
    function = ours.function("hello")
    assert printed["provider"]["runtime"] == function.runtime == "provided.al2023"
    assert printed["functions"]["hello"]["handler"] == function.handler
    assert printed["functions"]["hello"]["layers"] == [{"Ref": ours.layers["bash-runtime"].logical_id}]
    assert printed["package"]["patterns"] == list(ours.package_patterns)
    assert findings_of(project) == []


def test_finding_is_plain_data() -> None:
    finding = Finding("bootstrap-missing", Severity.ERROR, "serverless.yml", "m", "f")
    assert finding.is_error and finding.severity.value == "error"


def test_helper_command_with_a_missing_interpreter_is_a_warning(project: Path) -> None:
    write(project / "runtime" / "bin" / "report", "#!/usr/bin/env python3\nprint(1)\n", 0o755)
    write(project / "node_modules" / ".bin" / "tool", "#!/usr/bin/env node\n", 0o755)  # never run: ignored
    [finding] = findings_of(project)
    assert (finding.rule, finding.severity, finding.file) == (
        "shebang-interpreter-missing", Severity.WARNING, "runtime/bin/report")


def test_compiled_bootstrap_needs_no_handler_file(project: Path) -> None:
    write(project / "bootstrap", elf_header(62), 0o755)  # e.g. a Go or Rust function built as `bootstrap`
    edit_config(project, lambda c: (c.pop("layers"), hello(c).update(handler="not.required", layers=[])))
    shutil.rmtree(project / "runtime")
    assert findings_of(project) == []


def test_function_patterns_count_only_when_packaged_individually(project: Path) -> None:
    edit_config(project, lambda c: hello(c).update(package={"patterns": ["!function.sh"]}))
    assert findings_of(project) == []  # the Framework ignores them (and says so) without individually
    edit_config(project, lambda c: c["package"].update(individually=True))
    [finding] = findings_of(project)
    assert (finding.rule, finding.file) == ("handler-file-missing", "function.sh")


def test_suggestions_follow_the_frameworks_naming(project: Path) -> None:
    def change(config: dict[str, Any]) -> None:
        config["layers"] = {"my_runtime": {"path": "runtime"}}
        hello(config)["layers"] = [{"Ref": "MyRuntimeLambdaLayer"}]

    edit_config(project, change)
    [finding] = findings_of(project)
    assert "did you mean { Ref: MyUnderscoreruntimeLambdaLayer }" in finding.fix


def test_prebuilt_artifacts_are_not_inspected(project: Path) -> None:
    remove_bootstrap(project)
    edit_config(project, lambda c: c["layers"]["bash-runtime"].update(package={"artifact": "layer.zip"}))
    [finding] = findings_of(project)
    assert (finding.rule, finding.severity) == ("bootstrap-missing", Severity.WARNING)
    assert "layer bash-runtime (a prebuilt package.artifact)" in finding.message


def test_resolved_configuration_from_elsewhere(project: Path, tmp_path: Path) -> None:
    """What the Serverless plugin does: hand over the Framework's resolved configuration as a JSON file."""
    resolved = write(tmp_path / "plugin" / "serverless.json", json.dumps(GOOD_CONFIG))
    cli_args = ["check", "--project", str(project), "--config", str(resolved)]
    assert CliRunner().invoke(cli, cli_args).exit_code == ExitCode.OK
    remove_bootstrap(project)
    result = CliRunner().invoke(cli, cli_args)
    assert result.exit_code == ExitCode.CHECK
    assert "error: serverless.yml: function hello has no bootstrap" in result.output


def test_ignored_rules_are_not_reported(project: Path) -> None:
    runtime_al2(project)
    bootstrap_not_executable(project)
    args = ["check", "--project", str(project), "--ignore", "bootstrap-not-executable"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == ExitCode.OK
    assert "[runtime-deprecated]" in result.output and "bootstrap-not-executable" not in result.output
    assert CliRunner().invoke(cli, [*args, "--ignore", "no-such-rule"]).exit_code == ExitCode.USAGE


# --- generated projects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_generated_bash_project_is_clean(tmp_path: Path, architecture: str) -> None:
    root = render("bash", tmp_path, architecture=architecture)
    assert findings_of(root) == []


def test_generated_php_project_needs_its_php_built(tmp_path: Path) -> None:
    root = render("php", tmp_path)
    [finding] = findings_of(root)
    assert (finding.rule, finding.file) == ("shebang-interpreter-missing", "runtime/bootstrap")
    assert "run runtime/build-php.sh" in finding.fix
    write(root / "runtime" / "bin" / "php", elf_header(62), 0o755)  # what build-php.sh would produce
    assert findings_of(root) == []
    write(root / "runtime" / "bin" / "php", elf_header(183), 0o755)  # built for the wrong machine
    assert [f.rule for f in findings_of(root)] == ["elf-architecture"]


# --- --before package / deploy -----------------------------------------------------------------------------


def test_unbuilt_layer_interpreter_only_warns_before_package(tmp_path: Path) -> None:
    root = render("php", tmp_path)
    [finding] = check_project(load_project(root), before=Stage.PACKAGE)
    assert (finding.rule, finding.severity) == ("shebang-interpreter-missing", Severity.WARNING)
    assert "deploy stops on it" in finding.message
    result = CliRunner().invoke(cli, ["check", "--project", str(root), "--before", "package"])
    assert result.exit_code == ExitCode.OK, result.output
    assert "warning: runtime/bootstrap: /opt/bin/php" in result.output
    for args in ([], ["--before", "deploy"]):  # deploy is the default
        result = CliRunner().invoke(cli, ["check", "--project", str(root), *args])
        assert result.exit_code == ExitCode.CHECK, result.output
        assert "error: runtime/bootstrap: /opt/bin/php" in result.output


@pytest.mark.parametrize(
    ("shebang", "php_mode"),
    [
        ("#!/opt/bin/php", 0o644),  # built, but not executable: a rebuild will not fix the mode
        ("#!/usr/bin/php", None),  # not on the base image, and no layer can put it there
        ("#!/usr/bin/env php", None),  # a lookup on PATH, not a file the project says a layer brings
    ],
)
def test_other_interpreter_problems_stay_errors_before_package(
    project: Path, shebang: str, php_mode: int | None
) -> None:
    write(project / "runtime" / "bootstrap", f"{shebang}\n<?php\n", 0o755)
    if php_mode is not None:
        write(project / "runtime" / "bin" / "php", elf_header(62), php_mode)
    [finding] = check_project(load_project(project), before=Stage.PACKAGE)
    assert (finding.rule, finding.severity) == ("shebang-interpreter-missing", Severity.ERROR)


def test_before_package_changes_nothing_else(project: Path) -> None:
    bootstrap_not_executable(project)
    write(project / "runtime" / "lib" / "libfoo.so", elf_header(183))  # arm64 in an x86_64 function
    at_package = check_project(load_project(project), before=Stage.PACKAGE)
    assert at_package == findings_of(project)
    assert {(f.rule, f.severity) for f in at_package} == {
        ("bootstrap-not-executable", Severity.ERROR), ("elf-architecture", Severity.ERROR)}


def test_unresolved_package_section_is_read_as_empty(project: Path) -> None:
    """`package: ${file(...)}` is resolved by the Framework only (the plugin passes the result); alone, check
    reads it as no settings rather than crashing."""
    edit_config(project, lambda c: c.update(package="${file(./package.yml)}"))
    assert findings_of(project) == []
