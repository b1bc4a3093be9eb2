// PLACEHOLDER — replaced by the cross-DC implementation (issue 4).
import type { DataCenterReplicationOptions } from "../replicator/options.js";
import type { ReplicatorContext } from "../replicator/context.js";

export class CrossDcReplication {
  static async start(_ctx: ReplicatorContext, _options: Required<DataCenterReplicationOptions>): Promise<CrossDcReplication> {
    throw new Error("cross-DC replication not implemented yet");
  }
  async close(): Promise<void> {}
}
