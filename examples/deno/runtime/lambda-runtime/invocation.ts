// One invocation, from the /next reply to the post that answers it: decode the event, call the handler, encode
// its result, report its failure. The rules for the answer (docs/runtime-api.md §2, §8):
// - /response carries the result byte for byte; /error a JSON {errorMessage, errorType, stackTrace} with the
//   Lambda-Runtime-Function-Error-Type header;
// - both echo Lambda-Runtime-Invocation-Id when /next sent one;
// - after a 4xx (413: too large, 410: this attempt is no longer current) nothing more is posted for it.

import type { Reply, RuntimeApiClient } from "./api-client.ts";
import { fromText, toBase64, toText } from "./bytes.ts";
import { buildContext } from "./context.ts";
import type { Context } from "./context.ts";
import type { LoadedHandler } from "./handler.ts";
import { log } from "./logging.ts";
import { exit } from "./platform.ts";
import { responseStream } from "./streaming.ts";
import type { ResponseStream } from "./streaming.ts";

export interface ErrorBody {
  errorMessage: string;
  errorType: string;
  stackTrace: string[];
}

export function errorBody(error: unknown, errorType?: string): ErrorBody {
  if (error instanceof Error) {
    const stack = (error.stack ?? "").split("\n").slice(1).map((line) => line.trim()).filter(Boolean);
    return { errorMessage: error.message, errorType: errorType ?? error.name ?? "Error", stackTrace: stack };
  }
  let message: string;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { errorMessage: message, errorType: errorType ?? "Error", stackTrace: [] };
}

function decodeEvent(body: Uint8Array, raw: boolean): unknown {
  if (raw) {
    // A Buffer, as Node.js users expect of bytes (Deno sets its Buffer up only for such a handler).
    const { Buffer } = globalThis as { Buffer?: { from(data: ArrayBufferLike, offset: number, length: number): unknown } };
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
function encodeResult(result: unknown): Uint8Array {
  if (result instanceof Uint8Array) return result;
  if (result instanceof ArrayBuffer) return new Uint8Array(result);
  return fromText(JSON.stringify(result === undefined ? null : result) ?? "null");
}

export interface Invocation {
  requestId: string;
  context: Context;
  event: Uint8Array;
  client: RuntimeApiClient;
  /** Headers every post for this invocation carries. */
  echo: Record<string, string>;
}

export function invocationFrom(next: Reply, client: RuntimeApiClient): Invocation {
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  if (next.status !== 200 || !requestId) {
    log("ERROR", `GET invocation/next returned ${next.status} (request id '${requestId ?? ""}'), exiting`);
    exit(1);
  }
  const context = buildContext(requestId, next.headers);
  const echo: Record<string, string> = {};
  if (context.invocationId !== undefined) echo["Lambda-Runtime-Invocation-Id"] = context.invocationId;
  return { requestId, context, event: next.body, client, echo };
}

function checkReply(invocation: Invocation, what: string, reply: Reply, size?: number): void {
  if (reply.status === 202) return;
  const detail = toText(reply.body);
  if (reply.status === 413) {
    // The invocation has already failed (Function.ResponseSizeTooLarge): /error would be refused.
    log("ERROR", `${what} for ${invocation.requestId} is too large (${size ?? "?"} bytes): ${detail}`);
  } else {
    log("ERROR", `POST ${what} for ${invocation.requestId} returned ${reply.status}: ${detail}`);
  }
}

export async function postError(invocation: Invocation, error: unknown, errorType?: string): Promise<void> {
  const body = errorBody(error, errorType);
  log("ERROR", `invocation ${invocation.requestId} failed: ${body.errorType}: ${body.errorMessage}`);
  const headerType = body.errorType.includes(".") ? body.errorType : `Function.${body.errorType}`;
  const reply = await invocation.client.call("POST", `invocation/${invocation.requestId}/error`,
    fromText(JSON.stringify(body)), { ...invocation.echo, "Lambda-Runtime-Function-Error-Type": headerType });
  checkReply(invocation, "error", reply);
}

async function answerBuffered(invocation: Invocation, handler: LoadedHandler): Promise<void> {
  let body: Uint8Array;
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

function finished(stream: ResponseStream): Promise<void> {
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

async function answerStreamed(invocation: Invocation, handler: LoadedHandler): Promise<void> {
  const stream = responseStream((contentType) =>
    invocation.client.stream(`invocation/${invocation.requestId}/response`, {
      ...invocation.echo,
      "Lambda-Runtime-Function-Response-Mode": "streaming",
      Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      "Content-Type": contentType,
    }));
  let failure: unknown;
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
  const trailers: Record<string, string> = {};
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

export function answer(invocation: Invocation, handler: LoadedHandler): Promise<void> {
  return handler.streaming ? answerStreamed(invocation, handler) : answerBuffered(invocation, handler);
}
