// The handler every JavaScript runtime of the benchmark runs (ours on Bun, Deno and Node, and AWS's Node client):
// the event parsed from JSON and sent back as JSON, the usual path of a Node.js handler.
export const handler = async (event) => event;
