/**
 * The sending side of cross-DC replication. Every node runs one; only the DC leader uses it.
 *
 * While this node leads its DC it accumulates, per remote DC, every change its store accepts (the
 * change stream, changes.ts): a local write, a delta from its own DC's delta subject, and what it
 * learned by intra-DC anti-entropy, read repair or a coordinated write — values and tombstones,
 * merged per key — but never what came from a remote DC (origin "remote-dc"). So a change the
 * leader missed on the delta subject (its link was down and the writer's buffer is gone) still
 * crosses once a round brings it here. Every `intervalMs` it sends one batch per remote (several
 * when the remote's max payload requires), as a request on the remote DC's NATS: every node there merges it
 * and the first acknowledgement tells the leader the DC has it. Acknowledged parts are dropped;
 * a failed or timed-out part is put back and merged with what arrived meanwhile, so nothing is
 * lost on a failed send (GoAkt clears its buffer before sending). A remote that is not connected,
 * has no responders or does not answer in `sendTimeoutMs` is skipped and counted
 * (`crossdcStaleSkipCount`); replication inside the DC never waits for it.
 *
 * Leadership is a heuristic (oldest reachable member) and may be briefly held by two nodes: both
 * then send, which costs duplicate, idempotent batches. A node that becomes leader runs a cross-DC
 * digest round with each remote first, so whatever the previous leader had not flushed still
 * crosses (the round compares whole stores, not buffers); one that fails is retried at the flush
 * ticks, backing off to `antiEntropyIntervalMs`. Rounds also run when a remote's
 * connection or this node's own connection comes back, and every `antiEntropyIntervalMs` when
 * `antiEntropy` is on. A round's pushes travel as batches (applied by every remote node, like a
 * flush) and what it pulls is spread to this DC the same way, so one round repairs both DCs
 * entirely rather than the single node that happened to answer (ARCHITECTURE.md, "Cross-DC
 * rounds", weighs that against asking each peer to run its own round).
 */
import { BatchRejectedError, ProtocolError } from "../errors.js";
import type { ReplicatorContext } from "../extension/context.js";
import type { RepairCause } from "../extension/stats.js";
import { every, preciseWallClockMs, type TimerHandle } from "../clock.js";
import { PAYLOAD_HEADROOM, RequestFailedError, type Transport } from "../transport/types.js";
import {
  decodeCrdtDeltaBatchAck,
  decodeNodeReply,
  encodeCrdtDeltaBatch,
  encodeNodeRequest,
  type CrdtDeltaBatch,
  type FullState,
  type NodeReply,
  type NodeRequest,
} from "../wire/codec.js";
import { BatchAccumulator, type Taken } from "./accumulator.js";
import type { RemoteLink } from "./link.js";
import type { DataCenterReplicationOptions } from "./options.js";
import { halve, pack, toTaken, type Part } from "./pack.js";
import { batchSubject, digestSubject } from "./receiver.js";

/** Longest a closing leader waits for its last flush (the next leader's digest round covers the rest). */
const FINAL_FLUSH_MAX_MS = 2_000;

interface Remote {
  readonly link: RemoteLink;
  readonly pending: BatchAccumulator;
  /** The flush in progress, if any (one at a time per remote). */
  flushing: Promise<void> | undefined;
  roundRunning: boolean;
  /** A round that failed (e.g. no node of the remote DC answered yet), retried from the flush tick. */
  retry: { cause: RepairCause; atMs: number; backoffMs: number } | undefined;
}

export class Flusher {
  private readonly remotes: Remote[];
  private readonly offs: (() => void)[] = [];
  private readonly timers: TimerHandle[] = [];
  private leading: boolean;
  /** Set once membership had time to hear the existing members (see `start`). */
  private settled = false;
  private batchIds = 0;
  private closed = false;

  constructor(
    private readonly ctx: ReplicatorContext,
    private readonly options: Required<DataCenterReplicationOptions>,
    links: readonly RemoteLink[],
  ) {
    this.remotes = links.map((link) => ({ link, pending: new BatchAccumulator(), flushing: undefined, roundRunning: false, retry: undefined }));
    this.leading = ctx.isLeader();
  }

  /** Whether this node currently acts as its DC's cross-DC sender. */
  get isLeading(): boolean {
    return this.leading && this.settled;
  }

  start(): void {
    const { ctx } = this;
    this.offs.push(
      ctx.onChange((c) => {
        // Whatever this DC accepted, however it got here; never what came from a remote DC.
        if (!this.leading || c.origin === "remote-dc") return;
        for (const r of this.remotes) {
          if (c.tombstone !== undefined) r.pending.addTombstone(c.tombstone);
          else r.pending.addDelta(c.key, c.kind, c.delta);
        }
      }),
      ctx.onLeaderChange((leader) => this.setLeading(leader === ctx.nodeId)),
      ctx.transport.onStatus((s) => {
        if (s.type === "reconnect") for (const r of this.remotes) this.round(r, "reconnect");
      }),
    );
    // A node that just started sees only itself, so it believes it leads until the existing
    // members' heartbeats arrive. It buffers meanwhile (harmless: cleared below unless it leads, and
    // what its join round pulls the leader holds already), but sends and starts rounds only
    // after two heartbeat periods, so a restarting follower does not run a leader's round.
    const settle = ctx.options.clock.setTimeout(() => {
      this.settled = true;
      this.leading = ctx.isLeader();
      if (this.leading) for (const r of this.remotes) this.round(r, "leader");
      // It never led: what it buffered, the leader has too (no hand-over as in setLeading).
      else for (const r of this.remotes) r.pending.clear();
    }, 2 * ctx.options.heartbeatIntervalMs);
    settle.unref();
    this.timers.push(settle);
    this.every(this.options.intervalMs, () => this.tick());
    if (this.options.antiEntropy) {
      this.every(this.options.antiEntropyIntervalMs, () => {
        if (this.isLeading) for (const r of this.remotes) this.round(r, "periodic");
      });
    }
  }

  /** A remote's connection became usable: whatever happened while it was down, compare stores. */
  onLinkUp(remote: string): void {
    const r = this.remotes.find((x) => x.link.name === remote);
    if (r !== undefined) this.round(r, "reconnect");
  }

  /** Stop; a leader makes one last bounded attempt to send what it holds. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) this.ctx.options.clock.clear(t);
    for (const off of this.offs.splice(0)) off();
    if (!this.isLeading) return;
    const last = async (r: Remote): Promise<void> => {
      await r.flushing;
      await this.flush(r);
    };
    await Promise.race([Promise.allSettled(this.remotes.map(last)), delay(Math.min(this.options.sendTimeoutMs, FINAL_FLUSH_MAX_MS))]);
  }

  // ------------------------------------------------------------------ leadership

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      if (this.settled) for (const r of this.remotes) this.round(r, "leader");
      return;
    }
    // Stepping down: hand over what is buffered with one attempt, then stop buffering. Whatever
    // that attempt misses, the leader has too (it applied the same DC deltas), or its own
    // promotion round will find.
    for (const r of this.remotes) {
      r.retry = undefined; // a leader again later runs its own round
      if (r.flushing === undefined && this.settled && !this.closed) void this.flush(r);
      else r.pending.clear();
    }
  }

  // ------------------------------------------------------------------ flushing

  private tick(): void {
    if (this.closed) return;
    if (this.settled) this.setLeading(this.ctx.isLeader());
    if (!this.isLeading) return;
    const now = this.ctx.options.clock.now();
    for (const r of this.remotes) {
      void this.flush(r);
      if (r.retry !== undefined && now >= r.retry.atMs) this.round(r, r.retry.cause);
    }
  }

  /** Send what is pending for `r`; resolves when done (never rejects). One flush per remote at a time. */
  private flush(r: Remote): Promise<void> {
    if (r.flushing !== undefined || r.pending.isEmpty) return r.flushing ?? Promise.resolve();
    const t = r.link.transport;
    if (!r.link.up || t === undefined) {
      this.ctx.stats.crossdcStaleSkipCount++;
      return Promise.resolve();
    }
    const taken = r.pending.take();
    const run = this.sendTaken(r, t, taken)
      .then((unsent) => {
        if (unsent.deltas.length + unsent.tombstones.length === 0) return;
        this.ctx.stats.crossdcStaleSkipCount++;
        if (this.leading && !this.closed) r.pending.restore(unsent);
      })
      .catch((error: unknown) => {
        // Not expected (sendTaken reports its own failures); keep the data all the same.
        this.ctx.reportError(error);
        if (this.leading && !this.closed) r.pending.restore(taken);
      })
      .finally(() => {
        r.flushing = undefined;
      });
    r.flushing = run;
    return run;
  }

  /** Send `taken` to the remote in batches that fit; resolves with what was not acknowledged. */
  private async sendTaken(r: Remote, t: Transport, taken: Taken): Promise<Taken> {
    const { parts, oversized } = pack(taken, this.ctx.nodeId, t.maxPayload - PAYLOAD_HEADROOM);
    for (const d of oversized) this.dropOversized(r, d.key, d.data?.length ?? 0);
    const unsent = await this.sendParts(r, t, parts);
    return toTaken(unsent);
  }

  /** Send parts in order, each acknowledged before the next; returns the parts not delivered. */
  private async sendParts(r: Remote, t: Transport, parts: Part[]): Promise<Part[]> {
    const queue = [...parts];
    while (queue.length > 0) {
      const part = queue[0]!;
      const batch: CrdtDeltaBatch = {
        originDc: this.ctx.options.dataCenter,
        originNode: this.ctx.nodeId,
        batchId: ++this.batchIds,
        sentAtMs: preciseWallClockMs(),
        deltas: part.deltas,
        tombstones: part.tombstones,
      };
      const bytes = encodeCrdtDeltaBatch(batch);
      if (bytes.length > t.maxPayload - PAYLOAD_HEADROOM / 2) {
        // The estimate was short (or the remote's limit shrank): halve and try again.
        const halves = halve(part);
        if (halves === undefined) {
          const only = part.deltas[0];
          this.dropOversized(r, only?.key ?? part.tombstones[0]?.key ?? "?", bytes.length);
          queue.shift();
        } else queue.splice(0, 1, ...halves);
        continue;
      }
      try {
        await this.request(r, t, batch, bytes);
      } catch (error) {
        if (!(error instanceof RequestFailedError)) this.ctx.reportError(error);
        return queue;
      }
      queue.shift();
    }
    return [];
  }

  private async request(r: Remote, t: Transport, batch: CrdtDeltaBatch, bytes: Uint8Array): Promise<void> {
    this.ctx.stats.crossdcSendCount++;
    this.ctx.stats.record("crossdc.batch.bytes", bytes.length);
    const reply = await t.request(batchSubject(this.ctx.options.subject), bytes, this.options.sendTimeoutMs);
    const ack = decodeCrdtDeltaBatchAck(reply);
    if (!ack.ok || ack.batchId !== batch.batchId) {
      throw new BatchRejectedError(`DC "${r.link.name}" refused batch ${batch.batchId}: ${ack.error || `ack for batch ${ack.batchId}`}`);
    }
  }

  private dropOversized(r: Remote, key: string, bytes: number): void {
    // No batch can carry it (a CRDTDeltaBatch has no chunking); keeping it would fail every flush.
    this.ctx.stats.reject("oversized");
    this.ctx.reportError(
      new ProtocolError(`cross-DC: the delta of key "${key}" (${bytes} bytes) exceeds DC "${r.link.name}"'s max payload; not sent`),
    );
  }

  // ------------------------------------------------------------------ anti-entropy

  /**
   * Run a digest round with `r` unless one is running or this node does not lead. A round that
   * fails is retried from the flush tick, backing off from `intervalMs` to `antiEntropyIntervalMs`
   * (a new leader's round must not wait for the periodic one, which may be off, or for a reconnect
   * that never comes when the link stayed up but no remote node answered yet).
   */
  private round(r: Remote, cause: RepairCause): void {
    if (!this.isLeading || this.closed || !r.link.up || r.roundRunning) return;
    r.roundRunning = true;
    void this.ctx.syncVia((request) => this.ask(r, request), cause, r.link.name).then((ok) => {
      r.roundRunning = false;
      if (ok || this.closed || !this.isLeading) {
        r.retry = undefined; // done, or no longer ours to retry (a leader again runs its own round)
        return;
      }
      const backoffMs = Math.min(r.retry === undefined ? this.options.intervalMs : 2 * r.retry.backoffMs, this.options.antiEntropyIntervalMs);
      r.retry = { cause: r.retry?.cause ?? cause, atMs: this.ctx.options.clock.now() + backoffMs, backoffMs };
    });
  }

  /** One request of a digest round, through the remote DC's NATS. */
  private async ask(r: Remote, request: NodeRequest): Promise<NodeReply> {
    const t = r.link.transport;
    if (t === undefined || !r.link.up || this.closed) {
      throw new RequestFailedError(`DC "${r.link.name}" is not connected`, "closed");
    }
    if (request.type === "push") {
      // Sent as batches: every node of the remote DC applies what it lacked, not just one.
      const unsent = await this.sendTaken(r, t, fromFullState(request));
      if (unsent.deltas.length + unsent.tombstones.length > 0) {
        throw new RequestFailedError(`push to DC "${r.link.name}" was not acknowledged`, "timeout");
      }
      return { type: "write", ok: true, error: "" };
    }
    const bytes = await t.request(digestSubject(this.ctx.options.subject), encodeNodeRequest(request), this.options.sendTimeoutMs);
    const reply = decodeNodeReply(bytes);
    if (reply.type === "error") throw new ProtocolError(`DC "${r.link.name}" answered: ${reply.error}`);
    // Key fetches and the bulk pull's range pages alike: whatever the round will merge here.
    if (reply.type === "digest" && reply.state !== undefined) this.spread(reply.state, r.link.name);
    return reply;
  }

  /**
   * Publish what a round pulled from `fromDc` on this DC's batch subject (no reply: fire and
   * forget), so every node here applies it — the round itself merges it on this node only.
   */
  private spread(state: FullState, fromDc: string): void {
    if (state.entries.length + state.tombstones.length === 0) return;
    if (!this.ctx.members().some((m) => !m.self)) return; // alone in the DC: the round's merge suffices
    const t = this.ctx.transport;
    const { parts } = pack(fromFullState(state), this.ctx.nodeId, t.maxPayload - PAYLOAD_HEADROOM);
    for (const part of parts) {
      try {
        t.publish(
          batchSubject(this.ctx.options.subject),
          encodeCrdtDeltaBatch({
            originDc: fromDc,
            originNode: this.ctx.nodeId,
            batchId: ++this.batchIds,
            sentAtMs: preciseWallClockMs(),
            deltas: part.deltas,
            tombstones: part.tombstones,
          }),
        );
      } catch (error) {
        // Too large after all, or the connection closed: the members' own anti-entropy repairs it.
        this.ctx.reportError(error);
      }
    }
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(every(this.ctx.options.clock, ms, fn, (error) => this.ctx.reportError(error)));
  }
}

function fromFullState(state: FullState): Taken {
  return {
    deltas: state.entries.map((e) => ({ key: e.key, kind: e.kind, value: e.value })),
    tombstones: state.tombstones,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
