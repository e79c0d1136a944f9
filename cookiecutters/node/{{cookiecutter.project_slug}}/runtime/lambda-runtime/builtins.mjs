// Generated from cookiecutters/_shared/javascript/lambda-runtime/builtins.ts by generate-node.mjs: edit that file, not this one.
// The standard-library modules the runtime uses, taken with process.getBuiltinModule where the runtime has it
// (Node >= 22.3, Bun, Deno) and imported otherwise. Why not `import ... from "node:net"`: measured on Node 26,
// wrapping builtins as ES modules costs about 10 ms of a 60 ms cold start for these six; the lookup does not.
// `process` and `Buffer` are globals in all three.

async function builtin   (name        )             {
  return (process.getBuiltinModule?.(name)                 ) ?? ((await import(name))     );
}

export const asyncHooks = await builtin                                   ("node:async_hooks");
export const fs = await builtin                          ("node:fs");
export const net = await builtin                           ("node:net");
export const stream = await builtin                              ("node:stream");
export const url = await builtin                           ("node:url");
export const util = await builtin                            ("node:util");
