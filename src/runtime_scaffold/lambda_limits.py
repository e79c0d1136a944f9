"""AWS Lambda's fixed limits, in one place for every part that enforces or checks them (shared/docs/runtime-api.md)."""

TIMEOUT_RANGE_S = (1, 900)  # a function's timeout; CloudFormation rejects anything outside it at deploy
MEMORY_RANGE_MB = (128, 10240)  # a function's memorySize
MAX_LAYERS = 5  # layers per function
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function package plus its layers, unzipped
