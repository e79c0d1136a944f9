"""Names the Serverless Framework derives, computed exactly as the Framework does.

The Framework's rule (``lib/plugins/aws/lib/naming.js``): a layer key becomes its CloudFormation logical id by
spelling ``-`` as ``Dash`` and ``_`` as ``Underscore``, upper-casing the first character only, and appending
``LambdaLayer``.
"""

from __future__ import annotations

import re

# Serverless v3's schema for `service`: starts with a letter, then letters, digits and hyphens.
SERVICE_NAME_PATTERN = re.compile(r"^[a-zA-Z][0-9a-zA-Z-]+$")
# A Lambda function name may hold at most 64 characters; the Framework names functions
# `<service>-<stage>-<function>`, so a service name is kept well under that.
MAX_SERVICE_NAME_LENGTH = 40
# AWS's region names in every partition, as botocore's endpoints.json describes each partition's regionRegex
# (aws, aws-cn, aws-us-gov, aws-iso, -iso-b, -iso-e, -iso-f, aws-eusc), with its `\w+` narrowed to the lower-case
# letters every region name uses. The template's pre_gen_project hook holds the same pattern (a test compares them).
REGION_PATTERN = re.compile(r"(?:[a-z]{2}(?:-gov|-iso[a-z]?)?|eusc-[a-z]{2})-[a-z]+-[0-9]+")


def normalize_name(name: str) -> str:
    """The Framework's ``normalizeName``: upper-case the first character, leave the rest."""
    return name[:1].upper() + name[1:]


def layer_logical_id(layer_key: str) -> str:
    """CloudFormation logical id of the layer declared under ``layers: <layer_key>:``."""
    return normalize_name(layer_key.replace("-", "Dash").replace("_", "Underscore")) + "LambdaLayer"


def service_name_problem(name: str) -> str | None:
    """Why Serverless would reject ``name`` as a service name, or None when it is acceptable."""
    if not SERVICE_NAME_PATTERN.fullmatch(name):
        return (
            f"{name!r} is not a valid service name: it must start with a letter and hold only "
            "letters, digits and hyphens (at least 2 characters)"
        )
    if len(name) > MAX_SERVICE_NAME_LENGTH:
        return f"{name!r} is too long for a service name ({len(name)} > {MAX_SERVICE_NAME_LENGTH} characters)"
    return None


def region_problem(region: str) -> str | None:
    """Why ``region`` is not an AWS region name, or None when it has the form of one."""
    if REGION_PATTERN.fullmatch(region):
        return None
    return f"{region!r} is not an AWS region name such as us-east-1 or eu-west-3"
