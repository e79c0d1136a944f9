// Sample handler. _HANDLER=src/hello.handler: the runtime imports this module once per execution environment (its
// top-level code is the init: create clients and caches there) and calls `handler` once per event.
//   event:    the event, parsed from JSON (text that is not JSON arrives as a string)
//   context:  awsRequestId, invokedFunctionArn, getRemainingTimeInMillis(), xRayTraceId, tenantId, ...
//   return:   the response, sent as JSON (a Uint8Array/Buffer is sent as its bytes)
//   throw:    the invocation fails with the error's name and message
// Example: {"name": "World"} -> {"message":"Hello, World!"}

// Types only: erased before running, so the function package does not need the runtime's files.
import type { Context } from "../runtime/lambda-runtime/context.ts";

interface Greeting {
  name?: unknown;
}

export async function handler(event: Greeting, context: Context): Promise<{ message: string }> {
  const name = event?.name;
  if (typeof name !== "string") {
    throw new TypeError('the event has no "name" string, e.g. {"name": "World"}');
  }
  console.log(`greeting ${name} (request ${context.awsRequestId})`);
  return { message: `Hello, ${name}!` };
}
