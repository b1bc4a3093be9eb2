/**
 * Cross-DC replication (DESIGN §4 "Cross-DC", GoAkt's WithDataCenterReplication): every node links
 * to each remote DC (link.ts), receives their batches (receiver.ts) and, while it leads its DC,
 * sends this DC's changes (flusher.ts). Why every receiving node applies a batch: ARCHITECTURE.md.
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
          wrap: (transport) => ctx.secure(transport),
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
