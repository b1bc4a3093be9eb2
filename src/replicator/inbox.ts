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
import { Reassembly } from "./reassembly.js";
import { checkTail, placeEnvelope, type SequenceTrack, startTrack } from "./sequence.js";

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
  incarnationOf: (origin: string) => number | undefined;
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

/**
 * Reassembly limits (see reassembly.ts): values in progress at once (a peer sends one at a time),
 * the memory they may hold, and how long an abandoned one may pin it.
 */
const CHUNK_LIMITS = { maxValues: 256, maxBytes: 256 * 1024 * 1024, maxAgeMs: 120_000 };
/** The largest gap an envelope may open (what an origin keeps for repair, see outbox.ts); see sequence.ts. */
export const MAX_TRACKED_GAP = 4096;
/** DecodeError messages that mean "a data type this version does not know" (see wire/states.ts kindOf). */
const UNKNOWN_TYPE = /unknown data type|dataType is unspecified/;

export class Inbox {
  /** Sequence tracks of members only (origins membership knows): strangers cannot grow it. */
  private readonly origins = new Map<string, SequenceTrack>();
  private readonly chunks = new Reassembly(CHUNK_LIMITS);

  constructor(private readonly o: InboxOptions) {}

  /** Raw bytes from the delta subject, signed by `signer` (with signing on). Never throws. */
  receive(bytes: Uint8Array, signer?: string): void {
    const env = this.decode(bytes);
    if (env === undefined) return;
    // Looked up once: membership builds a record per lookup, and every envelope passes here.
    const known = this.o.incarnationOf(env.origin);
    if (!this.authentic(env, known, signer) || !this.track(env, known)) return;
    if (env.chunk !== undefined) this.reassemble(env);
    else this.o.deliver(env);
  }

  /**
   * An envelope sent to this node alone (a value too large for a request/reply message, sent in
   * chunks outside the origin's numbered stream): validated like any other, no sequence bookkeeping.
   */
  receiveDirect(bytes: Uint8Array, signer?: string): void {
    const env = this.decode(bytes);
    if (env === undefined || !this.authentic(env, this.o.incarnationOf(env.origin), signer)) return;
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
   * of a known member (`known`: the incarnation membership knows for the origin), deltas from the
   * sender itself.
   */
  private authentic(env: DeltaEnvelope, known: number | undefined, signer?: string): boolean {
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
    if (!allFrom(env.deltas, env.origin) || !allFrom(env.tombstones, env.origin)) {
      s.reject("forged-origin");
      return false;
    }
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
    if (!this.authentic(env, this.o.incarnationOf(origin))) return;
    if (env.chunk !== undefined) this.reassemble(env);
    else this.o.deliver(env);
  }

  /** A peer's heartbeat said it published up to `lastSequence` (see sequence.ts `checkTail`). */
  checkTail(origin: string, incarnation: number, lastSequence: number): void {
    if (this.o.incarnationOf(origin) === undefined) return; // a heartbeat membership did not take
    const check = checkTail(this.origins.get(origin), incarnation, lastSequence);
    if (check === undefined) return;
    this.origins.set(origin, check.track);
    this.o.stats.trackedOrigins = this.origins.size;
    if (check.suspect === true) this.o.onSuspect?.(origin);
    if (check.repair !== undefined) this.o.onGap(origin, incarnation, check.repair.from, check.repair.to);
  }

  /** Forget an origin that left, so its next incarnation starts clean. */
  forget(origin: string): void {
    this.origins.delete(origin);
    this.o.stats.trackedOrigins = this.origins.size;
  }

  /**
   * Sequence bookkeeping (see sequence.ts); false for duplicates and stale incarnations. Only for
   * origins membership knows: an invented origin is delivered untracked (its content merges like
   * any other; the cluster key is what keeps strangers' content out) and leaves nothing behind.
   */
  private track(env: DeltaEnvelope, known: number | undefined): boolean {
    if (known === undefined) return true;
    const t = this.origins.get(env.origin);
    if (t === undefined) {
      // First word from this origin: whatever came before is the join's anti-entropy's job.
      this.origins.set(env.origin, startTrack(env.incarnation, env.sequence));
      this.o.stats.trackedOrigins = this.origins.size;
      return true;
    }
    const p = placeEnvelope(t, env.incarnation, env.sequence, MAX_TRACKED_GAP);
    if (p.stale === true) this.o.stats.reject("stale-incarnation");
    if (p.track !== t) this.origins.set(env.origin, p.track);
    if (p.jump === true) {
      this.o.stats.reject("sequence-jump");
      this.o.onSuspect?.(env.origin);
    }
    if (p.repair !== undefined) this.o.onGap(env.origin, env.incarnation, p.repair.from, p.repair.to);
    return p.deliver;
  }

  private reassemble(env: DeltaEnvelope): void {
    const c = env.chunk!;
    const id = `${env.origin}\u0000${env.incarnation}\u0000${c.chunkId}`;
    const whole = this.chunks.add(id, c.index, c.total, c.data, this.o.now());
    const s = this.o.stats;
    s.chunkedValues = this.chunks.values;
    s.chunkBytes = this.chunks.bytes;
    s.chunkEvictions = this.chunks.evicted;
    if (!(whole instanceof Uint8Array)) {
      if (whole === "mismatch") this.o.stats.reject("decode");
      else if (whole === "too-large") this.o.stats.reject("oversized");
      return;
    }
    try {
      const inner = decodeDeltaEnvelope(whole);
      if (inner.origin !== env.origin || inner.chunk !== undefined) throw new DecodeError("chunked envelope mismatch");
      this.o.deliver({ ...inner, sentAtMs: env.sentAtMs });
    } catch {
      this.o.stats.reject("decode");
    }
  }
}

/** Whether every delta or tombstone of `list` names `origin` as its origin node. */
function allFrom(list: readonly { readonly originNode: string }[], origin: string): boolean {
  for (let i = 0; i < list.length; i++) if (list[i]!.originNode !== origin) return false;
  return true;
}
