/**
 * Coordinated writes and reads: ask the other known members over their request subjects and wait
 * for real acknowledgements. The caller has already applied the write locally (self counts as one
 * ack), so a timeout leaves the local write standing; it still replicates through the outbox.
 */
import type { Clock } from "../clock.js";
import { quorum, type ConsistencyLevel } from "../cluster/quorum.js";
import { ReadTimeoutError, WriteTimeoutError } from "../errors.js";
import type { NodeReply, NodeRequest, ReadReply } from "../wire/messages.js";
import type { ReplicatorStats } from "./stats.js";

export interface CoordinatorOptions {
  stats: ReplicatorStats;
  /** The other members whose acknowledgements count (admitted, not voted out). */
  peers: () => string[];
  /** N: the members counted for quorum sizes, self included (see MembershipTable.known). */
  known: () => number;
  ask: (peer: string, request: NodeRequest, timeoutMs: number) => Promise<NodeReply>;
  /** Timers of the overall deadline. */
  clock: Clock;
}

export class Coordinator {
  constructor(private readonly o: CoordinatorOptions) {}

  /** Resolves once `level` is met counting self; rejects with WriteTimeoutError otherwise. */
  async write(request: NodeRequest & { type: "write" }, level: ConsistencyLevel, timeoutMs: number): Promise<void> {
    const started = performance.now();
    this.o.stats.coordinatedWriteCount++;
    const peers = this.o.peers();
    const needed = quorum(level, this.o.known()) - 1;
    try {
      await this.gather(peers, needed, timeoutMs, request, (reply) => reply.type === "write" && reply.ok);
    } catch (error) {
      if (error instanceof Shortfall) {
        throw new WriteTimeoutError(
          `write to ${describe(level)} got ${error.got + 1} of ${needed + 1} acknowledgements within ${timeoutMs} ms` +
            `${error.detail()}; the local write stands and will replicate`,
        );
      }
      throw error;
    } finally {
      this.o.stats.record("coordinated.latency", performance.now() - started);
    }
  }

  /** Replies of at least `level` (counting self) to a read; the caller merges them. */
  async read(request: NodeRequest & { type: "read" }, level: ConsistencyLevel, timeoutMs: number, onReply: (r: ReadReply) => void): Promise<void> {
    const started = performance.now();
    this.o.stats.coordinatedReadCount++;
    const peers = this.o.peers();
    const needed = quorum(level, this.o.known()) - 1;
    try {
      await this.gather(peers, needed, timeoutMs, request, (reply) => {
        if (reply.type !== "read") return false;
        onReply(reply);
        return true;
      });
    } catch (error) {
      if (error instanceof Shortfall) {
        throw new ReadTimeoutError(`read from ${describe(level)} got ${error.got + 1} of ${needed + 1} replies within ${timeoutMs} ms${error.detail()}`);
      }
      throw error;
    } finally {
      this.o.stats.record("coordinated.latency", performance.now() - started);
    }
  }

  /** Ask every peer; resolve at `needed` accepted replies; reject with Shortfall when that cannot happen in time. */
  private gather(peers: string[], needed: number, timeoutMs: number, request: NodeRequest, accept: (r: NodeReply) => boolean): Promise<void> {
    if (needed <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let got = 0;
      let settled = 0;
      let done = false;
      const failures: string[] = [];
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        this.o.clock.clear(timer);
        if (ok) resolve();
        else reject(new Shortfall(got, failures));
      };
      const timer = this.o.clock.setTimeout(() => finish(false), timeoutMs);
      for (const peer of peers) {
        this.o.ask(peer, request, timeoutMs).then(
          (reply) => {
            settled++;
            if (!done && accept(reply)) got++;
            if (got >= needed) finish(true);
            else if (settled === peers.length) finish(false);
          },
          (error: unknown) => {
            settled++;
            failures.push(`${peer}: ${error instanceof Error ? error.message : String(error)}`);
            if (settled === peers.length && got < needed) finish(false);
          },
        );
      }
      if (peers.length === 0) finish(false);
    });
  }
}

class Shortfall extends Error {
  constructor(
    readonly got: number,
    readonly failures: readonly string[],
  ) {
    super("not enough replies");
  }

  /** Why peers failed (no responders, timeouts, a request too large …), for the error message. */
  detail(): string {
    return this.failures.length === 0 ? "" : ` (${this.failures.slice(0, 3).join("; ")}${this.failures.length > 3 ? "; …" : ""})`;
  }
}

function describe(level: ConsistencyLevel): string {
  return typeof level === "string" ? `"${level}"` : `{ count: ${level.count} }`;
}
