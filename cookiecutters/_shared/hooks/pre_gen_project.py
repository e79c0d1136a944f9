"""Refuse answers that Serverless or Lambda would reject: a bad service name, a timeout or memory size out of range.

Runs under the stock `cookiecutter` command too, so it must not need runtime-scaffold installed; `scaffold new`
checks the same rules (runtime_scaffold.naming, templates.LIMITS) before it renders, with a friendlier message.
"""

import re
import sys

SLUG = "{{ cookiecutter.project_slug }}"
# Lambda's limits: timeout in seconds, memory in MB.
LIMITS = {
    "timeout": ("{{ cookiecutter.timeout }}", 1, 900, "seconds"),
    "memory_size": ("{{ cookiecutter.memory_size }}", 128, 10240, "MB"),
}

if not re.fullmatch(r"[a-zA-Z][0-9a-zA-Z-]+", SLUG) or len(SLUG) > 40:
    sys.stderr.write(
        f"error: {SLUG!r} is not a valid Serverless service name: start with a letter, then letters, digits "
        "and hyphens, 2 to 40 characters\n"
    )
    sys.exit(1)

for KEY, (VALUE, LOW, HIGH, UNIT) in LIMITS.items():
    if not (VALUE.strip().isdigit() and LOW <= int(VALUE) <= HIGH):
        sys.stderr.write(f"error: {KEY} must be a whole number from {LOW} to {HIGH} ({UNIT}), not {VALUE!r}\n")
        sys.exit(1)
