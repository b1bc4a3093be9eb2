/**
 * Requests sent again after a reconnect. A request that was waiting for its reply when the
 * connection to a server was lost may never get one: it went to a server that then hung, or was
 * queued while disconnected (the NATS client drops its unsent buffer when it reconnects). Once a
 * new connection is up, such a request is sent again with what is left of its timeout.
 *
 * Only for requests whose handlers may run twice: the replicator's are (writes are idempotent
 * merges, the others reads).
 */

/** One attempt: send the request, resolve with the reply or reject within `timeoutMs`. */
export type RequestAttempt<T> = (timeoutMs: number) => Promise<T>;

export class Resender {
  private readonly waiting = new Set<() => void>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Requests waiting for a reply. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Run `attempt` now and again after each `reconnected()`, until a reply or until `timeoutMs` has
   * passed since now. A reply to any attempt answers (an earlier one may still arrive); a failure
   * counts only from the latest attempt.
   */
  request<T>(timeoutMs: number, attempt: RequestAttempt<T>): Promise<T> {
    const deadline = this.now() + timeoutMs;
    return new Promise<T>((resolve, reject) => {
      let latest = 0;
      const done = (): void => void this.waiting.delete(resend);
      const send = (ms: number): void => {
        const n = ++latest;
        let reply: Promise<T>;
        try {
          reply = attempt(ms);
        } catch (error) {
          reply = Promise.reject(error);
        }
        reply.then(
          (value) => {
            done();
            resolve(value);
          },
          (error: unknown) => {
            if (n !== latest) return; // superseded by a re-send
            done();
            reject(error);
          },
        );
      };
      const resend = (): void => {
        const left = Math.floor(deadline - this.now());
        if (left >= 1) send(left); // else the current attempt times out now anyway
      };
      this.waiting.add(resend);
      send(timeoutMs);
    });
  }

  /** A new connection is up: send every waiting request again. */
  reconnected(): void {
    for (const resend of [...this.waiting]) resend();
  }
}
