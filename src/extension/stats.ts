/**
 * Plain counters the replicator's parts and its extensions increment on their hot paths. The
 * OpenTelemetry module (src/metrics/) reads them through observable instruments, so counting costs
 * one addition and nothing is allocated per event. Distributions go through `record`, which is a
 * no-op until someone listens (`onRecord`: the metrics module, the daemon's lag window).
 */

export type RejectReason =
  | "decode"
  | "oversized"
  | "forged-origin"
  | "type-mismatch"
  | "unknown-type"
  | "deleted-key"
  | "stale-incarnation"
  | "bad-request"
  | "clock-skew"
  // Refused by the authenticated frame (src/security/), before decoding:
  | "unauthenticated"
  | "bad-signature"
  | "untrusted-signer"
  | "expired"
  | "replayed"
  /** An envelope ahead of its origin's stream by more than can be repaired: delivered, not tracked. */
  | "sequence-jump"
  /** A request for state from a node that is not a member (see request-server.ts). */
  | "not-member"
  /** A request or hello past its sender's (or everyone's) rate: dropped unanswered. */
  | "rate-limited";

export type RepairCause = "gap" | "join" | "reconnect" | "periodic" | "leader" | "manual";

export type HistogramName =
  | "replication.lag" // origin send → merge here, ms
  | "coordinated.latency" // coordinated write/read duration, ms
  | "delta.bytes" // bytes of one published envelope
  | "crossdc.batch.bytes"; // bytes of one cross-DC batch

export type Recorder = (name: HistogramName, value: number) => void;

export class ReplicatorStats {
  mergeCount = 0;
  deltaPublishCount = 0;
  deltaReceiveCount = 0;
  envelopePublishCount = 0;
  bytesPublished = 0;
  coordinatedWriteCount = 0;
  coordinatedReadCount = 0;
  antiEntropyCount = 0;
  crossdcSendCount = 0;
  crossdcReceiveCount = 0;
  crossdcStaleSkipCount = 0;
  /** ns between the origin's send time and receipt of the last cross-DC batch (GoAkt's gauge). */
  crossdcReplicationLagNs = 0;
  snapshotWriteCount = 0;
  snapshotFailureCount = 0;
  snapshotSkippedEntries = 0;
  subscriberErrorCount = 0;
  /** Values too large for a request/reply message, sent to one peer in chunks by anti-entropy. */
  largeValueSends = 0;
  /** Keys received by bulk pulls (whole leaf ranges, e.g. when joining with an empty store). */
  bulkPullKeys = 0;
  /** Heartbeats of another live process using this node's id (another incarnation). */
  duplicateNodeHeartbeats = 0;
  /** Keys in which this node folded its retired writer ids (see crdt/writer-ids.ts). */
  retiredFolds = 0;
  /** Keys in which this node, as leader, folded the ids of a node removed longer than pruneRetiredAfterMs. */
  removedFolds = 0;
  /** Fresh writer ids this node took because another node folded its live one (see replicator/own-writer.ts). */
  writerIdRenewals = 0;
  /** Keys in which this node re-issued effects such a fold dropped. */
  comebackReissues = 0;
  /** Effects such a fold dropped that could not be re-issued exactly, and effects of another node a fold of its ids dropped here without including them (reported as errors too). */
  comebackLost = 0;
  /** Starts whose check for another holder of the node id timed out (the start went on). */
  identityCheckTimeouts = 0;
  /** Values of a losing data type replaced by the key's winning type (a key written with two types). */
  typeConflicts = 0;
  /** Gauges of what the inbox holds for others (bounded, see replicator/inbox.ts): origins with a sequence track, chunked values in progress and their memory. */
  trackedOrigins = 0;
  chunkedValues = 0;
  chunkBytes = 0;
  /** Chunked values dropped unfinished (too old, or pushed out by newer ones). */
  chunkEvictions = 0;
  readonly rejected = new Map<RejectReason, number>();
  readonly repairs = new Map<RepairCause, number>();

  private readonly recorders = new Set<Recorder>();

  reject(reason: RejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  repair(cause: RepairCause): void {
    this.repairs.set(cause, (this.repairs.get(cause) ?? 0) + 1);
  }

  record(name: HistogramName, value: number): void {
    for (const r of this.recorders) r(name, value);
  }

  /** Whether anyone hears `record`: a value that costs something to measure (a clock read) is measured only then. */
  get recording(): boolean {
    return this.recorders.size > 0;
  }

  /** Hear every `record`; returns the function that stops it. */
  onRecord(recorder: Recorder): () => void {
    this.recorders.add(recorder);
    return () => this.recorders.delete(recorder);
  }

  get rejectedTotal(): number {
    let n = 0;
    for (const v of this.rejected.values()) n += v;
    return n;
  }
}
