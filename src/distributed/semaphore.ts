/**
 * `d.semaphore(name, permits)`: up to `permits` permits held at once, FIFO handoff, each grant a
 * lease with its own fencing token (see lease-table.ts). One handle is one owner and may hold
 * several grants.
 */
import type { AcquireOptions, Grant, LeaseTable, Renewal } from "./lease-table.js";

export interface SemaphoreAcquireOptions extends AcquireOptions {
  /** Permits this grant takes (default 1). */
  permits?: number;
}

export class Semaphore {
  /** @internal */
  constructor(
    private readonly table: LeaseTable,
    /** Permits of the semaphore. */
    readonly permits: number,
  ) {}

  /** Fencing tokens of this handle's grants whose lease is still valid. */
  get held(): readonly number[] {
    return this.table.grants();
  }

  /** Lease left (ms, by this process's clock) of this handle's grant `fencingToken`; undefined when not held. */
  expiresInMs(fencingToken: number): number | undefined {
    return this.table.leaseLeft(fencingToken);
  }

  get ttlMs(): number {
    return this.table.ttlMs;
  }

  /** Entries of this semaphore's key that did not decode (rejected and overwritten). */
  get rejected(): number {
    return this.table.rejected;
  }

  /** Wait for permits (FIFO); LockTimeoutError after `timeoutMs`, WaitAbortedError on `signal`. */
  acquire(options: SemaphoreAcquireOptions = {}): Promise<Grant> {
    return this.table.acquire(options.permits ?? 1, options);
  }

  /** Permits now if they are free and nobody waits, else undefined. */
  tryAcquire(options: { permits?: number } = {}): Promise<Grant | undefined> {
    return this.table.tryAcquire(options.permits ?? 1);
  }

  /** Release the grant of `fencingToken` (default: this handle's latest); false if not held. */
  release(fencingToken?: number): Promise<boolean> {
    return this.table.release(fencingToken);
  }

  renew(fencingToken: number): Promise<Renewal | undefined> {
    return this.table.renew(fencingToken);
  }

  inspect(): ReturnType<LeaseTable["inspect"]> {
    return this.table.inspect();
  }

  close(): Promise<void> {
    return this.table.close();
  }
}
