/**
 * Coordinated writes and reads: ask the other known members over their request subjects and wait
 * for real acknowledgements. The caller has already applied the write locally (self counts as one
 * ack), so a timeout leaves the local write standing; it still replicates through the outbox.
 */
import type { Clock } from "../clock.js";
import { quorum, type ConsistencyLevel } from "../cluster/quorum.js";
import { CrdtReplicatorError, ReadTimeoutError, WriteTimeoutError, errorMessage } from "../errors.js";
import type { NodeReply, NodeRequest, ReadReply } from "../wire/codec.js";
import type { ReplicatorStats } from "../extension/stats.js";

export interface CoordinatorOptions {
  stats: ReplicatorStats;
  /** The other members whose acknowledgements count (admitted, not voted out). */
  peers: () => string[];
  /** N: the members counted for quorum sizes, self included (see MembershipTable.known). */
  known: () => number;
  ask: (peer: string, request: NodeRequest, timeoutMs: number) => Promise<NodeReply>;
  /** The deadline and its timers, and the retry tick. */
  clock: Clock;
}

export class Coordinator {
  constructor(private readonly o: CoordinatorOptions) {}

  /** Resolves once `level` is met counting self; rejects with WriteTimeoutError otherwise. */
  async write(request: NodeRequest & { type: "write" }, level: ConsistencyLevel, timeoutMs: number): Promise<void> {
    const started = performance.now();
    this.o.stats.coordinatedWriteCount++;
    const needed = quorum(level, this.o.known()) - 1;
    try {
      await this.gather(this.o.peers, needed, timeoutMs, request, (reply) => reply.type === "write" && reply.ok);
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
    const needed = quorum(level, this.o.known()) - 1;
    try {
      await this.gather(this.o.peers, needed, timeoutMs, request, (reply) => {
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

  /**
   * Ask every counted peer; resolve at `needed` accepted replies, reject with Shortfall at the
   * deadline. Until then, peers admitted meanwhile are asked too, and a peer whose request failed
   * (no responders while it reconnects, a lost request) is asked again on the next retry tick, so a
   * write made right after a start or a failover waits for its quorum instead of failing at once.
   */
  private gather(peers: () => string[], needed: number, timeoutMs: number, request: NodeRequest, accept: (r: NodeReply) => boolean): Promise<void> {
    if (needed <= 0) return Promise.resolve();
    const deadline = this.o.clock.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const accepted = new Set<string>();
      /** Peers with a request in flight, or whose reply was a refusal (asking again won't change it). */
      const settledFor = new Set<string>();
      const failures = new Map<string, string>();
      let done = false;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        this.o.clock.clear(timer);
        this.o.clock.clear(retry);
        if (ok) resolve();
        else reject(new Shortfall(accepted.size, [...failures].map(([peer, why]) => `${peer}: ${why}`)));
      };
      const askOne = (peer: string): void => {
        settledFor.add(peer);
        const left = Math.max(1, deadline - this.o.clock.now());
        this.o.ask(peer, request, left).then(
          (reply) => {
            if (done) return;
            if (accept(reply)) accepted.add(peer);
            if (accepted.size >= needed) finish(true);
          },
          (error: unknown) => {
            if (done) return;
            failures.set(peer, errorMessage(error));
            settledFor.delete(peer); // ask again on the next tick
          },
        );
      };
      const askNew = (): void => {
        for (const peer of peers()) if (!settledFor.has(peer) && !accepted.has(peer)) askOne(peer);
      };
      const timer = this.o.clock.setTimeout(() => finish(false), timeoutMs);
      const retry = this.o.clock.setInterval(askNew, RETRY_MS);
      retry.unref();
      askNew();
    });
  }
}

/** How often a coordinated request that lacks replies looks for newly admitted or recovered peers. */
const RETRY_MS = 100;

class Shortfall extends CrdtReplicatorError {
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
