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
}
