// Generated from cookiecutters/_shared/javascript/lambda-runtime/streaming.ts by generate-node.mjs: edit that file, not this one.
// Response streaming as Lambda's Node.js runtime offers it: a handler wrapped in awslambda.streamifyResponse gets
// a writable responseStream; each write goes to the Runtime API as one HTTP chunk of a streamed /response, at once.
// The request starts at the first write (or at the end, for an empty stream), so a handler that fails before
// writing anything is still reported through /error; after that, a failure travels in the trailers.



import { concat, fromText } from "./bytes.mjs";
import { RAW_EVENT, STREAMING } from "./handler.mjs";
import { standardModule } from "./platform.mjs";

export const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";
const DEFAULT_TYPE = "application/octet-stream";



/** A Node.js Writable (so that pipeline() works), with what Lambda's response stream adds. */







let streamClass                                                  ;

/** Defines the stream on node:stream, loaded at init and only for a streaming handler (it costs Deno 30 ms). */
export async function prepareStreaming()                {
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

export function responseStream(open      )                 {
  if (streamClass === undefined) throw new Error("prepareStreaming() was not called");
  return new streamClass(open);
}







/** awslambda.HttpResponseStream.from: the HTTP-integration prelude (JSON, then 8 NUL bytes) before the body. */
export const HttpResponseStream = {
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
export function installGlobals()       {
  (globalThis                           ).awslambda = {
    streamifyResponse:                   (handler   ) => mark(handler, STREAMING, "response"),
    HttpResponseStream,
    // Not in Lambda's runtime: the handler gets the event's bytes (a Buffer), undecoded.
    rawEvent:                   (handler   ) => mark(handler, RAW_EVENT, true),
  };
}
