"""What `scaffold check` reports: one :class:`Finding` per problem, each tied to a rule id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Severity(str, Enum):
    """An error predicts a failed deploy or invocation; a warning is valid but risky or wasteful."""

    ERROR = "error"
    WARNING = "warning"


class Stage(str, Enum):
    """The Serverless command a check runs before (`scaffold check --before`)."""

    PACKAGE = "package"
    DEPLOY = "deploy"


@dataclass(frozen=True)
class Finding:
    """One problem in a project: where it is, what is wrong, and how to fix it."""

    rule: str  # stable id, e.g. "bootstrap-missing"; tests and users can filter on it
    severity: Severity
    file: str  # path relative to the project root ("serverless.yml", "runtime/bootstrap")
    message: str  # what is wrong, in Lambda's own words where it has some
    fix: str  # what to do about it
    # True for an error that only a build step can fix and that only bites once the code runs in Lambda: a
    # file a layer is still to be built with (e.g. #!/opt/bin/php before build-php.sh has run). A fresh
    # project must still package, so before `package` it is a warning; before `deploy` it stays an error.
    awaits_build: bool = False

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def before(self, stage: Stage) -> Finding:
        """This finding as it counts before ``stage``."""
        if stage is Stage.PACKAGE and self.awaits_build and self.is_error:
            return replace(
                self,
                severity=Severity.WARNING,
                message=f"{self.message} (a warning before package; deploy stops on it)",
            )
        return self


# Every rule `scaffold check` knows, with the one line shown by `scaffold check --help` and in docs.
RULES: dict[str, str] = {
    "runtime-unsupported": "runtime is not provided.al2023 / provided.al2 (old `provided` is deprecated)",
    "runtime-deprecated": "runtime provided.al2 is past its deprecation date (Jul 31 2026)",
    "layer-ref-unknown": "{ Ref: X } names no layer of the service (correct id suggested)",
    "layer-ref-retain": "a referenced layer has retain: true, which appends a hash to its logical id",
    "layer-arn-invalid": "a layer ARN is not a layer version ARN",
    "layer-path-missing": "a layer's path: folder does not exist",
    "layers-replaced": "function layers: silently replaces provider.layers",
    "layers-too-many": "a function uses more than 5 layers",
    "timeout-out-of-range": "a function's timeout is outside Lambda's 1-900 seconds",
    "memory-out-of-range": "a function's memorySize is outside Lambda's 128-10240 MB",
    "environment-reserved": "environment: sets a key Lambda reserves (_HANDLER, AWS_REGION, ...)",
    "bootstrap-missing": "no bootstrap at the package root or in any layer (Runtime.InvalidEntrypoint)",
    "bootstrap-nested": "bootstrap exists, but one folder too deep to be found",
    "bootstrap-not-executable": "bootstrap lacks the read/execute bits Lambda's user needs",
    "bootstrap-format": "bootstrap is neither a script with #! nor a Linux ELF executable",
    "crlf-line-endings": "Windows line endings in bootstrap or a shell script",
    "shebang-interpreter-missing": "#! interpreter is neither in a layer nor on the Amazon Linux base image",
    "bootstrap-program-missing": "the /opt program a shell bootstrap execs is in none of the function's layers",
    "elf-architecture": "ELF binary built for another architecture than the function's",
    "handler-file-missing": "the handler's file is not in the function package (task root)",
    "handler-undeterminable": "the handler does not follow file.method, so its file cannot be checked",
    "package-too-large": "function plus layers exceed 250 MB unzipped",
    "layer-shipped-twice": "the layer folder is also packaged into the function zip",
    "extension-not-executable": "a file in a layer's extensions/ lacks the read/execute bits (Extension.LaunchError)",
    "extensions-too-many": "more than 10 files in /opt/extensions (Lambda launches at most 10 extensions)",
    "exec-wrapper-ignored": "AWS_LAMBDA_EXEC_WRAPPER is set on an OS-only (provided.*) runtime, which ignores it",
}
