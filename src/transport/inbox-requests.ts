/**
 * Requests answered on one inbox subscription of ours rather than the NATS client's request
 * multiplexer. The client reads every answer's headers there without a guard, so one answer with a
 * header no client would build — anyone who sees a request's reply subject can send it — throws
 * inside its protocol parser and resets the connection. Here an answer's headers are read only to
 * tell "no responders", guarded; anything else is the answer.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { RequestFailedError } from "../errors.js";

interface Pending {
  readonly subject: string;
  readonly resolve: (data: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * A fresh inbox subject under the connection's `inboxPrefix` (the client's own requests use it too:
 * permissions may allow replies only there).
 */
export function inboxOf(nc: NatsConnection): string {
  return createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}

/** The server's "503 no responders" status; headers too broken to read (a forger's) are not it. */
function noResponders(msg: Msg): boolean {
  try {
    return msg.data.length === 0 && msg.headers?.code === 503;
  } catch {
    return false;
  }
}

export class InboxRequests {
  private readonly inbox: string;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private sub: Subscription | undefined;

  constructor(private readonly nc: NatsConnection) {
    this.inbox = inboxOf(nc);
  }

  /** The answer's payload; rejects with a RequestFailedError (timeout, no responders, closed). */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.sub ??= this.subscribe();
    const token = (this.next++).toString(36);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(token)?.reject(new RequestFailedError(`request on ${subject}: no reply within ${timeoutMs} ms`, "timeout")), timeoutMs);
      this.pending.set(token, { subject, resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${token}` });
      } catch (error) {
        this.settle(token)?.reject(error as Error);
      }
    });
  }

  /** The server refused to let us publish on `subject`: every request waiting there fails with `error`. */
  refused(subject: string, error: Error): void {
    for (const [token, p] of [...this.pending]) if (p.subject === subject) this.settle(token)?.reject(error);
  }

  /** Stop answering: whatever waits fails as closed. */
  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.failAll("transport closed");
  }

  private subscribe(): Subscription {
    const prefixLength = this.inbox.length + 1;
    const sub = this.nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (error !== null) return this.failAll(error.message);
        const p = this.settle(msg.subject.substring(prefixLength));
        if (p === undefined) return; // late, or not ours
        if (noResponders(msg)) p.reject(new RequestFailedError(`request on ${p.subject}: no responders`, "no-responders"));
        else p.resolve(msg.data);
      },
    });
    void sub.closed.then(() => {
      if (this.sub === sub) this.sub = undefined; // the next request subscribes again
      this.failAll("connection closed");
    });
    return sub;
  }

  private settle(token: string): Pending | undefined {
    const p = this.pending.get(token);
    if (p === undefined) return undefined;
    this.pending.delete(token);
    clearTimeout(p.timer);
    return p;
  }

  private failAll(why: string): void {
    for (const token of [...this.pending.keys()]) {
      const p = this.settle(token)!;
      p.reject(new RequestFailedError(`request on ${p.subject}: ${why}`, "closed"));
    }
  }
}
