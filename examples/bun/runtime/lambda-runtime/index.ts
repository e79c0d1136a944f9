// AWS Lambda custom runtime for JavaScript and TypeScript handlers, run by Bun, Deno or Node (runtime/bootstrap
// starts it with the layer's binary). Only the runtimes' own standard library: Node's API in Bun and Node, Deno's
// in Deno where it is much cheaper to start (platform.ts).
//
// Lifecycle (docs/runtime-api.md §3): load the handler named by _HANDLER once (a failure goes to /init/error and
// ends the process), then loop: GET /next, call the handler, POST /response or /error. With
// AWS_LAMBDA_MAX_CONCURRENCY=N (Lambda Managed Instances) N such loops run at once in this process, each on its
// own keep-alive connection, and answer in whatever order their handlers finish. Then _X_AMZN_TRACE_ID, which
// the whole process shares, is left alone (as Lambda's Node.js runtime does in that mode): each invocation has
// its trace id in context.xRayTraceId, and its log lines carry its own request id.
//
// SIGTERM (the environment shutting down) ends the process as the signal does by default; a handler module may
// listen for it to clean up, and must then exit itself.

import { RuntimeApiClient } from "./api-client.ts";
import { fromText } from "./bytes.ts";
import { InitError, loadHandler } from "./handler.ts";
import type { LoadedHandler } from "./handler.ts";
import { answer, errorBody, invocationFrom, postError } from "./invocation.ts";
import type { Invocation } from "./invocation.ts";
import { inScope, log, scopesPerInvocation, structureConsole } from "./logging.ts";
import { env, exit, onFatal } from "./platform.ts";
import { installGlobals, prepareStreaming } from "./streaming.ts";

const address = env.get("AWS_LAMBDA_RUNTIME_API");
if (!address) {
  log("ERROR", "AWS_LAMBDA_RUNTIME_API is not set");
  exit(1);
}
const initClient = new RuntimeApiClient(address);
const inFlight = new Set<Invocation>();
let initialised = false;
let dying = false;

async function postInitError(error: unknown): Promise<never> {
  const type = error instanceof InitError ? error.errorType : "Runtime.ImportModuleError";
  const body = errorBody(error, type);
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) body.stackTrace = errorBody(cause).stackTrace; // where the user's code failed
  log("ERROR", `init failed: ${type}: ${body.errorMessage}`);
  await initClient.call("POST", "init/error", fromText(JSON.stringify(body)),
    { "Lambda-Runtime-Function-Error-Type": type });
  exit(1);
}

// An exception nothing caught, or a rejected promise nothing awaited: as in Lambda's Node.js runtime, it fails the
// invocations under way (or the init) and ends the process; Lambda starts a fresh one.
async function die(errorType: string, error: unknown): Promise<void> {
  if (dying) return;
  dying = true;
  if (!initialised) await postInitError(new InitError(errorType, errorBody(error).errorMessage, error));
  await Promise.all([...inFlight].map((invocation) => postError(invocation, error, errorType)));
  exit(1);
}
onFatal((errorType, error) => void die(errorType, error));

function concurrency(): number {
  const value = Number.parseInt(env.get("AWS_LAMBDA_MAX_CONCURRENCY") ?? "1", 10);
  return Number.isInteger(value) && value > 1 ? value : 1;
}

async function serve(client: RuntimeApiClient, handler: LoadedHandler, shared: boolean): Promise<never> {
  for (;;) {
    const invocation = invocationFrom(await client.call("GET", "invocation/next"), client);
    const { context, requestId } = invocation;
    // The AWS SDKs and X-Ray read it from the environment; child processes inherit it.
    if (!shared) env.set("_X_AMZN_TRACE_ID", context.xRayTraceId);
    inFlight.add(invocation);
    try {
      const scope = { requestId, traceId: context.xRayTraceId, tenantId: context.tenantId };
      await inScope(scope, () => answer(invocation, handler));
    } finally {
      inFlight.delete(invocation);
    }
  }
}

const loops = concurrency();
let handler: LoadedHandler;
try {
  await structureConsole();
  if (loops > 1) await scopesPerInvocation();
  installGlobals();
  const taskRoot = env.get("LAMBDA_TASK_ROOT");
  if (!taskRoot) throw new InitError("Runtime.InvalidTaskConfig", "LAMBDA_TASK_ROOT is not set");
  handler = await loadHandler(env.get("_HANDLER") ?? "", taskRoot);
  if (handler.streaming) await prepareStreaming();
} catch (error) {
  await postInitError(error);
}
initialised = true;
await Promise.all(Array.from({ length: loops }, (_, i) =>
  serve(i === 0 ? initClient : new RuntimeApiClient(address), handler!, loops > 1)));
