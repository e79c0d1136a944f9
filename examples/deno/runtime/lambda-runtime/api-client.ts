// The Lambda Runtime API (2018-06-01) on one keep-alive connection (http1.ts).
//
// Rules from the contract (docs/runtime-api.md): no timeout on GET /next (the sandbox may be frozen between
// events); a 5xx from any endpoint means the environment is broken, so the runtime exits; a connection dropped
// while idle is reopened once, a second failure ends the runtime too.

import { toText } from "./bytes.ts";
import { Connection } from "./http1.ts";
import type { ChunkedRequest, Reply } from "./http1.ts";
import { log } from "./logging.ts";
import { exit } from "./platform.ts";

export type { ChunkedRequest, Reply };

const PREFIX = "/2018-06-01/runtime/";

function exitOn5xx(method: string, resource: string, reply: Reply): Reply {
  if (reply.status >= 500) {
    log("ERROR", `${method} ${resource} returned ${reply.status}, exiting: ${toText(reply.body)}`);
    exit(1);
  }
  return reply;
}

export class RuntimeApiClient {
  readonly #connection: Connection;

  constructor(address: string) {
    const colon = address.lastIndexOf(":");
    this.#connection = new Connection(address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
      Number(address.slice(colon + 1)));
  }

  /** One request; exits the runtime when the Runtime API is gone or answers 5xx. */
  async call(method: string, resource: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await this.#connection.request(method, PREFIX + resource, headers, body);
    } catch {
      try {
        reply = await this.#connection.request(method, PREFIX + resource, headers, body);
      } catch (error) {
        log("ERROR", `lost the Runtime API during ${method} ${resource}: ${String(error)}`);
        exit(1);
      }
    }
    return exitOn5xx(method, resource, reply);
  }

  /** A streamed POST: the request line and headers go out with the first chunk. */
  stream(resource: string, headers: Record<string, string>): ChunkedRequest {
    const request = this.#connection.chunked("POST", PREFIX + resource, headers);
    const reply = request.reply.then((reply) => exitOn5xx("POST", resource, reply));
    reply.catch(() => undefined);
    return { ...request, reply, end: (trailers) => request.end(trailers).then(() => reply) };
  }
}
