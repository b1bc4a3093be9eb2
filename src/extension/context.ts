/**
 * The extension contract: what the replicator's side concerns (snapshots, cross-DC replication,
 * metrics) may use of a running replicator. They get this narrow view instead of the whole façade,
 * so each is a separate module, read and tested on its own, that never imports `replicator/`: the
 * replicator composes them at start-up (see ARCHITECTURE.md).
 */
import type { Clock } from "../clock.js";
import type { Member } from "../cluster/membership.js";
import type { Transport } from "../transport/types.js";
import type { FullState, NodeReply, NodeRequest } from "../wire/codec.js";
import type { ChangeListener, ChangeOrigin } from "./changes.js";
import type { RepairCause, ReplicatorStats } from "./stats.js";
import type { StoreView } from "./store-view.js";

/** The replicator's settings an extension may read (its own options it gets on its own). */
export interface CoreSettings {
  readonly nodeId: string;
  readonly dataCenter: string;
  readonly role: string | undefined;
  /** The delta subject; membership and per-node subjects derive from it. */
  readonly subject: string;
  readonly heartbeatIntervalMs: number;
  readonly clock: Clock;
}

/**
 * The anti-entropy digest's entry hashes: snapshots store them next to the values, so that a
 * restore seeds the digest tree instead of rehashing every key (issue 13).
 */
export interface DigestHashes {
  /** The hash definition's version (> 0): hashes stored under another one are never used. */
  readonly version: number;
  /** The key's entry hash for its current value; undefined while the key awaits a rehash. */
  hashOf(key: string): bigint | undefined;
  /** Resolves once hashes computed elsewhere (a bulk pull's) are in: `hashOf` answers for their keys. */
  settled?(): Promise<void>;
}

export interface ReplicatorContext {
  readonly options: CoreSettings;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly writerId: string;
  readonly startedAtMs: number;
  readonly store: StoreView;
  readonly stats: ReplicatorStats;
  readonly transport: Transport;
  /** Another bus (a cross-DC link) authenticated like `transport` when `security` is set; as it is otherwise. */
  secure(transport: Transport): Transport;
  /** Every change the store accepts, once, with its origin (see changes.ts). */
  onChange(listener: ChangeListener): () => void;
  /** Merge states from outside (a remote DC, named by `dataCenter`): listeners are told, nothing is re-published. */
  merge(state: FullState, origin: ChangeOrigin, dataCenter?: string): void;
  members(): Member[];
  isLeader(): boolean;
  /** Called with the new leader of this node's DC whenever it changes. */
  onLeaderChange(listener: (leader: string | undefined) => void): () => void;
  /**
   * Answer a remote DC's digest/push request (what a push brings is merged as "remote-dc");
   * undefined when digest rounds from there are over their rate limit (answer nothing).
   */
  answer(request: NodeRequest): NodeReply | undefined;
  /**
   * Run a digest round with the remote DC `dataCenter` through `ask` (what it pulls is merged as
   * "remote-dc"); never rejects, resolves with whether the round completed.
   */
  syncVia(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause, dataCenter?: string): Promise<boolean>;
  /** Report a background error (never thrown). */
  reportError(error: unknown): void;
  /** The digest's entry hashes; absent, snapshots store none. */
  readonly digests?: DigestHashes;
}

/** An attached extension as the replicator keeps it: closed at `Replicator.close()`, in reverse order of attaching. */
export interface Extension {
  close(): Promise<void> | void;
}
