// Generated from cookiecutters/_shared/javascript/lambda-runtime/logging.ts by generate-node.mjs: edit that file, not this one.
// The runtime's own log lines, and which invocation a line belongs to.
//
// With AWS_LAMBDA_LOG_FORMAT=JSON (always so under Managed Instances) every line is one JSON object
// {"timestamp","level","message","requestId"}, the handler's console output included, so that concurrent
// invocations' lines can be told apart; otherwise the runtime's lines are plain text on stderr and console is
// left as the language has it.


import { env, standardModule, writeStderr, writeStdout } from "./platform.mjs";



/** What a log line, and nothing else, may know of the invocation it is written for. */






// The invocation whose code is running. One at a time, a variable is enough; with concurrent invocations it is an
// async scope (AsyncLocalStorage, loaded only then), so that none sees another's.
let current                   ;
let scopes                                      ;

export async function scopesPerInvocation()                {
  const hooks = await standardModule                                   ("node:async_hooks");
  scopes = new hooks.AsyncLocalStorage       ();
}

export async function inScope   (scope       , run                  )             {
  if (scopes !== undefined) return scopes.run(scope, run);
  current = scope;
  try {
    return await run();
  } finally {
    current = undefined;
  }
}

const jsonFormat = (env.get("AWS_LAMBDA_LOG_FORMAT") ?? "").toUpperCase() === "JSON";

function jsonLine(level       , message        )         {
  const scope = scopes === undefined ? current : scopes.getStore();
  const line                         = { timestamp: new Date().toISOString(), level, message };
  if (scope !== undefined) {
    line.requestId = scope.requestId;
    if (scope.tenantId !== undefined) line.tenantId = scope.tenantId;
  }
  return JSON.stringify(line) + "\n";
}

/** A line of the runtime itself (not of the handler). */
export function log(level       , message        )       {
  if (jsonFormat) {
    writeStdout(jsonLine(level, message));
  } else {
    writeStderr(`bootstrap: ${message}\n`);
  }
}

/** In JSON mode, the handler's console.* calls become JSON lines too, with the level they were logged at. */
export async function structureConsole()                {
  if (!jsonFormat) return;
  const { format } = await standardModule                            ("node:util");
  const levels                           = [
    ["log", "INFO"], ["info", "INFO"], ["debug", "DEBUG"], ["trace", "DEBUG"], ["warn", "WARN"], ["error", "ERROR"],
  ];
  for (const [method, level] of levels) {
    (console                                      )[method] = (...values           ) => {
      writeStdout(jsonLine(level, format(...values)));
    };
  }
}
