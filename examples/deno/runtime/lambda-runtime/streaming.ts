// Response streaming as Lambda's Node.js runtime offers it: a handler wrapped in awslambda.streamifyResponse gets
// a writable responseStream; each write goes to the Runtime API as one HTTP chunk of a streamed /response, at once.
// The request starts at the first write (or at the end, for an empty stream), so a handler that fails before
// writing anything is still reported through /error; after that, a failure travels in the trailers.

import { stream } from "./builtins.ts";
import type { ChunkedRequest } from "./api-client.ts";
import { RAW_EVENT, STREAMING } from "./handler.ts";

export const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";
const DEFAULT_TYPE = "application/octet-stream";

type Open = (contentType: string) => ChunkedRequest;

export class ResponseStream extends stream.Writable {
  #contentType = DEFAULT_TYPE;
  #open: Open;
  post: ChunkedRequest | undefined;

  constructor(open: Open) {
    super();
    this.#open = open;
    // A write that fails (the Runtime API refused the stream) ends the invocation, not the runtime.
    this.on("error", () => undefined);
  }

  /** Before the first write only: the Content-Type the caller gets. */
  setContentType(contentType: string): void {
    if (this.post !== undefined) throw new Error("setContentType() must come before the first write");
    this.#contentType = contentType;
  }

  start(): ChunkedRequest {
    this.post ??= this.#open(this.#contentType);
    return this.post;
  }

  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      callback(); // an empty write would be the zero chunk, which ends the body
      return;
    }
    this.start().write(chunk).then(() => callback(), callback);
  }
}

interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/** awslambda.HttpResponseStream.from: the HTTP-integration prelude (JSON, then 8 NUL bytes) before the body. */
export const HttpResponseStream = {
  from(stream: ResponseStream, prelude: Prelude): ResponseStream {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    stream.write(Buffer.concat([Buffer.from(JSON.stringify(prelude)), Buffer.alloc(8)]));
    return stream;
  },
};

function mark<T extends object>(fn: T, key: symbol, value: unknown): T {
  (fn as Record<symbol, unknown>)[key] = value;
  return fn;
}

/** The global `awslambda` object, as Lambda's Node.js runtime defines it, plus `rawEvent`. */
export function installGlobals(): void {
  (globalThis as Record<string, unknown>).awslambda = {
    streamifyResponse: <T extends object>(handler: T) => mark(handler, STREAMING, "response"),
    HttpResponseStream,
    // Not in Lambda's runtime: the handler gets the event's bytes (a Buffer), undecoded.
    rawEvent: <T extends object>(handler: T) => mark(handler, RAW_EVENT, true),
  };
}
