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
import { maxLwwTimestamp, withLwwClock } from "../crdt/lww-time.js";
import type { ExpectedMember, Member, MembershipEvent } from "../cluster/membership.js";
import type { ConsistencyLevel } from "../cluster/quorum.js";
import { emptyOf } from "../crdt/registry.js";
import type { Crdt } from "../crdt/types.js";
import {
  ConfigError,
  InvalidArgumentError,
  KeyDeletedError,
  KeyTypeMismatchError,
  ProtocolError,
  ReplicatorClosedError,
} from "../errors.js";
import { connectNats } from "../transport/nats.js";
import { RequestFailedError, type Transport } from "../transport/types.js";
import {
  decodeHeartbeat,
  decodeMemberHello,
  decodeNodeReply,
  decodeNodeRequest,
  encodeHeartbeat,
  encodeMemberHelloReply,
  encodeNodeReply,
  encodeNodeRequest,
  type CrdtDelta,
  type DeltaEnvelope,
  type FullState,
  type NodeReply,
  type NodeRequest,
  type ReadReply,
  type Tombstone,
} from "../wire/codec.js";
import { ChangeStream, type Change } from "./changes.js";
import { AntiEntropy } from "./anti-entropy.js";
import { Coordinator } from "./coordination.js";
import { Inbox } from "./inbox.js";
import type { Key } from "./keys.js";
import { resolveOptions, type ReplicatorOptions, type ResolvedOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import type { Extension, ReplicatorContext } from "../extension/context.js";
import { Snapshots, type SnapshotHandle } from "../durable/snapshots.js";
import { attachMetrics } from "../metrics/metrics.js";
import { CrossDcReplication } from "../xdc/replication.js";
import { ReplicatorStats, type RepairCause } from "./stats.js";
import { Store } from "./store.js";
import { Subscriptions } from "./subscriptions.js";
import { Merger } from "./merge.js";
import { claimIdentity, helloSubject, processIdentity } from "./identity.js";

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

/** What a starting node takes from its peers' answers (see identity.ts). */
type Claimed = { incarnation: number; startedAtMs: number; expected: ExpectedMember[] };

/** Headroom below the bus's max payload for NATS protocol framing and envelope fields. */
const PAYLOAD_HEADROOM = 1024;

/** A failed digest round with a peer is retried at its first heartbeat after this long. */
const SYNC_RETRY_MS = 2_000;

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
  /** Where LWW timestamps and deletion times of local writes come from; bounds remote ones. */
  private readonly clock: HybridClock;
  /** The newest incarnation seen per node id, kept after removal: what a restarting node learns. */
  private readonly incarnations = new IncarnationMemory();
  /** Other processes' incarnations seen using this node's id (each reported once). */
  private readonly duplicatesReported = new Set<number>();
  private readonly unsubscribers: (() => void)[] = [];
  private readonly timers: TimerHandle[] = [];
  private readonly repairsInFlight = new Set<string>();
  /**
   * Peers to run a digest round with at their next heartbeat (a heartbeat proves the peer is on the
   * bus now), with the earliest time to try: a failed repair, a failed round, an impostor seen.
   */
  private readonly syncAtHeartbeat = new Map<string, number>();
  /** The peer of the last periodic round (see nextPeer). */
  private lastPeriodicPeer: string | undefined;
  /** After a reconnect: sync with the first peer whose heartbeat arrives. */
  private reconnectSyncPending = false;
  private readonly leaderListeners = new Set<(leader: string | undefined) => void>();
  /** Side concerns started after the core (snapshots, cross-DC, metrics), closed in reverse order. */
  private readonly extensions: Extension[] = [];
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
      onUnknownIncarnation: (origin) => this.syncSoon(origin, 0),
      onSuspect: (origin) => this.syncSoon(origin, 0),
      stats: this.stats,
      deliver: (env) => this.deliver(env),
      onGap: (origin, incarnation, from, to) => void this.repairGap(origin, incarnation, from, to),
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
        this.onPeerHeartbeat(hb.node);
      },
      lastSequence: () => this.outbox.lastSequence,
      clock: options.clock,
      onError,
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
    if (typeof modify !== "function") throw new InvalidArgumentError("update needs a modify function (current, self) => next");
    if (this.store.tombstone(key.id) !== undefined) {
      throw new KeyDeletedError(`key "${key.id}" was deleted; it cannot be updated until its tombstone expires`);
    }
    const durable = this.durable(options);
    const current = this.typed(key);
    const base = current ?? (emptyOf(key.kind, key.valueKind) as T);
    // LWW writes that name no timestamp take the hybrid clock's.
    const next = withLwwClock(() => this.clock.now(), () => modify(base, this.writerId));
    if (next === undefined || next === null || (next as Crdt).kind !== key.kind) {
      throw new InvalidArgumentError(`modify must return a ${key.kind} value (got ${describeValue(next)})`);
    }
    const delta = next.delta;
    if (delta === undefined) {
      if (durable) await this.snapshot!.persist(key.id); // what it returns may be an earlier, not yet durable write
      return next; // nothing changed
    }
    const timestamp = maxLwwTimestamp(delta);
    if (!this.clock.observe(timestamp)) {
      throw new InvalidArgumentError(
        `timestamp ${timestamp} is more than maxClockSkewMs (${this.options.maxClockSkewMs} ms) ahead of this node's clock; ` +
          "peers would refuse the write: pass a timestamp near the current time in ms, or none",
      );
    }
    const stored = next.resetDelta();
    this.merger.write(key.id, key.kind, stored, delta);
    this.outbox.add(key.id, key.kind, delta);
    const d: CrdtDelta = { key: key.id, kind: key.kind, originNode: this.nodeId, value: delta };
    const persisted = durable ? this.snapshot!.persist(key.id) : undefined;
    const level = options.writeTo ?? "local";
    const coordinated =
      level === "local"
        ? undefined
        : this.coordinator.write({ type: "write", from: this.nodeId, deltas: [d], tombstones: [] }, level, options.timeoutMs ?? this.options.coordinationTimeoutMs);
    await Promise.all([persisted, coordinated]);
    return stored;
  }

  /** The local value (synchronous), or — with `readFrom` — a coordinated read that read-repairs. */
  get<T extends Crdt<T>>(key: Key<T>): T | undefined;
  get<T extends Crdt<T>>(key: Key<T>, options: ReadOptions): Promise<T | undefined>;
  get<T extends Crdt<T>>(key: Key<T>, options?: ReadOptions): T | undefined | Promise<T | undefined> {
    this.checkOpen();
    if (options === undefined) return this.typed(key);
    return this.coordinatedGet(key, options);
  }

  /** Call `subscriber` after every change of the key's value; `undefined` after a delete. */
  subscribe<T extends Crdt<T>>(key: Key<T>, subscriber: (value: T | undefined) => void): () => void {
    this.checkOpen();
    if (typeof subscriber !== "function") throw new InvalidArgumentError("subscribe needs a callback");
    return this.subscriptions.add(key.id, subscriber as (value: Crdt | undefined) => void);
  }

  /** Subscribe to every key (`onChange` also says where each change came from). */
  subscribeAll(subscriber: (key: string, value: Crdt | undefined) => void): () => void {
    this.checkOpen();
    return this.subscriptions.addAll(subscriber);
  }

  /** Delete the key everywhere: a tombstone replaces it; later updates reject with KeyDeletedError. */
  async delete<T extends Crdt<T>>(key: Key<T>, options: WriteOptions = {}): Promise<void> {
    this.checkOpen();
    const durable = this.durable(options);
    this.typed(key);
    const t: Tombstone = { key: key.id, kind: key.kind, deletedAtMs: this.clock.now(), originNode: this.nodeId };
    if (this.merger.tombstone(t, "local")) this.outbox.addTombstone(t);
    const persisted = durable ? this.snapshot!.persist(key.id) : undefined;
    const level = options.writeTo ?? "local";
    const coordinated =
      level === "local"
        ? undefined
        : this.coordinator.write(
            { type: "write", from: this.nodeId, deltas: [], tombstones: [this.store.tombstone(key.id)!] },
            level,
            options.timeoutMs ?? this.options.coordinationTimeoutMs,
          );
    await Promise.all([persisted, coordinated]);
  }

  /** Ids of the keys this replica holds (deleted keys excluded). */
  keys(): string[] {
    return [...this.store.keys()];
  }

  /** Keys with their data types, for tools that discover keys at run time. */
  entries(): { key: string; kind: Crdt["kind"]; value: Crdt }[] {
    return [...this.store.entries()].map(([key, v]) => ({ key, kind: v.kind, value: v.value }));
  }

  /** The value held here under the key id `id`, whatever its type (tools that discover keys at run time). */
  entry(id: string): { key: string; kind: Crdt["kind"]; value: Crdt } | undefined {
    const v = this.store.get(id);
    return v === undefined ? undefined : { key: id, kind: v.kind, value: v.value };
  }

  /** The deletion of the key id `id` when it is deleted here (until its tombstone expires). */
  deletion(id: string): { key: string; kind: Crdt["kind"]; deletedAtMs: number; originNode: string } | undefined {
    const t = this.store.tombstone(id);
    return t === undefined ? undefined : { ...t };
  }

  /**
   * Call `listener` after every change this replica accepts, of any key, once, with where it came
   * from (see `Change`); never for a merge that changed nothing. Returns the function that stops it.
   */
  onChange(listener: (change: Change) => void): () => void {
    this.checkOpen();
    if (typeof listener !== "function") throw new InvalidArgumentError("onChange needs a callback");
    return this.changes.listen(listener);
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
    const target = peer ?? this.nextPeer();
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
   * The narrow view the extensions get (extension/context.ts): snapshots, cross-DC replication
   * and metrics. Not for applications: it exposes the store without type checks.
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
      answer: (request) => this.answer(request, false),
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
    this.unsubscribers.push(t.subscribe(this.nodeSubject(this.nodeId), (m) => this.serve(m.data, m.reply)));
    this.unsubscribers.push(t.subscribe(this.directSubject(this.nodeId), (m) => this.inbox.receiveDirect(m.data)));
    this.unsubscribers.push(t.subscribe(helloSubject(o.subject), (m) => this.answerHello(m.data, m.reply)));
    this.unsubscribers.push(
      t.onStatus((s) => {
        // What peers published while we were away is lost for us. Our view of who is reachable is
        // stale now (we heard nobody), so sync with the first peer whose heartbeat proves it is on
        // the bus again, rather than with a peer chosen from that stale view.
        if (s.type === "reconnect") this.reconnectSyncPending = true;
      }),
    );
    this.heartbeater.start();
    this.every(o.antiEntropyIntervalMs, () => {
      const peer = this.nextPeer();
      if (peer !== undefined) void this.antiEntropy.sync(peer, "periodic");
    });
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
      if (e.type === "leader-changed" && e.role === undefined && e.dataCenter === this.options.dataCenter) {
        for (const l of this.leaderListeners) l(e.leader);
      }
      if (e.type === "joined" && (this.joinedBefore(e.member) || this.syncAtHeartbeat.has(e.member.node))) {
        // The newer node pulls: one full transfer per join, not one per existing member.
        this.syncAtHeartbeat.delete(e.member.node);
        void this.syncWith(e.member.node, "join");
      } else if (e.type === "reachable-again" && this.joinedBefore(e.member)) {
        // Back from a partition: gap repair covers what the buffers still hold, a round the rest.
        void this.syncWith(e.member.node, "reconnect");
      } else if ((e.type === "joined" || e.type === "reachable-again") && !e.member.counted) {
        // It counts toward quorums once a majority vouches for it, each after a round with it. Its
        // own round with us (it is newer) makes it vouch for us, which counts as ours; in case
        // that never comes (a one-way link), run one ourselves a little later.
        this.syncSoon(e.member.node, SYNC_RETRY_MS);
      } else if (e.type === "removed" && e.reason !== "restarted") {
        // Gone: its next incarnation starts clean. (A restart is handled by the incarnation change.)
        this.inbox.forget(e.member.node);
        this.syncAtHeartbeat.delete(e.member.node);
      }
    }
  }

  private joinedBefore(m: Member): boolean {
    return m.startedAtMs < this.startedAtMs || (m.startedAtMs === this.startedAtMs && m.node < this.nodeId);
  }

  private nodeSubject(node: string): string {
    return `${this.options.subject}.node.${node}`;
  }

  /** Where a peer sends this node values too large for a request/reply message (chunked envelopes). */
  private directSubject(node: string): string {
    return `${this.options.subject}.node.${node}.direct`;
  }

  /** A digest round with `peer`; when it fails, try again at one of its next heartbeats. */
  private async syncWith(peer: string, cause: RepairCause): Promise<boolean> {
    const ok = await this.antiEntropy.sync(peer, cause);
    if (ok) this.heartbeater.table.synced(peer); // state exchanged: we may vouch for it (quorum admission)
    else this.syncSoon(peer, SYNC_RETRY_MS);
    return ok;
  }

  /** Run a round with `peer` at its first heartbeat at least `afterMs` from now. */
  private syncSoon(peer: string, afterMs: number): void {
    if (this.closed) return;
    const at = this.options.clock.now() + afterMs;
    this.syncAtHeartbeat.set(peer, Math.min(at, this.syncAtHeartbeat.get(peer) ?? at));
  }

  private onPeerHeartbeat(peer: string): void {
    if (this.closed) return;
    if (this.reconnectSyncPending) {
      this.reconnectSyncPending = false;
      this.syncAtHeartbeat.delete(peer);
      void this.syncWith(peer, "reconnect");
      return;
    }
    const at = this.syncAtHeartbeat.get(peer);
    if (at === undefined || this.options.clock.now() < at) return;
    this.syncAtHeartbeat.delete(peer);
    void this.syncWith(peer, "gap");
  }

  /**
   * The reachable peer after the last one chosen, in id order (wrapping; the first after this node
   * at the start): every peer is in a round within as many periods as there are peers, which a
   * random pick does not promise, and a seeded simulation replays it.
   */
  private nextPeer(): string | undefined {
    const reachable = this.heartbeater.members().filter((m) => !m.self && m.reachable).map((m) => m.node);
    const after = this.lastPeriodicPeer ?? this.nodeId;
    const next = reachable.find((node) => node > after) ?? reachable[0];
    if (next !== undefined) this.lastPeriodicPeer = next;
    return next;
  }

  private async ask(peer: string, request: NodeRequest, timeoutMs: number): Promise<NodeReply> {
    const bytes = await this.transport.request(this.nodeSubject(peer), encodeNodeRequest(request), timeoutMs);
    const reply = decodeNodeReply(bytes);
    if (reply.type === "error") throw new ProtocolError(`peer ${peer}: ${reply.error}`);
    return reply;
  }

  /** Requests addressed to this node. Never throws; a bad request gets an error reply. */
  private serve(data: Uint8Array, reply: string | undefined): void {
    let answer: NodeReply;
    try {
      const request = decodeNodeRequest(data);
      answer = this.answer(request, true);
    } catch (error) {
      this.stats.reject("bad-request");
      answer = { type: "error", error: error instanceof Error ? error.message : String(error) };
    }
    if (reply === undefined || this.closed) return;
    try {
      this.transport.respond(reply, encodeNodeReply(answer));
    } catch (error) {
      // e.g. the answer does not fit a message: say so rather than let the requester time out.
      this.reportError(error);
      try {
        const text = error instanceof Error ? error.message : String(error);
        this.transport.respond(reply, encodeNodeReply({ type: "error", error: `cannot answer: ${text}` }));
      } catch (again) {
        this.reportError(again);
      }
    }
  }

  /** `local`: the request came over this DC's bus (the requester has a direct subject here); else from a remote DC. */
  private answer(request: NodeRequest, local: boolean): NodeReply {
    const origin = local ? "sync" : "remote-dc";
    switch (request.type) {
      case "write":
        return this.acknowledge(this.merger.fullState({ entries: request.deltas, tombstones: request.tombstones }, origin));
      case "read":
        return { type: "read", ...this.readReply(request.key) };
      case "digest":
        return { type: "digest", ...this.antiEntropy.answer(request, local) };
      case "repair": {
        // As many as fit one reply (at least one); the requester asks again for the rest.
        const budget = Math.floor((this.transport.maxPayload - PAYLOAD_HEADROOM) * 0.9);
        const envelopes =
          request.incarnation === this.incarnation ? this.outbox.recentRange(request.fromSequence, request.toSequence, budget) : undefined;
        return { type: "repair", envelopes: envelopes ?? [], complete: envelopes !== undefined };
      }
      case "push":
        return this.acknowledge(this.merger.fullState(request, origin));
      case "identify":
        // Another process is starting with our node id: its start fails with our answer.
        this.reportError(new ConfigError(`process ${request.from} tried to start as node "${this.nodeId}", which this process holds`));
        return { type: "identity", ...processIdentity(this.incarnation, this.startedAtMs) };
    }
  }

  /** A write acknowledges only what was stored: entries refused for clock skew make it fail. */
  private acknowledge(skewed: number): NodeReply {
    if (skewed === 0) return { type: "write", ok: true, error: "" };
    return { type: "write", ok: false, error: `${skewed} change(s) stamped more than maxClockSkewMs ahead of ${this.nodeId}'s clock were refused` };
  }

  /** A starting node asks what we know of its node id (see identity.ts). Never throws. */
  private answerHello(data: Uint8Array, reply: string | undefined): void {
    if (this.closed) return;
    try {
      const hello = decodeMemberHello(data);
      const members = this.heartbeater.members();
      const current = members.find((m) => m.node === hello.node)?.incarnation ?? 0;
      const answer = encodeMemberHelloReply({
        from: this.nodeId,
        incarnation: Math.max(current, this.incarnations.get(hello.node)),
        youngestStartedAtMs: Math.max(...members.map((m) => m.startedAtMs)),
        members: members.filter((m) => m.reachable && m.node !== hello.node).length,
        counted: this.heartbeater.table.agreed().filter((m) => m.node !== hello.node).map((m) => ({ ...m, roles: [...m.roles] })),
      });
      // The request's reply ends the asker's wait for a first answer; replyTo collects them all.
      if (reply !== undefined) this.transport.respond(reply, answer);
      this.transport.publish(hello.replyTo, answer);
    } catch (error) {
      this.stats.reject("bad-request");
      this.reportError(error);
    }
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

  private readReply(key: string): ReadReply {
    const v = this.store.get(key);
    if (v !== undefined) return { found: true, state: { key, kind: v.kind, originNode: this.nodeId, value: v.value } };
    const t = this.store.tombstone(key);
    if (t !== undefined) return { found: true, tombstone: { ...t } };
    return { found: false };
  }

  // ------------------------------------------------------------------ merging

  private deliver(env: DeltaEnvelope): void {
    this.stats.deltaReceiveCount += env.deltas.length;
    this.stats.record("replication.lag", Math.max(0, now() - env.sentAtMs));
    // Envelopes come from this DC's bus; remote DCs' data comes in batches.
    for (const t of env.tombstones) this.merger.tombstone(t, "dc");
    for (const d of env.deltas) this.merger.value(d, "dc");
  }

  // ------------------------------------------------------------------ repair

  private async repairGap(origin: string, incarnation: number, from: number, to: number): Promise<void> {
    const id = `${origin}/${incarnation}/${from}-${to}`;
    if (this.repairsInFlight.has(id) || this.closed) return;
    this.repairsInFlight.add(id);
    this.stats.repair("gap");
    try {
      // The origin answers as many envelopes as fit one reply: ask again from where it stopped.
      let next = from;
      while (next <= to && !this.closed) {
        const reply = await this.ask(
          origin,
          { type: "repair", from: this.nodeId, incarnation, fromSequence: next, toSequence: to },
          this.options.coordinationTimeoutMs,
        );
        if (reply.type !== "repair" || !reply.complete || reply.envelopes.length === 0) {
          await this.syncWith(origin, "gap"); // evicted from its buffer (or restarted): a digest round
          return;
        }
        for (const bytes of reply.envelopes) this.inbox.receiveRepair(origin, bytes);
        next += reply.envelopes.length;
      }
    } catch (error) {
      if (!(error instanceof RequestFailedError)) this.reportError(error);
      // Unreachable right now (e.g. not reconnected yet): a round now, or at its next heartbeat.
      if (!this.closed) await this.syncWith(origin, "gap");
    } finally {
      this.repairsInFlight.delete(id);
    }
  }

  // ------------------------------------------------------------------ helpers

  private async coordinatedGet<T extends Crdt<T>>(key: Key<T>, options: ReadOptions): Promise<T | undefined> {
    const level = options.readFrom;
    if (level !== "local") {
      await this.coordinator.read(
        { type: "read", from: this.nodeId, key: key.id, kind: key.kind },
        level,
        options.timeoutMs ?? this.options.coordinationTimeoutMs,
        (reply) => {
          if (reply.tombstone !== undefined) this.merger.tombstone(reply.tombstone, "sync");
          else if (reply.state !== undefined) this.merger.value(reply.state, "sync");
        },
      );
    }
    return this.typed(key);
  }

  /** Whether a write must wait for LevelDB (see `WriteOptions.durable`). */
  private durable(options: WriteOptions): boolean {
    const durable = options.durable ?? this.options.snapshot?.writeThrough ?? false;
    if (typeof durable !== "boolean") throw new InvalidArgumentError(`durable must be true or false; got ${JSON.stringify(durable)}`);
    if (durable && this.snapshot === undefined) {
      throw new InvalidArgumentError("durable: true needs the snapshot option (a LevelDB directory to write to): Replicator.start({ snapshot: { dir } })");
    }
    return durable;
  }

  /** The stored value of `key`, checked against the key's type. */
  private typed<T extends Crdt<T>>(key: Key<T>): T | undefined {
    const v = this.store.get(key.id);
    if (v === undefined) return undefined;
    const valueKind = (v.value as { valueKind?: string }).valueKind;
    if (v.kind !== key.kind || (key.valueKind !== undefined && valueKind !== key.valueKind)) {
      throw new KeyTypeMismatchError(
        `key "${key.id}" holds a ${v.kind}${valueKind ? `<${valueKind}>` : ""}, not a ${key.kind}${key.valueKind ? `<${key.valueKind}>` : ""}; use Key.${v.kind}("${key.id}")`,
      );
    }
    return v.value as T;
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

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  const kind = (v as { kind?: unknown }).kind;
  return typeof kind === "string" ? kind : typeof v;
}
