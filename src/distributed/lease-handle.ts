/**
 * What a lock and a semaphore handle share: one owner's view of a lease table (lease-table.ts),
 * releasing, renewing and inspecting its grants.
 */
import type { LeaseTable, Renewal } from "./lease-table.js";

export abstract class LeaseHandle {
  /** @internal */
  constructor(protected readonly table: LeaseTable) {}

  /** Lease length of this handle's grants (ms). */
  get ttlMs(): number {
    return this.table.ttlMs;
  }

  /** Entries of this primitive's key that did not decode (overwritten), and answers to its writes that were not acks (ignored). */
  get rejected(): number {
    return this.table.rejected;
  }

  /**
   * Release this handle's grant (a semaphore: its latest), or the grant of `fencingToken` (whoever
   * holds the token holds the lease: the daemon's HTTP leases). False for anyone but the holder.
   */
  release(fencingToken?: number): Promise<boolean> {
    return this.table.release(fencingToken);
  }

  /** Renew the grant of `fencingToken` by hand (handles made with `autoRenew: false`): the lease left, or undefined if lost. */
  renew(fencingToken: number): Promise<Renewal | undefined> {
    return this.table.renew(fencingToken);
  }

  /** Who holds it now and how many wait (one read of the key). */
  inspect(): ReturnType<LeaseTable["inspect"]> {
    return this.table.inspect();
  }

  /** Stop renewing; grants held by this handle are released (manual grants are left to lapse). */
  close(): Promise<void> {
    return this.table.close();
  }
}
