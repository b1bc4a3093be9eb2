/**
 * `d.semaphore(name, permits)`: up to `permits` permits held at once, FIFO handoff, each grant a
 * lease with its own fencing token (see lease-table.ts). One handle is one owner and may hold
 * several grants.
 */
import { LeaseHandle } from "./lease-handle.js";
import type { AcquireOptions, Grant, LeaseTable } from "./lease-table.js";

export interface SemaphoreAcquireOptions extends AcquireOptions {
  /** Permits this grant takes (default 1). */
  permits?: number;
}

export class Semaphore extends LeaseHandle {
  /** @internal */
  constructor(
    table: LeaseTable,
    /** Permits of the semaphore. */
    readonly permits: number,
  ) {
    super(table);
  }

  /** Fencing tokens of this handle's grants whose lease is still valid. */
  get held(): readonly number[] {
    return this.table.grants();
  }

  /** Lease left (ms, by this process's clock) of this handle's grant `fencingToken`; undefined when not held. */
  expiresInMs(fencingToken: number): number | undefined {
    return this.table.leaseLeft(fencingToken);
  }

  /** Wait for permits (FIFO); LockTimeoutError after `timeoutMs`, WaitAbortedError on `signal`. */
  acquire(options: SemaphoreAcquireOptions = {}): Promise<Grant> {
    return this.table.acquire(options.permits ?? 1, options);
  }

  /** Permits now if they are free and nobody waits, else undefined. */
  tryAcquire(options: { permits?: number } = {}): Promise<Grant | undefined> {
    return this.table.tryAcquire(options.permits ?? 1);
  }
}
