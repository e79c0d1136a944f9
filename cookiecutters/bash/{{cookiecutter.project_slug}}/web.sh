# shellcheck shell=bash
# The web page. _HANDLER=web.handler: an API Gateway HTTP API event (payload format 2.0) arrives on stdin and the
# HTTP response goes to stdout as {"statusCode", "headers", "body", "isBase64Encoded"} (README, "The web page").
#   GET  /  web/page.html, with its form
#   POST /  the same page greeting the name the form posted
# No jq on provided.al2023: the few fields needed are picked out with regular expressions that only match JSON's
# own quotes (a quote inside a string value is escaped as \", so it never matches). The page is sent base64-encoded:
# then any byte the visitor typed is safe inside the JSON response, and API Gateway decodes it for the browser.

# Read once per execution environment, at init.
web_page=$(<"${LAMBDA_TASK_ROOT:-.}/web/page.html")
# requestContext.http.method, not the route key: behind a function URL (or a `$default` route) every request's
# routeKey is `$default`.
web_post='"method"[[:space:]]*:[[:space:]]*"POST"'
web_body='.*"body"[[:space:]]*:[[:space:]]*"([^"\\]*)"'  # the last "body" key: the event's own, not a header
web_base64='"isBase64Encoded"[[:space:]]*:[[:space:]]*true'

# form_value NAME FORM: the value of NAME in an application/x-www-form-urlencoded body, decoded.
form_value() {
    local pair value pairs
    IFS='&' read -r -a pairs <<< "$2"
    for pair in "${pairs[@]}"; do
        if [[ ${pair%%=*} == "$1" && $pair == *=* ]]; then
            value=${pair#*=}
            value=${value//+/ }
            printf '%b' "${value//%/\\x}"
            return
        fi
    done
}

html_escape() {
    local text=$1
    # Quoted replacements: in bash 5.2 an unquoted & in the replacement stands for the matched text.
    text=${text//&/"&amp;"}
    text=${text//</"&lt;"}
    text=${text//>/"&gt;"}
    text=${text//\"/"&quot;"}
    text=${text//\'/"&#39;"}
    printf '%s' "$text"
}

handler() {
    local event form name greeting=
    IFS= read -r -d '' event || :   # the whole event (read stops at end of input, with status 1)
    if [[ $event =~ $web_post && $event =~ $web_body ]]; then
        form=${BASH_REMATCH[1]}
        if [[ $event =~ $web_base64 ]]; then   # a browser's form post: API Gateway base64-encodes it
            form=$(printf '%s' "$form" | base64 -d)
        fi
        name=$(form_value name "$form")
        if [[ -n $name ]]; then
            greeting="<p class=\"greeting\">Hello, $(html_escape "$name")!</p>"
        fi
    fi
    echo "web: ${name:+greeting $name, }request $LAMBDA_RUNTIME_AWS_REQUEST_ID" >&2
    printf '{"statusCode":200,"headers":{"content-type":"text/html; charset=utf-8"},"isBase64Encoded":true,"body":"%s"}' \
        "$(printf '%s' "${web_page/<!-- greeting -->/"$greeting"}" | base64 | tr -d '\n')"
}
