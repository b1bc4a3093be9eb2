/**
 * The Replicator: the public façade. Each concern lives in its own file — store, writes, reads,
 * outbox (publishing), inbox (receiving), request serving, sync scheduling, gap repair,
 * coordination, anti-entropy, membership (src/cluster), subscriptions — and parts.ts builds and
 * connects them; this file starts and stops them and routes the public API to them.
 */
import { every, type TimerHandle } from "../clock.js";
import type { Heartbeater } from "../cluster/heartbeats.js";
import { chooseIncarnation, chooseStartedAt } from "../cluster/incarnations.js";
import { RemovedNodes } from "../cluster/pruning.js";
import type { ExpectedMember, Member } from "../cluster/membership.js";
import type { Crdt } from "../crdt/types.js";
import { ConfigError, InvalidArgumentError, ReplicatorClosedError } from "../errors.js";
import { connectNats, NatsTransport } from "../transport/nats.js";
import { PAYLOAD_HEADROOM, type Transport } from "../transport/types.js";
import type { FullState } from "../wire/codec.js";
import type { KeyStatus, MemberInfo, ReadOptions, KeySubscribeOptions, WriteOptions } from "./api.js";
import type { AntiEntropy } from "./anti-entropy.js";
import type { Change, ChangeStream, TypeConflict } from "./changes.js";
import type { Inbox } from "./inbox.js";
import { Key } from "./keys.js";
import { resolveOptions, type ReplicatorOptions, type ResolvedOptions } from "./options.js";
import type { Outbox } from "./outbox.js";
import type { Extension, ReplicatorContext } from "../extension/context.js";
import { Snapshots, type SnapshotHandle } from "../durable/snapshots.js";
import { attachMetrics } from "../metrics/metrics.js";
import { CrossDcReplication } from "../xdc/replication.js";
import { ReplicatorStats, type RepairCause } from "../extension/stats.js";
import { Store } from "./store.js";
import type { Subscriptions } from "./subscriptions.js";
import type { Merger } from "./merge.js";
import { claimIdentity, helloSubject, writerIdFor } from "./identity.js";
import { buildParts, directSubject, nodeSubject, secureBus } from "./parts.js";
import type { Reader } from "./reads.js";
import type { RequestServer } from "./request-server.js";
import type { SyncScheduler } from "./sync-scheduler.js";
import type { Writer } from "./writes.js";
import type { OwnWriter } from "./own-writer.js";
import { Pruner } from "./pruner.js";
import { Distributed } from "../distributed/distributed.js";
import type { NatsConnection } from "@nats-io/transport-node";

export type { KeyStatus, MemberInfo, ReadOptions, KeySubscribeOptions, WriteOptions } from "./api.js";

/** What a starting node takes from its peers' answers (see identity.ts). */
type Claimed = { incarnation: number; startedAtMs: number; expected: ExpectedMember[] };

export class Replicator {
  readonly nodeId: string;
  readonly stats: ReplicatorStats;
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
  private readonly heartbeater: Heartbeater;
  private readonly syncs: SyncScheduler;
  private readonly server: RequestServer;
  private readonly writer: Writer;
  private readonly ownWriter: OwnWriter;
  /** Nodes removed from the membership, with when: their ids are folded after pruneRetiredAfterMs. */
  private readonly removedNodes = new RemovedNodes();
  private readonly reader: Reader;
  private readonly pruner: Pruner;
  private readonly unsubscribers: (() => void)[] = [];
  private readonly timers: TimerHandle[] = [];
  private readonly leaderListeners = new Set<(leader: string | undefined) => void>();
  /** Side concerns started after the core (snapshots, cross-DC, metrics), closed in reverse order. */
  private readonly extensions: Extension[] = [];
  /** The snapshot writer, for durable writes (undefined without the `snapshot` option). */
  private snapshot: SnapshotHandle | undefined;
  /** The NATS connection under the transport (none on the in-memory one), for JetStream primitives. */
  private natsConnection: NatsConnection | undefined;
  private distributedHandle: Distributed | undefined;
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
    const writerId = restored.writerId ?? writerIdFor(options.nodeId, this.incarnation);
    const { store, stats, incarnation, startedAtMs, removedNodes } = this;
    const input = { options, transport, store, stats, incarnation, startedAtMs, writerId, expected: claimed.expected, removedNodes };
    ({
      subscriptions: this.subscriptions,
      changes: this.changes,
      merger: this.merger,
      outbox: this.outbox,
      inbox: this.inbox,
      antiEntropy: this.antiEntropy,
      heartbeater: this.heartbeater,
      syncs: this.syncs,
      server: this.server,
      reader: this.reader,
      writer: this.writer,
      ownWriter: this.ownWriter,
    } = buildParts(input, {
      isClosed: () => this.closed,
      reportError: (error) => this.reportError(error),
      leaderChanged: (leader) => {
        for (const l of this.leaderListeners) l(leader);
      },
      durable: (o) => this.durable(o),
      persist: (key) => this.snapshot!.persist(key),
    }));
    this.pruner = new Pruner({
      options,
      store,
      stats,
      removedNodes,
      startedAtMs,
      merger: this.merger,
      outbox: this.outbox,
      heartbeater: this.heartbeater,
      antiEntropy: this.antiEntropy,
      writerId: () => this.writerId,
      isLeader: () => this.isLeader,
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
    // Also under a transport the caller built on NATS (the daemon's), for the JetStream primitives.
    const natsConnection = transport instanceof NatsTransport ? transport.connection : undefined;
    transport = secureBus(transport, resolved, restored.stats);
    let claimed: Claimed;
    try {
      if (transport.maxPayload < 4 * PAYLOAD_HEADROOM) {
        throw new ConfigError(`the bus's max payload (${transport.maxPayload} bytes) is too small; allow at least 4 KiB`);
      }
      // Before subscribing to anything: is the node id free, and which incarnation is above every
      // earlier one (see identity.ts)?
      const learned = await claimIdentity({ transport, subject: resolved.subject, nodeId: resolved.nodeId, nodeSubject: nodeSubject(resolved.subject, resolved.nodeId), clock: resolved.clock });
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
    r.natsConnection = natsConnection;
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
  update<T extends Crdt<T>>(key: Key<T>, modify: (current: T, self: string) => T, options: WriteOptions = {}): Promise<T> {
    // Not async: the writer's promise is handed back as it is, without another promise per update.
    if (this.closed) return Promise.reject(this.closedError());
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

  /**
   * Call `subscriber` after every change of the key's value; `undefined` after a delete. With
   * `{ initial: true }`, first with the current value (see `KeySubscribeOptions`).
   */
  subscribe<T extends Crdt<T>>(key: Key<T>, subscriber: (value: T | undefined) => void, options: KeySubscribeOptions = {}): () => void {
    this.checkOpen();
    if (typeof subscriber !== "function") throw new InvalidArgumentError("subscribe needs a callback");
    const current = options.initial === true ? this.reader.local(key) : undefined; // a wrong type throws before subscribing
    const unsubscribe = this.subscriptions.add(key.id, subscriber as (value: Crdt | undefined) => void);
    if (options.initial === true) this.subscriptions.deliver(subscriber as (value: Crdt | undefined) => void, current);
    return unsubscribe;
  }

  /**
   * Whether this replica holds a value of the key ("present"), its tombstone ("deleted": `get`
   * returns undefined and updates reject with KeyDeletedError until the tombstone expires), or
   * neither ("absent": never written, or deleted longer than `tombstoneTtlMs` ago).
   */
  status<T extends Crdt<T>>(key: Key<T>): KeyStatus {
    this.checkOpen();
    return this.reader.status(key);
  }

  /** `status(key) === "deleted"`. */
  isDeleted<T extends Crdt<T>>(key: Key<T>): boolean {
    return this.status(key) === "deleted";
  }

  /** Subscribe to every key (`onChange` also says where each change came from). */
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
   * Call `listener` when this replica drops its value of a key because a value of another data type
   * won the key (a key written with two types: the lower wire tag wins on every replica, see README
   * "Type conflicts"); counted in `stats.typeConflicts`. Returns the function that stops it.
   */
  onTypeConflict(listener: (conflict: TypeConflict) => void): () => void {
    this.checkOpen();
    if (typeof listener !== "function") throw new InvalidArgumentError("onTypeConflict needs a callback");
    return this.changes.listenConflicts(listener);
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

  /**
   * The id this node's counter slots and dots are written under (see `writerIdFor`); a fresh one
   * when another node folded it (a removed node that was alive: replicator/own-writer.ts).
   */
  get writerId(): string {
    return this.ownWriter.id;
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

  /**
   * Expire tombstones older than `tombstoneTtlMs`, compact causal metadata, and fold retired writer
   * ids (pruner.ts; runs on the prune tick).
   */
  prune(): void {
    this.checkOpen();
    this.pruner.prune();
  }

  /** Publish pending deltas, leave the cluster, and release the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) this.options.clock.clear(t);
    this.antiEntropy.stop();
    try {
      this.outbox.close();
      await this.distributedHandle?.close();
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

  /**
   * Named shared objects (Casty's `distributed()`): locks, semaphores, barriers and queues on NATS
   * JetStream, typed handles over the CRDTs, and cluster topics. One per replicator, closed with it.
   */
  distributed(): Distributed {
    this.checkOpen();
    return (this.distributedHandle ??= new Distributed({ connection: this.natsConnection, nodeId: this.nodeId, subject: this.options.subject, crdts: this, keys: Key, transport: this.transport }));
  }

  // ------------------------------------------------------------------ wiring

  /**
   * The narrow view the extensions get (extension/context.ts): snapshots, cross-DC replication
   * and metrics. Not for applications: it exposes the store without type checks.
   * @internal
   */
  context(): ReplicatorContext {
    const self = this; // the context reads the writer id live: it changes (own-writer.ts)
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
      get writerId() {
        return self.writerId;
      },
      startedAtMs: this.startedAtMs,
      store: this.store,
      stats: this.stats,
      transport: this.transport,
      secure: (transport) => secureBus(transport, this.options, this.stats),
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
    // With signing on, each handler checks that the message's signer is the node it claims to be.
    this.unsubscribers.push(t.subscribe(o.subject, (m) => this.inbox.receive(m.data, m.signer)));
    this.unsubscribers.push(t.subscribe(nodeSubject(o.subject, this.nodeId), (m) => this.server.serve(m.data, m.reply, m.signer)));
    this.unsubscribers.push(t.subscribe(directSubject(o.subject, this.nodeId), (m) => this.inbox.receiveDirect(m.data, m.signer)));
    this.unsubscribers.push(t.subscribe(helloSubject(o.subject), (m) => this.server.answerHello(m.data, m.reply, m.signer)));
    this.unsubscribers.push(t.onStatus((s) => s.type === "reconnect" && this.syncs.onReconnect()));
    this.heartbeater.start();
    this.every(o.antiEntropyIntervalMs, () => this.syncs.periodic());
    this.every(o.pruneIntervalMs, () => this.prune());
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(every(this.options.clock, ms, fn, (error) => this.reportError(error)));
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
    if (this.closed) throw this.closedError();
  }

  private closedError(): ReplicatorClosedError {
    return new ReplicatorClosedError(`replicator ${this.nodeId} is closed; start a new one with Replicator.start`);
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

function memberInfo(m: Member): MemberInfo {
  return { node: m.node, dataCenter: m.dataCenter, roles: [...m.roles], reachable: m.reachable, self: m.self, startedAtMs: m.startedAtMs, counted: m.counted };
}
