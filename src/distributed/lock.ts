/**
 * `d.lock(name)`: a distributed mutex with leases and fencing tokens (see lease-table.ts for the
 * protocol). One handle is one owner; it is not reentrant.
 */
import { InvalidArgumentError } from "../errors.js";
import { LeaseHandle } from "./lease-handle.js";
import type { AcquireOptions, Grant } from "./lease-table.js";

export class Lock extends LeaseHandle {
  private pending = false;

  /** Whether this handle holds the lock and its lease has not run out (checked on every read). */
  get held(): boolean {
    return this.table.grants().length > 0;
  }

  /** The fencing token of the current grant, if held. */
  get fencingToken(): number | undefined {
    return this.table.grants()[0];
  }

  /**
   * Lease left (ms) of the current grant by this process's clock, undefined when not held: work
   * that needs longer may outlive the grant (the renewals may fail meanwhile).
   */
  get expiresInMs(): number | undefined {
    const token = this.fencingToken;
    return token === undefined ? undefined : this.table.leaseLeft(token);
  }

  /**
   * Wait for the lock (FIFO among waiters). Rejects with LockTimeoutError after `timeoutMs`,
   * WaitAbortedError when `signal` fires, InvalidArgumentError when this handle holds or waits already.
   */
  async acquire(options: AcquireOptions = {}): Promise<Grant> {
    if (this.pending || this.held) throw new InvalidArgumentError("this lock handle already holds or waits for the lock (locks are not reentrant): release() first, or use another handle");
    this.pending = true;
    try {
      return await this.table.acquire(1, options);
    } finally {
      this.pending = false;
    }
  }

  /** The lock now if it is free and nobody waits, else undefined. */
  async tryAcquire(): Promise<Grant | undefined> {
    if (this.pending || this.held) return undefined;
    return this.table.tryAcquire(1);
  }
}
