// The runtime's own log lines, and which invocation a line belongs to.
//
// With AWS_LAMBDA_LOG_FORMAT=JSON (always so under Managed Instances) every line is one JSON object
// {"timestamp","level","message","requestId"}, the handler's console output included, so that concurrent
// invocations' lines can be told apart; otherwise the runtime's lines are plain text on stderr and console is
// left as the language has it.

import type { AsyncLocalStorage } from "node:async_hooks";
import { env, standardModule, writeStderr, writeStdout } from "./platform.ts";

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";

/** What a log line, and nothing else, may know of the invocation it is written for. */
export interface Scope {
  requestId: string;
  traceId: string | undefined;
  tenantId: string | undefined;
}

// The invocation whose code is running. One at a time, a variable is enough; with concurrent invocations it is an
// async scope (AsyncLocalStorage, loaded only then), so that none sees another's.
let current: Scope | undefined;
let scopes: AsyncLocalStorage<Scope> | undefined;

export async function scopesPerInvocation(): Promise<void> {
  const hooks = await standardModule<typeof import("node:async_hooks")>("node:async_hooks");
  scopes = new hooks.AsyncLocalStorage<Scope>();
}

export async function inScope<T>(scope: Scope, run: () => Promise<T>): Promise<T> {
  if (scopes !== undefined) return scopes.run(scope, run);
  current = scope;
  try {
    return await run();
  } finally {
    current = undefined;
  }
}

const jsonFormat = (env.get("AWS_LAMBDA_LOG_FORMAT") ?? "").toUpperCase() === "JSON";

function jsonLine(level: Level, message: string): string {
  const scope = scopes === undefined ? current : scopes.getStore();
  const line: Record<string, string> = { timestamp: new Date().toISOString(), level, message };
  if (scope !== undefined) {
    line.requestId = scope.requestId;
    if (scope.tenantId !== undefined) line.tenantId = scope.tenantId;
  }
  return JSON.stringify(line) + "\n";
}

/** A line of the runtime itself (not of the handler). */
export function log(level: Level, message: string): void {
  if (jsonFormat) {
    writeStdout(jsonLine(level, message));
  } else {
    writeStderr(`bootstrap: ${message}\n`);
  }
}

/** In JSON mode, the handler's console.* calls become JSON lines too, with the level they were logged at. */
export async function structureConsole(): Promise<void> {
  if (!jsonFormat) return;
  const { format } = await standardModule<typeof import("node:util")>("node:util");
  const levels: [keyof Console, Level][] = [
    ["log", "INFO"], ["info", "INFO"], ["debug", "DEBUG"], ["trace", "DEBUG"], ["warn", "WARN"], ["error", "ERROR"],
  ];
  for (const [method, level] of levels) {
    (console as unknown as Record<string, unknown>)[method] = (...values: unknown[]) => {
      writeStdout(jsonLine(level, format(...values)));
    };
  }
}
