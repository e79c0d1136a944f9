// InvokeWithResponseStreamCommand of AWS's JavaScript SDK against a local endpoint, for
// tests/test_streaming_clients.py: node invoke-stream.mjs ENDPOINT FUNCTION PAYLOAD [ACK_FILE]
// prints {status, contentType, version, events: [{chunk: base64} | {complete: {...}}]} as JSON; with
// ACK_FILE, writes that file once the first chunk has come (the handler waits for it before it goes on).
import { writeFileSync } from "node:fs";
import { InvokeWithResponseStreamCommand, LambdaClient } from "@aws-sdk/client-lambda";

const [endpoint, functionName, payload, ack] = process.argv.slice(2);
const client = new LambdaClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
const answer = await client.send(new InvokeWithResponseStreamCommand({
  FunctionName: functionName, Payload: new TextEncoder().encode(payload), LogType: "Tail",
}));
const events = [];
for await (const event of answer.EventStream) {
  if (event.PayloadChunk) {
    events.push({ chunk: Buffer.from(event.PayloadChunk.Payload).toString("base64") });
    if (ack && events.length === 1) writeFileSync(ack, "");
  } else if (event.InvokeComplete) {
    events.push({ complete: event.InvokeComplete });
  }
}
console.log(JSON.stringify({
  status: answer.StatusCode, contentType: answer.ResponseStreamContentType, version: answer.ExecutedVersion, events,
}));
