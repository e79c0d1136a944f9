// Generated from cookiecutters/_shared/javascript/lambda-runtime/handler.ts by generate-node.mjs: edit that file, not this one.
// Loading the function's handler from _HANDLER, as Lambda's Node.js runtime reads it: `src/hello.handler` is the
// export `handler` (a dotted path is followed: `app.routes.get`) of the module `src/hello` under LAMBDA_TASK_ROOT,
// which may be JavaScript or TypeScript. Any failure is an InitError, which the runtime posts to /init/error.

import { fileUrl, isFile } from "./platform.mjs";

// Tried in this order: Lambda's Node.js runtime looks for .js, .mjs, .cjs; then TypeScript, which Bun, Deno and
// Node (>= 23.6, by stripping the types) run as is.
export const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"];
// The marks Lambda's Node.js runtime reads on a handler function: awslambda.streamifyResponse sets the first.
export const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
export const RAW_EVENT = Symbol.for("runtime-scaffold.handler.rawEvent");









/** A failure while setting up: errorType is what /init/error reports (header and body). */
export class InitError extends Error {
           errorType        ;

  constructor(errorType        , message        , cause          ) {
    super(message, cause === undefined ? undefined : { cause });
    this.errorType = errorType;
  }
}

function describe(error         )         {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function moduleFile(taskRoot        , modulePath        )         {
  for (const extension of EXTENSIONS) {
    const file = `${taskRoot}/${modulePath}${extension}`;
    if (isFile(file)) return file;
  }
  throw new InitError(
    "Runtime.ImportModuleError",
    `Cannot find module '${modulePath}': none of ${EXTENSIONS.map((e) => modulePath + e).join(", ")} in ${taskRoot}`,
  );
}

export async function loadHandler(handlerString        , taskRoot        )                         {
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
  let target         ;
  try {
    target = await import(fileUrl(file));
  } catch (error) {
    // A parse error: Node throws a SyntaxError, Bun a BuildMessage, Deno a TypeError saying "SyntaxError: ...".
    const { name, message } = (error ?? {})                                         ;
    const syntax = error instanceof SyntaxError || name === "BuildMessage" || String(message).startsWith("SyntaxError:");
    const type = syntax ? "Runtime.UserCodeSyntaxError" : "Runtime.ImportModuleError";
    throw new InitError(type, `cannot load ${file}: ${describe(error)}`, error);
  }
  for (const name of exportPath.split(".")) {
    target = target == null ? undefined : (target                           )[name];
  }
  if (typeof target !== "function") {
    throw new InitError(
      "Runtime.HandlerNotFound",
      `${file} has no function export ${exportPath} (found ${target === undefined ? "nothing" : typeof target})`,
    );
  }
  const fn = target                                     ;
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
