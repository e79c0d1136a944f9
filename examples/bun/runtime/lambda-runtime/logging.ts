// The runtime's own log lines, and which invocation a line belongs to.
//
// With AWS_LAMBDA_LOG_FORMAT=JSON (always so under Managed Instances) every line is one JSON object
// {"timestamp","level","message","requestId"}, the handler's console output included, so that concurrent
// invocations' lines can be told apart; otherwise the runtime's lines are plain text on stderr and console is
// left as the language has it.

import { asyncHooks, util } from "./builtins.ts";

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";

/** What a log line, and nothing else, may know of the invocation it is written for. */
export interface Scope {
  requestId: string;
  traceId: string | undefined;
  tenantId: string | undefined;
}

// The invocation whose code is running: an async scope, so concurrent invocations never see each other's.
export const invocationScope = new asyncHooks.AsyncLocalStorage<Scope>();

const jsonFormat = (process.env.AWS_LAMBDA_LOG_FORMAT ?? "").toUpperCase() === "JSON";

function jsonLine(level: Level, message: string): string {
  const scope = invocationScope.getStore();
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
    process.stdout.write(jsonLine(level, message));
  } else {
    process.stderr.write(`bootstrap: ${message}\n`);
  }
}

/** In JSON mode, the handler's console.* calls become JSON lines too, with the level they were logged at. */
export function structureConsole(): void {
  if (!jsonFormat) return;
  const levels: [keyof Console, Level][] = [
    ["log", "INFO"], ["info", "INFO"], ["debug", "DEBUG"], ["trace", "DEBUG"], ["warn", "WARN"], ["error", "ERROR"],
  ];
  for (const [method, level] of levels) {
    (console as unknown as Record<string, unknown>)[method] = (...values: unknown[]) => {
      process.stdout.write(jsonLine(level, util.format(...values)));
    };
  }
}
