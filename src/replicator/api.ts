/** The option and result types of the Replicator's public methods (the package root exports them). */
import type { ConsistencyLevel } from "../cluster/quorum.js";

export interface WriteOptions {
  /** Default "local": resolve as soon as the local replica has the write. */
  writeTo?: ConsistencyLevel;
  /** Default: the `coordinationTimeoutMs` option. */
  timeoutMs?: number;
  /**
   * Resolve only once the change is in the snapshot's LevelDB (concurrent writes share a batch);
   * a failed write rejects with DurableWriteError, the change standing in memory. Needs the
   * `snapshot` option. Default: its `writeThrough` (false: written at the next interval).
   */
  durable?: boolean;
}

export interface ReadOptions {
  readFrom: ConsistencyLevel;
  timeoutMs?: number;
}

export interface MemberInfo {
  node: string;
  dataCenter: string;
  roles: string[];
  reachable: boolean;
  self: boolean;
  startedAtMs: number;
  /**
   * Its acknowledgements and read replies count (a majority admitted it; see README "Quorum
   * membership"). Every listed member counts in N, counted or not.
   */
  counted: boolean;
}
