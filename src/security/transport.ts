/**
 * A Transport that authenticates every message (see frame.ts): publishes, requests and replies
 * leave sealed; whatever arrives is opened, checked for freshness and replay, and only then handed
 * on, with its verified signer. Anything else is dropped and counted before a byte of it is
 * decoded. The replicator wraps its bus in one when `security` is set, and so does each cross-DC
 * link.
 */
import { randomFillSync } from "node:crypto";
import type { Clock } from "../clock.js";
import { ProtocolError, RequestFailedError } from "../errors.js";
import { TransportDecorator } from "../transport/decorator.js";
import type { IncomingMessage, MessageHandler, SubscribeOptions, Transport } from "../transport/types.js";
import { FRAME_OVERHEAD, open, replyContext, seal, subjectContext, type FrameRejection, type OpenedFrame } from "./frame.js";
import type { FrameKeys } from "./keys.js";
import { ReplayGuard } from "./replay.js";

/** Why a message was dropped: a refused frame, or a reply signed by another node than the one asked. */
export type AuthRejection = FrameRejection | "forged-origin";

export interface SecureTransportOptions {
  keys: FrameKeys;
  /** How far a frame's send time may be from this node's clock (both ways). */
  windowMs: number;
  clock: Pick<Clock, "now" | "setTimeout">;
  /** Count a dropped message. */
  reject: (reason: AuthRejection) => void;
  /** With signing on: the node that must sign the reply to a request on `subject` (undefined: any trusted node). */
  replierOf?: (subject: string) => string | undefined;
}

/** Requests received and not yet answered, by reply subject (oldest forgotten first past this). */
const MAX_PENDING_REPLIES = 10_000;

export class SecureTransport extends TransportDecorator {
  /** Replies' replay guard; each subscription has its own (two on one subject both get a frame once). */
  private readonly replies: ReplayGuard;
  /** The nonce of each request received, by its reply subject: the context of our reply. */
  private readonly pending = new Map<string, Uint8Array>();
  private readonly nonces = Buffer.allocUnsafe(16 * 256);
  private nonceAt = this.nonces.length;

  constructor(
    inner: Transport,
    private readonly o: SecureTransportOptions,
  ) {
    super(inner);
    this.replies = this.guard();
  }

  /** A sealed frame is larger than its payload. */
  override get maxPayload(): number {
    return this.inner.maxPayload - FRAME_OVERHEAD;
  }

  override publish(subject: string, data: Uint8Array): void {
    this.inner.publish(subject, seal(this.o.keys, subjectContext(subject), data, this.o.clock.now(), this.nonce()));
  }

  override respond(reply: string, data: Uint8Array): void {
    const nonce = this.pending.get(reply);
    if (nonce === undefined) throw new ProtocolError(`no request known for reply subject ${reply}: cannot sign an answer to it`);
    this.inner.respond(reply, seal(this.o.keys, replyContext(nonce), data, this.o.clock.now(), this.nonce()));
    this.pending.delete(reply); // only once sent: a failed answer may be followed by an error reply
  }

  override subscribe(subject: string, handler: MessageHandler, options?: SubscribeOptions): () => void {
    const guard = this.guard();
    return this.inner.subscribe(
      subject,
      (m: IncomingMessage) => {
        const opened = this.open(guard, subjectContext(m.subject), m.data);
        if (opened === undefined) return;
        if (m.reply !== undefined) this.remember(m.reply, opened.nonce);
        handler({ subject: m.subject, data: opened.payload, reply: m.reply, signer: opened.signer });
      },
      options,
    );
  }

  override async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const startedAt = this.o.clock.now();
    const nonce = new Uint8Array(this.nonce()); // a copy, kept past the await: the pool refills
    const reply = await this.inner.request(subject, seal(this.o.keys, subjectContext(subject), data, this.o.clock.now(), nonce), timeoutMs);
    const opened = this.open(this.replies, replyContext(nonce), reply);
    if (opened !== undefined) {
      const replier = this.o.replierOf?.(subject);
      if (replier === undefined || opened.signer === undefined || opened.signer === replier) return opened.payload;
      this.o.reject("forged-origin");
    }
    // A refused reply is a lost one: the request times out as if nothing had come.
    const left = timeoutMs - (this.o.clock.now() - startedAt);
    if (left > 0) await new Promise<void>((resolve) => void this.o.clock.setTimeout(resolve, left));
    throw new RequestFailedError(`request on ${subject}: no authentic reply within ${timeoutMs} ms`, "timeout");
  }

  private guard(): ReplayGuard {
    return new ReplayGuard(this.o.windowMs, () => this.o.clock.now());
  }

  private open(guard: ReplayGuard, context: string, bytes: Uint8Array): OpenedFrame | undefined {
    const opened = open(this.o.keys, context, bytes);
    const refused = typeof opened === "string" ? opened : guard.admit(opened.signer, opened.nonce, opened.sentAtMs);
    if (refused === undefined) return opened as OpenedFrame;
    this.o.reject(refused);
    return undefined;
  }

  private remember(reply: string, nonce: Uint8Array): void {
    if (this.pending.size >= MAX_PENDING_REPLIES) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(reply, new Uint8Array(nonce)); // a copy: the message's buffer may be reused
  }

  /** 16 random bytes, drawn from the CSPRNG 256 nonces at a time. */
  private nonce(): Uint8Array {
    if (this.nonceAt === this.nonces.length) {
      randomFillSync(this.nonces);
      this.nonceAt = 0;
    }
    const n = this.nonces.subarray(this.nonceAt, this.nonceAt + 16);
    this.nonceAt += 16;
    return n;
  }
}
