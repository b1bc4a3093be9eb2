// PLACEHOLDER — replaced by the snapshots implementation (issue 4).
import type { SnapshotOptions } from "../replicator/options.js";
import type { ReplicatorContext } from "../replicator/context.js";
import type { ReplicatorStats } from "../replicator/stats.js";
import type { Store } from "../replicator/store.js";

export class Snapshots {
  static async open(
    _options: Required<SnapshotOptions>,
    _restored: { store: Store; stats: ReplicatorStats; writerId: string | undefined },
  ): Promise<Snapshots> {
    throw new Error("snapshots not implemented yet");
  }
  attach(_ctx: ReplicatorContext): { close(): Promise<void> } {
    return { close: async () => undefined };
  }
}
