/**
 * The NATS shell of locks and semaphores (a lock is a semaphore of one permit): one KV key per
 * name, changed only by revision-checked writes computed by lease-state.ts. A handle is one owner;
 * it renews the leases of its grants and its places in the queue every `ttlMs / 3`, watches the key
 * only while it waits (a slow poll backs the watch up), and evicts members whose lease it has seen expire.
 */
import { ConfigError, InvalidArgumentError, LockTimeoutError, ReplicatorClosedError, WaitAbortedError, errorMessage } from "../errors.js";
import type { KvKey, Versioned } from "./kv-key.js";
import {
  LIMITS,
  emptyEntry,
  encodeLeaseEntry,
  expiredMembers,
  holderOf,
  join,
  memberId,
  memberOf,
  renewed,
  settle,
  sight,
  transition,
  without,
  type LeaseEntry,
  type Sightings,
} from "./lease-state.js";

/** Default lease: a crashed holder's lock passes on after at most this long. */
export const DEFAULT_LEASE_TTL_MS = 10_000;
/** How often a waiter re-reads the key besides the watch (a lost watch event costs at most this). */
const FALLBACK_POLL_MS = 1_000;

export interface LeaseOptions {
  /** Lease length: a holder that has not renewed for this long loses its grant (default 10 000 ms, min 100). */
  ttlMs?: number;
  /** Called when a grant of this handle was lost (not renewed within its TTL, e.g. the process was paused). */
  onLost?: (fencingToken: number) => void;
  /**
   * Renew grants while this handle is open (default true). `false` is for callers that renew
   * themselves with `renew(fencingToken)`, such as the daemon's HTTP routes: a grant then lapses
   * `ttlMs` after its last renewal.
   */
  autoRenew?: boolean;
}

export interface AcquireOptions {
  /** Give up after this long with LockTimeoutError (default: wait until granted). */
  timeoutMs?: number;
  /** Give up when this signal fires, with WaitAbortedError. */
  signal?: AbortSignal;
}

/** One grant: its fencing token, and how much of its lease is left when it was handed out. */
export interface Grant {
  /** Strictly larger than every earlier grant's token of this lock or semaphore. */
  readonly fencingToken: number;
  readonly permits: number;
  /** Lease time left at hand-out (a full `ttlMs` minus the time since the last renewal). */
  readonly expiresInMs: number;
}

/** A renewed lease: its length, and how much of it is left (counted from before the renewal was sent). */
export interface Renewal {
  readonly ttlMs: number;
  readonly expiresInMs: number;
}

interface Own {
  readonly ticket: number;
  readonly permits: number;
  token?: number;
  /** Monotonic ms at which the last write bumping this member's beat was sent. */
  renewedAt: number;
  waiter?: { resolve: (g: Grant) => void; reject: (e: Error) => void };
}

const mono = (): number => performance.now();

export class LeaseTable {
  private current: Versioned<LeaseEntry> | undefined;
  private sightings: Sightings = new Map();
  private readonly own = new Map<number, Own>();
  private chain: Promise<unknown> = Promise.resolve();
  private stopWatch: (() => void) | undefined;
  private watching: Promise<void> | undefined;
  private readonly ticker: ReturnType<typeof setInterval>;
  private lastRenew = 0;
  private lastPoll = 0;
  private closed = false;
  readonly ttlMs: number;

  constructor(
    private readonly key: KvKey<LeaseEntry>,
    private readonly permits: number,
    readonly owner: string,
    private readonly options: LeaseOptions,
    private readonly onClose: () => void,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < LIMITS.minTtlMs || this.ttlMs > LIMITS.maxTtlMs) {
      throw new InvalidArgumentError(`ttlMs must be an integer from ${LIMITS.minTtlMs} to ${LIMITS.maxTtlMs}; got ${String(options.ttlMs)}`);
    }
    // One timer does everything periodic: renewals, expiry checks and the fallback poll.
    this.ticker = setInterval(() => this.tick(), Math.max(20, Math.min(250, Math.floor(this.ttlMs / 8))));
    this.ticker.unref();
  }

  /** Entries of this key that did not decode (overwritten, counted). */
  get rejected(): number {
    return this.key.rejected;
  }

  /** Tokens of this handle's grants whose lease is still valid by its own clock. */
  grants(): number[] {
    this.checkLost();
    return [...this.own.values()].flatMap((o) => (o.token === undefined ? [] : [o.token]));
  }

  /** Lease left (ms, by this handle's clock) of its grant `token`; undefined when not held. */
  leaseLeft(token: number): number | undefined {
    this.checkLost();
    const own = [...this.own.values()].find((o) => o.token === token);
    return own === undefined ? undefined : Math.max(0, this.leaseEnd(own) - mono());
  }

  /** Wait in FIFO order for `permits` permits. */
  async acquire(permits: number, options: AcquireOptions = {}): Promise<Grant> {
    this.checkPermits(permits);
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) throw new InvalidArgumentError(`timeoutMs must be a number >= 0; got ${timeoutMs}`);
    if (signal?.aborted) throw new WaitAbortedError("acquire was aborted before it started");
    const mine = await this.enqueue(permits);
    const own = this.own.get(mine)!;
    if (own.token !== undefined) return this.handOut(own);
    // Waiting: watch the key (only while waiting: an uncontended lock costs two writes and no
    // more), then read it once for whatever changed before the watch began.
    await this.ensureWatch();
    await this.refresh().catch(() => undefined);
    if (own.token !== undefined && this.own.has(mine)) return this.handOut(own); // granted meanwhile
    return new Promise<Grant>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const giveUp = (error: Error): void => {
        cleanup();
        own.waiter = undefined;
        // Leave the queue; if the grant came meanwhile, this releases it.
        this.own.delete(mine);
        this.mutate((e) => without(e, new Set([memberId({ owner: this.owner, ticket: mine })]))).then(
          () => reject(error),
          () => reject(error),
        );
      };
      const onAbort = (): void => giveUp(new WaitAbortedError(`acquire of ${permits} permit(s) was aborted while waiting`));
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => giveUp(new LockTimeoutError(`not granted ${permits} permit(s) within ${timeoutMs} ms (the holders kept them): retry, raise timeoutMs, or use tryAcquire`)), timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) return onAbort(); // fired while we were joining
      own.waiter = {
        resolve: (g) => {
          cleanup();
          resolve(g);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      this.react();
    });
  }

  /** A grant now if permits are free and nobody waits, else undefined (without queueing). */
  async tryAcquire(permits: number): Promise<Grant | undefined> {
    this.checkPermits(permits);
    let ticket: number | undefined;
    const sentAt = mono();
    await this.mutate((e) => {
      ticket = undefined;
      if (e.members.some((m) => m.token === undefined)) return undefined; // FIFO: no jumping the queue
      const joined = join(e, this.owner, permits, this.ttlMs);
      if (memberOf(settle(joined.entry, 0), this.owner, joined.ticket)?.token === undefined) return undefined;
      ticket = joined.ticket;
      return joined.entry;
    });
    if (ticket === undefined) return undefined;
    const own = this.own.get(ticket) ?? this.adopt(ticket, permits, sentAt);
    return own.token === undefined ? undefined : this.handOut(own);
  }

  /**
   * Release a grant: the given token's (any holder's: whoever has the token is the holder, as for
   * the daemon's HTTP leases), or this handle's latest. False when it is not (or no longer) held.
   */
  async release(fencingToken?: number): Promise<boolean> {
    const own = [...this.own.values()].filter((o) => o.token !== undefined && (fencingToken === undefined || o.token === fencingToken)).pop();
    if (own !== undefined) this.own.delete(own.ticket);
    const token = fencingToken ?? own?.token;
    if (token === undefined) return false;
    let found = false;
    await this.mutate((e) => {
      const holder = holderOf(e, token);
      found = holder !== undefined && (own === undefined || holder.owner === this.owner);
      return found ? without(e, new Set([memberId(holder!)])) : undefined;
    });
    return found;
  }

  /** Renew the grant holding `fencingToken`: its TTL and the lease left, or undefined when it is not held. */
  async renew(fencingToken: number): Promise<Renewal | undefined> {
    let ttlMs: number | undefined;
    const sentAt = mono();
    await this.mutate((e) => {
      const holder = holderOf(e, fencingToken);
      ttlMs = holder?.ttlMs;
      return holder === undefined ? undefined : renewed(e, new Set([memberId(holder)]));
    });
    return ttlMs === undefined ? undefined : { ttlMs, expiresInMs: Math.max(0, ttlMs - (mono() - sentAt)) };
  }

  /** The key as last read: holders (token, owner) and the number waiting. */
  async inspect(): Promise<{ permits: number; holders: { fencingToken: number; owner: string; permits: number }[]; waiting: number }> {
    const { value } = await this.key.read();
    const e = value ?? emptyEntry(this.permits);
    const holders = e.members.flatMap((m) => (m.token === undefined ? [] : [{ fencingToken: m.token, owner: m.owner, permits: m.permits }]));
    return { permits: e.permits, holders, waiting: e.members.length - holders.length };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    this.stopWatch?.();
    this.onClose();
    const leaving = new Set<string>();
    for (const o of this.own.values()) {
      o.waiter?.reject(new ReplicatorClosedError("the lock handle was closed while waiting"));
      // Manual (HTTP) grants outlive the handle; everything else leaves the key.
      if (o.token === undefined || this.options.autoRenew !== false) leaving.add(memberId({ owner: this.owner, ticket: o.ticket }));
    }
    this.own.clear();
    if (leaving.size > 0) await this.write((e) => without(e, leaving)).catch(() => undefined);
  }

  // ------------------------------------------------------------------ internals

  private checkPermits(permits: number): void {
    if (this.closed) throw new ReplicatorClosedError("this lock handle is closed: create a new one");
    if (!Number.isSafeInteger(permits) || permits < 1 || permits > this.permits) {
      throw new InvalidArgumentError(`permits must be an integer from 1 to ${this.permits}; got ${permits}`);
    }
  }

  private async enqueue(permits: number): Promise<number> {
    let ticket = 0;
    const sentAt = mono();
    await this.mutate((e) => {
      if (e.permits !== this.permits) {
        throw new ConfigError(`"${this.key.key}" was created with ${e.permits} permit(s), not ${this.permits}: use the same number everywhere`);
      }
      if (e.members.length >= LIMITS.maxMembers) throw new InvalidArgumentError(`more than ${LIMITS.maxMembers} holders and waiters on one lock: retry later`);
      const joined = join(e, this.owner, permits, this.ttlMs);
      ticket = joined.ticket;
      return joined.entry;
    });
    if (!this.own.has(ticket)) this.adopt(ticket, permits, sentAt);
    return ticket;
  }

  /** Start tracking a member this handle just wrote, with what the write gave it. */
  private adopt(ticket: number, permits: number, sentAt: number): Own {
    const m = this.current?.value && memberOf(this.current.value, this.owner, ticket);
    const own: Own = { ticket, permits, renewedAt: sentAt, ...(m?.token === undefined ? {} : { token: m.token }) };
    this.own.set(ticket, own);
    return own;
  }

  private handOut(own: Own): Grant {
    if (this.options.autoRenew === false) this.own.delete(own.ticket); // the caller renews from now on
    return { fencingToken: own.token!, permits: own.permits, expiresInMs: Math.max(0, this.leaseEnd(own) - mono()) };
  }

  /** The holder gives up a little before observers may evict it (clock rates differ slightly). */
  private leaseEnd(own: Own): number {
    return own.renewedAt + this.ttlMs - Math.max(10, this.ttlMs / 10);
  }

  /** Drop grants whose lease ran out by this handle's clock, and say so. */
  private checkLost(): void {
    if (this.options.autoRenew === false) return;
    const now = mono();
    for (const o of [...this.own.values()]) {
      if (o.token === undefined || now < this.leaseEnd(o)) continue;
      this.lose(o);
    }
  }

  private lose(o: Own): void {
    if (!this.own.delete(o.ticket)) return;
    const id = memberId({ owner: this.owner, ticket: o.ticket });
    void this.mutate((e) => (memberOf(e, this.owner, o.ticket) ? without(e, new Set([id])) : undefined)).catch(() => undefined);
    if (o.token !== undefined) this.options.onLost?.(o.token);
  }

  /** Serialize this handle's writes: they would only conflict with each other. */
  private mutate(change: (e: LeaseEntry) => LeaseEntry | undefined): Promise<void> {
    const run = this.chain.then(() => this.write(change));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Compare-and-set loop: apply `change` (plus evictions and grants) to the freshest entry until it sticks. */
  private async write(change: (e: LeaseEntry) => LeaseEntry | undefined): Promise<void> {
    // The cached entry may be stale (nobody watches while nobody waits): a decision not to write is
    // made again on a fresh read; a write from a stale entry fails its revision check and re-reads.
    let cached = this.current !== undefined;
    for (;;) {
      const cur = cached ? this.current! : await this.refresh();
      const base = cur.value ?? emptyEntry(this.permits);
      const expired = expiredMembers(base, this.sightings, mono()).filter((m) => m.owner !== this.owner);
      const next = transition(base, cur.revision, change, expired);
      if (next === undefined) {
        if (!cached) return;
        cached = false;
        continue;
      }
      const bytes = encodeLeaseEntry(next);
      if (bytes.length > LIMITS.maxEntryBytes) throw new InvalidArgumentError(`the lock entry would exceed ${LIMITS.maxEntryBytes} bytes: fewer waiters or shorter owner names`);
      const sentAt = mono();
      const revision = await this.key.write(bytes, cur);
      if (revision === "conflict") {
        cached = false;
        continue;
      }
      this.renewedOwn(base, next, sentAt);
      this.see({ value: next, revision, cas: revision }, sentAt);
      return;
    }
  }

  /** A write of ours restarts the lease of each of our members that it added or whose beat it bumped. */
  private renewedOwn(before: LeaseEntry, after: LeaseEntry, sentAt: number): void {
    for (const m of after.members) {
      if (m.owner !== this.owner) continue;
      const own = this.own.get(m.ticket);
      const old = memberOf(before, this.owner, m.ticket);
      if (own !== undefined && (old === undefined || old.beat !== m.beat)) own.renewedAt = sentAt;
    }
  }

  private async refresh(): Promise<Versioned<LeaseEntry>> {
    const read = await this.key.read();
    this.see(read, mono(), true);
    return this.current!;
  }

  /**
   * Take a newer version of the key into account (from a watch or our own write; a read is taken
   * at an equal revision too, for its fresher compare-and-set sequence).
   */
  private see(v: Versioned<LeaseEntry>, at: number, read = false): void {
    if (this.current !== undefined && (read ? v.revision < this.current.revision : v.revision <= this.current.revision)) return;
    this.current = v;
    this.sightings = sight(this.sightings, v.value ?? emptyEntry(this.permits), at);
    this.react();
  }

  /** Settle what the latest entry decides for our waiters: granted, or evicted (join again). */
  private react(): void {
    const e = this.current?.value;
    if (e === undefined) return;
    for (const o of this.own.values()) {
      const m = memberOf(e, this.owner, o.ticket);
      if (m === undefined) {
        if (o.token !== undefined) this.lose(o);
        else if (o.waiter) this.requeue(o);
        continue;
      }
      if (o.token === undefined && m.token !== undefined) {
        o.token = m.token;
        const waiter = o.waiter;
        o.waiter = undefined;
        waiter?.resolve(this.handOut(o));
      }
    }
  }

  /** A waiter of ours was evicted (we were paused past its TTL): take a new place at the back. */
  private requeue(o: Own): void {
    this.own.delete(o.ticket);
    const waiter = o.waiter!;
    o.waiter = undefined;
    this.enqueue(o.permits).then(
      (ticket) => {
        const fresh = this.own.get(ticket)!;
        fresh.waiter = waiter;
        this.react();
      },
      (error: unknown) => waiter.reject(error instanceof Error ? error : new LockTimeoutError(errorMessage(error))),
    );
  }

  private ensureWatch(): Promise<void> {
    this.watching ??= this.key.watch((v) => this.see(v, mono())).then(
      (stop) => {
        if (this.closed) stop();
        else this.stopWatch = stop;
      },
      () => {
        this.watching = undefined; // the poll covers; try again at the next wait
      },
    );
    return this.watching;
  }

  private tick(): void {
    if (this.closed) return;
    if (this.stopWatch !== undefined && ![...this.own.values()].some((o) => o.token === undefined)) {
      this.stopWatch();
      this.stopWatch = undefined;
      this.watching = undefined;
    }
    if (this.own.size === 0) return;
    this.checkLost();
    const now = mono();
    const e = this.current?.value;
    // Every member still tracked is renewed: grants (manual ones are not tracked) and waiters.
    const renew = this.own.size > 0 && now - this.lastRenew >= this.ttlMs / 3;
    const evict = e !== undefined && expiredMembers(e, this.sightings, now).some((m) => m.owner !== this.owner);
    if (renew || evict) {
      if (renew) this.lastRenew = now;
      const mine = new Set([...this.own.keys()].map((ticket) => memberId({ owner: this.owner, ticket })));
      void this.mutate((x) => (renew ? renewed(x, mine) : undefined)).catch(() => undefined);
    } else if ([...this.own.values()].some((o) => o.token === undefined) && now - this.lastPoll >= FALLBACK_POLL_MS) {
      this.lastPoll = now;
      void this.refresh().catch(() => undefined);
    }
  }
}
