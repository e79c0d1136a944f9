# shellcheck shell=bash
# shellcheck disable=SC2154  # the runtime's globals are set in the bootstrap and the other files
# The runtime's log lines (text, or JSON under Managed Instances) and the Runtime API's ErrorRequest JSON.

# JSON string escaping for messages: the escaped form of $1 into _lr_esc. Control characters come from a table built
# once.
_lr_ctl=()
for _lr_i in {1..31}; do
    printf -v _lr_oct '%03o' "$_lr_i"
    printf -v _lr_c %b "\\0$_lr_oct"
    _lr_ctl[_lr_i]=$_lr_c
done
unset _lr_i _lr_oct _lr_c

_lr_json_escape() {
    local i hex
    _lr_esc=${1//\\/\\\\}
    _lr_esc=${_lr_esc//\"/\\\"}
    _lr_esc=${_lr_esc//$'\n'/\\n}
    _lr_esc=${_lr_esc//$'\r'/\\r}
    _lr_esc=${_lr_esc//$'\t'/\\t}
    if [[ $_lr_esc == *[$'\x01'-$'\x1f']* ]]; then
        for i in "${!_lr_ctl[@]}"; do
            printf -v hex '\\u%04x' "$i"
            _lr_esc=${_lr_esc//"${_lr_ctl[i]}"/$hex}
        done
    fi
}

# _lr_log MESSAGE [LEVEL]: one line on stderr; a JSON object when AWS_LAMBDA_LOG_FORMAT=JSON (Managed Instances).
_lr_log() {
    if [[ -z $_lr_json_logs ]]; then
        printf 'bootstrap: %s\n' "$1" >&2
        return
    fi
    local now=$EPOCHREALTIME ts frac id=
    frac=${now#*.}000
    TZ=UTC printf -v ts '%(%Y-%m-%dT%H:%M:%S)T' "${now%.*}"
    [[ -n $_lr_id ]] && id=",\"requestId\":\"$_lr_id\""
    _lr_json_escape "$1"
    printf '{"timestamp":"%s.%sZ","level":"%s","message":"%s"%s}\n' "$ts" "${frac:0:3}" "${2:-ERROR}" \
        "$_lr_esc" "$id" >&2
}

# _lr_error_body TYPE MESSAGE [TRACE_LINE]: the Runtime API's ErrorRequest JSON, into _lr_body.
_lr_error_body() {
    local msg=$2 trace=''
    if [[ -n ${3-} ]]; then
        _lr_json_escape "$3"
        trace="\"$_lr_esc\""
    fi
    # Keep messages small; cut on a UTF-8 character boundary so the JSON stays valid.
    if (( ${#msg} > 8192 )); then
        msg=${msg:0:8192}
        while [[ $msg == *[$'\x80'-$'\xbf'] ]]; do msg=${msg%?}; done
        [[ $msg == *[$'\xc0'-$'\xff'] ]] && msg=${msg%?}
        msg+='...'
    fi
    _lr_json_escape "$msg"
    _lr_body="{\"errorMessage\":\"$_lr_esc\",\"errorType\":\"$1\",\"stackTrace\":[$trace]}"
}
