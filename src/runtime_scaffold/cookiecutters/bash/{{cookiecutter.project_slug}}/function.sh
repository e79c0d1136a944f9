# shellcheck shell=bash
handler() {
  printf "%s" "$1"
}
