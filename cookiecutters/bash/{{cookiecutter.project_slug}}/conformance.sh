# shellcheck shell=bash
# Conformance handler for `scaffold conform` (_HANDLER=conformance.handler). It echoes every event byte for byte,
# except events that begin exactly with {"conform":"<command>" (no spaces), which ask for something else:
#   {"conform":"error","message":"boom"}  fail: exit 1, the message on stdout (-> /error)
#   {"conform":"context"}                 answer {"requestId","deadlineMs","remainingMs","invokedFunctionArn",
#                                          "traceId","xAmznTraceId","xAmznTraceIdExported","tmpdir","tenantId"}
#   {"conform":"sleep","ms":1500}         sleep that long, then answer {"slept":1500}
#   {"conform":"output","bytes":7000000}  answer a JSON string of that many bytes in all (e.g. to provoke a 413)
#   {"conform":"stream","chunks":["one","two"],"delayMs":300}   write each string apart, delayMs between them
#   {"conform":"stream-error","chunks":["one"],"message":"boom"} write the chunks, then fail with that message
#   {"conform":"stream-bytes","base64":"...","contentType":"..."} write exactly those bytes, in one write
# (the stream commands stream when the function sets SCAFFOLD_RESPONSE_STREAMING=1).
# conformance features: streaming, concurrency
# Echoing stays in bash builtins up to 4 KiB (most events) and NUL bytes; beyond that cat copies the rest: an exec
# costs about a millisecond, bash string handling about 25 ns a byte.

conform_json() {  # conform_json VALUE: the value as a JSON string, into REPLY
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    REPLY="\"$s\""
}

conform_field() {  # conform_field EVENT KEY: a string or integer field of a flat JSON object, into REPLY
    REPLY=
    if [[ $1 =~ \"$2\"[[:space:]]*:[[:space:]]*(\"(([^\"\\]|\\.)*)\"|([0-9]+)) ]]; then
        REPLY=${BASH_REMATCH[2]}${BASH_REMATCH[4]}
    fi
}

conform_sleep() {  # conform_sleep MS
    local pad
    printf -v pad '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 ))
    sleep "$pad"
}

conform_chunks() {  # conform_chunks EVENT DELAY_MS: write each string of the "chunks" array with one printf
    local rest=$1 first=1
    [[ $rest == *'"chunks":['* ]] || return 0
    rest=${rest#*'"chunks":['}
    while [[ $rest =~ ^[[:space:]]*,?[[:space:]]*\"(([^\"\\]|\\.)*)\" ]]; do
        (( first )) || conform_sleep "$2"
        first=0
        printf '%b' "${BASH_REMATCH[1]}"  # JSON escapes such as \n and \" read the same to printf %b
        rest=${rest:${#BASH_REMATCH[0]}}
    done
}

handler() {
    local event rest now_ms out n pad
    # Up to 4 KiB, or to the first NUL byte (bash strings cannot hold one): whatever follows, cat copies as it is.
    if ! IFS= read -r -d '' -n 4096 event; then
        [[ $event == '{"conform":"'* ]] || { printf '%s' "$event"; return 0; }
    elif (( ${#event} < 4096 )); then
        printf '%s\0' "$event"
        exec cat
    elif [[ $event != '{"conform":"'* ]]; then
        printf '%s' "$event"
        exec cat
    fi
    IFS= read -r -N 2000000000 rest
    event+=$rest
    case $event in
        '{"conform":"error"'*)
            conform_field "$event" message
            echo "conformance: failing on request $LAMBDA_RUNTIME_AWS_REQUEST_ID" >&2
            printf '%s' "${REPLY:-conformance error requested}"
            return 1
            ;;
        '{"conform":"context"'*)
            now_ms=${EPOCHREALTIME/./}
            now_ms=$(( 10#$now_ms / 1000 ))
            out='{"requestId":'
            conform_json "$LAMBDA_RUNTIME_AWS_REQUEST_ID"; out+=$REPLY
            out+=',"deadlineMs":'
            conform_json "$LAMBDA_RUNTIME_DEADLINE_MS"; out+=$REPLY
            out+=",\"remainingMs\":$(( ${LAMBDA_RUNTIME_DEADLINE_MS:-0} - now_ms ))"
            out+=',"invokedFunctionArn":'
            conform_json "$LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN"; out+=$REPLY
            out+=',"traceId":'
            conform_json "$LAMBDA_RUNTIME_TRACE_ID"; out+=$REPLY
            out+=',"xAmznTraceId":'
            conform_json "${_X_AMZN_TRACE_ID-}"; out+=$REPLY
            out+=',"xAmznTraceIdExported":'
            if [[ ${_X_AMZN_TRACE_ID@a} == *x* ]]; then out+=true; else out+=false; fi
            out+=',"tmpdir":'
            conform_json "${TMPDIR-}"; out+=$REPLY
            out+=',"tenantId":'
            if [[ -n $LAMBDA_RUNTIME_AWS_TENANT_ID ]]; then
                conform_json "$LAMBDA_RUNTIME_AWS_TENANT_ID"; out+=$REPLY
            else
                out+=null
            fi
            printf '%s}' "$out"
            ;;
        '{"conform":"sleep"'*)
            conform_field "$event" ms
            n=${REPLY:-0}
            conform_sleep "$n"
            printf '{"slept":%d}' "$n"
            ;;
        '{"conform":"output"'*)
            conform_field "$event" bytes
            n=${REPLY:-2}
            (( n >= 2 )) || n=2
            printf -v pad '%*s' $(( n - 2 )) ''
            printf '"%s"' "$pad"
            ;;
        '{"conform":"stream"'*)
            conform_field "$event" delayMs
            conform_chunks "$event" "${REPLY:-0}"
            ;;
        '{"conform":"stream-error"'*)
            conform_chunks "$event" 0
            conform_field "$event" message
            lambda_error_message "${REPLY:-conformance stream error requested}"
            return 1
            ;;
        '{"conform":"stream-bytes"'*)
            conform_field "$event" contentType
            [[ -n $REPLY ]] && lambda_content_type "$REPLY"
            conform_field "$event" base64
            # base64 writes what it decodes in one write; NUL bytes included (a bash string could not hold them).
            base64 -d <<< "$REPLY"
            ;;
        *)
            printf '%s' "$event"
            ;;
    esac
}
