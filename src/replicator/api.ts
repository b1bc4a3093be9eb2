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

export interface KeySubscribeOptions {
  /**
   * Default false. True: call the subscriber once at once, before `subscribe` returns, with the
   * key's current value (`undefined` when it is absent or deleted), then after every change.
   */
  initial?: boolean;
}

/**
 * What this replica holds under a key (`Replicator.status`): a value; a tombstone (deleted, until
 * the tombstone expires after `tombstoneTtlMs`); or nothing it knows of.
 */
export type KeyStatus = "present" | "deleted" | "absent";

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
