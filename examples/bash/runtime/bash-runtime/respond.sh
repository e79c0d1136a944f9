# shellcheck shell=bash
# shellcheck disable=SC2154  # the runtime's globals are set in the bootstrap and the other files
# One invocation: the handler's stdout as a buffered or a streamed response, or an error; and the invocation loop.

_lr_fail() {  # post _lr_emsg (or the default message) for the failed handler to /error
    [[ -n $_lr_emsg ]] || _lr_emsg="handler $_HANDLER exited with status $_lr_rc (see the function's log)"
    _lr_error_body HandlerError "$_lr_emsg" "$_HANDLER exited with status $_lr_rc"
    _lr_post "invocation/$_lr_id/error" $'Lambda-Runtime-Function-Error-Type: Function.HandlerError\r\n'
    _lr_outcome "POST error"
}

_lr_ctype_header() {
    _lr_extra=
    [[ -n $_lr_ctype ]] && _lr_extra="Content-Type: $_lr_ctype"$'\r\n'
}

# _lr_settled: after the handler's stdout ended, whether there was an invocation to answer. The handler's process
# reports an error status of GET /next (which ends the runtime) or a lost connection (status 1: ask again) instead.
_lr_settled() {
    _lr_finish
    case $_lr_got in
        C) _lr_misses=0; return 0 ;;
        X)
            _lr_check "GET invocation/next"
            _lr_log "GET invocation/next returned $_lr_status (no request id), exiting: $_lr_in"
            exit 1
            ;;
    esac
    _lr_closed=1
    (( _lr_misses++ == 0 )) || _lr_lost "GET invocation/next"
    return 1
}

# Buffered: the handler's whole stdout is the response. Up to _lr_small_out bytes it is read here; past that, the rest
# is counted by one dd and parked in a second until the head, which needs the length, is written; a third sends it.
_lr_buffered() {
    local out
    _lr_segs=() _lr_nbytes=0
    _lr_first
    if [[ $_lr_got == C ]]; then
        if ! IFS= read -r -d '' -n $(( _lr_small_out + 1 )) -u "$_lr_hout" out; then
            _lr_segs=("$out") _lr_nbytes=${#out}  # the usual answer: small, no NUL byte, all there
        else
            _lr_segs=("$out") _lr_nbytes=${#out}
            if (( _lr_nbytes <= _lr_small_out )); then  # stopped at a NUL byte: the rest, in segments
                _lr_segs+=('')
                (( _lr_nbytes++ ))
            fi
            if _lr_read_bytes "$_lr_hout" $(( _lr_small_out + 1 - _lr_nbytes )); then
                _lr_buffered_large
                return
            fi
        fi
    fi
    _lr_settled || return 0
    if (( _lr_rc != 0 )); then
        [[ -n $_lr_emsg ]] || printf -v _lr_emsg '%s' "${_lr_segs[@]}"
        _lr_emsg=${_lr_emsg%$'\n'}
        _lr_fail
        return
    fi
    if [[ ${#_lr_segs[@]} == 1 && $_lr_nbytes != 0 ]]; then  # the usual answer: one command composes it
        printf -v _lr_req 'POST %sinvocation/%s/response HTTP/1.1\r\nHost: %s\r\n%s%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' \
            "$_lr_base" "$_lr_id" "$_lr_hostport" "${_lr_h_invid:+Lambda-Runtime-Invocation-Id: $_lr_h_invid$'\r\n'}" \
            "${_lr_ctype:+Content-Type: $_lr_ctype$'\r\n'}" "$_lr_nbytes" "${_lr_segs[0]}"
        _lr_call "POST response"
        _lr_outcome "POST response"
        return
    fi
    _lr_ctype_header
    _lr_head "invocation/$_lr_id/response" "$_lr_extra"
    if (( ${#_lr_segs[@]} == 1 )); then
        _lr_req=$_lr_head$'0\r\n\r\n'  # no output: an empty answer
        _lr_call "POST response"
    else
        printf -v _lr_head '%s%x\r\n' "$_lr_head" "$_lr_nbytes"
        _lr_splice "$_lr_head" $'\r\n0\r\n\r\n' '' "$_lr_nbytes" || _lr_lost "POST response"
        _lr_recv || _lr_lost "POST response"
        _lr_check "POST response"
    fi
    _lr_outcome "POST response"
}

_lr_buffered_large() {
    local s q spid qpid report count
    if (( _lr_closed )); then
        _lr_connect || _lr_lost "POST response"
    fi
    exec {s}> >(trap - PIPE; exec dd ibs=65536 obs="$_lr_max_out" status=none 2>/dev/null 1>&"$_lr_sock")
    spid=$!
    exec {q}> >(trap - PIPE; exec dd ibs=65536 obs="$_lr_max_out" status=none 2>/dev/null 1>&"$s")
    qpid=$!
    report=$(exec dd ibs=65536 obs=65536 iflag=count_bytes count=$(( _lr_max_out - _lr_nbytes )) \
        <&"$_lr_hout" 2>&1 >&"$q")
    count=${report##*$'\n'}
    count=${count%% *}
    # Past the cap the handler may be blocked writing to a pipe nobody reads any more.
    if [[ ! $count =~ ^[0-9]+$ ]] || (( _lr_nbytes + count >= _lr_max_out )); then
        kill -KILL "$_lr_hpid" 2>/dev/null
    fi
    _lr_settled
    if (( _lr_rc != 0 )) || [[ ! $count =~ ^[0-9]+$ ]] || (( _lr_nbytes + count >= _lr_max_out )); then
        kill "$qpid" "$spid" 2>/dev/null
        exec {q}>&- {s}>&-
        wait "$qpid" "$spid" 2>/dev/null
        if (( _lr_rc == 0 )); then
            _lr_emsg="the handler wrote more than $_lr_max_out bytes to stdout"
            _lr_rc=1
        fi
        [[ -n $_lr_emsg ]] || printf -v _lr_emsg '%s...' "${_lr_segs[@]}"
        _lr_fail
        return
    fi
    _lr_ctype_header
    [[ -n ${_lr_h_invid-} ]] && _lr_extra+="Lambda-Runtime-Invocation-Id: $_lr_h_invid"$'\r\n'
    printf -v _lr_head 'POST %sinvocation/%s/response HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n' \
        "$_lr_base" "$_lr_id" "$_lr_hostport" "$_lr_extra" $(( _lr_nbytes + count ))
    { printf '%s' "$_lr_head"; _lr_put_segs; } 1>&"$s"
    exec {q}>&-
    wait "$qpid"
    exec {s}>&-
    wait "$spid"
    _lr_recv || _lr_lost "POST response"
    _lr_check "POST response"
    _lr_outcome "POST response"
}

# Streaming (SCAFFOLD_RESPONSE_STREAMING=1): each read of the handler's stdout (dd takes what is there, so one chunk
# per write of the handler, not per byte) goes out as one HTTP chunk at once; a failure after the first byte is
# reported in the trailers, one before it through /error.
_lr_stream() {
    local report n head started=0 sent b64 end
    [[ -n $_lr_pr ]] || _lr_pipe _lr_pr _lr_pw  # each chunk passes through it
    _lr_first
    while [[ $_lr_got == C ]]; do
        report=$(exec dd bs=65536 count=1 <&"$_lr_hout" 2>&1 >&"$_lr_pw")
        n=${report##*$'\n'}
        n=${n%% *}
        if [[ ! $n =~ ^[1-9][0-9]*$ ]]; then
            break  # end of the handler's output
        fi
        head=''
        if (( ! started )); then
            _lr_control  # a content type the handler set
            _lr_ctype_header
            _lr_extra+=$'Lambda-Runtime-Function-Response-Mode: streaming\r\n'"Trailer: $_lr_trailer"$'\r\n'
            _lr_head "invocation/$_lr_id/response" "$_lr_extra"
            head=$_lr_head
            started=1
        fi
        printf -v head '%s%x\r\n' "$head" "$n"
        _lr_segs=() _lr_nbytes=0
        if (( n > _lr_small_out )); then
            _lr_splice "$head" $'\r\n' "$_lr_pr" "$n"
        else
            _lr_read_bytes "$_lr_pr" "$n"
            if (( ${#_lr_segs[@]} == 1 )); then
                _lr_req=$head${_lr_segs[0]}$'\r\n'
                _lr_send
            else
                _lr_splice "$head" $'\r\n' '' "$n"
            fi
        fi
        sent=$?
        if (( sent != 0 )); then  # the connection is gone: nobody reads the rest, so stop the handler
            _lr_closed=1
            kill -KILL "$_lr_hpid" 2>/dev/null
            break
        fi
    done
    _lr_settled || return 0
    if (( ! started )); then  # nothing was streamed: an ordinary answer
        if (( _lr_rc != 0 )); then
            _lr_fail
            return
        fi
        _lr_body=''
        _lr_ctype_header
        _lr_post "invocation/$_lr_id/response" "$_lr_extra"$'Lambda-Runtime-Function-Response-Mode: streaming\r\n'
        _lr_outcome "POST response"
        return
    fi
    end=$'0\r\n'
    if (( _lr_rc != 0 )); then
        [[ -n $_lr_emsg ]] || _lr_emsg="handler $_HANDLER exited with status $_lr_rc after it had started streaming"
        _lr_error_body HandlerError "$_lr_emsg" "$_HANDLER exited with status $_lr_rc"
        b64=$(printf '%s' "$_lr_body" | base64 -w 0)
        end+="Lambda-Runtime-Function-Error-Type: Function.HandlerError"$'\r\n'
        end+="Lambda-Runtime-Function-Error-Body: $b64"$'\r\n'
    fi
    _lr_req=$end$'\r\n'
    if (( _lr_closed )) || ! _lr_send || ! _lr_recv; then
        _lr_closed=1
        _lr_log "the stream for $_lr_id was cut off"
        return
    fi
    _lr_check "POST response"
    _lr_outcome "POST response"
}

# _lr_serve: the invocation loop, on this process's own connection. The handler's process for an event is forked
# before the event is asked for, so the fork is not part of the invocation's time, and it reads the event itself.
_lr_serve() {
    _lr_misses=0  # connections found lost in a row
    while :; do
        _lr_control  # anything left over from an earlier invocation's background processes
        _lr_id='' _lr_h_invid='' _lr_got='' _lr_ctype='' _lr_emsg='' _lr_rc=''
        if (( _lr_closed )); then
            _lr_connect || _lr_lost "GET invocation/next"
        fi
        # The request first: the reply waits in the relay's pipe for the process forked meanwhile.
        printf -v _lr_req 'GET %sinvocation/next HTTP/1.1\r\nHost: %s\r\n\r\n' "$_lr_base" "$_lr_hostport"
        _lr_send || _lr_disconnect  # the handler's process then finds the connection gone and says so
        _lr_spawn
        if [[ ${SCAFFOLD_RESPONSE_STREAMING-} == 1 ]]; then
            _lr_stream
        else
            _lr_buffered
        fi
        exec {_lr_hout}<&-
        _lr_id=''
        _lr_body='' _lr_req='' _lr_segs=() _lr_in=''
    done
}
