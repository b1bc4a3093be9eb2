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
