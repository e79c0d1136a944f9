# shellcheck shell=bash
# shellcheck disable=SC2154  # the runtime's globals are set in the bootstrap and the other files
# The handler's process: forked before its event, fed its context and event, and what it reports back.

# Helpers for handlers, which run in a child of this shell: both write to the control pipe that the runtime reads
# before it sends the response's headers (after the handler's first output when streaming) and after the handler.
# shellcheck disable=SC2317  # called by handlers
lambda_content_type() {
    printf 'T%s\0' "$1" >&"$_lr_cw"
}
# shellcheck disable=SC2317  # called by handlers
lambda_error_message() {
    printf 'E%s\0' "$1" >&"$_lr_cw"
}

# _lr_pipe R W: a new pipe, its read end into variable R, its write end into W, with no process behind it (Linux
# reopens a pipe through /dev/fd in the other direction).
_lr_pipe() {
    local r w
    exec {r}< <(:)
    exec {w}>"/dev/fd/$r"
    printf -v "$1" %s "$r"
    printf -v "$2" %s "$w"
}

# _lr_context: export the invocation's context from the record in _lr_ctx.
_lr_context() {
    export LAMBDA_RUNTIME_AWS_REQUEST_ID="${_lr_ctx[0]-}" LAMBDA_RUNTIME_DEADLINE_MS="${_lr_ctx[1]-}" \
        LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN="${_lr_ctx[2]-}" LAMBDA_RUNTIME_TRACE_ID="${_lr_ctx[3]-}" \
        LAMBDA_RUNTIME_CLIENT_CONTEXT="${_lr_ctx[4]-}" LAMBDA_RUNTIME_COGNITO_IDENTITY="${_lr_ctx[5]-}" \
        LAMBDA_RUNTIME_AWS_TENANT_ID="${_lr_ctx[6]-}"
    # Set in this process only: under concurrency, each invocation has its own.
    if [[ -n ${_lr_ctx[3]-} ]]; then
        export _X_AMZN_TRACE_ID="${_lr_ctx[3]}"
    else
        unset _X_AMZN_TRACE_ID
    fi
}

# The handler's process, until its event comes: everything that does not depend on the event is done first.
_lr_child() {
    local _lr_ctx=()
    trap - PIPE TERM
    exec {_lr_sock}<&- {_lr_rd}<&- {_lr_cr}<&- {_lr_pr}<&- {_lr_pw}>&-
    if [[ -n $_lr_lc_all_set ]]; then LC_ALL=$_lr_lc_all; else unset LC_ALL; fi
    # A forked process pays a page fault for each memory page it first writes to: writing the context variables
    # once now makes that happen before the event, not after.
    _lr_context
    # The handler's status goes to the control pipe before its stdout closes: the runtime can answer at once,
    # and the process's exit happens meanwhile. (A handler that sets its own EXIT trap is waited for instead.)
    # shellcheck disable=SC2317  # an EXIT trap
    trap 'printf "S%d\0" "$?" >&"$_lr_cw"; exec 1>&-' EXIT
    # The context record: the Lambda-Runtime-* values in a fixed order, separated by \037, ended by a NUL.
    IFS=$'\037' read -r -d '' -a _lr_ctx || { trap - EXIT; exit 0; }  # the runtime went away before an event came
    _lr_context
    unset _lr_ctx
    [[ -n $_lr_replay ]] && eval "$_lr_replay"
    "$_lr_fn"
}

# _lr_spawn: fork the handler's process for the next event (a coprocess: its stdin and stdout are pipes to us). It
# stays in the runtime's process group, so that whoever stops the runtime's group (Lambda, the emulator at a timeout)
# stops it and everything it started. Its pipes are duplicated at once: bash closes a coprocess's own pipes when it
# reaps it.
_lr_spawn() {
    local cin cout
    if [[ -n $_lr_hpid ]]; then
        wait "$_lr_hpid" 2>/dev/null  # the last handler's process, if it was not waited for yet
    fi
    coproc _LR_H { _lr_child; }
    _lr_hpid=$_LR_H_PID
    cin=${_LR_H[1]} cout=${_LR_H[0]}
    exec {_lr_hin}>&"$cin" {_lr_hout}<&"$cout"
    exec {cin}>&- {cout}<&-
}

# _lr_control: read what the handler sent on the control pipe (content type, error message) without waiting.
_lr_control() {
    local record
    while read -r -t 0 -u "$_lr_cr"; do
        IFS= read -r -d '' -u "$_lr_cr" record || break
        case $record in
            T*) _lr_ctype=${record:1} ;;
            E*) _lr_emsg=${record:1} ;;
            S*) _lr_rc=${record:1} ;;
        esac
    done
}

# _lr_feed: the context record, then the event, into the handler's stdin. A small event is written from _lr_segs
# (a pipe holds 64 KiB: this never blocks); a larger one is copied from the socket by dd in the background (_lr_fpid),
# which reads all of it before writing, so the socket is past it even if the handler never reads it.
_lr_feed() {
    local line size
    _lr_fpid=
    if [[ $_lr_pending == 0 ]]; then  # the usual case in one write: context record and small event
        printf '%s\037%s\037%s\037%s\037%s\037%s\037%s\0%s' "$_lr_h_id" "$_lr_h_deadline" "$_lr_h_arn" \
            "$_lr_h_trace" "$_lr_h_client" "$_lr_h_cognito" "$_lr_h_tenant" "${_lr_segs[0]}" 1>&"$_lr_hin"
        (( ${#_lr_segs[@]} > 1 )) && printf '\0%s' "${_lr_segs[@]:1}" 1>&"$_lr_hin"
        exec {_lr_hin}>&-
        return 0
    fi
    printf '%s\037%s\037%s\037%s\037%s\037%s\037%s\0' "$_lr_h_id" "$_lr_h_deadline" "$_lr_h_arn" "$_lr_h_trace" \
        "$_lr_h_client" "$_lr_h_cognito" "$_lr_h_tenant" 1>&"$_lr_hin"
    if [[ $_lr_pending == chunked ]]; then
        (
            while IFS= read -r -u "$_lr_rd" line; do
                line=${line%$'\r'}
                size=$(( 16#${line%%;*} ))
                (( size == 0 )) && break
                dd bs="$size" count=1 iflag=fullblock status=none <&"$_lr_rd" 2>/dev/null
                IFS= read -r -u "$_lr_rd" line
            done
            while IFS= read -r -u "$_lr_rd" line && [[ -n ${line%$'\r'} ]]; do :; done
        ) >&"$_lr_hin" &
        _lr_fpid=$!
    else
        dd bs="$_lr_pending" count=1 iflag=fullblock status=none <&"$_lr_rd" >&"$_lr_hin" 2>/dev/null &
        _lr_fpid=$!
    fi
    exec {_lr_hin}>&-
}

# _lr_finish: once the handler's stdout has ended: its exit status into _lr_rc (from the control pipe, else by waiting
# for its process), what else it sent there, and the feeder is done too, so the socket is ours again.
_lr_finish() {
    _lr_rc=
    _lr_control
    if [[ -z $_lr_rc ]]; then
        wait "$_lr_hpid"
        _lr_rc=$?
        _lr_hpid=
        _lr_control
    fi
    if [[ -n $_lr_fpid ]]; then
        wait "$_lr_fpid"
        _lr_fpid=
    fi
}
