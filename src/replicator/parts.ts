/**
 * The parts of one replicator, built from its options and connected to one another: which part
 * hears a delta envelope, a heartbeat, a membership change or a gap, and how parts ask peers. The
 * Replicator (replicator.ts) owns the parts, subscribes them to the bus and routes its public
 * calls to them.
 */
import { Heartbeater } from "../cluster/heartbeats.js";
import { HybridClock } from "../cluster/hlc.js";
import { IncarnationMemory } from "../cluster/incarnations.js";
import { MAX_RELAYED_LEAVES, type Departure, type ExpectedMember, type Heartbeat, type MembershipEvent } from "../cluster/membership.js";
import { ConfigError, ProtocolError } from "../errors.js";
import { preciseWallClockMs } from "../clock.js";
import { PAYLOAD_HEADROOM, type Transport } from "../transport/types.js";
import { SecureTransport } from "../security/transport.js";
import { decodeHeartbeat, decodeNodeReply, encodeHeartbeat, encodeNodeRequest, type DeltaEnvelope, type NodeReply, type NodeRequest } from "../wire/codec.js";
import type { WriteOptions } from "./api.js";
import { AntiEntropy } from "./anti-entropy.js";
import { ChangeStream } from "./changes.js";
import { Coordinator } from "./coordination.js";
import { GapRepair } from "./gap-repair.js";
import { Inbox } from "./inbox.js";
import { Merger } from "./merge.js";
import { PulledValues } from "./pulled-values.js";
import type { ResolvedOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import { Pruner } from "./pruner.js";
import { Reader } from "./reads.js";
import { RequestServer } from "./request-server.js";
import type { ReplicatorStats } from "../extension/stats.js";
import type { Store } from "./store.js";
import type { RestoredDigest } from "./store-digest.js";
import { Subscriptions } from "./subscriptions.js";
import { joinedBefore, SyncScheduler } from "./sync-scheduler.js";
import { Writer } from "./writes.js";
import { OwnWriter } from "./own-writer.js";
import { PeerCapability } from "./peer-capability.js";
import { reserveIncarnation } from "./identity.js";
import type { RemovedNodes } from "../cluster/pruning.js";


/** Where requests to `node` go (see request-server.ts). */
export function nodeSubject(subject: string, node: string): string {
  return `${subject}.node.${node}`;
}

/** Where a peer sends `node` values too large for a request/reply message (chunked envelopes). */
export function directSubject(subject: string, node: string): string {
  return `${subject}.node.${node}.direct`;
}

/** The node whose request subject `s` is (`<subject>.node.<id>`), if it is one. */
export function nodeOfSubject(subject: string, s: string): string | undefined {
  const prefix = `${subject}.node.`;
  if (!s.startsWith(prefix)) return undefined;
  const node = s.slice(prefix.length);
  return node.length > 0 && !node.includes(".") ? node : undefined;
}

/**
 * The bus as the parts see it: with `security` set, every message authenticated (see
 * src/security/), and a reply to a request on a node's subject accepted only from that node (a
 * cross-DC request's, on the DC's subjects, from any trusted node).
 */
export function secureBus(transport: Transport, options: ResolvedOptions, stats: ReplicatorStats): Transport {
  const keys = options.security;
  if (keys === undefined) return transport;
  return new SecureTransport(transport, {
    keys,
    windowMs: options.maxClockSkewMs,
    clock: options.clock,
    reject: (reason) => stats.reject(reason),
    replierOf: (s) => nodeOfSubject(options.subject, s),
  });
}

/** What the parts are built from: the options, the bus, the restored replica and the claimed identity. */
export interface PartsInput {
  options: ResolvedOptions;
  transport: Transport;
  store: Store;
  stats: ReplicatorStats;
  incarnation: number;
  startedAtMs: number;
  writerId: string;
  /** The membership peers counted at start (see identity.ts). */
  expected: ExpectedMember[];
  inheritedLeaves: Departure[];
  /** Nodes removed from the membership, with when (cluster/pruning.ts). */
  removedNodes: RemovedNodes;
  /** The digest hashes a snapshot restore brought (store-digest.ts). */
  restoredDigest?: RestoredDigest;
}

/** What the parts need from the replicator that owns them. */
export interface PartsHooks {
  isClosed(): boolean;
  reportError(error: unknown): void;
  /** The leader of this node's data center changed. */
  leaderChanged(leader: string | undefined): void;
  /** Whether a write waits for LevelDB (see `WriteOptions.durable`). */
  durable(options: WriteOptions): boolean;
  /** Resolves once `key`'s current value is in LevelDB. */
  persist(key: string): Promise<void>;
}

export interface Parts {
  subscriptions: Subscriptions;
  changes: ChangeStream;
  merger: Merger;
  outbox: Outbox;
  inbox: Inbox;
  antiEntropy: AntiEntropy;
  heartbeater: Heartbeater;
  syncs: SyncScheduler;
  server: RequestServer;
  reader: Reader;
  writer: Writer;
  ownWriter: OwnWriter;
  pruner: Pruner;
}

export function buildParts(input: PartsInput, hooks: PartsHooks): Parts {
  const { options, transport, store, stats, incarnation, startedAtMs } = input;
  const { isClosed, reportError: onError } = hooks;
  const nodeId = options.nodeId;
  const maxPayload = transport.maxPayload;

  const ask = async (peer: string, request: NodeRequest, timeoutMs: number): Promise<NodeReply> => {
    const reply = decodeNodeReply(await transport.request(nodeSubject(options.subject, peer), encodeNodeRequest(request), timeoutMs));
    if (reply.type === "error") throw new ProtocolError(`peer ${peer}: ${reply.error}`);
    return reply;
  };
  // Where LWW timestamps and deletion times of local writes come from; bounds remote ones.
  const clock = new HybridClock(options.clock.now, options.maxClockSkewMs);
  const subscriptions = new Subscriptions(() => stats.subscriberErrorCount++);
  const changes = new ChangeStream(onError);
  changes.listen((c) => subscriptions.notify(c.key, c.value), () => !subscriptions.any);
  const merger = new Merger(store, stats, subscriptions, changes, nodeId, clock, () => options.clock.now() - options.pruneMarkerTtlMs);
  const deliver = (env: DeltaEnvelope): void => {
    stats.deltaReceiveCount += env.deltas.length;
    if (stats.recording) stats.record("replication.lag", Math.max(0, preciseWallClockMs() - env.sentAtMs));
    // Envelopes come from this DC's bus; remote DCs' data comes in batches.
    for (const t of env.tombstones) merger.tombstone(t, "dc");
    for (const d of env.deltas) merger.value(d, "dc");
  };

  const compactReaders = new PeerCapability();
  const markerReaders = new PeerCapability();
  // Asked at every flush, but the list changes only with a heartbeat or a membership event, which
  // clear it: membership builds a record per member per call.
  let peersHereNow: string[] | undefined;
  const peersHere = (): string[] =>
    (peersHereNow ??= heartbeater.members().filter((m) => !m.self && m.dataCenter === options.dataCenter).map((m) => m.node));
  const outbox = new Outbox({
    transport,
    subject: options.subject,
    nodeId,
    incarnation,
    flushIntervalMs: options.flushIntervalMs,
    maxMessageBytes: Math.min(options.maxDeltaSize, maxPayload - PAYLOAD_HEADROOM),
    stats,
    now: preciseWallClockMs,
    clock: options.clock,
    onError,
    compactWriter: () => (compactReaders.allOf(peersHere(), options.clock.now()) ? ownWriter.id : undefined),
    readsCompact: (node) => compactReaders.has(node),
  });
  const ownWriter = new OwnWriter(nodeId, input.writerId, {
    publish: (key, delta) => outbox.add(key, delta),
    renewed: reserveIncarnation,
    stats,
    reportError: onError,
  });
  merger.afterMerge = (key, kind, before, incoming, merged) => ownWriter.afterMerge(key, kind, before, incoming, merged);
  // A corrupt one cannot be: a page's value is kept undecoded only once checked (pulled-values.ts).
  merger.pulled = new PulledValues({ store, clock: options.clock, onCorrupt: () => stats.reject("decode") });
  const inbox: Inbox = new Inbox({
    nodeId,
    incarnation,
    // Peers never publish more than maxPayload - PAYLOAD_HEADROOM (plus estimation slack).
    maxPayload: maxPayload - PAYLOAD_HEADROOM / 2,
    incarnationOf: (origin) => heartbeater.table.incarnationOf(origin),
    onUnknownIncarnation: (origin) => syncs.syncSoon(origin, 0),
    onSuspect: (origin) => syncs.syncSoon(origin, 0),
    stats,
    deliver,
    onGap: (origin, inc, from, to) => void gapRepair.repair(origin, inc, from, to),
    now: options.clock.now,
  });
  const antiEntropy = new AntiEntropy({
    nodeId,
    store,
    stats,
    maxPayload: maxPayload - PAYLOAD_HEADROOM,
    ask: (peer, request) => ask(peer, request, options.coordinationTimeoutMs),
    merge: (state) => merger.fullState(state, "sync"),
    // Members of this DC that started before us hold what a join pulls: they answer a share of it.
    bulkHelpers: (peer) =>
      heartbeater
        .members()
        .filter((m) => !m.self && m.reachable && m.node !== peer && m.dataCenter === options.dataCenter && joinedBefore(m, { node: nodeId, startedAtMs }))
        .map((m) => m.node),
    sendLarge: (peer, entry) => outbox.sendDirect(directSubject(options.subject, peer), entry),
    clock: options.clock,
    onError,
    restored: input.restoredDigest,
  });
  const coordinator = new Coordinator({
    stats,
    peers: () => heartbeater.table.quorumPeers(undefined, options.role),
    known: () => Math.max(options.minClusterSize, heartbeater.table.known(undefined, options.role)),
    ask,
    clock: options.clock,
  });

  /** The newest incarnation seen per node id, kept after removal: what a restarting node learns. */
  const incarnations = new IncarnationMemory();
  const reportDuplicate = duplicateReporter(nodeId, incarnation, stats, onError);
  const heartbeater: Heartbeater = new Heartbeater({
    transport,
    subject: `${options.subject}.members`,
    self: { node: nodeId, dataCenter: options.dataCenter, roles: options.role === undefined ? [] : [options.role], startedAtMs, incarnation },
    encode: (hb) =>
      encodeHeartbeat({
        ...hb,
        compactDeltas: true,
        readsMarkers: true,
        roles: [...hb.roles],
        silent: [...hb.silent],
        vouched: [...hb.vouched],
        removed: [...(hb.removed ?? [])],
        left: (hb.left ?? []).map((d) => ({ ...d })),
        unpruned: [...(hb.unpruned ?? [])],
      }),
    decode: decodeHeartbeat,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    failureTimeoutMs: options.failureTimeoutMs,
    removalTimeoutMs: options.removalTimeoutMs,
    expected: input.expected,
    inheritedLeaves: input.inheritedLeaves,
    onEvents: (events) => {
      peersHereNow = undefined;
      for (const e of events) onMembership(e);
    },
    onHeartbeat: (hb) => {
      peersHereNow = undefined;
      if (hb.node === nodeId) return reportDuplicate(hb);
      incarnations.note(hb.node, hb.incarnation);
      compactReaders.heard(hb.node, hb.compactDeltas === true);
      markerReaders.heard(hb.node, hb.readsMarkers === true);
      // Departures from this DC the sender knows of and this node may not (its leader folds their ids).
      if (hb.dataCenter === options.dataCenter) {
        for (const gone of [...hb.removed, ...(hb.left ?? []).map((d) => d.node), ...(hb.unpruned ?? [])]) {
          if (gone !== nodeId && heartbeater.table.member(gone) === undefined) input.removedNodes.relayed(gone, options.clock.now());
        }
      }
      inbox.checkTail(hb.node, hb.incarnation, hb.lastSequence);
      syncs.onHeartbeat(hb.node);
    },
    onForged: () => stats.reject("forged-origin"),
    lastSequence: () => outbox.lastSequence,
    unpruned: () => input.removedNodes.unpruned(MAX_RELAYED_LEAVES),
    clock: options.clock,
    onError,
  });
  const onMembership = (e: MembershipEvent): void => {
    if (e.type === "leader-changed") {
      if (e.role === undefined && e.dataCenter === options.dataCenter) hooks.leaderChanged(e.leader);
    } else {
      if (e.type !== "removed" || e.member.dataCenter === options.dataCenter) input.removedNodes.note(e, options.clock.now());
      if (e.type === "removed" && e.reason !== "restarted") {
        compactReaders.forget(e.member.node);
        markerReaders.forget(e.member.node);
      }
      if (syncs.onMembership(e) === "forget") inbox.forget(e.member.node); // gone: its next incarnation starts clean
    }
  };

  const syncs: SyncScheduler = new SyncScheduler({
    self: { node: nodeId, startedAtMs },
    sync: (peer, cause) => antiEntropy.sync(peer, cause),
    synced: (peer) => heartbeater.table.synced(peer),
    reachablePeers: () => heartbeater.members().filter((m) => !m.self && m.reachable).map((m) => m.node),
    isClosed,
    clock: options.clock,
  });
  const gapRepair = new GapRepair({
    nodeId,
    stats,
    ask: (peer, request) => ask(peer, request, options.coordinationTimeoutMs),
    receive: (origin, envelope) => inbox.receiveRepair(origin, envelope),
    syncWith: (origin) => syncs.syncWith(origin, "gap"),
    isClosed,
    reportError: onError,
  });
  const server = new RequestServer({
    nodeId,
    subject: options.subject,
    incarnation,
    startedAtMs,
    transport,
    payloadHeadroom: PAYLOAD_HEADROOM,
    store,
    merger,
    antiEntropy,
    outbox,
    stats,
    members: () => heartbeater.members(),
    agreed: () => heartbeater.table.agreed(),
    rememberedLeaves: () => heartbeater.table.rememberedLeaves(),
    incarnations,
    isMember: (node) => heartbeater.table.member(node) !== undefined,
    heardHello: (node) => {
      if (node === nodeId) return;
      compactReaders.hello(node, options.clock.now());
      markerReaders.hello(node, options.clock.now());
    },
    now: options.clock.now,
    clock: options.clock,
    isClosed,
    reportError: onError,
  });
  const coordinationTimeoutMs = options.coordinationTimeoutMs;
  const reader = new Reader({ nodeId, store, merger, coordinator, coordinationTimeoutMs });
  const writer = new Writer({
    nodeId,
    writerIn: (kind, value) => ownWriter.writerIn(kind, value),
    store,
    merger,
    outbox,
    coordinator,
    clock,
    maxClockSkewMs: options.maxClockSkewMs,
    coordinationTimeoutMs,
    durable: hooks.durable,
    persist: hooks.persist,
  });
  const pruner = new Pruner({
    ...{ options, store, stats, merger, outbox, heartbeater, antiEntropy, startedAtMs, ownWriter, removedNodes: input.removedNodes },
    reportError: onError,
    isLeader: () => heartbeater.leader(options.dataCenter) === nodeId,
    markersReadHere: () => {
      const now = options.clock.now();
      if (markerReaders.anyStarting(now)) return "unknown";
      return markerReaders.all(peersHere(), now) ? "yes" : "no";
    },
  });
  return { subscriptions, changes, merger, outbox, inbox, antiEntropy, heartbeater, syncs, server, reader, writer, ownWriter, pruner };
}

/**
 * A heartbeat with our node id from another incarnation: two live processes use one id (started
 * at the same moment, or the newcomer's check timed out). Counted, and reported once per process.
 */
function duplicateReporter(nodeId: string, incarnation: number, stats: ReplicatorStats, onError: (error: unknown) => void): (hb: Heartbeat) => void {
  const reported = new Set<number>();
  return (hb) => {
    stats.duplicateNodeHeartbeats++;
    if (reported.has(hb.incarnation)) return;
    reported.add(hb.incarnation);
    const error = new ConfigError(
      `another live process uses node id "${nodeId}" (incarnation ${hb.incarnation}, started ${new Date(hb.startedAtMs).toISOString()}); ` +
        `this one is incarnation ${incarnation}: give each process its own nodeId`,
    );
    onError(error);
  };
}

