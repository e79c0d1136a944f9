// Generated from cookiecutters/_shared/javascript/lambda-runtime/platform.ts by generate-node.mjs: edit that file, not this one.
// What the runtime needs from the JavaScript runtime under it: the environment, exit, the two output streams, the
// process's last-chance error events, a file test, a TCP connection, and standard modules loaded on demand.
//
// Bun and Node get all of it from their Node.js API (process, node:net, taken with process.getBuiltinModule:
// an ES-module `import` of builtins cost Node 26 about 10 ms of a 60 ms cold start). Deno gets it from its own
// API: measured on Deno 2.9, merely touching `process` costs 20 ms at start-up and node:net 50 ms more, against
// 25 ms for Deno's whole start with Deno.connect.



















const deno = (globalThis                      ).Deno;
const encoder = new TextEncoder();

export const env = {
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

export function exit(code        )        {
  return deno ? deno.exit(code) : process.exit(code);
}

function writeAll(sink                                         , text        )       {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(sink.writeSync(data));
}

export function writeStdout(text        )       {
  if (deno) writeAll(deno.stdout, text);
  else process.stdout.write(text);
}

export function writeStderr(text        )       {
  if (deno) writeAll(deno.stderr, text);
  else process.stderr.write(text);
}

/** Call ``fatal`` for an exception nothing caught, or a rejected promise nothing awaited. */
export function onFatal(fatal       )       {
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

export function isFile(path        )          {
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
export function fileUrl(path        )         {
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

export function connect(host        , port        , events              )         {
  return deno ? denoSocket(deno, host, port, events) : nodeSocket(host, port, events);
}

/** A standard module the runtime needs only for some functions (streaming, concurrency, JSON logs): loaded then. */
export async function standardModule   (name        )             {
  return deno ? ((await import(name))     ) : nodeModule   (name);
}
