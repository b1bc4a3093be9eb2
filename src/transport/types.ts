/**
 * The small surface the replicator needs from a message bus. Implemented over NATS
 * (src/transport/nats.ts) and in memory with seeded faults (src/transport/memory.ts).
 */

export interface IncomingMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Set when the sender expects a reply (request/reply). */
  readonly reply?: string;
  /**
   * The node id whose signature the message carried, verified against the trusted keys (see
   * src/security/); undefined when signing is off. A message claiming to come from another node
   * must then be dropped: see `speaksFor`.
   */
  readonly signer?: string;
}

/** Whether a message signed by `signer` may speak for node `claimed` (always, with signing off). */
export function speaksFor(signer: string | undefined, claimed: string): boolean {
  return signer === undefined || signer === claimed;
}

export type MessageHandler = (msg: IncomingMessage) => void;

export type TransportStatus =
  | { type: "disconnect" }
  | { type: "reconnect" }
  | { type: "closed"; error?: Error };

export interface SubscribeOptions {
  /** Queue group: one member of the group receives each message. */
  queue?: string;
}

export interface Transport {
  /** Largest payload the bus accepts in one message, in bytes (NATS: the server's max_payload). */
  readonly maxPayload: number;
  /**
   * Fire-and-forget publish. The transport may keep a reference to `data` until it flushes:
   * callers must pass a fresh buffer per message and never reuse it.
   */
  publish(subject: string, data: Uint8Array): void;
  /** Answer a request received with a `reply` subject. */
  respond(reply: string, data: Uint8Array): void;
  /**
   * Whether a subscriber also receives its own connection's publishes depends on the connection
   * (a NATS connection opened by connectNats: no echo; a borrowed one: its own setting; memory:
   * yes). The replicator ignores its own messages either way.
   */
  subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void;
  /**
   * Request/reply; rejects with a RequestFailedError when no answer in `timeoutMs`. A request still
   * waiting for its reply when the connection is lost is sent again once a new connection is up
   * (within the same `timeoutMs`), so a handler may see a request twice and must tolerate it.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Resolves once everything published so far reached the server (or the in-memory bus). */
  flush(): Promise<void>;
  /** Connection status changes (disconnect, reconnect, closed). Returns an unsubscribe function. */
  onStatus(listener: (status: TransportStatus) => void): () => void;
  /** Bytes handed to the bus so far (payloads plus protocol overhead where known). */
  readonly bytesOut: number;
  /** Drain subscriptions and close. Closing a borrowed connection leaves the connection open. */
  close(): Promise<void>;
}

/** Request failures, typed: defined with the other errors, exported here where transports use it. */
export { RequestFailedError } from "../errors.js";

/** Room every sender leaves below the bus's max payload, for NATS protocol framing and envelope fields. */
export const PAYLOAD_HEADROOM = 1024;
