/**
 * What a chaos run writes down: one record per client operation and one per fault actually
 * injected (with the times it really started and ended), as JSON lines in the run directory.
 * All times are ms since the run started, on the harness's monotonic clock (never a node's clock,
 * which the run shifts on purpose).
 */

export type ValueType = "gcounter" | "orset" | "lwwregister" | "lwwmap";
export type Level = "local" | "majority";

/**
 * ok: the node acknowledged (2xx). failed: the operation certainly did not happen (connection
 * refused, 4xx, 503 not ready, a read that timed out). unknown: it may or may not have happened
 * (timeouts, resets after the request was sent, a 504 coordination timeout).
 */
export type Outcome = "ok" | "failed" | "unknown";

interface OpBase {
  id: number;
  /** Node index the client sent the operation to. */
  node: number;
  key: string;
  type: ValueType;
  level: Level;
  start: number;
  end: number;
  outcome: Outcome;
  /** HTTP status, when a response came back. */
  status?: number;
  error?: string;
}

export interface WriteOp extends OpBase {
  kind: "write";
  /** gcounter: `by`; orset and lwwregister: `value` (unique per run); lwwmap: `field` and `value`. */
  args: { by?: number; value?: string; field?: string };
  /**
   * The node applied the write locally although the coordination timed out (HTTP 504 with the
   * written value): the library promises such a write stands and still replicates.
   */
  localApplied?: boolean;
  /** lwwregister writes applied here: the write's timestamp, from the reply. */
  timestamp?: number;
}

export interface ReadOp extends OpBase {
  kind: "read";
  /** ok reads: the value seen (null: the key was not found). */
  value?: ReadValue;
}

export type ReadValue = null | number | string[] | { value: string | null; timestamp: number };

export type Op = WriteOp | ReadOp;

export interface FaultRecord {
  kind: string;
  /** Node index (node faults), broker index (broker faults). */
  target: number;
  start: number;
  /** When the fault was undone (a restarted node: once it answered /readyz again). */
  end: number;
  /** The node process was SIGKILLed at `start` (a crash, also a graceful stop that had to be forced). */
  killed?: boolean;
  /** Restarts: the snapshot directory was wiped before the restart. */
  wiped?: boolean;
  /** Restarts: the new clock offset of the node, when the restart changed it. */
  clockOffsetMs?: number;
  note?: string;
}

/** The final JSON view of every key, per node (index = node), read after the heal. */
export type FinalStates = Record<string, unknown>[];
