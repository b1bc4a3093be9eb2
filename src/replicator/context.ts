/**
 * What the replicator's side concerns (snapshots, cross-DC replication, metrics, the daemon) may
 * use of it. They get this narrow view instead of the whole façade, so each stays a separate
 * module that can be read — and tested — on its own.
 */
import type { Member } from "../cluster/membership.js";
import type { NodeReply, NodeRequest, FullState } from "../wire/codec.js";
import type { Transport } from "../transport/types.js";
import type { ResolvedOptions } from "./options.js";
import type { RepairCause, ReplicatorStats } from "./stats.js";
import type { ChangeListener, ChangeOrigin } from "./changes.js";
import type { Store } from "./store.js";

export interface ReplicatorContext {
  readonly options: ResolvedOptions;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly writerId: string;
  readonly startedAtMs: number;
  readonly store: Store;
  readonly stats: ReplicatorStats;
  readonly transport: Transport;
  /** Every change the store accepts, once, with its origin (see changes.ts). */
  onChange(listener: ChangeListener): () => void;
  /** Merge states from outside (a remote DC): listeners are told, nothing is re-published. */
  merge(state: FullState, origin: ChangeOrigin): void;
  members(): Member[];
  isLeader(): boolean;
  /** Called with the new leader of this node's DC whenever it changes. */
  onLeaderChange(listener: (leader: string | undefined) => void): () => void;
  /** Answer a remote DC's digest/push request (what a push brings is merged as "remote-dc"). */
  answer(request: NodeRequest): NodeReply;
  /** Run a digest round with a remote DC through `ask` (what it pulls is merged as "remote-dc"). */
  syncVia(ask: (request: NodeRequest) => Promise<NodeReply>, cause: RepairCause): Promise<void>;
  /** Report a background error (never thrown). */
  reportError(error: unknown): void;
}
