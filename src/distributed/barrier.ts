/**
 * `d.barrier(name)`: a reusable rendezvous on one KV key (protocol: barrier-state.ts). `arrive`
 * writes this participant into the current round with a revision-checked update, then watches the
 * key (with a slow poll behind the watch) until the round has passed or its timeout fires.
 */
import { randomUUID } from "node:crypto";
import { BarrierTimeoutError, InvalidArgumentError, ReplicatorClosedError, WaitAbortedError } from "../errors.js";
import { arrive, emptyBarrier, encodeBarrier, leave, passed, BARRIER_LIMITS, type BarrierEntry } from "./barrier-state.js";
import type { KvKey, Versioned } from "./kv-key.js";

/** Default wait for the other participants. */
export const DEFAULT_BARRIER_TIMEOUT_MS = 30_000;
const FALLBACK_POLL_MS = 1_000;

export interface ArriveOptions {
  /** Give up after this long with BarrierTimeoutError (default 30 000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class Barrier {
  private current: Versioned<BarrierEntry> | undefined;
  private readonly waiting = new Set<() => void>();
  private stopWatch: (() => void) | undefined;
  private watching: Promise<void> | undefined;
  private arrivals = 0;
  private closed = false;

  /** @internal */
  constructor(
    private readonly key: KvKey<BarrierEntry>,
    /** Who arrives (unique per handle). */
    readonly participant: string,
    private readonly onClose: () => void,
  ) {}

  /** Entries of this barrier's key that did not decode (rejected and overwritten). */
  get rejected(): number {
    return this.key.rejected;
  }

  /**
   * Arrive and wait until `expected` participants (this one included) have arrived in this round;
   * resolves with the round's number. BarrierTimeoutError after `timeoutMs` (this participant then
   * leaves the round), WaitAbortedError on `signal`.
   */
  async arrive(expected: number, options: ArriveOptions = {}): Promise<{ round: number }> {
    if (this.closed) throw new ReplicatorClosedError("this barrier handle is closed: create a new one");
    if (!Number.isSafeInteger(expected) || expected < 1 || expected > BARRIER_LIMITS.maxParticipants) {
      throw new InvalidArgumentError(`expected must be an integer from 1 to ${BARRIER_LIMITS.maxParticipants}; got ${expected}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_BARRIER_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    // One id per arrival: a handle may arrive again in the next round before others saw this one pass.
    const me = `${this.participant}#${++this.arrivals}`;
    await this.ensureWatch(); // before arriving, so the round's end cannot go unseen
    let round = -1;
    await this.write((e) => {
      const r = arrive(e, me, expected);
      round = r.round;
      return r.entry;
    });
    if (passed(this.current?.value ?? emptyBarrier, round)) return { round };
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (passed(this.current?.value ?? emptyBarrier, round)) finish(() => resolve({ round }));
      };
      const giveUp = (error: Error): void =>
        finish(() => {
          // Leave the round, unless it passed meanwhile (then it succeeded after all).
          this.write((e) => leave(e, me, round)).then(
            () => (passed(this.current?.value ?? emptyBarrier, round) ? resolve({ round }) : reject(error)),
            () => reject(error),
          );
        });
      const onAbort = (): void => giveUp(new WaitAbortedError(`arrive at round ${round} was aborted while waiting`));
      const timer = setTimeout(() => {
        const got = this.current?.value?.round === round ? this.current.value.arrived.length : "?";
        giveUp(new BarrierTimeoutError(`round ${round}: ${got} of ${expected} participants arrived within ${timeoutMs} ms (one may have crashed): check them, then arrive again`));
      }, Math.max(0, deadline - performance.now()));
      const poll = setInterval(() => void this.refresh().catch(() => undefined), FALLBACK_POLL_MS);
      poll.unref();
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        clearInterval(poll);
        options.signal?.removeEventListener("abort", onAbort);
        this.waiting.delete(check);
        then();
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatch?.();
    this.onClose();
  }

  /** Compare-and-set loop on the freshest entry until the change sticks (undefined: nothing to write). */
  private async write(change: (e: BarrierEntry) => BarrierEntry | undefined): Promise<void> {
    for (;;) {
      const cur = this.current ?? (await this.refresh());
      const next = change(cur.value ?? emptyBarrier);
      if (next === undefined) return;
      const revision = await this.key.write(encodeBarrier(next), cur);
      if (revision === "conflict") {
        this.current = undefined;
        continue;
      }
      this.see({ value: next, revision, cas: revision });
      return;
    }
  }

  private async refresh(): Promise<Versioned<BarrierEntry>> {
    this.see(await this.key.read(), true);
    return this.current!;
  }

  /** A newer version (a read is taken at an equal revision too, for its fresher compare-and-set sequence). */
  private see(v: Versioned<BarrierEntry>, read = false): void {
    if (this.current !== undefined && (read ? v.revision < this.current.revision : v.revision <= this.current.revision)) return;
    this.current = v;
    for (const check of [...this.waiting]) check();
  }

  private ensureWatch(): Promise<void> {
    this.watching ??= this.key.watch((v) => this.see(v)).then(
      (stop) => {
        if (this.closed) stop();
        else this.stopWatch = stop;
      },
      () => {
        this.watching = undefined;
      },
    );
    return this.watching;
  }
}

/** A participant id for a new handle. */
export function newParticipant(nodeId: string): string {
  return `${nodeId.slice(0, 128)}/${randomUUID().slice(0, 8)}`;
}
