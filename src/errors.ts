/**
 * Typed errors. Every error the library throws on purpose is a CrdtReplicatorError (one of these
 * classes); `name` equals the class name so it survives serialization and `instanceof` across
 * realms is not needed. test/errors.test.ts checks both.
 */
export class CrdtReplicatorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An argument is outside what the API accepts; the message says what is allowed. */
export class InvalidArgumentError extends CrdtReplicatorError {}

/** Bytes that are not a valid message of the expected kind (garbage, truncated, mistyped). */
export class DecodeError extends CrdtReplicatorError {}

/** A counter sum no longer fits a JavaScript number exactly; read `bigValue` instead. */
export class PrecisionError extends CrdtReplicatorError {}

/** The key was deleted (a tombstone exists); it cannot be updated until the tombstone expires. */
export class KeyDeletedError extends CrdtReplicatorError {}

/** The key is stored with another data type than the one the typed key names. */
export class KeyTypeMismatchError extends CrdtReplicatorError {}

/** The replicator was closed; create a new one with `Replicator.start`. */
export class ReplicatorClosedError extends CrdtReplicatorError {}

/** A coordinated write got fewer acknowledgements than asked in time. The local write stands. */
export class WriteTimeoutError extends CrdtReplicatorError {}

/** A coordinated read got fewer replies than asked in time. */
export class ReadTimeoutError extends CrdtReplicatorError {}

/** Options given to `Replicator.start` (or the daemon) are invalid; the message names the option. */
export class ConfigError extends CrdtReplicatorError {}

/** The NATS connection could not be established or authenticated. */
export class ConnectionError extends CrdtReplicatorError {}

/**
 * A durable write (`durable: true`, or the snapshot's `writeThrough`) could not be written to the
 * snapshot database. The change stands in memory and replicates; the snapshot retries it at its
 * next interval. Check the disk (space, permissions) and retry the write to know it is durable.
 */
export class DurableWriteError extends CrdtReplicatorError {}

/**
 * A peer, a remote data center or a server answered outside the protocol: an error reply, a reply
 * of the wrong kind, or a message too large to carry. The message names who and what.
 */
export class ProtocolError extends CrdtReplicatorError {}

/** A request got no reply in time, or nobody listens on the subject. */
export class RequestFailedError extends CrdtReplicatorError {
  constructor(
    message: string,
    readonly reason: "timeout" | "no-responders" | "closed",
  ) {
    super(message);
  }
}

/** The remote DC's nodes answered, but refused the batch (they say why). */
export class BatchRejectedError extends CrdtReplicatorError {}

/**
 * `MemoryNetwork.settle` or `deliverAll` could not empty the network within its time or delivery
 * limit: some handler likely answers every message with another one.
 */
export class SettleTimeoutError extends CrdtReplicatorError {}

/**
 * A lock or semaphore was not granted within `timeoutMs` (the caller left the queue). Retry later,
 * raise `timeoutMs`, or use `tryAcquire` to not wait at all.
 */
export class LockTimeoutError extends CrdtReplicatorError {}

/**
 * Not all `expected` participants reached the barrier within `timeoutMs` (one may have crashed);
 * this caller left the round. Check the missing participants, then call `arrive` again.
 */
export class BarrierTimeoutError extends CrdtReplicatorError {}

/** The caller's AbortSignal fired while it waited (for a lock, a permit, a barrier); it left the queue. */
export class WaitAbortedError extends CrdtReplicatorError {}

/**
 * The message of anything thrown (an Error's message, or the value as text), for error reports.
 * @internal
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
