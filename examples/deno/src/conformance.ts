// Conformance handler for `scaffold conform` (_HANDLER=src/conformance.handler). It gets the event's bytes
// (awslambda.rawEvent) and echoes them unchanged, except events that begin exactly with {"conform":"<command>"
// (no spaces), which ask for something else:
//   {"conform":"error","message":"boom"}   throw an Error with that message (-> /error)
//   {"conform":"context"}                  answer {"requestId","deadlineMs","remainingMs","invokedFunctionArn",
//                                           "traceId","xAmznTraceId","xAmznTraceIdExported","tmpdir","tenantId"}
//   {"conform":"sleep","ms":1500}          sleep that long, then answer {"slept":1500}
//   {"conform":"output","bytes":7000000}   answer a JSON string of that many bytes in all (e.g. to provoke a 413)
//   {"conform":"stream","chunks":["one","two"],"delayMs":300}  write each chunk, delayMs apart
//   {"conform":"stream-error","chunks":["one"],"message":"boom"} write the chunks, then fail mid-stream
//   {"conform":"stream-bytes","base64":"...","contentType":"..."} write exactly those bytes, with that content type
// With SCAFFOLD_RESPONSE_STREAMING=1 (set by the conformance suite for its streaming scenarios) the handler is a
// streaming one (awslambda.streamifyResponse): every answer goes out as a stream, each write one chunk.
// conformance features: streaming, concurrency

import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import type { Context } from "../runtime/lambda-runtime/context.ts";
import type { ResponseStream } from "../runtime/lambda-runtime/streaming.ts";

interface Request {
  conform?: string;
  message?: string;
  ms?: number;
  bytes?: number;
  chunks?: string[];
  delayMs?: number;
  base64?: string;
  contentType?: string;
}

declare const awslambda: {
  rawEvent<T>(handler: T): T;
  streamifyResponse<T>(handler: T): T;
};

const PREFIX = Buffer.from('{"conform":"');

function command(event: Buffer): Request | undefined {
  if (!event.subarray(0, PREFIX.length).equals(PREFIX)) return undefined;
  try {
    return JSON.parse(event.toString("utf8"));
  } catch {
    return undefined;
  }
}

function seenContext(context: Context): unknown {
  // Whether a child process sees the trace id, i.e. it is in the environment and not only in this process.
  const child = spawnSync("/bin/sh", ["-c", 'printf %s "${_X_AMZN_TRACE_ID+exported}"'], { encoding: "utf8" });
  return {
    requestId: context.awsRequestId,
    deadlineMs: String(context.deadlineMs),
    remainingMs: context.getRemainingTimeInMillis(),
    invokedFunctionArn: context.invokedFunctionArn,
    traceId: context.xRayTraceId ?? "",
    xAmznTraceId: process.env._X_AMZN_TRACE_ID ?? "",
    xAmznTraceIdExported: child.stdout === "exported",
    tmpdir: process.env.TMPDIR ?? "",
    tenantId: context.tenantId ?? null,
  };
}

/** The answer as the parts a streaming handler writes one by one; a buffered one sends them joined. */
async function* answer(event: Buffer, context: Context): AsyncGenerator<Buffer> {
  const request = command(event);
  switch (request?.conform) {
    case undefined:
      yield event;
      return;
    case "error":
      console.error(`conformance: failing on request ${context.awsRequestId}`);
      throw new Error(request.message ?? "conformance error requested");
    case "context":
      yield Buffer.from(JSON.stringify(seenContext(context)));
      return;
    case "sleep":
      await sleep(request.ms ?? 0);
      yield Buffer.from(JSON.stringify({ slept: request.ms ?? 0 }));
      return;
    case "output":
      yield Buffer.from(JSON.stringify(" ".repeat(Math.max(0, (request.bytes ?? 2) - 2))));
      return;
    case "stream":
    case "stream-error": {
      const chunks = request.chunks ?? [];
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0 && request.delayMs) await sleep(request.delayMs);
        yield Buffer.from(chunk);
      }
      if (request.conform === "stream-error") throw new Error(request.message ?? "conformance stream error");
      return;
    }
    case "stream-bytes":
      yield Buffer.from(request.base64 ?? "", "base64");
      return;
    default:
      yield event;
  }
}

async function buffered(event: Buffer, context: Context): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of answer(event, context)) parts.push(part);
  return Buffer.concat(parts);
}

async function streamed(event: Buffer, stream: ResponseStream, context: Context): Promise<void> {
  const type = command(event)?.contentType;
  if (type) stream.setContentType(type);
  for await (const part of answer(event, context)) stream.write(part);
  stream.end();
}

export const handler = process.env.SCAFFOLD_RESPONSE_STREAMING === "1"
  ? awslambda.streamifyResponse(awslambda.rawEvent(streamed))
  : awslambda.rawEvent(buffered);
