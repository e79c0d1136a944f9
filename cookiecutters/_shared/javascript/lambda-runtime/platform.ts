// What the runtime needs from the JavaScript runtime under it: the environment, exit, the two output streams, the
// process's last-chance error events, a file test, a TCP connection, and standard modules loaded on demand.
//
// Node gets all of it from its own API (process, node:net, taken with process.getBuiltinModule: an ES-module
// `import` of builtins cost Node 26 about 10 ms of a 60 ms cold start). Deno and Bun get their TCP connection from
// their own API, and Deno the rest too: measured to the first GET /next, Deno 2.9 spent 20 ms merely touching
// `process` and 50 ms more on node:net, against 25 ms for its whole start with Deno.connect; Bun 1.4 took 78 ms
// with node:net and 28 ms with Bun.connect.

interface DenoConn {
  read(into: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay(on?: boolean): void;
  close(): void;
}

interface DenoApi {
  env: { get(name: string): string | undefined; set(name: string, value: string): void; delete(name: string): void };
  exit(code: number): never;
  stdout: { writeSync(data: Uint8Array): number };
  stderr: { writeSync(data: Uint8Array): number };
  statSync(path: string): { isFile: boolean };
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
}

interface BunSocket {
  write(data: Uint8Array): number;
  setNoDelay?(on: boolean): void;
  end(): void;
}

interface BunHandlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  connectError(socket: BunSocket, error: Error): void;
}

interface BunApi {
  connect(options: { hostname: string; port: number; socket: BunHandlers }): Promise<BunSocket>;
}

type Fatal = (errorType: string, error: unknown) => void;

const deno = (globalThis as { Deno?: DenoApi }).Deno;
const bun = (globalThis as { Bun?: BunApi }).Bun;
const encoder = new TextEncoder();

export const env = {
  get: (name: string): string | undefined => (deno ? deno.env.get(name) : process.env[name]),
  // Set in the real environment: child processes inherit it.
  set(name: string, value: string | undefined): void {
    if (value === undefined) {
      if (deno) deno.env.delete(name);
      else delete process.env[name];
    } else if (deno) deno.env.set(name, value);
    else process.env[name] = value;
  },
};

export function exit(code: number): never {
  return deno ? deno.exit(code) : process.exit(code);
}

function writeAll(sink: { writeSync(data: Uint8Array): number }, text: string): void {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(sink.writeSync(data));
}

export function writeStdout(text: string): void {
  if (deno) writeAll(deno.stdout, text);
  else process.stdout.write(text);
}

export function writeStderr(text: string): void {
  if (deno) writeAll(deno.stderr, text);
  else process.stderr.write(text);
}

/** Call ``fatal`` for an exception nothing caught, or a rejected promise nothing awaited. */
export function onFatal(fatal: Fatal): void {
  if (deno) {
    addEventListener("error", (event: Event) => {
      event.preventDefault();
      fatal("Runtime.UncaughtException", (event as ErrorEvent).error);
    });
    addEventListener("unhandledrejection", (event: Event) => {
      event.preventDefault();
      fatal("Runtime.UnhandledPromiseRejection", (event as PromiseRejectionEvent).reason);
    });
    return;
  }
  process.on("uncaughtException", (error) => fatal("Runtime.UncaughtException", error));
  process.on("unhandledRejection", (error) => fatal("Runtime.UnhandledPromiseRejection", error));
}

export function isFile(path: string): boolean {
  if (!deno) {
    const fs = nodeModule<typeof import("node:fs")>("node:fs");
    return fs.statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  }
  try {
    return deno.statSync(path).isFile;
  } catch {
    return false; // not there
  }
}

/** A file's URL for import(), with the characters a path may hold and a URL may not escaped. */
export function fileUrl(path: string): string {
  return "file://" + path.split("/").map(encodeURIComponent).join("/");
}

/** A TCP connection, as the HTTP client uses it. */
export interface Socket {
  /** Resolves once the data is handed to the kernel. */
  write(data: Uint8Array): Promise<void>;
  close(): void;
}

export interface SocketEvents {
  data(data: Uint8Array): void;
  closed(error?: Error): void;
}

// Node before 22.3 has no process.getBuiltinModule: there a require() stands in (the only await, so no cost else).
const legacyRequire = deno || process.getBuiltinModule
  ? undefined
  : (await import("node:module")).createRequire(import.meta.url);

function nodeModule<T>(name: string): T {
  return (legacyRequire ? legacyRequire(name) : process.getBuiltinModule(name)) as T;
}

function nodeSocket(host: string, port: number, events: SocketEvents): Socket {
  const net = nodeModule<typeof import("node:net")>("node:net");
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  socket.on("data", (data: Uint8Array) => events.data(data));
  socket.on("end", () => events.closed());
  socket.on("close", () => events.closed());
  socket.on("error", (error: Error) => events.closed(error));
  return {
    write: (data) => new Promise((resolve, reject) => {
      socket.write(data, (error?: Error | null) => (error ? reject(error) : resolve()));
    }),
    close: () => socket.destroy(),
  };
}

function denoSocket(api: DenoApi, host: string, port: number, events: SocketEvents): Socket {
  const opened = api.connect({ hostname: host, port });
  let closed = false;
  const close = (error?: Error) => {
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
      close(error as Error);
    }
  }, (error: Error) => close(error));
  let writing: Promise<void> = Promise.resolve();
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

function bunSocket(api: BunApi, host: string, port: number, events: SocketEvents): Socket {
  // Bun's write takes what the kernel takes now; the rest waits for drain, in order.
  const queue: { data: Uint8Array; done(error?: Error): void }[] = [];
  let socket: BunSocket | undefined;
  let closed: Error | undefined;
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
  const close = (error?: Error) => {
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
  }).catch((error: Error) => close(error));
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

export function connect(host: string, port: number, events: SocketEvents): Socket {
  if (deno) return denoSocket(deno, host, port, events);
  return bun ? bunSocket(bun, host, port, events) : nodeSocket(host, port, events);
}

/** A standard module the runtime needs only for some functions (streaming, concurrency, JSON logs): loaded then. */
export async function standardModule<T>(name: string): Promise<T> {
  return deno ? ((await import(name)) as T) : nodeModule<T>(name);
}
