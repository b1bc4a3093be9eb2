/**
 * Pull requests to a queue's consumer. Callers asking at the same time share one request for as
 * many messages as they are (a batch), so a busy handle makes one round trip per batch instead of
 * one per item; nobody is handed a message it did not ask for, and no message waits in a buffer.
 *
 * A pulled message comes on the request's reply subject but names its own subject, so each pull
 * has a subscription of its own (a request/reply inbox would drop it). A message that arrives after
 * we gave up stays pending in the consumer and is delivered again after its ack wait.
 */
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import { inboxOf } from "../transport/inbox-requests.js";
import { RequestFailedError } from "../errors.js";
import { retrying } from "./retry.js";

/** Most messages asked for in one pull. */
const MAX_BATCH = 256;

interface Waiter {
  resolve(msg: Msg | undefined): void;
  reject(error: unknown): void;
}

export class Puller {
  private readonly waiting: Waiter[] = [];
  private pulling = false;

  constructor(
    private readonly nc: NatsConnection,
    /** `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` */
    private readonly api: string,
    /** Whether a message's reply subject is an ack subject of this queue. */
    private readonly isOurs: (reply: string | undefined) => boolean,
    private readonly timeoutMs: number,
  ) {}

  /** The next available message, or undefined when there is none now (or within `waitMs`). */
  next(what: string, waitMs: number): Promise<Msg | undefined> {
    if (waitMs > 0) return retrying(this.nc, this.timeoutMs, what, async (ms) => (await this.pull(1, waitMs, waitMs + ms))[0]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.pulling) void this.drain(what);
    });
  }

  /** Serve the waiters, a batch per pull, until none is left. */
  private async drain(what: string): Promise<void> {
    this.pulling = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      try {
        const msgs = await retrying(this.nc, this.timeoutMs, what, (ms) => this.pull(batch.length, 0, ms));
        batch.forEach((w, i) => w.resolve(msgs[i]));
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.pulling = false;
  }

  /**
   * One pull of up to `batch` messages: resolves with those that came before the server said there
   * are no more (a 404/408/409 status) or the batch was full. Throws RequestFailedError (retried) when nothing came in
   * `timeoutMs`, or on an unexpected answer (503: no consumer leader, during an election).
   */
  private pull(batch: number, waitMs: number, timeoutMs: number): Promise<Msg[]> {
    const body = JSON.stringify(waitMs > 0 ? { batch, expires: nanos(waitMs) } : { batch, no_wait: true });
    return new Promise((resolve, reject) => {
      const got: Msg[] = [];
      const inbox = inboxOf(this.nc);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        if (error !== undefined && got.length === 0) reject(error);
        else resolve(got);
      };
      const timer = setTimeout(() => finish(new RequestFailedError("no answer to a pull", "timeout")), timeoutMs);
      const sub = this.nc.subscribe(inbox, {
        callback: (error, msg) => {
          if (error !== null) return finish(error);
          const code = msg.headers?.code ?? 0;
          if (code === 404 || code === 408 || code === 409) return finish();
          if (code !== 0 || !this.isOurs(msg.reply)) return finish(new RequestFailedError(`pull answered ${code} ${msg.headers?.description ?? ""}`, "no-responders"));
          got.push(msg);
          if (got.length === batch) finish();
        },
      });
      this.nc.publish(this.api, body, { reply: inbox });
    });
  }
}
