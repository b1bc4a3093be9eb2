/**
 * `replicator.distributed()`: named shared objects reachable from any node, after Casty's
 * `system.distributed()`. Two families live here, and the difference is the point:
 * - handles over the replicator's CRDTs (counter, map, set) and cluster topics: always available,
 *   eventually consistent;
 * - JetStream-backed primitives (lock, semaphore, barrier, queue): mutual exclusion and
 *   exactly-one delivery need consensus, which CRDTs cannot give; NATS JetStream (Raft-replicated
 *   streams and revision-checked KV) provides it, so they need a NATS connection with JetStream.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigError, InvalidArgumentError } from "../errors.js";
import { openBucket, type BucketOptions, type PrimitiveKind } from "./buckets.js";
import { Barrier, newParticipant } from "./barrier.js";
import { decodeBarrier, type BarrierEntry } from "./barrier-state.js";
import { KvKey, kvKeyOf, type OpenBucket } from "./kv-key.js";
import { LeaseTable, type LeaseOptions } from "./lease-table.js";
import { decodeLeaseEntry, type LeaseEntry } from "./lease-state.js";
import { Lock } from "./lock.js";
import { Semaphore } from "./semaphore.js";
import type { Element } from "../crdt/types.js";
import type { Transport } from "../transport/types.js";
import { CounterHandle, MapHandle, SetHandle, type CrdtAccess, type CrdtKeys } from "./handles.js";
import { Queue, type QueueOptions } from "./queue.js";
import { Topics, type Topic, type TopicOptions } from "./topic.js";

/** Options of `d.lock` and `d.semaphore`. */
export type LockOptions = LeaseOptions & BucketOptions;

/** What the primitives get from the replicator that created them. */
export interface DistributedContext {
  /** The replicator's NATS connection; undefined when it runs on another transport (in-memory). */
  readonly connection: NatsConnection | undefined;
  /** This node's id (owner names in locks and queues derive from it). */
  readonly nodeId: string;
  /** The replicator's delta subject: names of streams, buckets and topics derive from it. */
  readonly subject: string;
  /**
   * The replicator's typed CRDT operations (the replicator itself) and key constructors (`Key`),
   * for the counter, map and set handles; absent on a Distributed built on a bare NATS connection
   * (JetStream primitives only).
   */
  readonly crdts?: CrdtAccess;
  readonly keys?: CrdtKeys;
  /** The replicator's bus, sealing and verifying when it has a cluster key: topics travel on it. */
  readonly transport?: Transport;
}

/** A resource that must be released when the replicator closes (a lease renewer, a subscription). */
export interface Closable {
  close(): Promise<void>;
}

/** The entry point: one per replicator, closed with it. */
export class Distributed {
  private readonly open = new Set<Closable>();
  private readonly buckets: Partial<Record<PrimitiveKind, Promise<OpenBucket>>> = {};

  constructor(private readonly context: DistributedContext) {}

  // ---------------------------------------------------------------- queue, CRDT handles, topics

  /**
   * A FIFO queue on a JetStream work-queue stream, shared by every node that names it:
   * `dequeue` (at most once) or `take` + `ack` (at least once). ConfigError on the in-memory transport.
   */
  queue<T>(name: string, options?: QueueOptions<T>): Queue<T> {
    return new Queue<T>(this.jetstream("queue"), this.context.subject, name, options);
  }

  /** The PNCounter under key id `name`, as a counter (eventually consistent). */
  counter(name: string): CounterHandle {
    const { crdts, keys } = this.replica("a counter handle");
    return new CounterHandle(crdts, keys.pncounter(name));
  }

  /** The LWWMap under key id `name`, as a map of string keys (eventually consistent). */
  map<V extends Element = Element>(name: string): MapHandle<V> {
    const { crdts, keys } = this.replica("a map handle");
    return new MapHandle<V>(crdts, keys.lwwMap<V>(name));
  }

  /** The ORSet under key id `name`, as a set (eventually consistent). */
  set<T extends Element = Element>(name: string): SetHandle<T> {
    const { crdts, keys } = this.replica("a set handle");
    return new SetHandle<T>(crdts, keys.orset<T>(name));
  }

  /** Cluster-wide publish/subscribe on the replicator's bus (any transport). */
  topic<T>(name: string, options?: TopicOptions<T>): Topic<T> {
    this.topics ??= this.track(new Topics(this.replica("a topic").transport, this.context.subject, this.context.nodeId));
    return this.topics.topic<T>(name, options);
  }

  private topics: Topics | undefined;

  // ---------------------------------------------------------------- end of queue, CRDT handles, topics

  /** Close every primitive handed out (leases stop being renewed; subscriptions end). */
  async close(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  /** Track `c` so `close()` releases it; returns it. */
  protected track<C extends Closable>(c: C): C {
    this.open.add(c);
    return c;
  }

  /** The replicator's parts the CRDT handles and topics need, or a ConfigError naming what needs them. */
  private replica(what: string): { crdts: CrdtAccess; keys: CrdtKeys; transport: Transport } {
    const { crdts, keys, transport } = this.context;
    if (crdts === undefined || keys === undefined || transport === undefined) {
      throw new ConfigError(`${what} needs a replicator: get this Distributed from replicator.distributed()`);
    }
    return { crdts, keys, transport };
  }

  /** The NATS connection, or a ConfigError naming what needs it. */
  protected jetstream(what: string): NatsConnection {
    const connection = this.context.connection;
    if (connection === undefined) {
      throw new ConfigError(`${what} is built on NATS JetStream: start the replicator with the \`nats\` option (it runs on another transport)`);
    }
    return connection;
  }

  /**
   * A distributed mutex on JetStream: FIFO waiters, leases renewed while this process lives,
   * fencing tokens. Each call is a new owner. ConfigError without a NATS connection.
   */
  lock(name: string, options: LockOptions = {}): Lock {
    return new Lock(this.leaseTable("locks", "a lock", name, 1, options));
  }

  /** Up to `permits` holders at once, on JetStream; like `lock` otherwise. */
  semaphore(name: string, permits: number, options: LockOptions = {}): Semaphore {
    if (!Number.isSafeInteger(permits) || permits < 1 || permits > 1_000_000) {
      throw new InvalidArgumentError(`permits must be an integer from 1 to 1000000; got ${permits}`);
    }
    return new Semaphore(this.leaseTable("semaphores", "a semaphore", name, permits, options), permits);
  }

  /** A reusable rendezvous on JetStream: `arrive(expected)` resolves once `expected` arrived. */
  barrier(name: string, options: BucketOptions = {}): Barrier {
    const key = this.kvKey<BarrierEntry>("barriers", "a barrier", name, decodeBarrier, options);
    let handle: Barrier | undefined = undefined;
    handle = this.track(new Barrier(key, newParticipant(this.context.nodeId), () => this.open.delete(handle!)));
    return handle;
  }

  private leaseTable(kind: PrimitiveKind, what: string, name: string, permits: number, options: LockOptions): LeaseTable {
    const key = this.kvKey<LeaseEntry>(kind, what, name, decodeLeaseEntry, options);
    let table: LeaseTable | undefined = undefined;
    table = this.track(new LeaseTable(key, permits, newParticipant(this.context.nodeId), options, () => this.open.delete(table!)));
    return table;
  }

  private kvKey<T>(kind: PrimitiveKind, what: string, name: string, decode: (b: Uint8Array) => T | undefined, options: BucketOptions): KvKey<T> {
    if (typeof name !== "string" || name.length === 0 || Buffer.byteLength(name) > 256) {
      throw new InvalidArgumentError(`the name of ${what} must be 1 to 256 bytes; got ${JSON.stringify(name)}`);
    }
    const connection = this.jetstream(what);
    const bucket = (): Promise<OpenBucket> => {
      const opening = (this.buckets[kind] ??= openBucket(connection, this.context.subject, kind, options));
      opening.catch(() => {
        if (this.buckets[kind] === opening) delete this.buckets[kind]; // try again next time
      });
      return opening;
    };
    return new KvKey(bucket, kvKeyOf(name), decode);
  }
}
