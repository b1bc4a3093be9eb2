/**
 * Names on the NATS side of the distributed objects, as pure functions: a user's name for a queue
 * or topic may hold any character, a NATS subject token or stream name may not. Each derived name
 * keeps the user's name readable (unsafe characters become `_`) and ends in a hash of the exact
 * name, so two names that sanitize alike never share a stream or subject.
 */
import { createHash } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";

/** Longest user-given name, in UTF-8 bytes (NATS stream names must stay short). */
export const MAX_NAME_BYTES = 128;

/** Check a user-given name (non-empty, well-formed, at most MAX_NAME_BYTES). */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0) throw new InvalidArgumentError(`a ${what} name must be a non-empty string`);
  if (!name.isWellFormed()) throw new InvalidArgumentError(`a ${what} name must be well-formed Unicode`);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new InvalidArgumentError(`a ${what} name must be at most ${MAX_NAME_BYTES} bytes`);
  return name;
}

/** `name` as a NATS token: letters, digits, `-` and `_` kept, the rest `_`, plus 8 hex of its hash. */
export function token(name: string): string {
  const readable = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${readable}_${hash}`;
}

export interface QueueNames {
  /** The JetStream work-queue stream. */
  stream: string;
  /** The one subject the stream captures (items are published here). */
  subject: string;
  /** The durable pull consumer every handle of the queue shares. */
  consumer: string;
}

/** Names of queue `name` of a replicator on delta subject `subject` (replicators on other subjects never share it). */
export function queueNames(subject: string, name: string): QueueNames {
  const t = token(name);
  return { stream: `QUEUE_${subject.replace(/\./g, "_")}_${t}`, subject: `${subject}.queue.${t}`, consumer: "workers" };
}

/** The subject of topic `name` of a replicator on delta subject `subject`. */
export function topicSubject(subject: string, name: string): string {
  return `${subject}.topic.${token(name)}`;
}

/**
 * Whether `receipt` is the ack subject of a message of this queue's stream and consumer (NATS
 * gives it as the message's reply subject), so an ack from an HTTP client cannot publish anywhere
 * else: `$JS.ACK.<stream>.<consumer>.<5 numbers>`, or with domain and account hash
 * `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<5 numbers>[.<token>]`.
 */
export function isReceiptOf(names: QueueNames, receipt: unknown): receipt is string {
  if (typeof receipt !== "string" || receipt.length > 512 || !/^[!-~]+$/.test(receipt)) return false;
  const t = receipt.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK" || t.some((x) => x === "" || x === "*" || x === ">")) return false;
  const at = t.length === 9 ? 2 : t.length === 11 || t.length === 12 ? 4 : -1;
  if (at < 0 || t[at] !== names.stream || t[at + 1] !== names.consumer) return false;
  return t.slice(at + 2, at + 7).every((x) => /^\d{1,20}$/.test(x));
}

/** The stream sequence of the message a (checked) receipt acknowledges, and its delivery count. */
export function receiptOf(receipt: string): { sequence: number; deliveries: number } {
  const t = receipt.split(".");
  const at = t.length === 9 ? 4 : 6;
  return { deliveries: Number(t[at]), sequence: Number(t[at + 1]) };
}
