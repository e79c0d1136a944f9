// Loading the function's handler from _HANDLER, as Lambda's Node.js runtime reads it: `src/hello.handler` is the
// export `handler` (a dotted path is followed: `app.routes.get`) of the module `src/hello` under LAMBDA_TASK_ROOT,
// which may be JavaScript or TypeScript. Any failure is an InitError, which the runtime posts to /init/error.

import { fileUrl, isFile } from "./platform.ts";

// Tried in this order: Lambda's Node.js runtime looks for .js, .mjs, .cjs; then TypeScript, which Bun, Deno and
// Node (>= 23.6, by stripping the types) run as is.
export const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"];
// The marks Lambda's Node.js runtime reads on a handler function: awslambda.streamifyResponse sets the first.
export const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
export const RAW_EVENT = Symbol.for("runtime-scaffold.handler.rawEvent");

export type Handler = (event: unknown, second: unknown, third?: unknown) => unknown;

export interface LoadedHandler {
  fn: Handler;
  streaming: boolean;
  rawEvent: boolean;
}

/** A failure while setting up: errorType is what /init/error reports (header and body). */
export class InitError extends Error {
  readonly errorType: string;

  constructor(errorType: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.errorType = errorType;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function moduleFile(taskRoot: string, modulePath: string): string {
  for (const extension of EXTENSIONS) {
    const file = `${taskRoot}/${modulePath}${extension}`;
    if (isFile(file)) return file;
  }
  throw new InitError(
    "Runtime.ImportModuleError",
    `Cannot find module '${modulePath}': none of ${EXTENSIONS.map((e) => modulePath + e).join(", ")} in ${taskRoot}`,
  );
}

export async function loadHandler(handlerString: string, taskRoot: string): Promise<LoadedHandler> {
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
  let target: unknown;
  try {
    target = await import(fileUrl(file));
  } catch (error) {
    // A parse error: Node throws a SyntaxError, Bun a BuildMessage, Deno a TypeError saying "SyntaxError: ...".
    const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
    const syntax = error instanceof SyntaxError || name === "BuildMessage" || String(message).startsWith("SyntaxError:");
    const type = syntax ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    throw new InitError(type, `cannot load ${file}: ${describe(error)}`, error);
  }
  for (const name of exportPath.split(".")) {
    target = target == null ? undefined : (target as Record<string, unknown>)[name];
  }
  if (typeof target !== "function") {
    throw new InitError(
      "Runtime.HandlerNotFound",
      `${file} has no function export ${exportPath} (found ${target === undefined ? "nothing" : typeof target})`,
    );
  }
  const fn = target as Handler & Record<symbol, unknown>;
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
