"""Generated projects package with the real Serverless v3, osls 3 and osls 4, as generated, and pass cfn-lint."""

from __future__ import annotations

import json
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from runtime_scaffold.naming import layer_logical_id
from runtime_scaffold.templates import get_language

from .conftest import (
    ARCHITECTURES,
    FRAMEWORKS,
    LANGUAGES,
    NPM_LANGUAGES,
    handler_files_missing,
    render,
    require_tool,
    serverless_package,
)
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

    # The web page: the Framework builds the HTTP API with its two routes to the `web` function, on the same layer.
    web = resources["WebLambdaFunction"]["Properties"]
    assert web["Layers"] == [{"Ref": layer_id}]
    kinds = {resource["Type"] for resource in resources.values()}
    assert {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::Integration"} <= kinds
    routes = {r["Properties"]["RouteKey"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == {"GET /", "POST /"}
    (integration,) = (r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Integration")
    assert integration["PayloadFormatVersion"] == "2.0"

    lint = subprocess.run([require_tool("cfn-lint"), "--format", "json", str(template_path)], capture_output=True,
                          text=True)
    assert lint.returncode in (0, 4), lint.stdout + lint.stderr  # 4: warnings only
    assert [finding for finding in json.loads(lint.stdout or "[]") if not framework_route_dependency(finding)] == []

    with zipfile.ZipFile(build / f"{layer_key}.zip") as layer_zip:
        info = layer_zip.getinfo("bootstrap")  # at the root of the layer: Lambda looks for /opt/bootstrap
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert all(not name.endswith(".sh") or language == "bash" for name in layer_zip.namelist())
    with zipfile.ZipFile(build / f"{project.name}.zip") as function_zip:
        names = function_zip.namelist()
    assert not [name for name in names if name.startswith(("runtime/", "events/", "plugins/"))], names
    assert handler_files_missing(language, names) == [], names
    assert "web/page.html" in names


def framework_route_dependency(finding: dict[str, Any]) -> bool:
    """cfn-lint's one remark on the Framework's own HTTP API output, which a project cannot change: each
    AWS::ApiGatewayV2::Route it writes both Refs its integration and lists it in DependsOn (http-api.js)."""
    path = finding.get("Location", {}).get("Path", [])
    rule = finding.get("Rule", {}).get("Id")
    return (rule == "W3005" and len(path) == 3 and path[0] == "Resources" and str(path[1]).startswith("HttpApiRoute")
            and path[2] == "DependsOn" and "'HttpApiIntegration" in str(finding.get("Message")))
