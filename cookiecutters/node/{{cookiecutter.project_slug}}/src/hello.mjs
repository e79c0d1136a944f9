// Sample handler. _HANDLER=src/hello.handler: the runtime imports this module once per execution environment
// (top-level code is the init: create clients and caches here) and awaits `handler(event, context)` per event.
// The event arrives parsed from JSON; the returned value goes back as JSON; a thrown error fails the invocation
// with its name and message. Example: {"name": "World"} -> {"message":"Hello, World!"}

/**
 * @param {{ name?: unknown }} event
 * @param {{ awsRequestId: string }} context  (and the rest of Lambda's context object: see the README)
 */
export const handler = async (event, context) => {
  if (typeof event?.name === "string") {
    console.log("greeting %s (request %s)", event.name, context.awsRequestId);
    return { message: `Hello, ${event.name}!` };
  }
  throw new TypeError('the event has no "name" string, e.g. {"name": "World"}');
};
