# shellcheck shell=bash
# Conformance handler for `scaffold conform` (_HANDLER=conformance.handler). It echoes every event byte for byte,
# except events that begin exactly with {"conform":"<command>" (no spaces), which ask for something else:
#   {"conform":"error","message":"boom"}  fail: exit 1, the message on stdout (-> /error)
#   {"conform":"context"}                 answer {"requestId","deadlineMs","remainingMs","invokedFunctionArn",
#                                          "traceId","xAmznTraceId","xAmznTraceIdExported","tmpdir"} as seen here
#   {"conform":"sleep","ms":1500}         sleep that long, then answer {"slept":1500}
#   {"conform":"output","bytes":7000000}  answer a JSON string of that many bytes in all (e.g. to provoke a 413)
# Echoing stays in bash builtins up to 4 KiB (most events); beyond that cat copies the rest: an exec costs about a
# millisecond, bash string handling about 25 ns a byte.

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

handler() {
    local event rest now_ms out n pad
    if IFS= read -r -N 4096 event && [[ $event != '{"conform":"'* ]]; then
        printf '%s' "$event"
        exec cat
    fi
    if [[ $event != '{"conform":"'* ]]; then
        printf '%s' "$event"
        return 0
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
            printf '%s}' "$out"
            ;;
        '{"conform":"sleep"'*)
            conform_field "$event" ms
            n=${REPLY:-0}
            printf -v pad '%d.%03d' $(( n / 1000 )) $(( n % 1000 ))
            sleep "$pad"
            printf '{"slept":%d}' "$n"
            ;;
        '{"conform":"output"'*)
            conform_field "$event" bytes
            n=${REPLY:-2}
            (( n >= 2 )) || n=2
            printf -v pad '%*s' $(( n - 2 )) ''
            printf '"%s"' "$pad"
            ;;
        *)
            printf '%s' "$event"
            ;;
    esac
}
