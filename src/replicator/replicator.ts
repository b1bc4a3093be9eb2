/**
 * The Replicator: the public façade. Each concern lives in its own file — store, writes, reads,
 * outbox (publishing), inbox (receiving), request serving, sync scheduling, gap repair,
 * coordination, anti-entropy, pruning, membership (src/cluster), subscriptions — parts.ts builds
 * and connects them, startup.ts restores, connects and claims the node id before they exist and
 * attaches the extensions after; this file starts and stops them and routes the public API to them.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { every, type TimerHandle } from "../clock.js";
import type { Member } from "../cluster/membership.js";
import { RemovedNodes } from "../cluster/pruning.js";
import type { Crdt } from "../crdt/types.js";
import { Distributed } from "../distributed/distributed.js";
import type { SnapshotHandle } from "../durable/snapshots.js";
import { InvalidArgumentError, ReplicatorClosedError } from "../errors.js";
import type { Extension, ReplicatorContext } from "../extension/context.js";
import type { RepairCause, ReplicatorStats } from "../extension/stats.js";
import type { Transport } from "../transport/types.js";
import type { KeyStatus, KeySubscribeOptions, MemberInfo, ReadOptions, WriteOptions } from "./api.js";
import type { Change, TypeConflict } from "./changes.js";
import { contextView } from "./context-view.js";
import { helloSubject, writerIdFor } from "./identity.js";
import { checkId, Key } from "./keys.js";
import { ReplicatorLog } from "./logging.js";
import type { ReplicatorOptions, ResolvedOptions } from "./options.js";
import { buildParts, directSubject, nodeSubject, type Parts } from "./parts.js";
import { attachExtensions, prepare, type Prepared } from "./startup.js";
import type { Store } from "./store.js";

export type { KeyStatus, MemberInfo, ReadOptions, KeySubscribeOptions, WriteOptions } from "./api.js";

export class Replicator {
  readonly nodeId: string;
  readonly stats: ReplicatorStats;
  readonly options: ResolvedOptions;
  readonly startedAtMs: number;
  readonly incarnation: number;

  private readonly store: Store;
  /** The core's parts, built and connected by parts.ts. */
  private readonly parts: Parts;
  /** Nodes removed from the membership, with when: their ids are folded after pruneRetiredAfterMs. */
  private readonly removedNodes = new RemovedNodes();
  private readonly unsubscribers: (() => void)[] = [];
  private readonly timers: TimerHandle[] = [];
  private readonly leaderListeners = new Set<(leader: string | undefined) => void>();
  /** Side concerns started after the core (snapshots, cross-DC, metrics), closed in reverse order. */
  private readonly extensions: Extension[] = [];
  private readonly log: ReplicatorLog;
  /** The snapshot writer, for durable writes (undefined without the `snapshot` option). */
  private snapshot: SnapshotHandle | undefined;
  /** The NATS connection under the transport (none on the in-memory one), for JetStream primitives. */
  private readonly natsConnection: NatsConnection | undefined;
  private readonly transport: Transport;
  private readonly ownsTransport: boolean;
  private distributedHandle: Distributed | undefined;
  private closed = false;

  private constructor(prepared: Prepared) {
    const { options, transport, restored, claimed } = prepared;
    this.transport = transport;
    this.ownsTransport = prepared.ownsTransport;
    this.natsConnection = prepared.natsConnection;
    this.options = options;
    this.nodeId = options.nodeId;
    this.log = new ReplicatorLog(options.logger, options.clock);
    this.store = restored.store;
    this.stats = restored.stats;
    // Unique per start and above every earlier one of this node id (see cluster/incarnations.ts):
    // a restarted node must never reuse sequence numbers or dots, nor look stale to its peers.
    this.incarnation = claimed.incarnation;
    this.startedAtMs = claimed.startedAtMs;
    const writerId = restored.writerId ?? writerIdFor(options.nodeId, this.incarnation);
    const { store, stats, incarnation, startedAtMs, removedNodes } = this;
    const input = { options, transport, store, stats, incarnation, startedAtMs, writerId, expected: claimed.expected, inheritedLeaves: claimed.inheritedLeaves, removedNodes, restoredDigest: restored.digests };
    this.parts = buildParts(input, {
      isClosed: () => this.closed,
      reportError: (error) => this.reportError(error),
      leaderChanged: (leader) => {
        for (const l of this.leaderListeners) l(leader);
      },
      durable: (o) => this.durable(o),
      persist: (key) => this.snapshot!.persist(key),
    });
  }

  /** Connect, join the cluster and start replicating. */
  static async start(options: ReplicatorOptions): Promise<Replicator> {
    const prepared = await prepare(options);
    const r = new Replicator(prepared);
    r.begin();
    try {
      r.extensions.push(r.log.watch(r.context()));
      r.snapshot = await attachExtensions(r.context(), prepared, options, r.extensions);
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
    return this.parts.writer.update(key, modify, options);
  }

  /** The local value (synchronous), or — with `readFrom` — a coordinated read that read-repairs. */
  get<T extends Crdt<T>>(key: Key<T>): T | undefined;
  get<T extends Crdt<T>>(key: Key<T>, options: ReadOptions): Promise<T | undefined>;
  get<T extends Crdt<T>>(key: Key<T>, options?: ReadOptions): T | undefined | Promise<T | undefined> {
    this.checkOpen();
    if (options === undefined) return this.parts.reader.local(key);
    return this.parts.reader.coordinated(key, options);
  }

  /**
   * Call `subscriber` after every change of the key's value; `undefined` after a delete. With
   * `{ initial: true }`, first with the current value (see `KeySubscribeOptions`).
   */
  subscribe<T extends Crdt<T>>(key: Key<T>, subscriber: (value: T | undefined) => void, options: KeySubscribeOptions = {}): () => void {
    this.checkOpen();
    if (typeof subscriber !== "function") throw new InvalidArgumentError("subscribe needs a callback");
    const current = options.initial === true ? this.parts.reader.local(key) : undefined; // a wrong type throws before subscribing
    const unsubscribe = this.parts.subscriptions.add(key.id, subscriber as (value: Crdt | undefined) => void);
    if (options.initial === true) this.parts.subscriptions.deliver(subscriber as (value: Crdt | undefined) => void, current);
    return unsubscribe;
  }

  /**
   * Whether this replica holds a value of the key ("present"), its tombstone ("deleted": `get`
   * returns undefined and updates reject with KeyDeletedError until the tombstone expires), or
   * neither ("absent": never written, or deleted longer than `tombstoneTtlMs` ago).
   */
  status<T extends Crdt<T>>(key: Key<T>): KeyStatus {
    this.checkOpen();
    return this.parts.reader.status(key);
  }

  /** `status(key) === "deleted"`. */
  isDeleted<T extends Crdt<T>>(key: Key<T>): boolean {
    return this.status(key) === "deleted";
  }

  /** Subscribe to every key (`onChange` also says where each change came from). */
  subscribeAll(subscriber: (key: string, value: Crdt | undefined) => void): () => void {
    this.checkOpen();
    return this.parts.subscriptions.addAll(subscriber);
  }

  /** Delete the key everywhere: a tombstone replaces it; later updates reject with KeyDeletedError. */
  async delete<T extends Crdt<T>>(key: Key<T>, options: WriteOptions = {}): Promise<void> {
    this.checkOpen();
    return this.parts.writer.delete(key, options);
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

  /**
   * A coordinated read of the key id `id` whatever its type (tools that learn key ids at run time):
   * asks `options.readFrom` members, merges what they hold, then returns `entry(id)`.
   */
  async readEntry(id: string, options: ReadOptions): Promise<{ key: string; kind: Crdt["kind"]; value: Crdt } | undefined> {
    this.checkOpen();
    await this.parts.reader.untyped(checkId(id), options);
    return this.entry(id);
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
    return this.parts.changes.listen(listener);
  }

  /**
   * Call `listener` when this replica drops its value of a key because a value of another data type
   * won the key (a key written with two types: the lower wire tag wins on every replica, see README
   * "Type conflicts"); counted in `stats.typeConflicts`. Returns the function that stops it.
   */
  onTypeConflict(listener: (conflict: TypeConflict) => void): () => void {
    this.checkOpen();
    if (typeof listener !== "function") throw new InvalidArgumentError("onTypeConflict needs a callback");
    return this.parts.changes.listenConflicts(listener);
  }

  /**
   * Members known to this node, itself included, sorted by id: N for quorum sizes. Members its
   * peers named at start but not yet heard are listed unreachable, with startedAtMs 0.
   */
  members(): MemberInfo[] {
    return this.parts.heartbeater.members().map(memberInfo);
  }

  /** The leader of this node's data center (oldest reachable member; ties: lowest id). */
  leader(): string | undefined {
    return this.parts.heartbeater.leader(this.options.dataCenter);
  }

  /**
   * The id this node's counter slots and dots are written under (see `writerIdFor`); a fresh one
   * when another node folded it (a removed node that was alive: replicator/own-writer.ts).
   */
  get writerId(): string {
    return this.parts.ownWriter.id;
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
    const target = peer ?? this.parts.syncs.nextPeer();
    if (target !== undefined) await this.parts.antiEntropy.sync(target, cause);
  }

  /**
   * Expire tombstones older than `tombstoneTtlMs`, compact causal metadata, and fold retired writer
   * ids (pruner.ts; runs on the prune tick).
   */
  prune(): void {
    this.checkOpen();
    this.parts.pruner.prune();
  }

  /** Publish pending deltas, leave the cluster, and release the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) this.options.clock.clear(t);
    this.parts.pruner.stop();
    this.parts.antiEntropy.stop();
    this.parts.merger.pulled?.close();
    try {
      this.parts.outbox.close();
      await this.distributedHandle?.close();
      for (const e of [...this.extensions].reverse()) await e.close();
      await this.parts.heartbeater.leave();
      await this.transport.flush();
    } catch (error) {
      this.reportError(error);
    }
    this.parts.heartbeater.stop();
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

  /** The view the extensions get (context-view.ts). @internal */
  context(): ReplicatorContext {
    const { options, incarnation, startedAtMs, store, stats, transport, leaderListeners } = this;
    const { changes, merger, heartbeater, server, antiEntropy } = this.parts;
    return contextView({
      ...{ options, incarnation, startedAtMs, store, stats, transport, changes, merger, heartbeater, server, antiEntropy, leaderListeners },
      writerId: () => this.writerId,
      isLeader: () => this.isLeader,
      reportError: (error) => this.reportError(error),
    });
  }

  private begin(): void {
    const o = this.options;
    const t = this.transport;
    // With signing on, each handler checks that the message's signer is the node it claims to be.
    this.unsubscribers.push(t.subscribe(o.subject, (m) => this.parts.inbox.receive(m.data, m.signer)));
    this.unsubscribers.push(t.subscribe(nodeSubject(o.subject, this.nodeId), (m) => this.parts.server.serve(m.data, m.reply, m.signer)));
    this.unsubscribers.push(t.subscribe(directSubject(o.subject, this.nodeId), (m) => this.parts.inbox.receiveDirect(m.data, m.signer)));
    this.unsubscribers.push(t.subscribe(helloSubject(o.subject), (m) => this.parts.server.answerHello(m.data, m.reply, m.signer)));
    this.unsubscribers.push(t.onStatus((s) => s.type === "reconnect" && this.parts.syncs.onReconnect()));
    this.parts.heartbeater.start();
    this.every(o.antiEntropyIntervalMs, () => this.parts.syncs.periodic());
    this.every(o.pruneIntervalMs, () => this.parts.pruner.tick());
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
    this.log.reportError(error);
  }
}

function memberInfo(m: Member): MemberInfo {
  return { node: m.node, dataCenter: m.dataCenter, roles: [...m.roles], reachable: m.reachable, self: m.self, startedAtMs: m.startedAtMs, counted: m.counted };
}
