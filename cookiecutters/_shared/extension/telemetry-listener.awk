# The Telemetry API listener of a scaffold-generated extension: an HTTP/1.1 server in gawk, one connection at a
# time, that writes each record of each batch Lambda POSTs on its own line (to the log, or appended to `out`).
# `GET /ping` answers `nonce`, so the extension knows the port is its own. Run it with LC_ALL=C (lengths are
# counted in bytes, as Content-Length is):
#   LC_ALL=C gawk -v port=4243 -v nonce=X -v prefix='[name]' -v out='' -f telemetry-listener.awk
BEGIN {
    service = "/inet/tcp/" port "/0/0"  # a server socket on every address of the sandbox
    for (;;)
        serve()
}

function serve(    line, parts, size, body, piece) {
    RS = "\r\n"
    if ((service |& getline line) <= 0) {
        printf "%s telemetry listener: cannot listen on port %s: %s\n", prefix, port, ERRNO > "/dev/stderr"
        exit 2
    }
    split(line, parts, " ")
    size = 0
    while ((service |& getline line) > 0 && line != "")
        if (tolower(line) ~ /^content-length:/) {
            sub(/^[^:]*:[ \t]*/, "", line)
            size = line + 0
        }
    body = ""
    RS = "]"  # a batch is a JSON array: read it in pieces ending with "]" until Content-Length is reached
    while (length(body) < size && (service |& getline piece) > 0)
        body = body piece RT
    if (parts[1] == "GET")
        answer(nonce)
    else {
        records(body)  # written before the answer: once Lambda has its 200, the records are out
        answer("")
    }
    close(service)
}

function answer(text) {
    printf "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", length(text), text |& service
}

function records(body,    i, c, depth, quoted, escaped, start) {
    # The elements of the array: the objects at depth 2, found by skipping what is inside strings.
    for (i = 1; i <= length(body); i++) {
        c = substr(body, i, 1)
        if (quoted) {
            if (escaped)
                escaped = 0
            else if (c == "\\")
                escaped = 1
            else if (c == "\"")
                quoted = 0
            continue
        }
        if (c == "\"")
            quoted = 1
        else if (c == "{" || c == "[") {
            if (++depth == 2)
                start = i
        } else if (c == "}" || c == "]") {
            if (depth-- == 2)
                emit(substr(body, start, i - start + 1))
        }
    }
}

function emit(record) {
    if (out != "") {
        print record >> out
        fflush(out)
    } else {
        print prefix " " record
        fflush()
    }
}
