// Response streaming as Lambda's Node.js runtime offers it: a handler wrapped in awslambda.streamifyResponse gets
// a writable responseStream; each write goes to the Runtime API as one HTTP chunk of a streamed /response, at once.
// The request starts at the first write (or at the end, for an empty stream), so a handler that fails before
// writing anything is still reported through /error; after that, a failure travels in the trailers.

import type { Writable } from "node:stream";
import type { ChunkedRequest } from "./api-client.ts";
import { concat, fromText } from "./bytes.ts";
import { RAW_EVENT, STREAMING } from "./handler.ts";
import { standardModule } from "./platform.ts";

export const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";
const DEFAULT_TYPE = "application/octet-stream";

type Open = (contentType: string) => ChunkedRequest;

/** A Node.js Writable (so that pipeline() works), with what Lambda's response stream adds. */
export interface ResponseStream extends Writable {
  setContentType(contentType: string): void;
  /** The streamed POST, once the first write (or the end) has started it. */
  readonly post: ChunkedRequest | undefined;
  start(): ChunkedRequest;
}

let streamClass: (new (open: Open) => ResponseStream) | undefined;

/** Defines the stream on node:stream, loaded at init and only for a streaming handler (it costs Deno 30 ms). */
export async function prepareStreaming(): Promise<void> {
  const { Writable } = await standardModule<typeof import("node:stream")>("node:stream");
  streamClass = class extends Writable implements ResponseStream {
    #contentType = DEFAULT_TYPE;
    #open: Open;
    post: ChunkedRequest | undefined;

    constructor(open: Open) {
      super();
      this.#open = open;
      // A write that fails (the Runtime API refused the stream) ends the invocation, not the runtime.
      this.on("error", () => undefined);
    }

    setContentType(contentType: string): void {
      if (this.post !== undefined) throw new Error("setContentType() must come before the first write");
      this.#contentType = contentType;
    }

    start(): ChunkedRequest {
      this.post ??= this.#open(this.#contentType);
      return this.post;
    }

    override _write(chunk: Uint8Array, _encoding: string, callback: (error?: Error | null) => void): void {
      if (chunk.length === 0) {
        callback(); // an empty write would be the zero chunk, which ends the body
        return;
      }
      this.start().write(chunk).then(() => callback(), callback);
    }
  };
}

export function responseStream(open: Open): ResponseStream {
  if (streamClass === undefined) throw new Error("prepareStreaming() was not called");
  return new streamClass(open);
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
    stream.write(concat([fromText(JSON.stringify(prelude)), new Uint8Array(8)]));
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
