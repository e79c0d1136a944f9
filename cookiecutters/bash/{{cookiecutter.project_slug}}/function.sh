# shellcheck shell=bash
# Sample handler. _HANDLER=function.handler: runtime/bootstrap sources this file once at init (top-level code runs
# once per sandbox; put clients and caches here) and calls `handler` once per event, in a subshell.
#   event:    on stdin, byte for byte
#   context:  LAMBDA_RUNTIME_AWS_REQUEST_ID, LAMBDA_RUNTIME_DEADLINE_MS (epoch ms),
#             LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN, LAMBDA_RUNTIME_TRACE_ID (= _X_AMZN_TRACE_ID)
#   response: everything written to stdout, byte for byte
#   error:    a non-zero status; stdout then becomes the error message; stderr always goes to the log
# Example: {"name": "World"} -> {"message":"Hello, World!"}

handler() {
    local event name
    IFS= read -r -d '' event || :   # the whole event (read stops at end of input, with status 1)
    # No jq on provided.al2023: pick the "name" string out with a regex. JSON escapes inside it are kept as they are,
    # which is exactly right for putting it back into a JSON string.
    if [[ $event =~ \"name\"[[:space:]]*:[[:space:]]*\"(([^\"\\]|\\.)*)\" ]]; then
        name=${BASH_REMATCH[1]}
    else
        printf 'the event has no "name" string, e.g. {"name": "World"}'
        return 1
    fi
    echo "greeting $name (request $LAMBDA_RUNTIME_AWS_REQUEST_ID)" >&2
    printf '{"message":"Hello, %s!"}' "$name"
}
