// Generated from cookiecutters/_shared/javascript/lambda-runtime/invocation.ts by generate-node.mjs: edit that file, not this one.
// One invocation, from the /next reply to the post that answers it: decode the event, call the handler, encode
// its result, report its failure. The rules for the answer (docs/runtime-api.md §2, §8):
// - /response carries the result byte for byte; /error a JSON {errorMessage, errorType, stackTrace} with the
//   Lambda-Runtime-Function-Error-Type header;
// - both echo Lambda-Runtime-Invocation-Id when /next sent one;
// - after a 4xx (413: too large, 410: this attempt is no longer current) nothing more is posted for it.


import { fromText, toBase64, toText } from "./bytes.mjs";
import { buildContext } from "./context.mjs";


import { log } from "./logging.mjs";
import { exit } from "./platform.mjs";
import { responseStream } from "./streaming.mjs";








export function errorBody(error         , errorType         )            {
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










export function invocationFrom(next       , client                  )             {
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

export async function postError(invocation            , error         , errorType         )                {
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

export function answer(invocation            , handler               )                {
  return handler.streaming ? answerStreamed(invocation, handler) : answerBuffered(invocation, handler);
}
