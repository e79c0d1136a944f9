# shellcheck shell=bash
# shellcheck disable=SC2154  # the runtime's globals are set in the bootstrap and the other files
# The handler's process: forked before its event, it reads the reply to GET /next itself (one process less to wake
# when the event comes), gives the handler the event on stdin and the context in its variables. It tells the runtime
# what came first on its stdout, as one NUL-ended record, C (request id, invocation id, connection state) before the
# handler's output, or X/L when no event came (an error status, a lost connection); and the handler's status (S) on
# the message pipe (see _lr_spawner) before its stdout closes.

# Helpers for handlers, which run in this process: both write to the message pipe that the runtime reads before it
# sends the response's headers (after the handler's first output when streaming) and after the handler.
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

# _lr_context: export the invocation's context, named by the header names (Lambda-Runtime-Aws-Request-Id ->
# LAMBDA_RUNTIME_AWS_REQUEST_ID). _X_AMZN_TRACE_ID is set in this process only: under concurrency, each invocation
# has its own.
_lr_context() {
    export LAMBDA_RUNTIME_AWS_REQUEST_ID="$_lr_h_id" LAMBDA_RUNTIME_DEADLINE_MS="$_lr_h_deadline" \
        LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN="$_lr_h_arn" LAMBDA_RUNTIME_TRACE_ID="$_lr_h_trace" \
        LAMBDA_RUNTIME_CLIENT_CONTEXT="$_lr_h_client" LAMBDA_RUNTIME_COGNITO_IDENTITY="$_lr_h_cognito" \
        LAMBDA_RUNTIME_AWS_TENANT_ID="$_lr_h_tenant"
    if [[ -n $_lr_h_trace ]]; then
        export _X_AMZN_TRACE_ID="$_lr_h_trace"
    else
        unset _X_AMZN_TRACE_ID
    fi
}

# _lr_feed W: the event into the pipe the handler reads as stdin, through its write end W. A small event is written
# from _lr_segs (a pipe holds 64 KiB: this never blocks); a larger one is copied from the connection by dd in the
# background (_lr_fpid), which reads all of it before it writes, so the connection is past it even if the handler
# never reads it.
_lr_feed() {
    local line size
    _lr_fpid=
    if [[ $_lr_pending == 0 ]]; then
        _lr_put_segs 1>&"$1"
    elif [[ $_lr_pending == chunked ]]; then
        (
            while IFS= read -r -u "$_lr_rd" line; do
                line=${line%$'\r'}
                size=$(( 16#${line%%;*} ))
                (( size == 0 )) && break
                dd bs="$size" count=1 iflag=fullblock status=none <&"$_lr_rd" 2>/dev/null
                IFS= read -r -u "$_lr_rd" line
            done
            while IFS= read -r -u "$_lr_rd" line && [[ -n ${line%$'\r'} ]]; do :; done
        ) 1>&"$1" &
        _lr_fpid=$!
    else
        dd bs="$_lr_pending" count=1 iflag=fullblock status=none <&"$_lr_rd" 1>&"$1" 2>/dev/null &
        _lr_fpid=$!
    fi
}

# _lr_done STATUS: the handler is over: the feeder must be past the event before the runtime uses the connection
# again; the status goes to the message pipe, then stdout closes, before this process's own exit.
# shellcheck disable=SC2317  # an EXIT trap
_lr_done() {
    set +eu  # the handler's options are on: whatever they are, report
    if [[ -n $_lr_fpid ]]; then
        exec 0<&-
        wait "$_lr_fpid"
    fi
    printf 'S%d\0' "$1" >&"$_lr_cw"
    exec 1>&-
}

# _lr_locale: the function's own locale, for the handler (the runtime works in C: lengths count bytes).
_lr_locale() {
    if [[ -n $_lr_lc_all_set ]]; then LC_ALL=$_lr_lc_all; else unset LC_ALL; fi
}

_lr_child() {
    local _lr_w
    trap - PIPE TERM
    IFS= read -r -N 1 _ || exit 0  # the spawner's go (see _lr_spawner)
    # A forked process pays a page fault and a copy for each page of memory it first writes to: the first change of
    # locale in a new process costs ten times the next. Made now, before the event, and undone.
    _lr_locale
    LC_ALL=C
    # Our stdin is a pipe from the runtime, which closed its end: opened again for writing, it carries the event.
    exec {_lr_w}>/dev/fd/0
    if ! _lr_recv; then
        printf 'L\0'
        exit 0
    fi
    if [[ $_lr_status != 200 || -z $_lr_h_id ]]; then
        printf 'X\037%s\037%s\0' "$_lr_status" "$_lr_in"
        exit 0
    fi
    printf 'C\037%s\037%s\037%s\0' "$_lr_h_id" "$_lr_h_invid" "$_lr_closed"
    _lr_id=$_lr_h_id _lr_fpid=''
    if [[ $_lr_pending == 0 && ${#_lr_segs[@]} == 1 ]]; then
        printf '%s' "${_lr_segs[0]}" 1>&"$_lr_w"  # the usual event: small, no NUL byte
    else
        _lr_feed "$_lr_w"
    fi
    exec {_lr_w}>&-
    trap '_lr_done "$?"' EXIT
    _lr_context
    exec {_lr_rd}<&-
    _lr_locale
    [[ -n $_lr_replay ]] && eval "$_lr_replay"
    "$_lr_fn"
}

# The handlers' processes are forked by a spawner, itself forked once per connection, not by the runtime: a forked
# process shares its parent's memory until either writes to it, and each write to a shared page costs a page fault and
# a copy. The spawner does nothing while its child lives; the runtime, which works all through an invocation, shares
# nothing with it. It acts on requests only (a process that ends at once, the connection being gone, is not forked
# again and again): "n" forks the next process, sent once the runtime is done reading the connection (the new
# process reads the next reply on it at once), answered "P<pid> <fd>": the runtime opens the process's stdout as
# /proc/<spawner>/fd/<fd>, the spawner's own copy of the read end of that pipe, kept until the next fork (not the
# process's fd 1: bash moves that fd while a builtin of the process writes elsewhere); "s" waits for the last process,
# answered "X<status>". The processes stay in the runtime's process group, so that whoever stops the runtime's group
# (Lambda, the emulator at a timeout) stops them and everything they started.
#
# The spawner's answers and the processes' own records (T, E, S) share one pipe to the runtime, the message pipe:
# NUL-ended records, the spawner's stdout, which the processes have as _lr_cw.
_lr_spawner() {
    local request pid="" status cin cout out=''
    trap - TERM
    exec {_lr_cw}>&1
    [[ -n $_lr_sock ]] && exec {_lr_sock}<&-
    [[ -n $_lr_pr ]] && exec {_lr_pr}<&- {_lr_pw}>&-
    while IFS= read -r request; do  # end of input: the runtime is gone
        if [[ -n $pid ]]; then
            wait "$pid"
            status=$?
            [[ $request == s ]] && printf 'X%s\0' "$status"
            pid=''
        fi
        [[ $request == n ]] || continue
        [[ -n $out ]] && exec {out}<&-
        coproc _LR_H { _lr_child; }
        pid=$_LR_H_PID cin=${_LR_H[1]} cout=${_LR_H[0]}
        # Once bash has reaped a coprocess it unsets its variables and closes its pipes, unread data and all: the
        # process waits for a byte before it does anything, and its stdout is kept as a copy that bash leaves alone,
        # for a process that ends at once (no event) may be reaped before the runtime has opened it.
        exec {out}<&"$cout" {cout}<&-
        printf g >&"$cin"
        exec {cin}>&-  # the process feeds its stdin itself
        printf 'P%s %s\0' "$pid" "$out"
    done
}

# _lr_spawn: the handler's process for the next event (a spawner first, if this connection has none) and its stdout,
# _lr_hout.
_lr_spawn() {
    local cin cout
    if [[ -z $_lr_spawner ]]; then
        coproc _LR_SPAWNER { _lr_spawner; }
        _lr_spawner=$_LR_SPAWNER_PID cin=${_LR_SPAWNER[1]} cout=${_LR_SPAWNER[0]}
        exec {_lr_sreq}>&"$cin" {_lr_cr}<&"$cout"
        exec {cin}>&- {cout}<&-
    fi
    printf 'n\n' >&"$_lr_sreq"
    _lr_forked=''
    while [[ -z $_lr_forked ]] && _lr_record; do :; done
    _lr_hpid=${_lr_forked% *}
    exec {_lr_hout}<"/proc/$_lr_spawner/fd/${_lr_forked#* }" \
        || { _lr_log "cannot reach the handler's process"; exit 1; }
}

# _lr_stop_spawner: end the spawner and the process it forked last (they hold the connection's input).
_lr_stop_spawner() {
    if [[ -n $_lr_spawner ]]; then
        kill "$_lr_spawner" ${_lr_hpid:+"$_lr_hpid"} 2>/dev/null
        exec {_lr_sreq}>&- {_lr_cr}<&-
        wait "$_lr_spawner" 2>/dev/null
    fi
    _lr_spawner='' _lr_hpid='' _lr_sreq='' _lr_cr=''
}

# _lr_record: read one record from the message pipe (waiting for it) and take it in.
_lr_record() {
    local record
    IFS= read -r -d '' -u "$_lr_cr" record || return 1
    case $record in
        S*) _lr_rc=${record:1} ;;
        T*) _lr_ctype=${record:1} ;;
        E*) _lr_emsg=${record:1} ;;
        P*) _lr_forked=${record:1} ;;
        X*) _lr_exited=${record:1} ;;
    esac
}

# _lr_control: take in the records already there, without waiting.
_lr_control() {
    while [[ -n $_lr_cr ]] && read -r -t 0 -u "$_lr_cr"; do
        _lr_record || break
    done
}

# _lr_first: the record the handler's process writes first on its stdout: C, and the invocation's request id,
# invocation id and connection state; X, an error status; L, a lost connection (also when it ended without one).
_lr_first() {
    local closed
    _lr_got=L
    IFS=$'\037' read -r -d '' -u "$_lr_hout" _lr_got _lr_id _lr_h_invid closed || _lr_got=L
    case $_lr_got in
        C) [[ $closed == 1 ]] && _lr_closed=1 ;;
        X) _lr_status=$_lr_id _lr_in=$_lr_h_invid _lr_id='' ;;
    esac
}

# _lr_finish: once the handler's stdout has ended: its exit status into _lr_rc (from its S record, else from the
# spawner, which waits for it), and what else it sent. Without a status (the handler set an EXIT trap of its
# own) a feeder of a large event may still be reading the connection: a fresh one is used from now on.
_lr_finish() {
    _lr_control
    [[ -n $_lr_rc ]] && return
    _lr_exited=''
    [[ -n $_lr_sreq ]] && printf 's\n' >&"$_lr_sreq"
    while [[ -z $_lr_exited ]] && _lr_record; do :; done
    _lr_rc=${_lr_exited:-1}
    _lr_closed=1
}
