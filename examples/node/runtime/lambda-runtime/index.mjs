// Generated from cookiecutters/_shared/javascript/lambda-runtime/*.ts by generate-node.mjs: edit those files, not this one.

// ---- bytes.ts
const module_bytes = await (async () => {
// Byte strings as plain Uint8Arrays (not Node's Buffer, whose set-up alone costs Deno about 10 ms at a cold start).

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
let latin1                         ; // made at the first reply, not before the first request (cold start)

const EMPTY = new Uint8Array(0);

function fromText(text        )             {
  return encoder.encode(text);
}

function toText(bytes            )         {
  return utf8.decode(bytes);
}

/** For protocol lines (status line, header names and values): one character per byte. */
function toAscii(bytes            )         {
  latin1 ??= new TextDecoder("latin1");
  return latin1.decode(bytes);
}

function concat(parts              , length         )             {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(length ?? parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/** Where ``needle`` (a short marker such as CRLF) starts in ``haystack``, or -1. */
function find(haystack            , needle            )         {
  let at = haystack.indexOf(needle[0]);
  while (at >= 0 && at + needle.length <= haystack.length) {
    let index = 1;
    while (index < needle.length && haystack[at + index] === needle[index]) index++;
    if (index === needle.length) return at;
    at = haystack.indexOf(needle[0], at + 1);
  }
  return -1;
}

function toBase64(bytes            )         {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

return { EMPTY, fromText, toText, toAscii, concat, find, toBase64 };
})();

// ---- platform.ts
const module_platform = await (async () => {
// What the runtime needs from the JavaScript runtime under it: the environment, exit, the two output streams, the
// process's last-chance error events, a file test, a TCP connection, and standard modules loaded on demand.
//
// Node gets all of it from its own API (process, node:net, taken with process.getBuiltinModule: an ES-module
// `import` of builtins cost Node 26 about 10 ms of a 60 ms cold start). Deno and Bun get their TCP connection from
// their own API, and Deno the rest too: measured to the first GET /next, Deno 2.9 spent 20 ms merely touching
// `process` and 50 ms more on node:net, against 25 ms for its whole start with Deno.connect; Bun 1.4 took 78 ms
// with node:net and 28 ms with Bun.connect.







































const deno = (globalThis                      ).Deno;
const bun = (globalThis                    ).Bun;
const encoder = new TextEncoder();

const env = {
  get: (name        )                     => (deno ? deno.env.get(name) : process.env[name]),
  // Set in the real environment: child processes inherit it.
  set(name        , value                    )       {
    if (value === undefined) {
      if (deno) deno.env.delete(name);
      else delete process.env[name];
    } else if (deno) deno.env.set(name, value);
    else process.env[name] = value;
  },
};

function exit(code        )        {
  return deno ? deno.exit(code) : process.exit(code);
}

function writeAll(sink                                         , text        )       {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(sink.writeSync(data));
}

function writeStdout(text        )       {
  if (deno) writeAll(deno.stdout, text);
  else process.stdout.write(text);
}

function writeStderr(text        )       {
  if (deno) writeAll(deno.stderr, text);
  else process.stderr.write(text);
}

/** Call ``fatal`` for an exception nothing caught, or a rejected promise nothing awaited. */
function onFatal(fatal       )       {
  if (deno) {
    addEventListener("error", (event       ) => {
      event.preventDefault();
      fatal("Runtime.UncaughtException", (event              ).error);
    });
    addEventListener("unhandledrejection", (event       ) => {
      event.preventDefault();
      fatal("Runtime.UnhandledPromiseRejection", (event                         ).reason);
    });
    return;
  }
  process.on("uncaughtException", (error) => fatal("Runtime.UncaughtException", error));
  process.on("unhandledRejection", (error) => fatal("Runtime.UnhandledPromiseRejection", error));
}

function isFile(path        )          {
  if (!deno) {
    const fs = nodeModule                          ("node:fs");
    return fs.statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  }
  try {
    return deno.statSync(path).isFile;
  } catch {
    return false; // not there
  }
}

/** A file's URL for import(), with the characters a path may hold and a URL may not escaped. */
function fileUrl(path        )         {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

/** A TCP connection, as the HTTP client uses it. */











// Node before 22.3 has no process.getBuiltinModule: there a require() stands in (the only await, so no cost else).
const legacyRequire = deno || process.getBuiltinModule
  ? undefined
  : (await import("node:module")).createRequire(import.meta.url);

function nodeModule   (name        )    {
  return (legacyRequire ? legacyRequire(name) : process.getBuiltinModule(name))     ;
}

function nodeSocket(host        , port        , events              )         {
  const net = nodeModule                           ("node:net");
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  socket.on("data", (data            ) => events.data(data));
  socket.on("end", () => events.closed());
  socket.on("close", () => events.closed());
  socket.on("error", (error       ) => events.closed(error));
  return {
    write: (data) => new Promise((resolve, reject) => {
      socket.write(data, (error               ) => (error ? reject(error) : resolve()));
    }),
    close: () => socket.destroy(),
  };
}

function denoSocket(api         , host        , port        , events              )         {
  const opened = api.connect({ hostname: host, port });
  let closed = false;
  const close = (error        ) => {
    if (!closed) {
      closed = true;
      events.closed(error);
    }
  };
  opened.then(async (conn) => {
    conn.setNoDelay(true);
    try {
      for (;;) {
        const buffer = new Uint8Array(65536);
        const count = await conn.read(buffer);
        if (count === null) break;
        events.data(buffer.subarray(0, count));
      }
      close();
    } catch (error) {
      close(error         );
    }
  }, (error       ) => close(error));
  let writing                = Promise.resolve();
  return {
    write(data) {
      // One write after the other, in order, each to its end (Deno's write may take part of the data).
      writing = writing.then(async () => {
        const conn = await opened;
        for (let sent = 0; sent < data.length;) sent += await conn.write(data.subarray(sent));
      });
      return writing;
    },
    close() {
      opened.then((conn) => conn.close(), () => undefined);
      close();
    },
  };
}

function bunSocket(api        , host        , port        , events              )         {
  // Bun's write takes what the kernel takes now; the rest waits for drain, in order.
  const queue                                                    = [];
  let socket                       ;
  let closed                   ;
  const flush = () => {
    while (socket !== undefined && queue.length > 0) {
      const item = queue[0];
      const written = socket.write(item.data);
      if (written < 0) return close(new Error("the connection is closed"));
      if (written < item.data.length) {
        item.data = item.data.subarray(written);
        return;
      }
      queue.shift();
      item.done();
    }
  };
  const close = (error        ) => {
    if (closed !== undefined) return;
    closed = error ?? new Error("the connection is closed");
    for (const item of queue.splice(0)) item.done(closed);
    events.closed(error);
  };
  api.connect({
    hostname: host,
    port,
    socket: {
      open(opened) {
        socket = opened;
        opened.setNoDelay?.(true);
        flush();
      },
      data: (_socket, data) => events.data(new Uint8Array(data)), // a copy: Bun may reuse its buffer
      drain: () => flush(),
      end: () => close(),
      close: () => close(),
      error: (_socket, error) => close(error),
      connectError: (_socket, error) => close(error),
    },
  }).catch((error       ) => close(error));
  return {
    write: (data) => new Promise((resolve, reject) => {
      if (closed !== undefined) return reject(closed);
      queue.push({ data, done: (error) => (error ? reject(error) : resolve()) });
      flush();
    }),
    close() {
      socket?.end();
      close();
    },
  };
}

function connect(host        , port        , events              )         {
  if (deno) return denoSocket(deno, host, port, events);
  return bun ? bunSocket(bun, host, port, events) : nodeSocket(host, port, events);
}

/** A standard module the runtime needs only for some functions (streaming, concurrency, JSON logs): loaded then. */
async function standardModule   (name        )             {
  return deno ? ((await import(name))     ) : nodeModule   (name);
}

return { env, exit, writeStdout, writeStderr, onFatal, isFile, fileUrl, connect, standardModule };
})();

// ---- http1.ts
const module_http1 = await (async () => {
// A minimal HTTP/1.1 client on one TCP connection: just what the Runtime API needs (one request at a time,
// Content-Length or chunked bodies both ways, request trailers, keep-alive, reconnect after a close).
//
// Why not node:http, which Bun, Deno and Node all have: measured on Node 26, importing node:http alone costs about
// 80 ms of CPU at every cold start (more than the rest of Node's start-up), and an event's round trip through it
// took about twice as long as through this client in all three (runtime-scaffold's README, "Why the JavaScript
// runtime speaks HTTP itself").

const { EMPTY, concat, find, fromText, toAscii } = module_bytes;
const { connect } = module_platform;









/** A request whose body is written piece by piece, each piece one HTTP chunk. */







const HEAD_END = fromText("\r\n\r\n");
const LINE_END = fromText("\r\n");

class ConnectionClosed extends Error {}

/** What the socket has received and nobody has consumed yet, kept as a list: a 6 MB body is copied once. */
class Received {
  #parts               = [];
  #length = 0;
  #ended                   ;
  #wake                          ;

  push(data            )       {
    this.#parts.push(data);
    this.#length += data.length;
    this.#wake?.();
  }

  end(error        = new ConnectionClosed("the Runtime API closed the connection"))       {
    this.#ended ??= error;
    this.#wake?.();
  }

  async #more()                {
    if (this.#ended !== undefined) throw this.#ended;
    await new Promise      ((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
  }

  #take(count        )             {
    const first = this.#parts[0];
    let taken            ;
    if (first.length >= count) {
      taken = first.subarray(0, count);
      if (first.length === count) this.#parts.shift();
      else this.#parts[0] = first.subarray(count);
    } else {
      const whole = concat(this.#parts, this.#length);
      taken = whole.subarray(0, count);
      this.#parts = whole.length > count ? [whole.subarray(count)] : [];
    }
    this.#length -= count;
    return taken;
  }

  async exactly(count        )                      {
    while (this.#length < count) await this.#more();
    return count === 0 ? EMPTY : this.#take(count);
  }

  /** Everything up to the marker (which is consumed, not returned). */
  async until(marker            )                      {
    for (;;) {
      if (this.#parts.length > 1) this.#parts = [concat(this.#parts, this.#length)];
      const index = this.#parts.length === 0 ? -1 : find(this.#parts[0], marker);
      if (index >= 0) {
        const found = this.#take(index);
        this.#take(marker.length);
        return found;
      }
      await this.#more();
    }
  }

  async rest()                      {
    for (;;) {
      try {
        await this.#more();
      } catch {
        return this.#length === 0 ? EMPTY : this.#take(this.#length);
      }
    }
  }
}

function parseHead(head            )                                                      {
  const lines = toAscii(head).split("\r\n");
  const status = Number(lines[0].split(" ", 3)[1]);
  const headers                         = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status, headers };
}

async function readChunked(received          )                      {
  const parts               = [];
  for (;;) {
    const size = Number.parseInt(toAscii(await received.until(LINE_END)), 16);
    if (!Number.isInteger(size) || size < 0) throw new Error("malformed chunk size from the Runtime API");
    if (size === 0) break;
    parts.push(await received.exactly(size));
    await received.exactly(2);
  }
  while ((await received.until(LINE_END)).length > 0); // trailers: none that the runtime needs
  return parts.length === 0 ? EMPTY : concat(parts);
}

async function readReply(received          )                                                {
  for (;;) {
    const { status, headers } = parseHead(await received.until(HEAD_END));
    if (status >= 100 && status < 200) continue; // 100 Continue and the like: the real answer follows
    let body            ;
    let keepAlive = !/\bclose\b/i.test(headers.connection ?? "");
    if (/\bchunked\b/i.test(headers["transfer-encoding"] ?? "")) {
      body = await readChunked(received);
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error("malformed Content-Length from the Runtime API");
      body = await received.exactly(length);
    } else if (status === 204 || status === 304) {
      body = EMPTY;
    } else {
      body = await received.rest(); // framed by the connection's end
      keepAlive = false;
    }
    return { reply: { status, headers, body }, keepAlive };
  }
}

function requestHead(method        , path        , host        , headers                        )         {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`; // host:port, as HTTP/1.1 asks
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return head + "\r\n";
}

/** One keep-alive connection to host:port, opened at the first request and again after the server closes it. */
class Connection {
           #host        ;
           #port        ;
           #authority        ;
  #socket                    ;
  #received = new Received();

  constructor(host        , port        ) {
    this.#host = host;
    this.#port = port;
    this.#authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  #open()         {
    if (this.#socket !== undefined) return this.#socket;
    const received = (this.#received = new Received());
    const socket         = connect(this.#host, this.#port, {
      data: (data) => received.push(data),
      closed: (error) => {
        received.end(error);
        if (this.#socket === socket) this.#socket = undefined; // the next request opens a new connection
      },
    });
    this.#socket = socket;
    return socket;
  }

  #drop(socket        )       {
    socket.close();
    if (this.#socket === socket) this.#socket = undefined;
  }

  // The reply is read while the body is still going out: an early answer (413, 410) is not missed, and the
  // connection is then dropped, since the rest of the body would be read as the next request.
  #exchange(socket        , sent               )                 {
    let allSent = false;
    sent.then(() => (allSent = true), () => undefined);
    return readReply(this.#received).then(
      ({ reply, keepAlive }) => {
        if (!keepAlive || !allSent) this.#drop(socket);
        return reply;
      },
      (error         ) => {
        this.#drop(socket);
        throw error;
      },
    );
  }

  request(method        , path        , headers                        , body             )                 {
    const socket = this.#open();
    const all = body === undefined ? headers : { ...headers, "Content-Length": String(body.length) };
    const head = fromText(requestHead(method, path, this.#authority, all));
    let sent               ;
    if (body === undefined || body.length === 0) {
      sent = socket.write(head);
    } else if (body.length < 65536) {
      sent = socket.write(concat([head, body])); // one write: one segment on the wire
    } else {
      socket.write(head).catch(() => undefined); // its failure fails the body's write too
      sent = socket.write(body);
    }
    sent.catch(() => undefined); // a failed write shows as a failed reply
    return this.#exchange(socket, sent);
  }

  chunked(method        , path        , headers                        )                 {
    const socket = this.#open();
    let head                         = fromText(
      requestHead(method, path, this.#authority, { ...headers, "Transfer-Encoding": "chunked" }));
    let finish             = () => undefined;
    let fail                           = () => undefined;
    const allSent = new Promise      ((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    allSent.catch(() => undefined);
    const reply = this.#exchange(socket, allSent);
    reply.catch(() => undefined); // awaited through end(); a failure before is no crash
    const send = (parts              )                => {
      if (head !== undefined) parts.unshift(head); // the request line and headers go with the first chunk
      head = undefined;
      const written = socket.write(concat(parts));
      written.catch(fail);
      return written;
    };
    return {
      reply,
      write: (chunk) => send([fromText(`${chunk.length.toString(16)}\r\n`), chunk, LINE_END]),
      end: (trailers = {}) => {
        let tail = "0\r\n";
        for (const [name, value] of Object.entries(trailers)) tail += `${name}: ${value}\r\n`;
        send([fromText(tail + "\r\n")]).then(finish, fail);
        return reply;
      },
    };
  }
}

return { Connection };
})();

// ---- logging.ts
const module_logging = await (async () => {
// The runtime's own log lines, and which invocation a line belongs to.
//
// With AWS_LAMBDA_LOG_FORMAT=JSON (always so under Managed Instances) every line is one JSON object
// {"timestamp","level","message","requestId"}, the handler's console output included, so that concurrent
// invocations' lines can be told apart; otherwise the runtime's lines are plain text on stderr and console is
// left as the language has it.


const { env, standardModule, writeStderr, writeStdout } = module_platform;



/** What a log line, and nothing else, may know of the invocation it is written for. */






// The invocation whose code is running. One at a time, a variable is enough; with concurrent invocations it is an
// async scope (AsyncLocalStorage, loaded only then), so that none sees another's.
let current                   ;
let scopes                                      ;

async function scopesPerInvocation()                {
  const hooks = await standardModule                                   ("node:async_hooks");
  scopes = new hooks.AsyncLocalStorage       ();
}

async function inScope   (scope       , run                  )             {
  if (scopes !== undefined) return scopes.run(scope, run);
  current = scope;
  try {
    return await run();
  } finally {
    current = undefined;
  }
}

const jsonFormat = (env.get("AWS_LAMBDA_LOG_FORMAT") ?? "").toUpperCase() === "JSON";

function jsonLine(level       , message        )         {
  const scope = scopes === undefined ? current : scopes.getStore();
  const line                         = { timestamp: new Date().toISOString(), level, message };
  if (scope !== undefined) {
    line.requestId = scope.requestId;
    if (scope.tenantId !== undefined) line.tenantId = scope.tenantId;
  }
  return JSON.stringify(line) + "\n";
}

/** A line of the runtime itself (not of the handler). */
function log(level       , message        )       {
  if (jsonFormat) {
    writeStdout(jsonLine(level, message));
  } else {
    writeStderr(`bootstrap: ${message}\n`);
  }
}

/** In JSON mode, the handler's console.* calls become JSON lines too, with the level they were logged at. */
async function structureConsole()                {
  if (!jsonFormat) return;
  const { format } = await standardModule                            ("node:util");
  const levels                           = [
    ["log", "INFO"], ["info", "INFO"], ["debug", "DEBUG"], ["trace", "DEBUG"], ["warn", "WARN"], ["error", "ERROR"],
  ];
  for (const [method, level] of levels) {
    (console                                      )[method] = (...values           ) => {
      writeStdout(jsonLine(level, format(...values)));
    };
  }
}

return { scopesPerInvocation, inScope, log, structureConsole };
})();

// ---- api-client.ts
const module_api_client = await (async () => {
// The Lambda Runtime API (2018-06-01) on one keep-alive connection (http1.ts).
//
// Rules from the contract (docs/runtime-api.md): no timeout on GET /next (the sandbox may be frozen between
// events); a 5xx from any endpoint means the environment is broken, so the runtime exits; a connection dropped
// while idle is reopened once, a second failure ends the runtime too.

const { toText } = module_bytes;
const { Connection } = module_http1;

const { log } = module_logging;
const { exit } = module_platform;



const PREFIX = "/2018-06-01/runtime/";

function exitOn5xx(method        , resource        , reply       )        {
  if (reply.status >= 500) {
    log("ERROR", `${method} ${resource} returned ${reply.status}, exiting: ${toText(reply.body)}`);
    exit(1);
  }
  return reply;
}

class RuntimeApiClient {
           #connection            ;

  constructor(address        ) {
    const colon = address.lastIndexOf(":");
    this.#connection = new Connection(address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
      Number(address.slice(colon + 1)));
  }

  /** One request; exits the runtime when the Runtime API is gone or answers 5xx. */
  async call(method        , resource        , body             , headers                         = {})                 {
    let reply       ;
    try {
      reply = await this.#connection.request(method, PREFIX + resource, headers, body);
    } catch {
      try {
        reply = await this.#connection.request(method, PREFIX + resource, headers, body);
      } catch (error) {
        log("ERROR", `lost the Runtime API during ${method} ${resource}: ${String(error)}`);
        exit(1);
      }
    }
    return exitOn5xx(method, resource, reply);
  }

  /** A streamed POST: the request line and headers go out with the first chunk. */
  stream(resource        , headers                        )                 {
    const request = this.#connection.chunked("POST", PREFIX + resource, headers);
    const reply = request.reply.then((reply) => exitOn5xx("POST", resource, reply));
    reply.catch(() => undefined);
    return { ...request, reply, end: (trailers) => request.end(trailers).then(() => reply) };
  }
}

return { RuntimeApiClient };
})();

// ---- handler.ts
const module_handler = await (async () => {
// Loading the function's handler from _HANDLER, as Lambda's Node.js runtime reads it: `src/hello.handler` is the
// export `handler` (a dotted path is followed: `app.routes.get`) of the module `src/hello` under LAMBDA_TASK_ROOT,
// which may be JavaScript or TypeScript. Any failure is an InitError, which the runtime posts to /init/error.

const { fileUrl, isFile } = module_platform;

// Tried in this order: Lambda's Node.js runtime looks for .js, .mjs, .cjs; then TypeScript, which Bun, Deno and
// Node (>= 23.6, by stripping the types) run as is.
const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"];
// The marks Lambda's Node.js runtime reads on a handler function: awslambda.streamifyResponse sets the first.
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const RAW_EVENT = Symbol.for("runtime-scaffold.handler.rawEvent");









/** A failure while setting up: errorType is what /init/error reports (header and body). */
class InitError extends Error {
           errorType        ;

  constructor(errorType        , message        , cause          ) {
    super(message, cause === undefined ? undefined : { cause });
    this.errorType = errorType;
  }
}

function describe(error         )         {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function moduleFile(taskRoot        , modulePath        )         {
  for (const extension of EXTENSIONS) {
    const file = `${taskRoot}/${modulePath}${extension}`;
    if (isFile(file)) return file;
  }
  throw new InitError(
    "Runtime.ImportModuleError",
    `Cannot find module '${modulePath}': none of ${EXTENSIONS.map((e) => modulePath + e).join(", ")} in ${taskRoot}`,
  );
}

async function loadHandler(handlerString        , taskRoot        )                         {
  const lastSlash = handlerString.lastIndexOf("/");
  const dot = handlerString.indexOf(".", lastSlash + 1);
  const modulePath = handlerString.slice(0, dot);
  const exportPath = handlerString.slice(dot + 1);
  if (dot <= lastSlash + 1 || exportPath === "" || modulePath.split("/").includes("..")) {
    throw new InitError(
      "Runtime.MalformedHandlerName",
      `_HANDLER '${handlerString}' is not MODULE.EXPORT (e.g. src/hello.handler for the export handler of src/hello.ts)`,
    );
  }
  const file = moduleFile(taskRoot, modulePath);
  let target         ;
  try {
    target = await import(fileUrl(file));
  } catch (error) {
    // A parse error: Node throws a SyntaxError, Bun a BuildMessage, Deno a TypeError saying "SyntaxError: ...".
    const { name, message } = (error ?? {})                                         ;
    const syntax = error instanceof SyntaxError || name === "BuildMessage" || String(message).startsWith("SyntaxError:");
    const type = syntax ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    throw new InitError(type, `cannot load ${file}: ${describe(error)}`, error);
  }
  for (const name of exportPath.split(".")) {
    target = target == null ? undefined : (target                           )[name];
  }
  if (typeof target !== "function") {
    throw new InitError(
      "Runtime.HandlerNotFound",
      `${file} has no function export ${exportPath} (found ${target === undefined ? "nothing" : typeof target})`,
    );
  }
  const fn = target                                     ;
  const streaming = fn[STREAMING] === "response";
  // As in Lambda's Node.js runtime from Node 24 on: (event, context, callback) handlers are refused, not half run.
  if (fn.length >= 3 && !streaming) {
    throw new InitError(
      "Runtime.CallbackHandlerDeprecated",
      `${exportPath} takes a callback (event, context, callback): write it as an async function of (event, context) ` +
        "that returns the response",
    );
  }
  return { fn, streaming, rawEvent: fn[RAW_EVENT] === true };
}

return { EXTENSIONS, STREAMING, RAW_EVENT, InitError, loadHandler };
})();

// ---- context.ts
const module_context = await (async () => {
// The context object a handler gets, as Lambda's Node.js runtime builds it, from one /next reply and the
// environment. Headers Lambda may leave out (trace id, client context, Cognito identity, tenant id) stay optional:
// their absence is never an error.

const { env } = module_platform;

























function header(headers                        , name        )                     {
  return headers[name] || undefined;
}

function parsedHeader(headers                        , name        )          {
  const value = header(headers, name);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value; // not JSON: the handler gets the text rather than an invocation that fails
  }
}

// Read once: Lambda sets them before the runtime starts, and they do not change.
const FROM_ENVIRONMENT = {
  functionName: env.get("AWS_LAMBDA_FUNCTION_NAME") ?? "",
  functionVersion: env.get("AWS_LAMBDA_FUNCTION_VERSION") ?? "",
  memoryLimitInMB: env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") ?? "",
  logGroupName: env.get("AWS_LAMBDA_LOG_GROUP_NAME") ?? "",
  logStreamName: env.get("AWS_LAMBDA_LOG_STREAM_NAME") ?? "",
};

function buildContext(requestId        , headers                        )          {
  const deadlineMs = Number(header(headers, "lambda-runtime-deadline-ms") ?? 0);
  return {
    awsRequestId: requestId,
    invokedFunctionArn: header(headers, "lambda-runtime-invoked-function-arn") ?? "",
    ...FROM_ENVIRONMENT,
    callbackWaitsForEmptyEventLoop: true,
    deadlineMs,
    xRayTraceId: header(headers, "lambda-runtime-trace-id"),
    tenantId: header(headers, "lambda-runtime-aws-tenant-id"),
    invocationId: header(headers, "lambda-runtime-invocation-id"),
    identity: parsedHeader(headers, "lambda-runtime-cognito-identity"),
    clientContext: parsedHeader(headers, "lambda-runtime-client-context"),
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
  };
}

return { buildContext };
})();

// ---- streaming.ts
const module_streaming = await (async () => {
// Response streaming as Lambda's Node.js runtime offers it: a handler wrapped in awslambda.streamifyResponse gets
// a writable responseStream; each write goes to the Runtime API as one HTTP chunk of a streamed /response, at once.
// The request starts at the first write (or at the end, for an empty stream), so a handler that fails before
// writing anything is still reported through /error; after that, a failure travels in the trailers.



const { concat, fromText } = module_bytes;
const { RAW_EVENT, STREAMING } = module_handler;
const { standardModule } = module_platform;

const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";
const DEFAULT_TYPE = "application/octet-stream";



/** A Node.js Writable (so that pipeline() works), with what Lambda's response stream adds. */







let streamClass                                                  ;

/** Defines the stream on node:stream, loaded at init and only for a streaming handler (it costs Deno 30 ms). */
async function prepareStreaming()                {
  const { Writable } = await standardModule                              ("node:stream");
  streamClass = class extends Writable                           {
    #contentType = DEFAULT_TYPE;
    #open      ;
    post                            ;

    constructor(open      ) {
      super();
      this.#open = open;
      // A write that fails (the Runtime API refused the stream) ends the invocation, not the runtime.
      this.on("error", () => undefined);
    }

    setContentType(contentType        )       {
      if (this.post !== undefined) throw new Error("setContentType() must come before the first write");
      this.#contentType = contentType;
    }

    start()                 {
      this.post ??= this.#open(this.#contentType);
      return this.post;
    }

             _write(chunk            , _encoding        , callback                                )       {
      if (chunk.length === 0) {
        callback(); // an empty write would be the zero chunk, which ends the body
        return;
      }
      this.start().write(chunk).then(() => callback(), callback);
    }
  };
}

function responseStream(open      )                 {
  if (streamClass === undefined) throw new Error("prepareStreaming() was not called");
  return new streamClass(open);
}







/** awslambda.HttpResponseStream.from: the HTTP-integration prelude (JSON, then 8 NUL bytes) before the body. */
const HttpResponseStream = {
  from(stream                , prelude         )                 {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    stream.write(concat([fromText(JSON.stringify(prelude)), new Uint8Array(8)]));
    return stream;
  },
};

function mark                  (fn   , key        , value         )    {
  (fn                           )[key] = value;
  return fn;
}

/** The global `awslambda` object, as Lambda's Node.js runtime defines it, plus `rawEvent`. */
function installGlobals()       {
  (globalThis                           ).awslambda = {
    streamifyResponse:                   (handler   ) => mark(handler, STREAMING, "response"),
    HttpResponseStream,
    // Not in Lambda's runtime: the handler gets the event's bytes (a Buffer), undecoded.
    rawEvent:                   (handler   ) => mark(handler, RAW_EVENT, true),
  };
}

return { HTTP_INTEGRATION_TYPE, prepareStreaming, responseStream, HttpResponseStream, installGlobals };
})();

// ---- invocation.ts
const module_invocation = await (async () => {
// One invocation, from the /next reply to the post that answers it: decode the event, call the handler, encode
// its result, report its failure. The rules for the answer (docs/runtime-api.md §2, §8):
// - /response carries the result byte for byte; /error a JSON {errorMessage, errorType, stackTrace} with the
//   Lambda-Runtime-Function-Error-Type header;
// - both echo Lambda-Runtime-Invocation-Id when /next sent one;
// - after a 4xx (413: too large, 410: this attempt is no longer current) nothing more is posted for it.


const { fromText, toBase64, toText } = module_bytes;
const { buildContext } = module_context;


const { log } = module_logging;
const { exit } = module_platform;
const { responseStream } = module_streaming;








function errorBody(error         , errorType         )            {
  if (error instanceof Error) {
    const stack = (error.stack ?? "").split("\n").slice(1).map((line) => line.trim()).filter(Boolean);
    return { errorMessage: error.message, errorType: errorType ?? error.name ?? "Error", stackTrace: stack };
  }
  let message        ;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { errorMessage: message, errorType: errorType ?? "Error", stackTrace: [] };
}

function decodeEvent(body            , raw         )          {
  if (raw) {
    // A Buffer, as Node.js users expect of bytes (Deno sets its Buffer up only for such a handler).
    const { Buffer } = globalThis                                                                                         ;
    return Buffer ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : body;
  }
  const text = toText(body);
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: the handler gets the text as it came
  }
}

/** Bytes are sent as they are; anything else as JSON, as Lambda's Node.js runtime does (undefined: null). */
function encodeResult(result         )             {
  if (result instanceof Uint8Array) return result;
  if (result instanceof ArrayBuffer) return new Uint8Array(result);
  return fromText(JSON.stringify(result === undefined ? null : result) ?? "null");
}










function invocationFrom(next       , client                  )             {
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  if (next.status !== 200 || !requestId) {
    log("ERROR", `GET invocation/next returned ${next.status} (request id '${requestId ?? ""}'), exiting`);
    exit(1);
  }
  const context = buildContext(requestId, next.headers);
  const echo                         = {};
  if (context.invocationId !== undefined) echo["Lambda-Runtime-Invocation-Id"] = context.invocationId;
  return { requestId, context, event: next.body, client, echo };
}

function checkReply(invocation            , what        , reply       , size         )       {
  if (reply.status === 202) return;
  const detail = toText(reply.body);
  if (reply.status === 413) {
    // The invocation has already failed (Function.ResponseSizeTooLarge): /error would be refused.
    log("ERROR", `${what} for ${invocation.requestId} is too large (${size ?? "?"} bytes): ${detail}`);
  } else {
    log("ERROR", `POST ${what} for ${invocation.requestId} returned ${reply.status}: ${detail}`);
  }
}

async function postError(invocation            , error         , errorType         )                {
  const body = errorBody(error, errorType);
  log("ERROR", `invocation ${invocation.requestId} failed: ${body.errorType}: ${body.errorMessage}`);
  const headerType = body.errorType.includes(".") ? body.errorType : `Function.${body.errorType}`;
  const reply = await invocation.client.call("POST", `invocation/${invocation.requestId}/error`,
    fromText(JSON.stringify(body)), { ...invocation.echo, "Lambda-Runtime-Function-Error-Type": headerType });
  checkReply(invocation, "error", reply);
}

async function answerBuffered(invocation            , handler               )                {
  let body            ;
  try {
    const result = await handler.fn(decodeEvent(invocation.event, handler.rawEvent), invocation.context);
    body = encodeResult(result);
  } catch (error) {
    await postError(invocation, error);
    return;
  }
  const reply = await invocation.client.call("POST", `invocation/${invocation.requestId}/response`, body,
    invocation.echo);
  checkReply(invocation, "response", reply, body.length);
}

function finished(stream                )                {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) {
      resolve();
      return;
    }
    stream.once("finish", resolve);
    stream.once("error", reject);
    if (!stream.writableEnded) stream.end();
  });
}

async function answerStreamed(invocation            , handler               )                {
  const stream = responseStream((contentType) =>
    invocation.client.stream(`invocation/${invocation.requestId}/response`, {
      ...invocation.echo,
      "Lambda-Runtime-Function-Response-Mode": "streaming",
      Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      "Content-Type": contentType,
    }));
  let failure         ;
  let failed = false;
  try {
    await handler.fn(decodeEvent(invocation.event, handler.rawEvent), stream, invocation.context);
    await finished(stream); // the handler may return before its writes are out, or without end()
  } catch (error) {
    failure = error;
    failed = true;
  }
  if (failed && stream.post === undefined) {
    stream.destroy();
    await postError(invocation, failure); // nothing sent yet: an ordinary function error
    return;
  }
  const request = stream.start();
  const trailers                         = {};
  if (failed) {
    const body = errorBody(failure);
    log("ERROR", `invocation ${invocation.requestId} failed mid-stream: ${body.errorType}: ${body.errorMessage}`);
    trailers["Lambda-Runtime-Function-Error-Type"] = `Function.${body.errorType}`;
    trailers["Lambda-Runtime-Function-Error-Body"] = toBase64(fromText(JSON.stringify(body)));
  }
  try {
    checkReply(invocation, "streamed response", await request.end(trailers));
  } catch (error) {
    log("ERROR", `streaming the response of ${invocation.requestId} failed: ${String(error)}`);
  }
}

function answer(invocation            , handler               )                {
  return handler.streaming ? answerStreamed(invocation, handler) : answerBuffered(invocation, handler);
}

return { errorBody, invocationFrom, postError, answer };
})();

// ---- index.ts
// AWS Lambda custom runtime for JavaScript and TypeScript handlers, run by Bun, Deno or Node (runtime/bootstrap
// starts it with the layer's binary). Only the runtimes' own standard library: Node's API in Bun and Node, Deno's
// in Deno where it is much cheaper to start (platform.ts).
//
// Lifecycle (docs/runtime-api.md §3): load the handler named by _HANDLER once (a failure goes to /init/error and
// ends the process), then loop: GET /next, call the handler, POST /response or /error. With
// AWS_LAMBDA_MAX_CONCURRENCY=N (Lambda Managed Instances) N such loops run at once in this process, each on its
// own keep-alive connection, and answer in whatever order their handlers finish. Then _X_AMZN_TRACE_ID, which
// the whole process shares, is left alone (as Lambda's Node.js runtime does in that mode): each invocation has
// its trace id in context.xRayTraceId, and its log lines carry its own request id.
//
// SIGTERM (the environment shutting down) ends the process as the signal does by default; a handler module may
// listen for it to clean up, and must then exit itself.

const { RuntimeApiClient } = module_api_client;
const { fromText } = module_bytes;
const { InitError, loadHandler } = module_handler;

const { answer, errorBody, invocationFrom, postError } = module_invocation;

const { inScope, log, scopesPerInvocation, structureConsole } = module_logging;
const { env, exit, onFatal } = module_platform;
const { installGlobals, prepareStreaming } = module_streaming;

const address = env.get("AWS_LAMBDA_RUNTIME_API");
if (!address) {
  log("ERROR", "AWS_LAMBDA_RUNTIME_API is not set");
  exit(1);
}
const initClient = new RuntimeApiClient(address);
const inFlight = new Set            ();
let initialised = false;
let dying = false;

async function postInitError(error         )                 {
  const type = error instanceof InitError ? error.errorType : "Runtime.ImportModuleError";
  const body = errorBody(error, type);
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) body.stackTrace = errorBody(cause).stackTrace; // where the user's code failed
  log("ERROR", `init failed: ${type}: ${body.errorMessage}`);
  await initClient.call("POST", "init/error", fromText(JSON.stringify(body)),
    { "Lambda-Runtime-Function-Error-Type": type });
  exit(1);
}

// An exception nothing caught, or a rejected promise nothing awaited: as in Lambda's Node.js runtime, it fails the
// invocations under way (or the init) and ends the process; Lambda starts a fresh one.
async function die(errorType        , error         )                {
  if (dying) return;
  dying = true;
  if (!initialised) await postInitError(new InitError(errorType, errorBody(error).errorMessage, error));
  await Promise.all([...inFlight].map((invocation) => postError(invocation, error, errorType)));
  exit(1);
}
onFatal((errorType, error) => void die(errorType, error));

function concurrency()         {
  const value = Number.parseInt(env.get("AWS_LAMBDA_MAX_CONCURRENCY") ?? "1", 10);
  return Number.isInteger(value) && value > 1 ? value : 1;
}

async function serve(client                  , handler               , shared         )                 {
  for (;;) {
    const invocation = invocationFrom(await client.call("GET", "invocation/next"), client);
    const { context, requestId } = invocation;
    // The AWS SDKs and X-Ray read it from the environment; child processes inherit it.
    if (!shared) env.set("_X_AMZN_TRACE_ID", context.xRayTraceId);
    inFlight.add(invocation);
    try {
      const scope = { requestId, traceId: context.xRayTraceId, tenantId: context.tenantId };
      await inScope(scope, () => answer(invocation, handler));
    } finally {
      inFlight.delete(invocation);
    }
  }
}

const loops = concurrency();
let handler               ;
try {
  await structureConsole();
  if (loops > 1) await scopesPerInvocation();
  installGlobals();
  const taskRoot = env.get("LAMBDA_TASK_ROOT");
  if (!taskRoot) throw new InitError("Runtime.InvalidTaskConfig", "LAMBDA_TASK_ROOT is not set");
  handler = await loadHandler(env.get("_HANDLER") ?? "", taskRoot);
  if (handler.streaming) await prepareStreaming();
} catch (error) {
  await postInitError(error);
}
initialised = true;
await Promise.all(Array.from({ length: loops }, (_, i) =>
  serve(i === 0 ? initClient : new RuntimeApiClient(address), handler , loops > 1)));
