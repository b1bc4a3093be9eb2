/**
 * Incoming envelopes on the delta subject: decode and validate, drop our own and duplicates,
 * detect gaps in each origin's sequence (and ask for a repair at once), reassemble chunks.
 * Applying the content is the merger's job (`deliver`, wired in parts.ts); this file decides
 * what to deliver.
 */
import { DecodeError } from "../errors.js";
import { decodeDeltaEnvelope, type DeltaEnvelope } from "../wire/codec.js";
import type { ReplicatorStats } from "../extension/stats.js";
import { speaksFor } from "../transport/types.js";

interface OriginTrack {
  incarnation: number;
  lastSequence: number;
}

interface PartialChunks {
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  startedAtMs: number;
}

export interface InboxOptions {
  nodeId: string;
  incarnation: number;
  /** Largest envelope a well-behaved peer publishes; anything bigger is rejected unread. */
  maxPayload: number;
  /**
   * The incarnation membership knows for `origin` (from its heartbeats), if any. An envelope that
   * claims a known member with another incarnation is stale (lower) or forged (higher): a real
   * process announces itself by heartbeat before it publishes its first delta.
   */
  incarnationOf?: (origin: string) => number | undefined;
  /** An envelope claimed a newer incarnation than membership knows (forged, or a heartbeat still on its way). */
  onUnknownIncarnation?: (origin: string) => void;
  /** Tracking of `origin` was corrupted (see checkTail): some of its envelopes may have been dropped. */
  onSuspect?: (origin: string) => void;
  stats: ReplicatorStats;
  /** Apply a validated envelope's deltas and tombstones. */
  deliver: (envelope: DeltaEnvelope) => void;
  /** Sequences `from..to` of `origin`'s `incarnation` were not received. */
  onGap: (origin: string, incarnation: number, from: number, to: number) => void;
  now: () => number;
}

/** Reassembly limits: an abandoned chunked value must not pin memory forever. */
const CHUNK_MAX_BYTES = 256 * 1024 * 1024;
const CHUNK_MAX_AGE_MS = 120_000;
/** DecodeError messages that mean "a data type this version does not know" (see wire/states.ts kindOf). */
const UNKNOWN_TYPE = /unknown data type|dataType is unspecified/;

export class Inbox {
  private readonly origins = new Map<string, OriginTrack>();
  private readonly chunks = new Map<string, PartialChunks>();
  private chunkBytes = 0;

  constructor(private readonly o: InboxOptions) {}

  /** Raw bytes from the delta subject, signed by `signer` (with signing on). Never throws. */
  receive(bytes: Uint8Array, signer?: string): void {
    const env = this.decode(bytes);
    if (env === undefined || !this.authentic(env, signer)) return;
    if (!this.track(env)) return;
    if (env.chunk !== undefined) this.reassemble(env);
    else this.o.deliver(env);
  }

  /**
   * An envelope sent to this node alone (a value too large for a request/reply message, sent in
   * chunks outside the origin's numbered stream): validated like any other, no sequence bookkeeping.
   */
  receiveDirect(bytes: Uint8Array, signer?: string): void {
    const env = this.decode(bytes);
    if (env === undefined || !this.authentic(env, signer)) return;
    if (env.chunk !== undefined) this.reassemble(env);
    else this.o.deliver(env);
  }

  private decode(bytes: Uint8Array): DeltaEnvelope | undefined {
    const s = this.o.stats;
    if (bytes.length > this.o.maxPayload) {
      s.reject("oversized");
      return undefined;
    }
    try {
      return decodeDeltaEnvelope(bytes);
    } catch (error) {
      s.reject(error instanceof DecodeError && UNKNOWN_TYPE.test(error.message) ? "unknown-type" : "decode");
      return undefined;
    }
  }

  /**
   * Origin checks: not our own echo, sent by the origin itself (with signing on), not an impostor
   * of a known member, deltas from the sender itself.
   */
  private authentic(env: DeltaEnvelope, signer?: string): boolean {
    const s = this.o.stats;
    if (!speaksFor(signer, env.origin)) {
      s.reject("forged-origin");
      return false;
    }
    if (env.origin === this.o.nodeId) {
      // Our own echo is normal; the same id with another incarnation is an impostor.
      if (env.incarnation !== this.o.incarnation) s.reject("forged-origin");
      return false;
    }
    if (env.deltas.some((d) => d.originNode !== env.origin) || env.tombstones.some((t) => t.originNode !== env.origin)) {
      s.reject("forged-origin");
      return false;
    }
    const known = this.o.incarnationOf?.(env.origin);
    if (known !== undefined && env.incarnation !== known) {
      if (env.incarnation < known) s.reject("stale-incarnation");
      else {
        s.reject("forged-origin");
        this.o.onUnknownIncarnation?.(env.origin);
      }
      return false;
    }
    return true;
  }

  /** Envelopes resent by `origin` after a gap: deliver, without sequence bookkeeping. */
  receiveRepair(origin: string, bytes: Uint8Array): void {
    const env = this.decode(bytes);
    if (env === undefined) return;
    if (env.origin !== origin) {
      this.o.stats.reject("forged-origin");
      return;
    }
    if (!this.authentic(env)) return;
    if (env.chunk !== undefined) this.reassemble(env);
    else this.o.deliver(env);
  }

  /**
   * A peer's heartbeat said it published up to `lastSequence`: a lost tail is a gap too. A tracked
   * sequence *beyond* it was never published by that process (an impostor's envelope, or a
   * reordering transport): its real envelopes would be dropped as duplicates, so tracking restarts
   * at the heartbeat's figure and `onSuspect` asks for a digest round to recover what was dropped.
   */
  checkTail(origin: string, incarnation: number, lastSequence: number): void {
    const t = this.origins.get(origin);
    if (t === undefined || incarnation > t.incarnation) {
      // First word from this process: what it published before is the join round's job, but from
      // here on a lost envelope — even its very next one — is a gap.
      this.origins.set(origin, { incarnation, lastSequence });
      return;
    }
    if (t.incarnation !== incarnation || lastSequence === t.lastSequence) return;
    if (lastSequence < t.lastSequence) {
      t.lastSequence = lastSequence;
      this.o.onSuspect?.(origin);
      return;
    }
    const from = t.lastSequence + 1;
    t.lastSequence = lastSequence;
    this.o.onGap(origin, incarnation, from, lastSequence);
  }

  /** Forget an origin that left, so its next incarnation starts clean. */
  forget(origin: string): void {
    this.origins.delete(origin);
  }

  /** Sequence bookkeeping; false for duplicates and stale incarnations. */
  private track(env: DeltaEnvelope): boolean {
    const t = this.origins.get(env.origin);
    if (t === undefined) {
      // First word from this origin: whatever came before is the join's anti-entropy's job.
      this.origins.set(env.origin, { incarnation: env.incarnation, lastSequence: env.sequence });
      return true;
    }
    if (env.incarnation < t.incarnation) {
      this.o.stats.reject("stale-incarnation");
      return false;
    }
    if (env.incarnation > t.incarnation) {
      // A restart (membership already confirmed it in authentic()): its sequences start again at 1.
      t.incarnation = env.incarnation;
      t.lastSequence = 0;
    }
    if (env.sequence <= t.lastSequence) return false; // duplicate
    if (env.sequence > t.lastSequence + 1) {
      this.o.onGap(env.origin, env.incarnation, t.lastSequence + 1, env.sequence - 1);
    }
    t.lastSequence = env.sequence;
    return true;
  }

  private reassemble(env: DeltaEnvelope): void {
    const c = env.chunk!;
    const id = `${env.origin}\u0000${env.incarnation}\u0000${c.chunkId}`;
    const now = this.o.now();
    this.evictStale(now);
    let partial = this.chunks.get(id);
    if (partial === undefined) {
      partial = { parts: new Array(c.total), received: 0, bytes: 0, startedAtMs: now };
      this.chunks.set(id, partial);
    }
    if (c.total !== partial.parts.length || c.index >= c.total) {
      this.o.stats.reject("decode");
      return;
    }
    if (partial.parts[c.index] !== undefined) return;
    if (this.chunkBytes + c.data.length > CHUNK_MAX_BYTES) {
      this.o.stats.reject("oversized");
      return;
    }
    partial.parts[c.index] = c.data.slice();
    partial.received++;
    partial.bytes += c.data.length;
    this.chunkBytes += c.data.length;
    if (partial.received < c.total) return;
    this.chunks.delete(id);
    this.chunkBytes -= partial.bytes;
    const whole = Buffer.concat(partial.parts as Uint8Array[]);
    try {
      const inner = decodeDeltaEnvelope(whole);
      if (inner.origin !== env.origin || inner.chunk !== undefined) throw new DecodeError("chunked envelope mismatch");
      this.o.deliver({ ...inner, sentAtMs: env.sentAtMs });
    } catch {
      this.o.stats.reject("decode");
    }
  }

  private evictStale(now: number): void {
    for (const [id, p] of this.chunks) {
      if (now - p.startedAtMs > CHUNK_MAX_AGE_MS) {
        this.chunks.delete(id);
        this.chunkBytes -= p.bytes;
      }
    }
  }
}
