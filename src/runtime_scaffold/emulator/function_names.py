"""Which function, and which version of it, a Lambda API request names, read as Lambda reads it.

``FunctionName`` may be a name (``my-function``), a partial ARN (``123456789012:function:my-function``) or a full
ARN, each optionally ending with ``:qualifier``; the ``Qualifier`` parameter may name the version too. Locally a
function has one version, ``$LATEST``; the deployed name, the key under ``functions:`` and, in a one-function
project, ``function`` (AWS's emulator's name) all name it. Everything else is answered as Lambda answers it
(texts as AWS returns them, recorded in LocalStack's AWS-validated snapshots of the Lambda API):

- a name or qualifier of the wrong form: 400 ``ValidationException``, "1 validation error detected: Value '...'
  at 'functionName' failed to satisfy constraint: ..." (several, "N validation errors detected: A; B");
- an ARN of another region: 404 ``ResourceNotFoundException``, "Functions from 'R' are not reachable in this
  region ('r')"; of another account: 403 ``AccessDeniedException``;
- a qualifier in the name that the parameter contradicts: 400 ``InvalidParameterValueException``, "The derived
  qualifier from the function name does not match the specified qualifier.";
- a function or version that does not exist (``prod``, ``7``, ``$latest``): 404 ``ResourceNotFoundException``,
  "Function not found: arn:...:function:NAME[:QUALIFIER]" (Invoke names ``$LATEST`` when no qualifier was given).

Every operation that names a function (Invoke, response streaming, GetFunction...) resolves it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from runtime_scaffold.emulator.invocation import FUNCTION_VERSION
from runtime_scaffold.emulator.messages import Request
from runtime_scaffold.project import Function, Project

# As Lambda's API reference and its error messages give them.
FUNCTION_NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
                         r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
MAX_FUNCTION_NAME_LENGTH = 170  # GetFunction and Invoke (CreateFunction allows 140)
MAX_QUALIFIER_LENGTH = 128
_NAME = re.compile(FUNCTION_NAME_PATTERN)
_QUALIFIER = re.compile(QUALIFIER_PATTERN)
# The same pattern with its parts named, to read them.
_PARTS = re.compile(r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?"
                    r"(?P<account>\d{12}:)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)"
                    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
# Partitions by region prefix (botocore's partitions); the rest are "aws".
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-isof-", "aws-iso-f"),
               ("eu-isoe-", "aws-iso-e"), ("us-iso-", "aws-iso"), ("eusc-", "aws-eusc"))


class LambdaApiError(Exception):
    """A request Lambda would refuse: the HTTP status, the error type (``x-amzn-ErrorType``) and its message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


class FunctionNotFound(LambdaApiError):
    def __init__(self, arn: str) -> None:
        super().__init__(404, "ResourceNotFoundException", f"Function not found: {arn}")


def partition(region: str) -> str:
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:{partition(region)}:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class FunctionReference:
    """What a request names: the function name, and the region, account and qualifier it gave (None: not given)."""

    name: str
    region: str | None
    account: str | None
    qualifier: str | None


def constraint(value: str, field: str, constraint: str) -> str:
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"


def parse(function_name: str, qualifier: str | None = None) -> FunctionReference:
    """Read FunctionName and Qualifier; LambdaApiError (400) when either is of the wrong form or they disagree."""
    problems = []
    if qualifier is not None:
        if len(qualifier) > MAX_QUALIFIER_LENGTH:
            problems.append(constraint(qualifier, "qualifier",
                                        f"have length less than or equal to {MAX_QUALIFIER_LENGTH}"))
        elif not _QUALIFIER.fullmatch(qualifier):
            problems.append(constraint(qualifier, "qualifier",
                                        f"satisfy regular expression pattern: {QUALIFIER_PATTERN}"))
    parts = _PARTS.fullmatch(function_name)
    if parts is None or not _NAME.fullmatch(function_name):
        problems.append(constraint(function_name, "functionName",
                                    f"satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"))
    elif len(function_name) > MAX_FUNCTION_NAME_LENGTH:
        problems.append(constraint(function_name, "functionName",
                                    f"have length less than or equal to {MAX_FUNCTION_NAME_LENGTH}"))
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise LambdaApiError(400, "ValidationException", f"{count}: {'; '.join(problems)}")
    assert parts is not None
    in_name = parts.group("qualifier")
    if in_name is not None and qualifier is not None and in_name != qualifier:
        raise LambdaApiError(400, "InvalidParameterValueException",
                             "The derived qualifier from the function name does not match the specified qualifier.")
    region, account = parts.group("region"), parts.group("account")
    return FunctionReference(parts.group("name"), region[:-1] if region else None,
                             account[:-1] if account else None, in_name if in_name is not None else qualifier)


def resolve(project: Project, account_id: str, function_name: str, qualifier: str | None = None, *,
            action: str = "lambda:InvokeFunction", latest_when_unqualified: bool = True) -> Function:
    """The project's function a request names, in its only version ``$LATEST``; LambdaApiError otherwise.

    ``latest_when_unqualified``: a not-found message names ``:$LATEST`` when no qualifier was given (Invoke does,
    GetFunction does not)."""
    reference = parse(function_name, qualifier)
    region = project.region
    if reference.region is not None and reference.region != region:
        raise LambdaApiError(404, "ResourceNotFoundException",
                             f"Functions from '{reference.region}' are not reachable in this region ('{region}')")
    account = reference.account or account_id
    if account != account_id:
        arn = function_arn(region, account, reference.name, reference.qualifier)
        raise LambdaApiError(403, "AccessDeniedException",
                             f"User: arn:{partition(region)}:iam::{account_id}:root is not authorized to perform: "
                             f"{action} on resource: {arn} because no resource-based policy allows the {action} "
                             "action")
    function = _find(project, reference.name)
    shown = reference.qualifier or (FUNCTION_VERSION if latest_when_unqualified else None)
    if function is None:
        raise FunctionNotFound(function_arn(region, account, reference.name, shown))
    if reference.qualifier not in (None, FUNCTION_VERSION):  # no published version or alias exists locally
        raise FunctionNotFound(function_arn(region, account, function.name, reference.qualifier))
    return function


def query_parameter(request: Request, name: str) -> str | None:
    """The last value of one query parameter (``Qualifier``, ``Marker``...), or None when it is not sent."""
    values = parse_qs(request.query, keep_blank_values=True).get(name) if request.query else None
    return values[-1] if values else None


def requested_function(project: Project, account_id: str, request: Request, *, action: str,
                       latest_when_unqualified: bool) -> Function:
    """:func:`resolve` for a Lambda API request: FunctionName from the path's ``{name}``, ``Qualifier=`` from its
    query (an empty one counts as not sent, as the SDKs leave it out)."""
    return resolve(project, account_id, unquote(request.params["name"]),
                   query_parameter(request, "Qualifier") or None, action=action,
                   latest_when_unqualified=latest_when_unqualified)


def _find(project: Project, name: str) -> Function | None:
    functions = project.functions
    for function in functions.values():
        if function.name == name:
            return function
    if name in functions:
        return functions[name]
    if name == "function" and len(functions) == 1:  # AWS's emulator names its one function so
        return next(iter(functions.values()))
    return None
