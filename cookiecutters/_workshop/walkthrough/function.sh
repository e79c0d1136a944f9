# The AWS custom-runtime walkthrough's handler, copied as published, unchanged (see bootstrap in this folder).
# Source: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-walkthrough.html (section "Create a function",
# function.sh)
function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
