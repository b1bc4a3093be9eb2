/**
 * Gap repair: the inbox saw a hole in a peer's sequence numbers; ask the origin for the missing
 * envelopes from its recent-envelope buffer (outbox.ts) and feed them to the inbox. When the buffer
 * no longer holds them (or the origin cannot be asked now), a digest round covers the rest.
 */
import { RequestFailedError } from "../errors.js";
import type { NodeReply, NodeRequest } from "../wire/codec.js";
import type { ReplicatorStats } from "../extension/stats.js";

export interface GapRepairDeps {
  nodeId: string;
  stats: ReplicatorStats;
  ask(peer: string, request: NodeRequest): Promise<NodeReply>;
  /** An envelope the origin sent back (the inbox takes it as if it came from the bus). */
  receive(origin: string, envelope: Uint8Array): void;
  /** The fallback: a digest round with `origin` (retried at its heartbeats when it fails). */
  syncWith(origin: string): Promise<unknown>;
  isClosed(): boolean;
  reportError(error: unknown): void;
}

export class GapRepair {
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: GapRepairDeps) {}

  /** Repair sequences `from`..`to` of `origin`'s incarnation `incarnation`. Never throws. */
  async repair(origin: string, incarnation: number, from: number, to: number): Promise<void> {
    const d = this.deps;
    const id = `${origin}/${incarnation}/${from}-${to}`;
    if (this.inFlight.has(id) || d.isClosed()) return;
    this.inFlight.add(id);
    d.stats.repair("gap");
    try {
      // The origin answers as many envelopes as fit one reply: ask again from where it stopped.
      let next = from;
      while (next <= to && !d.isClosed()) {
        const reply = await d.ask(origin, { type: "repair", from: d.nodeId, incarnation, fromSequence: next, toSequence: to });
        if (reply.type !== "repair" || !reply.complete || reply.envelopes.length === 0) {
          await d.syncWith(origin); // evicted from its buffer (or restarted): a digest round
          return;
        }
        for (const bytes of reply.envelopes) d.receive(origin, bytes);
        next += reply.envelopes.length;
      }
    } catch (error) {
      if (!(error instanceof RequestFailedError)) d.reportError(error);
      // Unreachable right now (e.g. not reconnected yet): a round now, or at its next heartbeat.
      if (!d.isClosed()) await d.syncWith(origin);
    } finally {
      this.inFlight.delete(id);
    }
  }
}
