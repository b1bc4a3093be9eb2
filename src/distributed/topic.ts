/**
 * Cluster topics (GoAkt's TopicActor): publish a message, and every subscriber on every node of the
 * cluster gets it, this node's own included. Carried by the replicator's bus, so topics work on the
 * in-memory transport too, and are sealed and verified when the replicator has a cluster key (a
 * message signed by another node than the one it names is dropped).
 *
 * Fire-and-forget, like the bus: a node that is down or cut off misses what is published meanwhile
 * (no replay; use a queue for work that must not be lost), and order holds per publisher only.
 * Messages come from the network: one too large, or that does not decode, is dropped and counted;
 * a handler that throws is counted and the others still run.
 */
import { InvalidArgumentError } from "../errors.js";
import { PAYLOAD_HEADROOM, speaksFor, type IncomingMessage, type Transport } from "../transport/types.js";
import { codecOf, decodeChecked, encodeChecked, type Codec } from "./codec.js";
import { checkName, topicSubject } from "./names.js";
import { decodeTopicFrame, encodeTopicFrame } from "./topic-frame.js";

export interface TopicOptions<T> {
  /** How messages become bytes. Default JSON (see `jsonCodec`). */
  codec?: Codec<T>;
  /** Largest encoded message, in bytes. Default 256 KiB, or less when the bus's max payload is smaller. */
  maxMessageBytes?: number;
}

/** Counters of one topic on this node, shared by its handles. */
export interface TopicStats {
  published: number;
  /** Messages delivered to this node's subscribers (its own publishes included). */
  received: number;
  /** Dropped: not a topic message, too large, undecodable, or signed by another node than it names. */
  rejected: number;
  /** Handler calls that threw. */
  handlerErrors: number;
}

export type TopicHandler<T> = (message: T, from: string) => void;

type Delivery = (payload: Uint8Array, from: string) => void;

const DEFAULT_MAX_BYTES = 256 * 1024;
/** Room for the frame's version and node id. */
const FRAME_ROOM = 2 + 128;

/** One topic's subscription to the bus on this node, shared by every handle of the topic. */
class TopicHub {
  readonly stats: TopicStats = { published: 0, received: 0, rejected: 0, handlerErrors: 0 };
  readonly deliveries = new Set<Delivery>();
  private off: (() => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly subject: string,
    private readonly nodeId: string,
  ) {}

  publish(payload: Uint8Array): void {
    this.transport.publish(this.subject, encodeTopicFrame(this.nodeId, payload));
    this.stats.published++;
    // Our own subscribers hear it here: a NATS connection does not echo our publishes back.
    queueMicrotask(() => this.deliver(payload, this.nodeId));
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  add(delivery: Delivery): () => void {
    this.deliveries.add(delivery);
    this.off ??= this.transport.subscribe(this.subject, (m) => this.receive(m));
    return () => {
      this.deliveries.delete(delivery);
      if (this.deliveries.size === 0) this.close();
    };
  }

  close(): void {
    this.deliveries.clear();
    this.off?.();
    this.off = undefined;
  }

  private receive(m: IncomingMessage): void {
    let frame: { origin: string; payload: Uint8Array };
    try {
      frame = decodeTopicFrame(m.data);
    } catch {
      this.stats.rejected++;
      return;
    }
    if (frame.origin === this.nodeId) return; // our own, heard back (memory bus): delivered already
    if (!speaksFor(m.signer, frame.origin)) {
      this.stats.rejected++;
      return;
    }
    this.deliver(frame.payload, frame.origin);
  }

  private deliver(payload: Uint8Array, from: string): void {
    for (const d of [...this.deliveries]) d(payload, from);
  }
}

/** A topic handle: typed by its codec. */
export class Topic<T> {
  readonly name: string;
  private readonly codec: Codec<T>;
  private readonly maxBytes: number;

  /** @internal use `replicator.distributed().topic(name)`. */
  constructor(
    private readonly hub: TopicHub,
    name: string,
    maxPayload: number,
    options: TopicOptions<T>,
  ) {
    this.name = name;
    this.codec = codecOf(options.codec, `topic ${JSON.stringify(name)}`);
    const busMax = maxPayload - PAYLOAD_HEADROOM - FRAME_ROOM;
    const m = options.maxMessageBytes ?? Math.min(DEFAULT_MAX_BYTES, busMax);
    if (!Number.isInteger(m) || m < 1 || m > busMax) throw new InvalidArgumentError(`topic option maxMessageBytes must be an integer in 1..${busMax}; got ${JSON.stringify(m)}`);
    this.maxBytes = m;
  }

  /** This node's counters for the topic (shared by its handles). */
  get stats(): Readonly<TopicStats> {
    return this.hub.stats;
  }

  /** Send `message` to every subscriber in the cluster; InvalidArgumentError when it does not encode or is too large. */
  publish(message: T): void {
    this.hub.publish(encodeChecked(this.codec, message, this.maxBytes, `topic ${JSON.stringify(this.name)}`));
  }

  /**
   * Resolves once this node's subscriptions and publishes so far reached the bus: a message
   * published elsewhere after that reaches the handlers subscribed before it.
   */
  flush(): Promise<void> {
    return this.hub.flush();
  }

  /**
   * Call `handler(message, fromNodeId)` for every message; returns the function that stops it.
   * Messages published elsewhere before the subscription reached the bus are missed (see `flush`).
   */
  subscribe(handler: TopicHandler<T>): () => void {
    if (typeof handler !== "function") throw new InvalidArgumentError("subscribe needs a handler function");
    const stats = this.hub.stats;
    return this.hub.add((payload, from) => {
      const decoded = decodeChecked(this.codec, payload, this.maxBytes);
      if (decoded === undefined) {
        stats.rejected++;
        return;
      }
      stats.received++;
      try {
        handler(decoded.value, from);
      } catch {
        stats.handlerErrors++;
      }
    });
  }
}

/** The topics of one replicator: one bus subscription per topic name, closed with the replicator. */
export class Topics {
  private readonly hubs = new Map<string, TopicHub>();

  constructor(
    private readonly transport: Transport,
    private readonly subject: string,
    private readonly nodeId: string,
  ) {}

  topic<T>(name: string, options: TopicOptions<T> = {}): Topic<T> {
    checkName(name, "topic");
    let hub = this.hubs.get(name);
    if (hub === undefined) this.hubs.set(name, (hub = new TopicHub(this.transport, topicSubject(this.subject, name), this.nodeId)));
    return new Topic<T>(hub, name, this.transport.maxPayload, options);
  }

  async close(): Promise<void> {
    for (const hub of this.hubs.values()) hub.close();
    this.hubs.clear();
  }
}
