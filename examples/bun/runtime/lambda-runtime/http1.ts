// A minimal HTTP/1.1 client on one TCP connection: just what the Runtime API needs (one request at a time,
// Content-Length or chunked bodies both ways, request trailers, keep-alive, reconnect after a close).
//
// Why not node:http, which Bun, Deno and Node all have: measured on Node 26, importing node:http alone costs about
// 80 ms of CPU at every cold start (more than the rest of Node's start-up), and an event's round trip through it
// took about twice as long as through this client in all three (runtime-scaffold's README, "Why the JavaScript
// runtime speaks HTTP itself").

import { EMPTY, concat, find, fromText, toAscii } from "./bytes.ts";
import { connect } from "./platform.ts";
import type { Socket } from "./platform.ts";

export interface Reply {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** A request whose body is written piece by piece, each piece one HTTP chunk. */
export interface ChunkedRequest {
  write(chunk: Uint8Array): Promise<void>;
  /** The zero chunk, with these trailers; then the reply. */
  end(trailers?: Record<string, string>): Promise<Reply>;
  reply: Promise<Reply>;
}

const HEAD_END = fromText("\r\n\r\n");
const LINE_END = fromText("\r\n");

class ConnectionClosed extends Error {}

/** What the socket has received and nobody has consumed yet, kept as a list: a 6 MB body is copied once. */
class Received {
  #parts: Uint8Array[] = [];
  #length = 0;
  #ended: Error | undefined;
  #wake: (() => void) | undefined;

  push(data: Uint8Array): void {
    this.#parts.push(data);
    this.#length += data.length;
    this.#wake?.();
  }

  end(error: Error = new ConnectionClosed("the Runtime API closed the connection")): void {
    this.#ended ??= error;
    this.#wake?.();
  }

  async #more(): Promise<void> {
    if (this.#ended !== undefined) throw this.#ended;
    await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
  }

  #take(count: number): Uint8Array {
    const first = this.#parts[0];
    let taken: Uint8Array;
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

  async exactly(count: number): Promise<Uint8Array> {
    while (this.#length < count) await this.#more();
    return count === 0 ? EMPTY : this.#take(count);
  }

  /** Everything up to the marker (which is consumed, not returned). */
  async until(marker: Uint8Array): Promise<Uint8Array> {
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

  async rest(): Promise<Uint8Array> {
    for (;;) {
      try {
        await this.#more();
      } catch {
        return this.#length === 0 ? EMPTY : this.#take(this.#length);
      }
    }
  }
}

function parseHead(head: Uint8Array): { status: number; headers: Record<string, string> } {
  const lines = toAscii(head).split("\r\n");
  const status = Number(lines[0].split(" ", 3)[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status, headers };
}

async function readChunked(received: Received): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
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

async function readReply(received: Received): Promise<{ reply: Reply; keepAlive: boolean }> {
  for (;;) {
    const { status, headers } = parseHead(await received.until(HEAD_END));
    if (status >= 100 && status < 200) continue; // 100 Continue and the like: the real answer follows
    let body: Uint8Array;
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

function requestHead(method: string, path: string, host: string, headers: Record<string, string>): string {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`; // host:port, as HTTP/1.1 asks
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return head + "\r\n";
}

/** One keep-alive connection to host:port, opened at the first request and again after the server closes it. */
export class Connection {
  readonly #host: string;
  readonly #port: number;
  readonly #authority: string;
  #socket: Socket | undefined;
  #received = new Received();

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
    this.#authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  #open(): Socket {
    if (this.#socket !== undefined) return this.#socket;
    const received = (this.#received = new Received());
    const socket: Socket = connect(this.#host, this.#port, {
      data: (data) => received.push(data),
      closed: (error) => {
        received.end(error);
        if (this.#socket === socket) this.#socket = undefined; // the next request opens a new connection
      },
    });
    this.#socket = socket;
    return socket;
  }

  #drop(socket: Socket): void {
    socket.close();
    if (this.#socket === socket) this.#socket = undefined;
  }

  // The reply is read while the body is still going out: an early answer (413, 410) is not missed, and the
  // connection is then dropped, since the rest of the body would be read as the next request.
  #exchange(socket: Socket, sent: Promise<void>): Promise<Reply> {
    let allSent = false;
    sent.then(() => (allSent = true), () => undefined);
    return readReply(this.#received).then(
      ({ reply, keepAlive }) => {
        if (!keepAlive || !allSent) this.#drop(socket);
        return reply;
      },
      (error: unknown) => {
        this.#drop(socket);
        throw error;
      },
    );
  }

  request(method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Reply> {
    const socket = this.#open();
    const all = body === undefined ? headers : { ...headers, "Content-Length": String(body.length) };
    const head = fromText(requestHead(method, path, this.#authority, all));
    let sent: Promise<void>;
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

  chunked(method: string, path: string, headers: Record<string, string>): ChunkedRequest {
    const socket = this.#open();
    let head: Uint8Array | undefined = fromText(
      requestHead(method, path, this.#authority, { ...headers, "Transfer-Encoding": "chunked" }));
    let finish: () => void = () => undefined;
    let fail: (error: unknown) => void = () => undefined;
    const allSent = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    allSent.catch(() => undefined);
    const reply = this.#exchange(socket, allSent);
    reply.catch(() => undefined); // awaited through end(); a failure before is no crash
    const send = (parts: Uint8Array[]): Promise<void> => {
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
