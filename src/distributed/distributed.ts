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
import { ConfigError } from "../errors.js";
import type { Transport } from "../transport/types.js";
import { CounterHandle, MapHandle, SetHandle, type CrdtAccess, type CrdtKeys } from "./handles.js";
import { Queue, type QueueOptions } from "./queue.js";
import { Topics, type Topic, type TopicOptions } from "./topic.js";
import type { Element } from "../crdt/types.js";

/** What the primitives get from the replicator that created them. */
export interface DistributedContext {
  /** The replicator's NATS connection; undefined when it runs on another transport (in-memory). */
  readonly connection: NatsConnection | undefined;
  /** This node's id (owner names in locks and queues derive from it). */
  readonly nodeId: string;
  /** The replicator's delta subject: names of streams, buckets and topics derive from it. */
  readonly subject: string;
  /** The replicator's typed CRDT operations (the replicator itself), for the counter, map and set handles. */
  readonly crdts: CrdtAccess;
  /** The replicator's key constructors (`Key`). */
  readonly keys: CrdtKeys;
  /** The replicator's bus, sealing and verifying when it has a cluster key: topics travel on it. */
  readonly transport: Transport;
}

/** A resource that must be released when the replicator closes (a lease renewer, a subscription). */
export interface Closable {
  close(): Promise<void>;
}

/** The entry point: one per replicator, closed with it. */
export class Distributed {
  private readonly open = new Set<Closable>();

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
    return new CounterHandle(this.context.crdts, this.context.keys.pncounter(name));
  }

  /** The LWWMap under key id `name`, as a map of string keys (eventually consistent). */
  map<V extends Element = Element>(name: string): MapHandle<V> {
    return new MapHandle<V>(this.context.crdts, this.context.keys.lwwMap<V>(name));
  }

  /** The ORSet under key id `name`, as a set (eventually consistent). */
  set<T extends Element = Element>(name: string): SetHandle<T> {
    return new SetHandle<T>(this.context.crdts, this.context.keys.orset<T>(name));
  }

  /** Cluster-wide publish/subscribe on the replicator's bus (any transport). */
  topic<T>(name: string, options?: TopicOptions<T>): Topic<T> {
    this.topics ??= this.track(new Topics(this.context.transport, this.context.subject, this.context.nodeId));
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

  /** The NATS connection, or a ConfigError naming what needs it. */
  protected jetstream(what: string): NatsConnection {
    const connection = this.context.connection;
    if (connection === undefined) {
      throw new ConfigError(`${what} is built on NATS JetStream: start the replicator with the \`nats\` option (it runs on another transport)`);
    }
    return connection;
  }
}
