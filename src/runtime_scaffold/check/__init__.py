"""Static checks that predict deploy-time and first-invoke failures of a custom-runtime project.

``check_project`` reads nothing but the project folder: no process is started, nothing is printed. Each
function is checked against the environment Lambda would build for it (its zip in /var/task, its layers in
/opt), computed with the Serverless Framework's own packaging and naming rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime_scaffold.check import bootstrap_rules, config_rules, extension_rules, file_rules, package_rules
from runtime_scaffold.check.findings import RULES, Finding, Severity, Stage
from runtime_scaffold.execution_environment import ExecutionEnvironmentBuilder
from runtime_scaffold.project import Project

__all__ = ["RULES", "Finding", "Severity", "Stage", "check_project"]


def check_project(project: Project, *, before: Stage = Stage.DEPLOY) -> list[Finding]:
    """Every finding for ``project`` as it counts before ``before``, errors first, each once even when
    several functions share it."""
    findings: list[Finding] = list(config_rules.check_layer_paths(project))
    builder = ExecutionEnvironmentBuilder(project)
    config = project.config.get("functions") or {}
    for function in project.functions.values():
        spec = config.get(function.key)
        if isinstance(spec, dict) and spec.get("image"):
            continue  # container images bring their own runtime; nothing here applies
        environment = builder.environment(function)
        findings += config_rules.check_runtime(project, environment)
        findings += config_rules.check_limits(project, environment)
        findings += config_rules.check_environment(project, environment)
        findings += config_rules.check_layer_references(project, environment)
        findings += config_rules.check_layer_lists(project, environment)
        findings += extension_rules.check_exec_wrapper(project, environment)
        if not config_rules.expects_bootstrap(environment):
            continue
        findings += bootstrap_rules.check_bootstrap(project, environment)
        findings += file_rules.check_files(project, environment)
        findings += extension_rules.check_extensions(project, environment)
        findings += package_rules.check_handler(project, environment)
        findings += package_rules.check_size(project, environment)
        findings += package_rules.check_layer_folders(project, environment)
    findings = [finding.before(before) for finding in findings]
    return _unique(sorted(findings, key=lambda finding: not finding.is_error))


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    kept = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            kept.append(finding)
    return kept
