/**
 * A FIFO queue on a JetStream work-queue stream (one stream per queue, one durable pull consumer
 * every handle of the queue shares). Two ways to take an item out:
 * - `dequeue()`, at most once: the handle pulls the next item, then deletes it from the stream;
 *   the delete is a consensus operation (Raft-replicated with replicas > 1) that succeeds for one
 *   caller only, so the item is returned only once its removal is confirmed, and to one caller
 *   only. An item whose puller dies between pull and delete is delivered again (to someone else),
 *   never twice.
 * - `take()` + `ack()`, at least once: the item stays in the stream until acknowledged; one not
 *   acknowledged within `ackWaitMs` (its taker died, or is slow) is delivered again.
 * Items are bytes of the queue's codec (JSON by default). An item that does not decode (published
 * by another client, or another codec) or is larger than `maxItemBytes` is removed, counted in
 * `stats.rejected`, and skipped: it never stops the queue.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { nanos, nuid } from "@nats-io/transport-node";
import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { InvalidArgumentError, RequestFailedError } from "../errors.js";
import { codecOf, decodeChecked, encodeChecked, type Codec } from "./codec.js";
import { checkName, isReceiptOf, queueNames, receiptOf, type QueueNames } from "./names.js";
import { Puller } from "./puller.js";
import { ATTEMPT_MS, retrying } from "./retry.js";

export interface QueueOptions<T> {
  /** How items become bytes. Default JSON (see `jsonCodec`). */
  codec?: Codec<T>;
  /**
   * How long a `take()`n item may stay unacknowledged before it is delivered again. Default 30 s.
   * A property of the queue, fixed by the handle that creates it.
   */
  ackWaitMs?: number;
  /** JetStream replicas of the queue's stream (1, or 3 on a 3-server cluster). Default 1. Fixed at creation. */
  replicas?: number;
  /** Largest encoded item, in bytes. Default 1 MiB, or less when the server's max_payload is smaller. */
  maxItemBytes?: number;
  /**
   * How long one operation keeps retrying through a lost server or a leader election before it
   * rejects with RequestFailedError. Default 10 s.
   */
  timeoutMs?: number;
}

export interface EnqueueOptions {
  /**
   * An id for this item: an enqueue repeated with the same id within 2 minutes stores it once
   * (retry a failed enqueue with its id and it is never doubled). Default: a fresh id per call
   * (the handle's own retries reuse it).
   */
  id?: string;
}

export interface PullOptions {
  /** Wait up to this long for an item when the queue is empty. Default 0: answer at once. */
  waitMs?: number;
}

/** An item taken with `take()`: in the queue until `ack()`ed; delivered again after `ackWaitMs`. */
export interface Taken<T> {
  readonly value: T;
  /** Acknowledges the item from any handle of the queue (`queue.ack(receipt)`), e.g. over HTTP. */
  readonly receipt: string;
  /** 1 on the first delivery, more when it is delivered again. */
  readonly deliveries: number;
  /** Remove the item: done. */
  ack(): Promise<void>;
}

export interface QueueStats {
  /** Items removed because they did not decode or were too large (never handed out). */
  rejected: number;
}

const DEFAULTS = { ackWaitMs: 30_000, replicas: 1, maxItemBytes: 1024 * 1024, timeoutMs: 10_000 };
/** Room under the server's max_payload for the message's headers (its id). */
const HEADER_ROOM = 1024;
const ACK = new TextEncoder().encode("+ACK");
/** The JetStream API's error code for deleting a message that is not (or no longer) in the stream. */
const NO_SUCH_MESSAGE = 10057;

export class Queue<T> {
  readonly name: string;
  readonly stats: QueueStats = { rejected: 0 };
  private readonly names: QueueNames;
  private readonly codec: Codec<T>;
  private readonly o: Required<Omit<QueueOptions<T>, "codec">>;
  private readonly js: JetStreamClient;
  private readonly puller: Puller;
  private jsm: Promise<JetStreamManager> | undefined;
  private ready: Promise<void> | undefined;

  /** @internal use `replicator.distributed().queue(name)`. */
  constructor(
    private readonly nc: NatsConnection,
    subject: string,
    name: string,
    options: QueueOptions<T> = {},
  ) {
    this.name = checkName(name, "queue");
    this.names = queueNames(subject, name);
    this.codec = codecOf(options.codec, `queue ${JSON.stringify(name)}`);
    const serverMax = (nc.info?.max_payload ?? DEFAULTS.maxItemBytes + HEADER_ROOM) - HEADER_ROOM;
    this.o = {
      ackWaitMs: positive(options.ackWaitMs, DEFAULTS.ackWaitMs, "ackWaitMs", 100),
      replicas: positive(options.replicas, DEFAULTS.replicas, "replicas", 1, 5),
      maxItemBytes: positive(options.maxItemBytes, Math.min(DEFAULTS.maxItemBytes, serverMax), "maxItemBytes", 1, serverMax),
      timeoutMs: positive(options.timeoutMs, DEFAULTS.timeoutMs, "timeoutMs", 1),
    };
    this.js = jetstream(nc, { timeout: ATTEMPT_MS });
    const api = `$JS.API.CONSUMER.MSG.NEXT.${this.names.stream}.${this.names.consumer}`;
    this.puller = new Puller(nc, api, (reply) => isReceiptOf(this.names, reply), this.o.timeoutMs);
  }

  /** Append `item`; resolves once the server stored it (replicated, with replicas > 1). */
  async enqueue(item: T, options: EnqueueOptions = {}): Promise<void> {
    const bytes = encodeChecked(this.codec, item, this.o.maxItemBytes, `queue ${JSON.stringify(this.name)}`);
    const id = options.id ?? nuid.next();
    if (typeof id !== "string" || id.length === 0 || id.length > 256) throw new InvalidArgumentError("enqueue id must be a string of 1-256 characters");
    await this.ensure();
    await this.retrying("enqueue", (ms) => this.js.publish(this.names.subject, bytes, { msgID: id, timeout: ms }));
  }

  /**
   * The oldest item in the queue, left in place (undefined when empty). Items taken and not yet
   * acknowledged are still in the queue: peek may show one.
   */
  async peek(): Promise<T | undefined> {
    await this.ensure();
    const jsm = await this.manager();
    for (;;) {
      const first = await this.retrying("peek", async () => {
        const info = await jsm.streams.info(this.names.stream);
        if (info.state.messages === 0) return null;
        return (await jsm.streams.getMessage(this.names.stream, { seq: info.state.first_seq })) ?? undefined;
      });
      if (first === null) return undefined;
      if (first === undefined) continue; // removed between the two requests: look again
      const decoded = decodeChecked(this.codec, first.data, this.o.maxItemBytes);
      if (decoded !== undefined) return decoded.value;
      await this.reject(first.seq);
    }
  }

  /** Remove and return the oldest available item, at most once (see the file header); undefined when empty. */
  async dequeue(options: PullOptions = {}): Promise<T | undefined> {
    await this.ensure();
    for (;;) {
      const msg = await this.pull("dequeue", options.waitMs ?? 0);
      if (msg === undefined) return undefined;
      const seq = receiptOf(msg.reply!).sequence;
      // Not claimed: another caller removed it first. Claimed or not, no ack: the consumer drops the
      // pending entry of a removed item itself when its ack wait ends, and acks of deleted messages
      // made nats-server 2.9 (replicated work-queue streams) drop other, undelivered items.
      if (!(await this.claim(seq))) continue;
      const decoded = decodeChecked(this.codec, msg.data, this.o.maxItemBytes);
      if (decoded !== undefined) return decoded.value;
      this.stats.rejected++;
    }
  }

  /** Take the oldest available item, at least once: it stays in the queue until `ack`ed. Undefined when empty. */
  async take(options: PullOptions = {}): Promise<Taken<T> | undefined> {
    await this.ensure();
    for (;;) {
      const msg = await this.pull("take", options.waitMs ?? 0);
      if (msg === undefined) return undefined;
      const receipt = msg.reply!;
      const decoded = decodeChecked(this.codec, msg.data, this.o.maxItemBytes);
      if (decoded === undefined) {
        await this.reject(receiptOf(receipt).sequence); // deleted, not acked: see dequeue
        continue;
      }
      return { value: decoded.value, receipt, deliveries: receiptOf(receipt).deliveries, ack: () => this.ack(receipt) };
    }
  }

  /**
   * Acknowledge a taken item by its receipt: it leaves the queue. Resolves once the server
   * confirmed. Acknowledging an item already removed (acked twice, or after `ackWaitMs` when it
   * went to another taker who acked it) is harmless.
   */
  async ack(receipt: string): Promise<void> {
    if (!isReceiptOf(this.names, receipt)) {
      throw new InvalidArgumentError(`not a receipt of queue ${JSON.stringify(this.name)}: pass the receipt that take() returned`);
    }
    await this.retrying("ack", (ms) => this.nc.request(receipt, ACK, { timeout: ms }));
  }

  /** Items in the queue, taken-but-unacknowledged ones included. */
  async size(): Promise<number> {
    await this.ensure();
    const jsm = await this.manager();
    return this.retrying("size", async () => (await jsm.streams.info(this.names.stream)).state.messages);
  }

  /** Delete the queue and every item in it, for every handle (a later call creates it anew, empty). */
  async destroy(): Promise<void> {
    const jsm = await this.manager();
    this.ready = undefined;
    await this.retrying("destroy", async () => {
      try {
        await jsm.streams.delete(this.names.stream);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === 10059)) throw error; // already gone
      }
    });
  }

  // ---------------------------------------------------------------- internals

  /** The next message of the consumer (undefined: none within `waitMs`). */
  private pull(what: string, waitMs: number): Promise<Msg | undefined> {
    if (typeof waitMs !== "number" || !Number.isFinite(waitMs) || waitMs < 0) {
      return Promise.reject(new InvalidArgumentError(`waitMs must be a non-negative number of milliseconds; got ${waitMs}`));
    }
    return this.puller.next(this.what(what), waitMs);
  }

  /**
   * Delete message `seq` from the stream: true only for the one caller whose delete removed it.
   * "No such message" (10057) is false; any other answer (no leader yet, a replica catching up) is
   * asked again until the deadline. A delete is ambiguous once sent: a timeout may hide one that was
   * applied, and asked again it reads "no such message", so that item goes to nobody (at most
   * once). Hence one attempt waits for its answer as long as the operation may take, rather than
   * giving up early on a slow server.
   */
  private claim(seq: number): Promise<boolean> {
    const api = `$JS.API.STREAM.MSG.DELETE.${this.names.stream}`;
    const body = JSON.stringify({ seq, no_erase: true });
    const attempt = async (ms: number): Promise<boolean> => {
      const answer = (await this.nc.request(api, body, { timeout: ms })).json<{ success?: boolean; error?: { err_code?: number; description?: string } }>();
      if (answer.error === undefined) return answer.success === true;
      if (answer.error.err_code === NO_SUCH_MESSAGE) return false;
      throw new RequestFailedError(`delete answered ${answer.error.err_code}: ${answer.error.description}`, "no-responders");
    };
    return retrying(this.nc, this.o.timeoutMs, this.what("dequeue"), attempt, this.o.timeoutMs);
  }

  /** Remove an item nobody can decode, and count it. */
  private async reject(seq: number): Promise<void> {
    if (await this.claim(seq)) this.stats.rejected++;
  }

  /** Create the stream and its consumer unless they exist (once per handle). */
  private ensure(): Promise<void> {
    this.ready ??= this.create().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async create(): Promise<void> {
    const jsm = await this.manager();
    const { stream, subject, consumer } = this.names;
    await this.retrying("create the queue", async () => {
      try {
        await jsm.streams.info(stream);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === 10059)) throw error;
        await jsm.streams
          .add({
            name: stream,
            subjects: [subject],
            retention: RetentionPolicy.Workqueue,
            storage: StorageType.File,
            discard: DiscardPolicy.New,
            num_replicas: this.o.replicas,
            max_msg_size: this.o.maxItemBytes + HEADER_ROOM,
            duplicate_window: nanos(120_000),
          })
          .catch(async (e: unknown) => {
            await jsm.streams.info(stream).catch(() => Promise.reject(e)); // created by another handle meanwhile: fine
          });
      }
      try {
        await jsm.consumers.info(stream, consumer);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === 10014)) throw error;
        // No limit on unacknowledged items: a dequeued item's pending entry stays until its ack wait
        // ends (see dequeue), and a limit would then make a busy queue answer "empty".
        await jsm.consumers
          .add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit, ack_wait: nanos(this.o.ackWaitMs), max_deliver: -1, max_ack_pending: -1 })
          .catch(async (e: unknown) => {
            await jsm.consumers.info(stream, consumer).catch(() => Promise.reject(e));
          });
      }
    });
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= jetstreamManager(this.nc, { timeout: ATTEMPT_MS, checkAPI: false }).catch((error: unknown) => {
      this.jsm = undefined;
      throw error;
    });
    return this.jsm;
  }

  private retrying<R>(what: string, attempt: (ms: number) => Promise<R>): Promise<R> {
    return retrying(this.nc, this.o.timeoutMs, this.what(what), attempt);
  }

  private what(operation: string): string {
    return `queue ${JSON.stringify(this.name)}: ${operation}`;
  }
}

function positive(v: number | undefined, fallback: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`queue option ${name} must be an integer in ${min}..${max}; got ${JSON.stringify(v)}`);
  }
  return v;
}
