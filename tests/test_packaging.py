"""Generated projects package with the real Serverless Framework v3, as generated, and pass cfn-lint."""

from __future__ import annotations

import json
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from runtime_scaffold.naming import layer_logical_id
from runtime_scaffold.templates import get_language

from .conftest import ARCHITECTURES, FRAMEWORKS, LANGUAGES, NPM_LANGUAGES, render, require_tool, serverless_package
from .test_layer_build import FRAMEWORK_FOR

# Every language, architecture and framework once. A Bun, Deno or Node project packages with its layer built in
# test_layer_build (one framework per architecture, FRAMEWORK_FOR), and as generated here with the other one.
CASES = [(language, architecture, framework)
         for language in LANGUAGES for architecture in ARCHITECTURES for framework in FRAMEWORKS
         if language not in NPM_LANGUAGES or FRAMEWORK_FOR[architecture] != framework]


@pytest.mark.slow
@pytest.mark.parametrize(("language", "architecture", "framework"), CASES)
def test_project_packages_and_template_is_valid(tmp_path: Path, language: str, architecture: str,
                                                framework: str) -> None:
    project = render(language, tmp_path, architecture=architecture)
    build = serverless_package(project, framework=framework)
    template_path = build / "cloudformation-template-update-stack.json"
    template = json.loads(template_path.read_text())
    resources = template["Resources"]

    defaults = get_language(language).defaults
    layer_key = str(defaults["_layer_key"])
    layer_id = layer_logical_id(layer_key)
    layer = resources[layer_id]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert layer["Properties"]["CompatibleRuntimes"] == ["provided.al2023"]

    function = resources["HelloLambdaFunction"]["Properties"]
    assert function["Runtime"] == "provided.al2023"
    assert function["Architectures"] == [architecture]
    for reference in function["Layers"]:
        assert reference == {"Ref": layer_id} and reference["Ref"] in resources

    lint = subprocess.run([require_tool("cfn-lint"), str(template_path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    with zipfile.ZipFile(build / f"{layer_key}.zip") as layer_zip:
        info = layer_zip.getinfo("bootstrap")  # at the root of the layer: Lambda looks for /opt/bootstrap
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert all(not name.endswith(".sh") or language == "bash" for name in layer_zip.namelist())
    with zipfile.ZipFile(build / f"{project.name}.zip") as function_zip:
        names = function_zip.namelist()
    assert not [name for name in names if name.startswith(("runtime/", "events/", "plugins/"))], names
    module = str(defaults["_handler"]).rsplit(".", 1)[0]  # function.sh, src/hello.php, src/hello.ts...
    assert [name for name in names if name.rsplit(".", 1)[0] == module], names
