/**
 * What the replicator's side concerns (snapshots, cross-DC replication, metrics, the daemon) may
 * use of it. They get this narrow view instead of the whole façade, so each stays a separate
 * module that can be read — and tested — on its own.
 */
import type { Member } from "../cluster/membership.js";
import type { NodeReply, NodeRequest, CrdtDelta, FullState, Tombstone } from "../wire/messages.js";
import type { Transport } from "../transport/types.js";
import type { ResolvedOptions } from "./options.js";
import type { RepairCause, ReplicatorStats } from "./stats.js";
import type { ChangeSource, Store } from "./store.js";

/**
 * Where a delta came from, as the cross-DC flusher needs to know: a write on this node, a delta
 * published by another node of this data center, or data that crossed from another data center
 * (which must never be sent back).
 */
export type DeltaOrigin = "local" | "dc" | "remote-dc";

export interface DeltaEvent {
  delta: CrdtDelta;
  origin: DeltaOrigin;
}

export interface ReplicatorContext {
  readonly options: ResolvedOptions;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly writerId: string;
  readonly startedAtMs: number;
  readonly store: Store;
  readonly stats: ReplicatorStats;
  readonly transport: Transport;
  /** Every delta this node applies from a write or from its DC's delta subject. */
  onDelta(listener: (event: DeltaEvent) => void): () => void;
  /** Every tombstone this node applies, with the same origins. */
  onTombstone(listener: (tombstone: Tombstone, origin: DeltaOrigin) => void): () => void;
  /** Merge states from outside (a remote DC, a restore): subscribers are told, nothing is re-published. */
  merge(state: FullState, source: ChangeSource): void;
  members(): Member[];
  isLeader(): boolean;
  /** Called with the new leader of this node's DC whenever it changes. */
  onLeaderChange(listener: (leader: string | undefined) => void): () => void;
  /** Answer a digest/push request from any channel (cross-DC rounds use it). */
  answer(request: NodeRequest): NodeReply;
  /** Run a digest round through any request channel. */
  syncVia(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause): Promise<void>;
  /** Report a background error (never thrown). */
  reportError(error: unknown): void;
}
