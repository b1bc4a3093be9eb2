/**
 * The Replicator: the public façade that wires the concerns together. Each concern lives in its
 * own file — store, outbox (publishing), inbox (receiving), coordination, anti-entropy,
 * membership (src/cluster), subscriptions — and this file only routes between them.
 */
import type { TimerHandle } from "../clock.js";
import { Heartbeater } from "../cluster/heartbeats.js";
import { HybridClock } from "../cluster/hlc.js";
import { chooseIncarnation, chooseStartedAt, IncarnationMemory } from "../cluster/incarnations.js";
import type { Heartbeat } from "../cluster/membership.js";
import type { ExpectedMember, Member, MembershipEvent } from "../cluster/membership.js";
import type { Crdt } from "../crdt/types.js";
import { ConfigError, InvalidArgumentError, ProtocolError, ReplicatorClosedError } from "../errors.js";
import { connectNats } from "../transport/nats.js";
import type { Transport } from "../transport/types.js";
import {
  decodeHeartbeat,
  decodeNodeReply,
  encodeHeartbeat,
  encodeNodeRequest,
  type DeltaEnvelope,
  type FullState,
  type NodeReply,
  type NodeRequest,
} from "../wire/codec.js";
import { ChangeStream } from "./changes.js";
import { AntiEntropy } from "./anti-entropy.js";
import { Coordinator } from "./coordination.js";
import { Inbox } from "./inbox.js";
import type { Key } from "./keys.js";
import { resolveOptions, type ReplicatorOptions, type ResolvedOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import type { ReplicatorContext } from "./context.js";
import { Snapshots, type SnapshotHandle } from "../durable/snapshots.js";
import { attachMetrics } from "../metrics/metrics.js";
import { CrossDcReplication } from "../xdc/replication.js";
import { ReplicatorStats, type RepairCause } from "./stats.js";
import { Store } from "./store.js";
import { Subscriptions } from "./subscriptions.js";
import { Merger } from "./merge.js";
import { claimIdentity, helloSubject } from "./identity.js";
import { GapRepair } from "./gap-repair.js";
import { Reader, type ReadOptions } from "./reads.js";
import { RequestServer } from "./request-server.js";
import { SyncScheduler } from "./sync-scheduler.js";
import { Writer, type WriteOptions } from "./writes.js";

export type { ReadOptions } from "./reads.js";
export type { WriteOptions } from "./writes.js";

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

/** What a starting node takes from its peers' answers (see identity.ts). */
type Claimed = { incarnation: number; startedAtMs: number; expected: ExpectedMember[] };

/** Headroom below the bus's max payload for NATS protocol framing and envelope fields. */
const PAYLOAD_HEADROOM = 1024;

/** Wall clock with sub-millisecond precision (lag metrics compare it across processes). */
const now = (): number => performance.timeOrigin + performance.now();

export class Replicator {
  readonly nodeId: string;
  readonly stats: ReplicatorStats;
  /** The id this node's counter slots and dots are written under (see `writerIdFor`). */
  readonly writerId: string;
  readonly options: ResolvedOptions;
  readonly startedAtMs: number;
  readonly incarnation: number;

  private readonly store: Store;
  private readonly subscriptions: Subscriptions;
  private readonly changes: ChangeStream;
  private readonly merger: Merger;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly antiEntropy: AntiEntropy;
  private readonly coordinator: Coordinator;
  private readonly heartbeater: Heartbeater;
  private readonly syncs: SyncScheduler;
  private readonly gapRepair: GapRepair;
  private readonly server: RequestServer;
  private readonly writer: Writer;
  private readonly reader: Reader;
  /** Where LWW timestamps and deletion times of local writes come from; bounds remote ones. */
  private readonly clock: HybridClock;
  /** The newest incarnation seen per node id, kept after removal: what a restarting node learns. */
  private readonly incarnations = new IncarnationMemory();
  /** Other processes' incarnations seen using this node's id (each reported once). */
  private readonly duplicatesReported = new Set<number>();
  private readonly unsubscribers: (() => void)[] = [];
  private readonly timers: TimerHandle[] = [];
  private readonly leaderListeners = new Set<(leader: string | undefined) => void>();
  /** Side concerns started after the core (snapshots, cross-DC, metrics), closed in reverse order. */
  private readonly extensions: { close(): Promise<void> | void }[] = [];
  /** The snapshot writer, for durable writes (undefined without the `snapshot` option). */
  private snapshot: SnapshotHandle | undefined;
  private closed = false;

  private constructor(
    options: ResolvedOptions,
    private readonly transport: Transport,
    private readonly ownsTransport: boolean,
    restored: Restored,
    claimed: Claimed,
  ) {
    this.options = options;
    this.nodeId = options.nodeId;
    this.store = restored.store;
    this.stats = restored.stats;
    // Unique per start and above every earlier one of this node id (see cluster/incarnations.ts):
    // a restarted node must never reuse sequence numbers or dots, nor look stale to its peers.
    this.incarnation = lastIncarnation = claimed.incarnation;
    this.startedAtMs = claimed.startedAtMs;
    this.writerId = restored.writerId ?? writerIdFor(options.nodeId, this.incarnation);
    const maxPayload = transport.maxPayload;
    this.clock = new HybridClock(options.clock.now, options.maxClockSkewMs);
    this.subscriptions = new Subscriptions(() => this.stats.subscriberErrorCount++);
    const onError = (error: unknown): void => this.reportError(error);
    this.changes = new ChangeStream(onError);
    this.changes.listen((c) => this.subscriptions.notify(c.key, c.value));
    this.merger = new Merger(this.store, this.stats, this.subscriptions, this.changes, options.nodeId, this.clock);

    this.outbox = new Outbox({
      transport,
      subject: options.subject,
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      flushIntervalMs: options.flushIntervalMs,
      maxMessageBytes: Math.min(options.maxDeltaSize, maxPayload - PAYLOAD_HEADROOM),
      stats: this.stats,
      now,
      clock: options.clock,
      onError,
    });
    this.inbox = new Inbox({
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      // Peers never publish more than maxPayload - PAYLOAD_HEADROOM (plus estimation slack).
      maxPayload: maxPayload - PAYLOAD_HEADROOM / 2,
      incarnationOf: (origin) => this.heartbeater.table.member(origin)?.incarnation,
      onUnknownIncarnation: (origin) => this.syncs.syncSoon(origin, 0),
      onSuspect: (origin) => this.syncs.syncSoon(origin, 0),
      stats: this.stats,
      deliver: (env) => this.deliver(env),
      onGap: (origin, incarnation, from, to) => void this.gapRepair.repair(origin, incarnation, from, to),
      now: options.clock.now,
    });
    this.antiEntropy = new AntiEntropy({
      nodeId: options.nodeId,
      store: this.store,
      stats: this.stats,
      maxPayload: maxPayload - PAYLOAD_HEADROOM,
      ask: (peer, request) => this.ask(peer, request, this.options.coordinationTimeoutMs),
      merge: (state) => this.merger.fullState(state, "sync"),
      sendLarge: (peer, entry) => this.outbox.sendDirect(this.directSubject(peer), entry),
      clock: options.clock,
      onError,
    });
    this.coordinator = new Coordinator({
      stats: this.stats,
      peers: () => this.heartbeater.table.quorumPeers(undefined, this.options.role),
      known: () => Math.max(this.options.minClusterSize, this.heartbeater.table.known(undefined, this.options.role)),
      ask: (peer, request, timeoutMs) => this.ask(peer, request, timeoutMs),
      clock: options.clock,
    });
    this.heartbeater = new Heartbeater({
      transport,
      subject: `${options.subject}.members`,
      self: {
        node: options.nodeId,
        dataCenter: options.dataCenter,
        roles: options.role === undefined ? [] : [options.role],
        startedAtMs: this.startedAtMs,
        incarnation: this.incarnation,
      },
      encode: (hb) => encodeHeartbeat({ ...hb, roles: [...hb.roles], silent: [...hb.silent], vouched: [...hb.vouched], removed: [...(hb.removed ?? [])] }),
      decode: decodeHeartbeat,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      failureTimeoutMs: options.failureTimeoutMs,
      removalTimeoutMs: options.removalTimeoutMs,
      expected: claimed.expected,
      onEvents: (events) => this.onMembership(events),
      onHeartbeat: (hb) => {
        if (hb.node === this.nodeId) return this.onDuplicate(hb);
        this.incarnations.note(hb.node, hb.incarnation);
        this.inbox.checkTail(hb.node, hb.incarnation, hb.lastSequence);
        this.syncs.onHeartbeat(hb.node);
      },
      lastSequence: () => this.outbox.lastSequence,
      clock: options.clock,
      onError,
    });
    const isClosed = (): boolean => this.closed;
    this.syncs = new SyncScheduler({
      self: { node: options.nodeId, startedAtMs: this.startedAtMs },
      sync: (peer, cause) => this.antiEntropy.sync(peer, cause),
      synced: (peer) => this.heartbeater.table.synced(peer),
      reachablePeers: () => this.heartbeater.members().filter((m) => !m.self && m.reachable).map((m) => m.node),
      isClosed,
      clock: options.clock,
    });
    this.gapRepair = new GapRepair({
      nodeId: options.nodeId,
      stats: this.stats,
      ask: (peer, request) => this.ask(peer, request, this.options.coordinationTimeoutMs),
      receive: (origin, envelope) => this.inbox.receiveRepair(origin, envelope),
      syncWith: (origin) => this.syncs.syncWith(origin, "gap"),
      isClosed,
      reportError: onError,
    });
    this.server = new RequestServer({
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      startedAtMs: this.startedAtMs,
      transport,
      payloadHeadroom: PAYLOAD_HEADROOM,
      store: this.store,
      merger: this.merger,
      antiEntropy: this.antiEntropy,
      outbox: this.outbox,
      stats: this.stats,
      members: () => this.heartbeater.members(),
      agreed: () => this.heartbeater.table.agreed(),
      incarnations: this.incarnations,
      isClosed,
      reportError: onError,
    });
    const reading = { nodeId: options.nodeId, store: this.store, merger: this.merger, coordinator: this.coordinator };
    this.reader = new Reader({ ...reading, coordinationTimeoutMs: options.coordinationTimeoutMs });
    this.writer = new Writer({
      ...reading,
      writerId: this.writerId,
      outbox: this.outbox,
      clock: this.clock,
      maxClockSkewMs: options.maxClockSkewMs,
      coordinationTimeoutMs: options.coordinationTimeoutMs,
      durable: (o) => this.durable(o),
      persist: (key) => this.snapshot!.persist(key),
    });
  }

  /** Connect, join the cluster and start replicating. */
  static async start(options: ReplicatorOptions): Promise<Replicator> {
    const resolved = resolveOptions(options);
    const restored: Restored = { store: new Store(), stats: new ReplicatorStats(), writerId: undefined };
    // Restore before connecting: the node publishes and answers nothing until its data is back.
    const snapshots = resolved.snapshot === undefined ? undefined : await Snapshots.open(resolved.snapshot, restored, resolved.nodeId);
    let transport: Transport;
    // A transport we built is ours to close, also around a borrowed NATS connection: closing the
    // wrapper drains our subscriptions and leaves the connection itself open.
    let owns = true;
    if (options.transport !== undefined) {
      transport = options.transport;
      owns = false;
    } else {
      transport = await connectNats(options.nats as Parameters<typeof connectNats>[0]).catch(async (error: unknown) => {
        await snapshots?.close(); // release the LevelDB lock: a retry of start must be able to open it
        throw error;
      });
    }
    let claimed: Claimed;
    try {
      if (transport.maxPayload < 4 * PAYLOAD_HEADROOM) {
        throw new ConfigError(`the bus's max payload (${transport.maxPayload} bytes) is too small; allow at least 4 KiB`);
      }
      // Before subscribing to anything: is the node id free, and which incarnation is above every
      // earlier one (see identity.ts)?
      const nodeSubject = `${resolved.subject}.node.${resolved.nodeId}`;
      const learned = await claimIdentity({ transport, subject: resolved.subject, nodeId: resolved.nodeId, nodeSubject, clock: resolved.clock });
      if (learned.holderCheckTimedOut) restored.stats.identityCheckTimeouts++;
      const previous = snapshots?.restore.previous;
      const incarnation = chooseIncarnation({
        wallMs: resolved.clock.now(),
        persisted: previous?.node === resolved.nodeId ? previous.incarnation : 0,
        learned: learned.incarnation,
        lastInProcess: lastIncarnation,
      });
      claimed = { incarnation, startedAtMs: chooseStartedAt(resolved.clock.now(), learned.youngestStartedAtMs), expected: learned.members };
      await snapshots?.recordIncarnation(incarnation);
    } catch (error) {
      await snapshots?.close(); // release the LevelDB lock: a retry of start must be able to open it
      if (owns) await transport.close().catch(() => undefined);
      throw error;
    }
    const r = new Replicator(resolved, transport, owns, restored, claimed);
    r.begin();
    try {
      if (snapshots !== undefined) r.extensions.push((r.snapshot = snapshots.attach(r.context())));
      r.extensions.push(attachMetrics(r.context(), options.meterProvider));
      if (resolved.dataCenterReplication !== undefined) {
        r.extensions.push(await CrossDcReplication.start(r.context(), resolved.dataCenterReplication));
      }
    } catch (error) {
      await r.close();
      throw error;
    }
    return r;
  }

  // ------------------------------------------------------------------ public API

  /**
   * Apply `modify` to the key's current value (or the empty value) as this node, locally and at
   * once; the delta replicates in the background. With `writeTo` other than "local", also wait
   * for that many members to acknowledge (a timeout rejects with WriteTimeoutError; the local
   * write stands). Resolves with the new value.
   */
  async update<T extends Crdt<T>>(key: Key<T>, modify: (current: T, self: string) => T, options: WriteOptions = {}): Promise<T> {
    this.checkOpen();
    return this.writer.update(key, modify, options);
  }

  /** The local value (synchronous), or — with `readFrom` — a coordinated read that read-repairs. */
  get<T extends Crdt<T>>(key: Key<T>): T | undefined;
  get<T extends Crdt<T>>(key: Key<T>, options: ReadOptions): Promise<T | undefined>;
  get<T extends Crdt<T>>(key: Key<T>, options?: ReadOptions): T | undefined | Promise<T | undefined> {
    this.checkOpen();
    if (options === undefined) return this.reader.local(key);
    return this.reader.coordinated(key, options);
  }

  /** Call `subscriber` after every change of the key's value; `undefined` after a delete. */
  subscribe<T extends Crdt<T>>(key: Key<T>, subscriber: (value: T | undefined) => void): () => void {
    this.checkOpen();
    if (typeof subscriber !== "function") throw new InvalidArgumentError("subscribe needs a callback");
    return this.subscriptions.add(key.id, subscriber as (value: Crdt | undefined) => void);
  }

  /** Subscribe to every key (the daemon's watch stream uses this). */
  subscribeAll(subscriber: (key: string, value: Crdt | undefined) => void): () => void {
    this.checkOpen();
    return this.subscriptions.addAll(subscriber);
  }

  /** Delete the key everywhere: a tombstone replaces it; later updates reject with KeyDeletedError. */
  async delete<T extends Crdt<T>>(key: Key<T>, options: WriteOptions = {}): Promise<void> {
    this.checkOpen();
    return this.writer.delete(key, options);
  }

  /** Ids of the keys this replica holds (deleted keys excluded). */
  keys(): string[] {
    return [...this.store.keys()];
  }

  /** Keys with their data types, for tools that discover keys at run time. */
  entries(): { key: string; kind: Crdt["kind"]; value: Crdt }[] {
    return [...this.store.entries()].map(([key, v]) => ({ key, kind: v.kind, value: v.value }));
  }

  /**
   * Members known to this node, itself included, sorted by id: N for quorum sizes. Members its
   * peers named at start but not yet heard are listed unreachable, with startedAtMs 0.
   */
  members(): MemberInfo[] {
    return this.heartbeater.members().map(memberInfo);
  }

  /** The leader of this node's data center (oldest reachable member; ties: lowest id). */
  leader(): string | undefined {
    return this.heartbeater.leader(this.options.dataCenter);
  }

  get isLeader(): boolean {
    return this.leader() === this.nodeId;
  }

  get tombstoneCount(): number {
    return this.store.tombstoneCount;
  }

  get size(): number {
    return this.store.size;
  }

  /** Run one anti-entropy round with `peer` now (or with the next reachable peer in turn). */
  async sync(peer?: string, cause: RepairCause = "manual"): Promise<void> {
    this.checkOpen();
    const target = peer ?? this.syncs.nextPeer();
    if (target !== undefined) await this.antiEntropy.sync(target, cause);
  }

  /** Expire tombstones older than `tombstoneTtlMs` and compact causal metadata (runs on the prune tick). */
  prune(): void {
    this.checkOpen();
    this.store.expireTombstones(this.options.clock.now() - this.options.tombstoneTtlMs);
    for (const [key, v] of [...this.store.entries()]) {
      const c = (v.value as { compact?: () => Crdt }).compact?.();
      if (c !== undefined && c !== v.value) this.store.set(key, v.kind, c, "local");
    }
  }

  /** Publish pending deltas, leave the cluster, and release the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) this.options.clock.clear(t);
    this.antiEntropy.stop();
    try {
      this.outbox.close();
      for (const e of [...this.extensions].reverse()) await e.close();
      await this.heartbeater.leave();
      await this.transport.flush();
    } catch (error) {
      this.reportError(error);
    }
    this.heartbeater.stop();
    for (const u of this.unsubscribers) u();
    if (this.ownsTransport) await this.transport.close();
  }

  // ------------------------------------------------------------------ wiring

  /**
   * The narrow view side concerns get (see context.ts): snapshots, cross-DC replication, metrics
   * and the daemon. Not for applications: it exposes the store without type checks.
   * @internal
   */
  context(): ReplicatorContext {
    const listen = <T>(set: Set<T>, l: T): (() => void) => {
      set.add(l);
      return () => set.delete(l);
    };
    const fromRemoteDc = (state: FullState): void => {
      this.merger.fullState(state, "remote-dc");
    };
    return {
      options: this.options,
      nodeId: this.nodeId,
      incarnation: this.incarnation,
      writerId: this.writerId,
      startedAtMs: this.startedAtMs,
      store: this.store,
      stats: this.stats,
      transport: this.transport,
      onChange: (l) => this.changes.listen(l),
      merge: (state, origin) => this.merger.fullState(state, origin),
      members: () => this.heartbeater.members(),
      isLeader: () => this.isLeader,
      onLeaderChange: (l) => listen(this.leaderListeners, l),
      answer: (request) => this.server.answer(request, false),
      syncVia: async (ask, cause) => {
        await this.antiEntropy.syncVia(ask, cause, fromRemoteDc);
      },
      reportError: (error) => this.reportError(error),
    };
  }

  private begin(): void {
    const o = this.options;
    const t = this.transport;
    this.unsubscribers.push(t.subscribe(o.subject, (m) => this.inbox.receive(m.data)));
    this.unsubscribers.push(t.subscribe(this.nodeSubject(this.nodeId), (m) => this.server.serve(m.data, m.reply)));
    this.unsubscribers.push(t.subscribe(this.directSubject(this.nodeId), (m) => this.inbox.receiveDirect(m.data)));
    this.unsubscribers.push(t.subscribe(helloSubject(o.subject), (m) => this.server.answerHello(m.data, m.reply)));
    this.unsubscribers.push(t.onStatus((s) => s.type === "reconnect" && this.syncs.onReconnect()));
    this.heartbeater.start();
    this.every(o.antiEntropyIntervalMs, () => this.syncs.periodic());
    this.every(o.pruneIntervalMs, () => this.prune());
  }

  private every(ms: number, fn: () => void): void {
    const timer = this.options.clock.setInterval(() => {
      try {
        fn();
      } catch (error) {
        this.reportError(error);
      }
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private onMembership(events: MembershipEvent[]): void {
    for (const e of events) {
      if (e.type === "leader-changed") {
        if (e.role === undefined && e.dataCenter === this.options.dataCenter) for (const l of this.leaderListeners) l(e.leader);
      } else if (this.syncs.onMembership(e) === "forget") {
        this.inbox.forget(e.member.node); // gone: its next incarnation starts clean
      }
    }
  }

  private nodeSubject(node: string): string {
    return `${this.options.subject}.node.${node}`;
  }

  /** Where a peer sends this node values too large for a request/reply message (chunked envelopes). */
  private directSubject(node: string): string {
    return `${this.options.subject}.node.${node}.direct`;
  }

  private async ask(peer: string, request: NodeRequest, timeoutMs: number): Promise<NodeReply> {
    const bytes = await this.transport.request(this.nodeSubject(peer), encodeNodeRequest(request), timeoutMs);
    const reply = decodeNodeReply(bytes);
    if (reply.type === "error") throw new ProtocolError(`peer ${peer}: ${reply.error}`);
    return reply;
  }

  /**
   * A heartbeat with our node id from another incarnation: two live processes use one id (started
   * at the same moment, or the newcomer's check timed out). Counted, and reported once per process.
   */
  private onDuplicate(hb: Heartbeat): void {
    this.stats.duplicateNodeHeartbeats++;
    if (this.duplicatesReported.has(hb.incarnation)) return;
    this.duplicatesReported.add(hb.incarnation);
    const error = new ConfigError(
      `another live process uses node id "${this.nodeId}" (incarnation ${hb.incarnation}, started ${new Date(hb.startedAtMs).toISOString()}); ` +
        `this one is incarnation ${this.incarnation}: give each process its own nodeId`,
    );
    console.error(`crdt-replicator: ${error.message}`);
    this.reportError(error);
  }

  // ------------------------------------------------------------------ merging

  private deliver(env: DeltaEnvelope): void {
    this.stats.deltaReceiveCount += env.deltas.length;
    this.stats.record("replication.lag", Math.max(0, now() - env.sentAtMs));
    // Envelopes come from this DC's bus; remote DCs' data comes in batches.
    for (const t of env.tombstones) this.merger.tombstone(t, "dc");
    for (const d of env.deltas) this.merger.value(d, "dc");
  }

  // ------------------------------------------------------------------ helpers

  /** Whether a write must wait for LevelDB (see `WriteOptions.durable`). */
  private durable(options: WriteOptions): boolean {
    const durable = options.durable ?? this.options.snapshot?.writeThrough ?? false;
    if (typeof durable !== "boolean") throw new InvalidArgumentError(`durable must be true or false; got ${JSON.stringify(durable)}`);
    if (durable && this.snapshot === undefined) {
      throw new InvalidArgumentError("durable: true needs the snapshot option (a LevelDB directory to write to): Replicator.start({ snapshot: { dir } })");
    }
    return durable;
  }

  private checkOpen(): void {
    if (this.closed) throw new ReplicatorClosedError(`replicator ${this.nodeId} is closed; start a new one with Replicator.start`);
  }

  private reportError(error: unknown): void {
    if (process.env.CRDT_DEBUG) console.error(`[crdt ${this.nodeId}]`, error);
  }
}

interface Restored {
  store: Store;
  stats: ReplicatorStats;
  /** The writer id of a cleanly closed previous run, safe to reuse; undefined otherwise. */
  writerId: string | undefined;
}

/** The last incarnation taken in this process (see the constructor). */
let lastIncarnation = 0;

/**
 * The id counter slots and dots are written under. A node that lost its state (no snapshot, or a
 * crash after the last snapshot) must not reuse its old id: peers hold slots newer than what it
 * has, and its next increments would be hidden behind them. So each such start writes under a
 * fresh id; a clean close lets the next run reuse it (see durable/).
 */
export function writerIdFor(nodeId: string, incarnation: number): string {
  return `${nodeId}~${incarnation.toString(36)}`;
}

function memberInfo(m: Member): MemberInfo {
  return { node: m.node, dataCenter: m.dataCenter, roles: [...m.roles], reachable: m.reachable, self: m.self, startedAtMs: m.startedAtMs, counted: m.counted };
}
