// The web page. _HANDLER=src/web.handler: an API Gateway HTTP API event (payload format 2.0) in, the HTTP response
// out as {statusCode, headers, body} (README, "The web page").
//   GET  /  web/page.html, with its form
//   POST /  the same page greeting the name the form posted

import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import type { Context } from "../runtime/lambda-runtime/context.ts";

// Read once per execution environment, at init (a missing file fails the init, as it should).
const page = readFileSync(new URL("../web/page.html", import.meta.url), "utf8");

interface HttpApiEvent {
  requestContext?: { http?: { method?: string } };
  body?: string;
  isBase64Encoded?: boolean;
}

interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

export async function handler(event: HttpApiEvent, context: Context): Promise<HttpResponse> {
  let greeting = "";
  if (event?.requestContext?.http?.method === "POST") {
    const body = event.body ?? "";
    // A browser's form post: API Gateway base64-encodes it.
    const form = new URLSearchParams(event.isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body);
    const name = (form.get("name") ?? "").trim();
    if (name !== "") {
      greeting = `<p class="greeting">Hello, ${escapeHtml(name)}!</p>`;
    }
    console.log(`web: greeting ${name}, request ${context.awsRequestId}`);
  }
  return {
    statusCode: 200,
    headers: { "content-type": "text/html; charset=utf-8" },
    // A function, not a string: a replacement string would expand `$&` and `$'` in what the visitor typed.
    body: page.replace("<!-- greeting -->", () => greeting),
  };
}
