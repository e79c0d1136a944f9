# shellcheck shell=bash
# shellcheck disable=SC2154  # the runtime's globals are set in the bootstrap and the other files
# HTTP/1.1 to the Runtime API over bash's /dev/tcp: one keep-alive connection, each request in one write.

# _lr_disconnect: close the connection and stop its relay.
_lr_disconnect() {
    _lr_stop_spawner
    if [[ -n $_lr_sock ]]; then
        kill "$_lr_relay" 2>/dev/null
        exec {_lr_sock}<&- {_lr_rd}<&-
        wait "$_lr_relay" 2>/dev/null
    fi
    _lr_sock='' _lr_rd='' _lr_relay='' _lr_closed=1
}

# _lr_connect: a new connection. What arrives on it is read through a relay, a dd that copies each segment as it
# comes into a pipe: bash reads sockets and pipes a byte per read() call, and a read() costs several times as much
# on a socket as on a pipe.
_lr_connect() {
    local host=${_lr_hostport%:*} port=${_lr_hostport##*:}
    host=${host#\[}
    host=${host%\]}
    _lr_disconnect
    exec {_lr_sock}<>"/dev/tcp/$host/$port" || return 1
    exec {_lr_rd}< <(exec dd bs=65536 status=none <&"$_lr_sock" 2>/dev/null)
    _lr_relay=$!
    _lr_closed=0
}

# _lr_send: write the request in _lr_req (no NUL bytes) in one write(), (re)connecting first if needed. Up to
# _lr_one_write bytes, ending in a newline as all ours do, printf does it; a longer one goes through dd, which
# collects it whole (obs = its size) and writes it once.
_lr_send() {
    if (( _lr_closed )); then
        _lr_connect || return 1
    fi
    if (( ${#_lr_req} <= _lr_one_write )); then
        printf '%s' "$_lr_req" 2>/dev/null 1>&"$_lr_sock"
    else
        printf '%s' "$_lr_req" > >(trap - PIPE; exec dd ibs=65536 obs="${#_lr_req}" status=none 2>/dev/null \
            1>&"$_lr_sock")
        wait "$!"
    fi
}

# _lr_splice HEAD TAIL FD N: write HEAD, the body, TAIL to the socket in one write(), the body being N bytes from FD
# (when FD is empty: _lr_segs joined by NUL bytes). dd collects the whole request first (obs = its size).
_lr_splice() {
    local w wpid
    if (( _lr_closed )); then
        _lr_connect || return 1
    fi
    exec {w}> >(trap - PIPE; exec dd ibs=65536 obs="$(( ${#1} + ${#2} + $4 ))" status=none 2>/dev/null \
        1>&"$_lr_sock")
    wpid=$!
    printf '%s' "$1" >&"$w"
    if [[ -n $3 ]]; then
        dd bs="$4" count=1 iflag=fullblock status=none <&"$3" >&"$w" 2>/dev/null
    else
        _lr_put_segs 1>&"$w"
    fi
    printf '%s' "$2" >&"$w"
    exec {w}>&-
    wait "$wpid"
}

# _lr_read_bytes FD N: append up to N bytes read from FD to _lr_segs, the bytes split at their NUL bytes (segments k
# and k+1 were separated by one NUL), counting them in _lr_nbytes. Status 1 if FD ended first. A byte at a time
# (neither a socket nor a pipe can be read ahead and given back), so every NUL is seen and none is waited for.
_lr_read_bytes() {
    local left=$2 seg
    (( ${#_lr_segs[@]} )) || _lr_segs=('')
    while (( left > 0 )); do
        if ! IFS= read -r -d '' -n "$left" -u "$1" seg; then
            _lr_segs[-1]+=$seg
            (( _lr_nbytes += ${#seg} ))
            return 1
        fi
        _lr_segs[-1]+=$seg
        (( left -= ${#seg}, _lr_nbytes += ${#seg} ))
        if (( left > 0 )); then  # stopped at a NUL
            _lr_segs+=('')
            (( left--, _lr_nbytes++ ))
        fi
    done
    return 0  # (an arithmetic command that yields 0 has status 1)
}

# _lr_put_segs: print _lr_segs joined by NUL bytes (printf repeats its format for each argument, and prints it once
# even with none: hence the test).
_lr_put_segs() {
    printf '%s' "${_lr_segs[0]-}"
    (( ${#_lr_segs[@]} > 1 )) && printf '\0%s' "${_lr_segs[@]:1}"
    return 0
}

# _lr_recv: read one reply. Sets _lr_status, the _lr_h_* invocation headers, and its body: in _lr_in (NUL bytes
# dropped) for the API's own messages; for an event, in _lr_segs, or left in the socket (_lr_pending: its length, or
# "chunked") when it is too large for bash.
_lr_recv() {
    local line name value len=0 chunked=0 ended=0 size seg
    IFS= read -r -u "$_lr_rd" line || return 1
    case $line in
        HTTP/1.1\ [0-9][0-9][0-9]*) _lr_closed=0 ;;
        HTTP/1.0\ [0-9][0-9][0-9]*) _lr_closed=1 ;;
        *) return 1 ;;
    esac
    _lr_status=${line:9:3}
    _lr_h_id='' _lr_h_deadline='' _lr_h_arn='' _lr_h_trace='' _lr_h_client='' _lr_h_cognito='' _lr_h_tenant=''
    _lr_h_invid='' _lr_pending=0 _lr_in='' _lr_segs=() _lr_nbytes=0
    # Two commands a line (an event's time goes here): read splits "Name: value" at the colon (the first one; the
    # value keeps any others) and trims the whitespace and the CR around the value (but keeps a CR after a value that
    # holds a colon, as an ARN does: hence the %CR); names are matched without regard to case.
    shopt -s nocasematch
    while IFS=$': \t\r' read -r -u "$_lr_rd" name value; do
        case $name in
            '') ended=1; break ;;
            lambda-runtime-aws-request-id) _lr_h_id=${value%$'\r'} ;;
            lambda-runtime-deadline-ms) _lr_h_deadline=${value%$'\r'} ;;
            lambda-runtime-invoked-function-arn) _lr_h_arn=${value%$'\r'} ;;
            lambda-runtime-trace-id) _lr_h_trace=${value%$'\r'} ;;
            lambda-runtime-invocation-id) _lr_h_invid=${value%$'\r'} ;;
            lambda-runtime-aws-tenant-id) _lr_h_tenant=${value%$'\r'} ;;
            lambda-runtime-client-context) _lr_h_client=${value%$'\r'} ;;
            lambda-runtime-cognito-identity) _lr_h_cognito=${value%$'\r'} ;;
            content-length) len=${value%$'\r'} ;;
            transfer-encoding) [[ $value == *chunked* ]] && chunked=1 ;;
            connection) [[ $value == *close* ]] && _lr_closed=1 ;;
        esac
    done
    shopt -u nocasematch
    [[ $ended == 1 && -n $len && $len != *[!0-9]* ]] || return 1
    if [[ $_lr_status == 200 && -n $_lr_h_id ]]; then  # an event
        if (( chunked )); then
            _lr_pending=chunked
        elif (( len > _lr_small_event )); then
            _lr_pending=$len
        elif IFS= read -r -d '' -n "$len" -u "$_lr_rd" seg; then
            _lr_segs=("$seg") _lr_nbytes=${#seg}
            if (( _lr_nbytes < len )); then  # stopped at a NUL byte: the rest, in segments
                _lr_segs+=('')
                (( _lr_nbytes++ ))
                _lr_read_bytes "$_lr_rd" $(( len - _lr_nbytes )) || return 1
            fi
        else
            return 1  # the connection ended
        fi
        return 0
    fi
    if (( chunked )); then
        while :; do
            IFS= read -r -u "$_lr_rd" line || return 1
            line=${line%$'\r'}
            line=${line%%;*}
            [[ -n $line && $line != *[!0-9a-fA-F]* ]] || return 1
            size=$(( 16#$line ))
            (( size == 0 )) && break
            _lr_read_bytes "$_lr_rd" "$size" || return 1
            IFS= read -r -u "$_lr_rd" line || return 1
        done
        while IFS= read -r -u "$_lr_rd" line && [[ -n ${line%$'\r'} ]]; do :; done
    else
        _lr_read_bytes "$_lr_rd" "$len" || return 1
    fi
    printf -v _lr_in '%s' "${_lr_segs[@]}"
}

_lr_lost() {
    _lr_log "lost the Runtime API at $_lr_api during $1"
    exit 1
}

# _lr_call WHAT: send _lr_req, read the reply. A keep-alive connection the server dropped while we were idle is
# reopened once; a Runtime API that cannot be reached ends the runtime, and so does a 5xx (the container is broken).
_lr_call() {
    if ! { _lr_send && _lr_recv; }; then
        _lr_closed=1
        { _lr_send && _lr_recv; } || _lr_lost "$1"
    fi
    _lr_check "$1"
}

_lr_check() {
    if [[ $_lr_status == 5* ]]; then
        _lr_log "$1 returned $_lr_status, exiting: $_lr_in"
        exit 1
    fi
}

# _lr_head RESOURCE [HEADER_LINES]: the head of a POST to RESOURCE with a chunked body, into _lr_head. The invocation
# id of the current attempt goes along, so that Lambda can refuse a post for an attempt that timed out (410).
_lr_head() {
    local extra=${2-}
    [[ -n ${_lr_h_invid-} && $1 == invocation/* ]] && extra+="Lambda-Runtime-Invocation-Id: $_lr_h_invid"$'\r\n'
    printf -v _lr_head 'POST %s%s HTTP/1.1\r\nHost: %s\r\n%sTransfer-Encoding: chunked\r\n\r\n' \
        "$_lr_base" "$1" "$_lr_hostport" "$extra"
}

# _lr_post RESOURCE [HEADER_LINES]: POST _lr_body (a string) and read the reply.
_lr_post() {
    _lr_head "$@"
    _lr_req=$_lr_head
    (( ${#_lr_body} )) && printf -v _lr_req '%s%x\r\n%s\r\n' "$_lr_head" "${#_lr_body}" "$_lr_body"
    _lr_req+=$'0\r\n\r\n'
    _lr_call "POST $1"
}

# _lr_outcome WHAT: log a post's reply that is not 202. A 413 or 410 (the attempt timed out) ends the invocation:
# nothing more is posted for it.
_lr_outcome() {
    case $_lr_status in
        202) ;;
        413) _lr_log "$1 for $_lr_id is too large: $_lr_in" ;;
        410) _lr_log "$1 for $_lr_id refused, its attempt is over: $_lr_in" WARN ;;
        *) _lr_log "$1 for $_lr_id returned $_lr_status: $_lr_in" ;;
    esac
}
