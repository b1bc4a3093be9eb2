/**
 * JetStream's answer to a publish (a PubAck), from untrusted bytes: `{"stream":S,"seq":N,...}` when
 * the message was stored, `{"error":{"code":C,"err_code":E,"description":D}}` when it was refused.
 * Anything else (not JSON, another stream, a sequence that cannot follow the expected one) is no
 * answer at all: the caller counts it and keeps waiting for the real one.
 */
import { parseEntryObject } from "./json-entry.js";

/** The JetStream API error of a refused publish (what JetStreamApiError wraps). */
export interface ApiError {
  readonly code: number;
  readonly err_code: number;
  readonly description: string;
}

export type PubAck = { readonly seq: number } | { readonly error: ApiError };

/** Acks are a few dozen bytes; an error description a sentence. */
const MAX_ACK_BYTES = 4096;

/**
 * The ack in `bytes` of a publish to `stream` that expected `after` as the last sequence (of the
 * key or of the stream): a stored message's sequence is larger than that. Undefined when malformed.
 */
export function parsePubAck(bytes: Uint8Array, stream: string, after: number): PubAck | undefined {
  const raw = parseEntryObject(bytes, MAX_ACK_BYTES);
  if (raw === undefined) return undefined;
  const { error, seq } = raw;
  if (error !== undefined) {
    if (typeof error !== "object" || error === null) return undefined;
    const { code, err_code, description } = error as Record<string, unknown>;
    if (!Number.isSafeInteger(code) || !Number.isSafeInteger(err_code) || typeof description !== "string") return undefined;
    return { error: { code: code as number, err_code: err_code as number, description } };
  }
  if (raw.stream !== stream || !Number.isSafeInteger(seq) || (seq as number) <= after) return undefined;
  return { seq: seq as number };
}
