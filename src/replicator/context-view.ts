/**
 * The narrow view of a running replicator that the extensions get (extension/context.ts):
 * snapshots, cross-DC replication and metrics. Not for applications: it exposes the store without
 * type checks.
 */
import type { Heartbeater } from "../cluster/heartbeats.js";
import type { ReplicatorContext } from "../extension/context.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { Transport } from "../transport/types.js";
import type { AntiEntropy } from "./anti-entropy.js";
import type { ChangeStream } from "./changes.js";
import type { Merger } from "./merge.js";
import type { ResolvedOptions } from "./options.js";
import { secureBus } from "./parts.js";
import type { RequestServer } from "./request-server.js";
import type { Store } from "./store.js";

/** The replicator's parts the view is made of; the writer id and leadership are read live. */
export interface ContextSources {
  options: ResolvedOptions;
  incarnation: number;
  startedAtMs: number;
  store: Store;
  stats: ReplicatorStats;
  transport: Transport;
  changes: ChangeStream;
  merger: Merger;
  heartbeater: Heartbeater;
  server: RequestServer;
  antiEntropy: AntiEntropy;
  leaderListeners: Set<(leader: string | undefined) => void>;
  /** Changes when another node folded this one's id (own-writer.ts). */
  writerId(): string;
  isLeader(): boolean;
  reportError(error: unknown): void;
}

export function contextView(s: ContextSources): ReplicatorContext {
  return {
    options: s.options,
    nodeId: s.options.nodeId,
    incarnation: s.incarnation,
    get writerId() {
      return s.writerId();
    },
    startedAtMs: s.startedAtMs,
    store: s.store,
    stats: s.stats,
    transport: s.transport,
    secure: (transport) => secureBus(transport, s.options, s.stats),
    onChange: (l) => s.changes.listen(l),
    merge: (state, origin, dataCenter) => s.merger.fullState(state, origin, dataCenter),
    members: () => s.heartbeater.members(),
    isLeader: s.isLeader,
    onLeaderChange: (l) => {
      s.leaderListeners.add(l);
      return () => s.leaderListeners.delete(l);
    },
    answer: (request) => s.server.answerRemote(request),
    syncVia: (ask, cause, dataCenter) => s.antiEntropy.syncVia(ask, cause, (state) => s.merger.fullState(state, "remote-dc", dataCenter)),
    reportError: s.reportError,
    digests: s.antiEntropy.digestHashes,
  };
}
