/**
 * Cross-DC replication (DESIGN §4 "Cross-DC", GoAkt's WithDataCenterReplication).
 *
 * Each DC is its own cluster on its own NATS. Every node of a DC
 *   - connects to each remote DC's NATS (link.ts; in the background: a remote that is down never
 *     fails `Replicator.start`, and the client reconnects by itself afterwards);
 *   - listens on its own DC's NATS for batches from remote leaders and for their digest requests
 *     (receiver.ts);
 *   - runs a flusher (flusher.ts) that does something only while the node leads its DC: buffer the
 *     DC's deltas per remote and per key (accumulator.ts), send them every `intervalMs` in batches
 *     that fit the remote's max payload (pack.ts), keep what was not acknowledged.
 *
 * Why every node of the receiving DC applies a batch ("apply on all") rather than one node
 * applying it and re-publishing it inside its DC ("apply once and spread", GoAkt's way):
 *   - The WAN cost is the same: the leader publishes the batch once to the remote DC's NATS either
 *     way; the fan-out to the remote nodes happens inside that DC in both designs (by the NATS
 *     server here, by a second publish there).
 *   - One hop instead of two: lower latency, and no window in which the DC acknowledged a batch
 *     that one node holds but has not yet re-published (a crash there loses it for everybody else
 *     until anti-entropy).
 *   - No echo by construction: remote data enters through `ctx.merge` as origin "remote-dc", which
 *     is never published on the delta subject and which the flusher never buffers. Spreading would re-inject remote data
 *     into the DC's delta stream, and every receiver (the next leader included) would have to
 *     recognise it by a relay tag and never buffer it; one forgotten check means a loop.
 *   - The acknowledgement means "the DC has it": the first node that merged it answers (every node
 *     answers; NATS keeps the first reply). A node that missed the publish — it was disconnected
 *     — runs anti-entropy with a peer when it reconnects (replicator.ts), so it is repaired in one
 *     round trip, not at the next periodic round.
 *   What spreading would win: the copy inside the DC rides the delta stream's sequence numbers, so
 *   a node that silently lost it (a slow consumer, without a disconnect) would repair it by gap
 *   detection rather than by periodic anti-entropy. The price is each receiving node decoding the
 *   batch itself (as it decodes the spread copy anyway) and N tiny acknowledgements per batch.
 *
 * Requirements: every DC lists every other DC in `remotes` (full mesh: data is never forwarded from
 * one remote DC to another), and all DCs use the same `subject`.
 */
import type { ReplicatorContext } from "../extension/context.js";
import type { DataCenterReplicationOptions } from "./options.js";
import { Flusher } from "./flusher.js";
import { RemoteLink } from "./link.js";
import { Receiver } from "./receiver.js";

export class CrossDcReplication {
  private closed = false;

  private constructor(
    private readonly receiver: Receiver,
    private readonly flusher: Flusher,
    private readonly links: readonly RemoteLink[],
  ) {}

  /** Start receiving at once and connect to the remote DCs in the background. Never waits for a remote. */
  static async start(
    ctx: ReplicatorContext,
    options: Required<DataCenterReplicationOptions>,
  ): Promise<CrossDcReplication> {
    let flusher: Flusher | undefined;
    const links = options.remotes.map(
      (remote) =>
        new RemoteLink({
          remote,
          clientName: `crdt-xdc ${ctx.options.dataCenter}/${ctx.nodeId} -> ${remote.name}`,
          onUp: () => flusher?.onLinkUp(remote.name),
          onError: (error) => ctx.reportError(error),
        }),
    );
    const receiver = new Receiver(ctx);
    flusher = new Flusher(ctx, options, links);
    receiver.start();
    flusher.start();
    for (const l of links) l.open();
    return new CrossDcReplication(receiver, flusher, links);
  }

  /** A leader makes a last bounded attempt to flush; then stop receiving and close the remote connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flusher.close();
    this.receiver.close();
    await Promise.allSettled(this.links.map((l) => l.close()));
  }
}
