#!/bin/bash
# {{ name }}: an external Lambda extension in bash, written by `scaffold new-extension`. Lambda starts every file
# of /opt/extensions (this layer's extensions/ folder) before the runtime. This one registers for INVOKE and
# SHUTDOWN, starts a listener for the Telemetry API (telemetry-listener.awk beside it, in gawk: bash cannot open
# a listening socket, and gawk is on Lambda's Amazon Linux 2023 image), subscribes it to the function's and the
# platform's records, and writes each record it receives to the log or to $TELEMETRY_LOG_FILE. The contract is
# in the project README ("Extension {{ name }}").
set -uo pipefail

# Lambda knows an external extension by its file name: keep this equal to the file's name.
name={{ name | sh_str }}
here=$(cd "$(dirname "$0")" && pwd)
listener_program="$here/../$name/telemetry-listener.awk"  # /opt/<name>/telemetry-listener.awk on Lambda
api="http://${AWS_LAMBDA_RUNTIME_API}"
port=${TELEMETRY_LISTENER_PORT:-4243}
records_file=${TELEMETRY_LOG_FILE:-}  # empty: each record goes to the log, as "[<name>] {json}"
listener_pid=""

log() { printf '[%s] %s\n' "$name" "$*"; }

# --- your code: each runs before the extension asks for its next event, so keep them quick --------------
on_invoke() {  # $1: the INVOKE event (JSON: requestId, deadlineMs, invokedFunctionArn, tracing)
  :
}
on_shutdown() {  # $1: the reason (spindown, timeout, failure); the Shutdown phase ends 2 s after it began
  :
}
# ---------------------------------------------------------------------------------------------------------

work=$(mktemp -d)
stop() {
  [[ -n $listener_pid ]] && kill "$listener_pid" 2>/dev/null
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 0' TERM

register() {
  if ! curl -sS -f -D "$work/headers" -o /dev/null -X POST "$api/2020-01-01/extension/register" \
      -H "Lambda-Extension-Name: $name" -d '{"events": ["INVOKE", "SHUTDOWN"]}'; then
    log "registering with the Extensions API failed"
    exit 1
  fi
  id=$(tr -d '\r' < "$work/headers" | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: *//p')
}

start_listener() {  # on the first free port from $port on; sets port and listener_pid
  if ! command -v gawk >/dev/null; then
    log "gawk is not installed here (Lambda's image has it): no telemetry. Install gawk to see records locally."
    return 1
  fi
  local try tried nonce="$RANDOM$RANDOM$$"
  for ((try = 0; try < 20; try++)); do
    tried=$((port + try))
    LC_ALL=C gawk -v port="$tried" -v nonce="$nonce" -v prefix="[$name]" -v out="$records_file" \
      -f "$listener_program" &
    listener_pid=$!
    for _ in {1..200}; do  # until it answers our ping (another listener may hold the port)
      kill -0 "$listener_pid" 2>/dev/null || break
      if [[ $(curl -s --max-time 1 "http://127.0.0.1:$tried/ping" 2>/dev/null) == "$nonce" ]]; then
        port=$tried
        return 0
      fi
      sleep 0.01
    done
    kill "$listener_pid" 2>/dev/null
    wait "$listener_pid" 2>/dev/null
    listener_pid=""
  done
  log "no free port for the telemetry listener from $port on"
  return 1
}

subscribe() {  # platform and function records; not "extension": this extension's own lines would come back
  local status
  status=$(curl -sS -o "$work/answer" -w '%{http_code}' -X PUT "$api/2022-07-01/telemetry" \
    -H "Lambda-Extension-Identifier: $id" -H 'Content-Type: application/json' -d '{
      "schemaVersion": "2025-01-29",
      "types": ["platform", "function"],
      "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
      "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:'"$port"'"}}')
  if [[ $status == 200 ]]; then
    log "subscribed to the Telemetry API; records arrive on port $port"
  else
    log "the Telemetry API answered $status: $(cat "$work/answer")"
  fi
}

register
start_listener && subscribe
while true; do
  # No timeout: event/next blocks until the next event. In the background so that SIGTERM is handled at once.
  curl -sS -o "$work/event" "$api/2020-01-01/extension/event/next" -H "Lambda-Extension-Identifier: $id" &
  wait $! || { log "event/next failed"; exit 1; }
  event=$(<"$work/event")
  case $event in
    *'"eventType":"SHUTDOWN"'* | *'"eventType": "SHUTDOWN"'*)
      reason=$(sed -n 's/.*"shutdownReason": *"\([a-z]*\)".*/\1/p' <<<"$event")
      on_shutdown "$reason"
      log "SHUTDOWN ($reason): exiting"
      exit 0;;
    *) on_invoke "$event";;
  esac
done
