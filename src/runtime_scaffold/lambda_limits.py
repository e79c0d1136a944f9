"""AWS Lambda's fixed limits, in one place for every part that enforces or checks them (shared/docs/runtime-api.md)."""

TIMEOUT_RANGE_S = (1, 900)  # a function's timeout; CloudFormation rejects anything outside it at deploy
MEMORY_RANGE_MB = (128, 10240)  # a function's memorySize
MAX_LAYERS = 5  # layers per function
MAX_EXTENSIONS = 10  # extensions per function, external (files of /opt/extensions) and internal together
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function package plus its layers, unzipped
# An on-demand function's Init phase (runtime and function init, up to the first /next) has 10 s of its own, apart
# from the invocation's timeout; past it, or after an init error, Lambda runs Init again within the invocation.
INIT_TIMEOUT_S = 10.0

# Keys Lambda sets itself and refuses in a function's configuration (the deploy fails: "... contains reserved keys
# that are currently not supported for modification"): the reserved list of AWS's environment-variable page, which
# now includes AWS_DEFAULT_REGION and AWS_ACCESS_KEY beside shared/docs/runtime-api.md §4's. TZ is not in it: the
# page lists TZ among the variables a function may set (pages before 2020 said reserved).
RESERVED_ENVIRONMENT_VARIABLES = frozenset({
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
})
