/**
 * Revision-checked writes to KV keys, one NATS request each, without the client's per-request
 * machinery. `kv.update` goes through `js.publish` and `nc.request`, which per request build three
 * errors with stack traces (async traces, a pre-made timeout error, a "cancelled" error after the
 * answer), arm and clear a timer, copy options and re-validate the key; on a loaded machine that
 * is most of a round trip's client CPU. Here each connection has one inbox subscription for the
 * answers, one timer for all deadlines, and a write is a publish of the entry with its
 * compare-and-set header (the caller's, reused) plus a map entry. Answers are untrusted: one that
 * is not a PubAck of the expected stream is counted and ignored (the real one, or the deadline,
 * settles the write).
 */
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { inboxOf } from "../transport/inbox-requests.js";
import { parsePubAck } from "./pub-ack.js";

/** How long a write waits for its ack: the JetStream client's default request timeout, as `kv.update` waited. */
export const ACK_TIMEOUT_MS = 5_000;

interface Pending {
  readonly stream: string;
  readonly after: number;
  readonly deadline: number;
  readonly resolve: (seq: number) => void;
  readonly reject: (error: Error) => void;
  readonly rejected: () => void;
}

/** Where the compare-and-set writes of one key go, and what counts a forged answer. */
export interface CasTarget {
  /** The key's subject (`$KV.<bucket>.<key>`). */
  readonly subject: string;
  /** The bucket's stream: the ack must name it. */
  readonly stream: string;
  /** The compare-and-set header, set by the caller before each publish (which encodes it at once, so it is reused). */
  readonly headers: MsgHdrs;
  /** Called for each answer to a write that is not an ack. */
  readonly rejected: () => void;
}

/** The server's "503 no responders" status; headers too broken to read (a forger's) are not it. */
function noResponders(msg: Msg): boolean {
  try {
    return msg.headers?.code === 503;
  } catch {
    return false;
  }
}

const writers = new WeakMap<NatsConnection, CasWriter>();

const mono = (): number => performance.now();

export class CasWriter {
  private readonly inbox: string;
  /** In insertion order, which is deadline order (one timeout for all). */
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** The writer of `nc`, made on first use; it lives as long as the connection (like the client's request inbox). */
  static of(nc: NatsConnection): CasWriter {
    let w = writers.get(nc);
    if (w === undefined) {
      w = new CasWriter(nc);
      writers.set(nc, w);
    }
    return w;
  }

  private constructor(private readonly nc: NatsConnection) {
    this.inbox = inboxOf(nc);
    const prefixLength = this.inbox.length + 1;
    const sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => (error === null ? this.answer(msg.subject.substring(prefixLength), msg) : this.failAll(error)),
    });
    void sub.closed.then(() => {
      if (writers.get(nc) === this) writers.delete(nc); // a later write subscribes again (if it can)
      this.failAll(new errors.ClosedConnectionError());
    });
  }

  /**
   * Publish `data` to `t` with its header set to expect `after` as the last sequence: the stored
   * message's sequence (the key's new revision), or the JetStream API error (JetStreamApiError).
   */
  publish(data: Uint8Array, t: CasTarget, after: number): Promise<number> {
    const token = (this.next++).toString(36);
    this.nc.publish(t.subject, data, { reply: `${this.inbox}.${token}`, headers: t.headers });
    return new Promise<number>((resolve, reject) => {
      this.pending.set(token, { stream: t.stream, after, deadline: mono() + ACK_TIMEOUT_MS, resolve, reject, rejected: t.rejected });
      this.timer ??= this.arm(ACK_TIMEOUT_MS);
    });
  }

  private answer(token: string, msg: Msg): void {
    const p = this.pending.get(token);
    if (p === undefined) return; // after its deadline, or not ours
    if (msg.data.length === 0 && noResponders(msg)) {
      // What `js.publish` makes of "no responders": no stream takes this subject (final, as there).
      this.settle(token, p).reject(new JetStreamError("jetstream is not enabled: no stream stores this bucket's subjects"));
      return;
    }
    const ack = parsePubAck(msg.data, p.stream, p.after);
    if (ack === undefined) p.rejected();
    else if ("seq" in ack) this.settle(token, p).resolve(ack.seq);
    else this.settle(token, p).reject(new JetStreamApiError(ack.error));
  }

  private settle(token: string, p: Pending): Pending {
    this.pending.delete(token);
    return p;
  }

  private failAll(error: Error): void {
    for (const [token, p] of this.pending) this.settle(token, p).reject(error);
  }

  private arm(ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => this.expire(), Math.max(1, ms));
    t.unref();
    return t;
  }

  /** Time out what is past its deadline; wait for the next one. */
  private expire(): void {
    this.timer = undefined;
    const now = mono();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) {
        this.timer = this.arm(p.deadline - now);
        return;
      }
      this.settle(token, p).reject(new errors.TimeoutError());
    }
  }
}
