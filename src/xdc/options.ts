/** The `dataCenterReplication` option of `Replicator.start`: its types, defaults and validation. */
import { ConfigError } from "../errors.js";
import { NAME, positive } from "../extension/option-checks.js";
import type { NatsConnectionOptions } from "../transport/nats.js";
import type { Transport } from "../transport/types.js";

export interface RemoteDataCenter {
  /** The remote DC's name (its nodes' `dataCenter`). */
  name: string;
  /** NATS servers of the remote DC (unless `connect` is given). */
  servers?: string | string[];
  /** Opens the connection to the remote DC instead of NATS `servers` (an in-memory bus in tests and simulations). */
  connect?: () => Promise<Transport>;
  /** Extra connection options for the remote DC (auth, TLS). */
  connection?: Omit<NatsConnectionOptions, "servers">;
}

export interface DataCenterReplicationOptions {
  remotes: RemoteDataCenter[];
  /** How often the DC leader flushes accumulated deltas to each remote DC. Default 5 s. */
  intervalMs?: number;
  /** Periodic cross-DC digest rounds (the leader also runs one when it becomes leader). Default false. */
  antiEntropy?: boolean;
  /** Interval of periodic cross-DC digest rounds. Default 2 min. */
  antiEntropyIntervalMs?: number;
  /** Per-attempt timeout of a cross-DC send. Default 10 s. */
  sendTimeoutMs?: number;
}

export const DATA_CENTER_REPLICATION_DEFAULTS = { intervalMs: 5_000, antiEntropyIntervalMs: 120_000, sendTimeoutMs: 10_000 } as const;

/** `ownDataCenter`: this node's `dataCenter`, which no remote may name. */
export function resolveDataCenterReplication(dc: DataCenterReplicationOptions, ownDataCenter: string): Required<DataCenterReplicationOptions> {
  if (!Array.isArray(dc.remotes) || dc.remotes.length === 0) {
    throw new ConfigError("dataCenterReplication.remotes must list at least one { name, servers }");
  }
  for (const r of dc.remotes) {
    if (!r || !NAME.test(r.name)) throw new ConfigError(`dataCenterReplication.remotes[].name must match ${NAME}`);
    if (r.name === ownDataCenter) throw new ConfigError(`remote DC "${r.name}" is this node's own dataCenter`);
    if (r.connect === undefined && (!r.servers || (Array.isArray(r.servers) && r.servers.length === 0))) {
      throw new ConfigError(`dataCenterReplication remote "${r.name}" needs servers`);
    }
  }
  const d = DATA_CENTER_REPLICATION_DEFAULTS;
  return {
    remotes: dc.remotes,
    intervalMs: positive("dataCenterReplication.intervalMs", dc.intervalMs, d.intervalMs),
    antiEntropy: dc.antiEntropy ?? false,
    antiEntropyIntervalMs: positive("dataCenterReplication.antiEntropyIntervalMs", dc.antiEntropyIntervalMs, d.antiEntropyIntervalMs),
    sendTimeoutMs: positive("dataCenterReplication.sendTimeoutMs", dc.sendTimeoutMs, d.sendTimeoutMs),
  };
}
