// The exercise's solution: the greeting streamed in two pieces, a second apart. awslambda.streamifyResponse is a
// global of the runtime (as on Lambda's Node.js runtime): the handler gets a writable stream, and each write goes
// to the caller at once when the function is invoked with InvokeWithResponseStream (`scaffold invoke --stream`).
import { setTimeout as sleep } from "node:timers/promises";

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (typeof event?.name !== "string") {
    throw new TypeError('the event has no "name" string, e.g. {"name": "World"}');  // before any write: /error
  }
  console.log("streaming a greeting to %s (request %s)", event.name, context.awsRequestId);
  responseStream.setContentType("text/plain; charset=utf-8");
  responseStream.write("Hello,\n");
  await sleep(1000);
  responseStream.write(`${event.name}!\n`);
  responseStream.end();
});
