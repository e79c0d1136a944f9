// Byte strings as plain Uint8Arrays (not Node's Buffer, whose set-up alone costs Deno about 10 ms at a cold start).

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
let latin1: TextDecoder | undefined; // made at the first reply, not before the first request (cold start)

export const EMPTY = new Uint8Array(0);

export function fromText(text: string): Uint8Array {
  return encoder.encode(text);
}

export function toText(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** For protocol lines (status line, header names and values): one character per byte. */
export function toAscii(bytes: Uint8Array): string {
  latin1 ??= new TextDecoder("latin1");
  return latin1.decode(bytes);
}

export function concat(parts: Uint8Array[], length?: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(length ?? parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/** Where ``needle`` (a short marker such as CRLF) starts in ``haystack``, or -1. */
export function find(haystack: Uint8Array, needle: Uint8Array): number {
  let at = haystack.indexOf(needle[0]);
  while (at >= 0 && at + needle.length <= haystack.length) {
    let index = 1;
    while (index < needle.length && haystack[at + index] === needle[index]) index++;
    if (index === needle.length) return at;
    at = haystack.indexOf(needle[0], at + 1);
  }
  return -1;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}
