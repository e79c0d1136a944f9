"""One-off changes to a project's configuration for a local run: `scaffold invoke --env KEY=VALUE`, as
`serverless invoke local --env` sets a variable over the function's `environment:`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from runtime_scaffold.errors import InvalidInput
from runtime_scaffold.lambda_limits import RESERVED_ENVIRONMENT_VARIABLES
from runtime_scaffold.project import Project

# Lambda's rule for environment variable names: a letter first, then letters, digits and underscores.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def parse_environment(assignments: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` as ``{"A": "1", "B": "x=y"}``; the last of repeated names wins. A bad name, a
    missing ``=`` or a key Lambda reserves (its value would be replaced, or would break the sandbox) is refused."""
    values: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals:
            raise InvalidInput(f"--env {assignment!r} is not KEY=VALUE")
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"--env {assignment!r}: {name!r} is not a valid variable name (a letter, then "
                               "letters, digits and underscores)")
        if name in RESERVED_ENVIRONMENT_VARIABLES:
            raise InvalidInput(f"--env {assignment!r}: Lambda sets {name} itself")
        values[name] = value
    return values


def with_environment(project: Project, function: str | None, values: Mapping[str, str]) -> Project:
    """``project`` with ``values`` set over the environment of ``function`` (its key, or None for the only one);
    the project itself is left as it was."""
    if not values:
        return project
    target = project.function(function)
    changed = dataclasses.replace(target, environment={**target.environment, **values})
    return dataclasses.replace(project, functions={**project.functions, target.key: changed})
