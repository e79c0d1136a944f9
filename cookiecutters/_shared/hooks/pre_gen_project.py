"""Refuse answers that Serverless or Lambda would reject: a bad service name or region, a timeout or memory size
out of range.

Runs under the stock `cookiecutter` command too, so it must not need runtime-scaffold installed; `scaffold new`
checks the same rules (runtime_scaffold.naming, runtime_scaffold.answers) as each answer is given, with a
friendlier message. Every value arrives here as a Python string literal (the py_str filter of scaffold_escapes).
"""

import re
import sys

SLUG = {{ cookiecutter.project_slug | py_str }}
REGION = {{ cookiecutter.aws_region | py_str }}
# AWS's region names in every partition (aws, aws-cn, aws-us-gov, the iso partitions, eusc); naming.REGION_PATTERN.
REGION_PATTERN = r"(?:[a-z]{2}(?:-gov|-iso[a-z]?)?|eusc-[a-z]{2})-[a-z]+-[0-9]+"
# Lambda's limits: timeout in seconds, memory in MB.
LIMITS = {
    "timeout": ({{ cookiecutter.timeout | py_str }}, 1, 900, "seconds"),
    "memory_size": ({{ cookiecutter.memory_size | py_str }}, 128, 10240, "MB"),
}

if not re.fullmatch(r"[a-zA-Z][0-9a-zA-Z-]+", SLUG) or len(SLUG) > 40:
    sys.stderr.write(
        f"error: {SLUG!r} is not a valid Serverless service name: start with a letter, then letters, digits "
        "and hyphens, 2 to 40 characters\n"
    )
    sys.exit(1)

if not re.fullmatch(REGION_PATTERN, REGION):
    sys.stderr.write(f"error: {REGION!r} is not an AWS region name such as us-east-1 or eu-west-3\n")
    sys.exit(1)

for KEY, (VALUE, LOW, HIGH, UNIT) in LIMITS.items():
    if not (re.fullmatch(r"[1-9][0-9]{0,5}", VALUE) and LOW <= int(VALUE) <= HIGH):
        sys.stderr.write(f"error: {KEY} must be a whole number from {LOW} to {HIGH} ({UNIT}), not {VALUE!r}\n")
        sys.exit(1)
