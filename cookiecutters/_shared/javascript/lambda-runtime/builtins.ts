// The standard-library modules the runtime uses, taken with process.getBuiltinModule where the runtime has it
// (Node >= 22.3, Bun, Deno) and imported otherwise. Why not `import ... from "node:net"`: measured on Node 26,
// wrapping builtins as ES modules costs about 10 ms of a 60 ms cold start for these six; the lookup does not.
// `process` and `Buffer` are globals in all three.

async function builtin<T>(name: string): Promise<T> {
  return (process.getBuiltinModule?.(name) as T | undefined) ?? ((await import(name)) as T);
}

export const asyncHooks = await builtin<typeof import("node:async_hooks")>("node:async_hooks");
export const fs = await builtin<typeof import("node:fs")>("node:fs");
export const net = await builtin<typeof import("node:net")>("node:net");
export const stream = await builtin<typeof import("node:stream")>("node:stream");
export const url = await builtin<typeof import("node:url")>("node:url");
export const util = await builtin<typeof import("node:util")>("node:util");
