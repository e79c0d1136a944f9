# shellcheck shell=bash
# Conformance handler for the AWS walkthrough runtime (_HANDLER=conformance.handler), written the way the
# walkthrough's function.sh is: the event arrives as $1, the response is what `echo $RESPONSE` prints, a failure is a
# non-zero status. The walkthrough's bootstrap hands a handler nothing else (no request id, deadline, ARN or trace id),
# so those fields of the context answer (and the tenant) come out empty. Protocol: README, "scaffold conform".
function handler () {
  EVENT_DATA=$1
  case "$EVENT_DATA" in
    '{"conform":"error"'*)
      echo "conformance error requested" 1>&2
      return 1
      ;;
    '{"conform":"context"'*)
      EXPORTED=false
      if env | grep -q '^_X_AMZN_TRACE_ID='; then EXPORTED=true; fi
      RESPONSE="{\"requestId\":\"\",\"deadlineMs\":\"\",\"remainingMs\":null,\"invokedFunctionArn\":\"\",\"traceId\":\"\",\"xAmznTraceId\":\"${_X_AMZN_TRACE_ID:-}\",\"xAmznTraceIdExported\":$EXPORTED,\"tmpdir\":\"${TMPDIR:-}\",\"tenantId\":\"\"}"
      ;;
    '{"conform":"sleep"'*)
      MS=$(echo "$EVENT_DATA" | tr -dc '0-9')
      sleep "$(printf '%d.%03d' $((MS / 1000)) $((MS % 1000)))"
      RESPONSE="{\"slept\":$MS}"
      ;;
    '{"conform":"output"'*)
      BYTES=$(echo "$EVENT_DATA" | tr -dc '0-9')
      RESPONSE="\"$(head -c $((BYTES - 2)) /dev/zero | tr '\0' ' ')\""
      ;;
    *)
      RESPONSE=$EVENT_DATA
      ;;
  esac

  # shellcheck disable=SC2086  # unquoted, as in the walkthrough's function.sh: one of the bugs the suite catches
  echo $RESPONSE
}
