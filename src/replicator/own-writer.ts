/**
 * This node's writer id, which changes at run time when another node has folded it away (a node
 * removed and away longer than `pruneRetiredAfterMs` that was in fact alive: a long partition).
 * Every merge that brings a fold id of this node covering ids it holds passes here: the node takes
 * a fresh writer id above the fold and re-issues, under it, what the fold did not include
 * (crdt/comeback.ts), published like a write. What cannot be re-issued exactly is counted and reported.
 */
import { reissueCovered } from "../crdt/comeback.js";
import { dataTypes } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { coverageOf, highestFold, isCovered, parseWriter } from "../crdt/writer-ids.js";
import { CrdtReplicatorError } from "../errors.js";
import type { ReplicatorStats } from "../extension/stats.js";
import { writerIdFor } from "./identity.js";

export interface OwnWriterHooks {
  /** Publish `delta`, the re-issued effects in `key` (as a write's delta). */
  publish(key: string, kind: DataKind, delta: Crdt): void;
  stats: ReplicatorStats;
  reportError(error: unknown): void;
}

export class OwnWriter {
  private readonly foldPrefix: string;
  /** The incarnation of the first id this process wrote under: it knows every dot of its ids from there. */
  private readonly authoredFrom: number;

  constructor(
    private readonly nodeId: string,
    private writerId: string,
    private readonly hooks: OwnWriterHooks,
  ) {
    this.foldPrefix = `${nodeId}^`;
    this.authoredFrom = parseWriter(writerId)?.incarnation ?? 0;
  }

  /** The id this node's counter slots and dots are written under now. */
  get id(): string {
    return this.writerId;
  }

  /**
   * `merged` (`before` merged with `incoming` in `key`), with the effects re-issued that a fold of
   * this node's ids in `incoming` dropped; `merged` itself in the usual case (no such fold).
   */
  afterMerge(key: string, kind: DataKind, before: Crdt, incoming: Crdt, merged: Crdt): Crdt {
    const pruning = dataTypes.get(kind)?.pruning;
    if (pruning === undefined || !pruning.writers(incoming).some((id) => id.startsWith(this.foldPrefix))) return merged;
    const after = pruning.writers(merged);
    const coverage = coverageOf(after);
    if (coverage === undefined || !pruning.writers(before).some((id) => parseWriter(id)?.node === this.nodeId && isCovered(id, coverage))) return merged;
    if (isCovered(this.writerId, coverage)) this.renew(highestFold(after, this.nodeId));
    const reissued = reissueCovered(before, merged, this.nodeId, this.writerId, this.authoredFrom);
    const lost = reissued === undefined ? 1 : reissued.lost;
    if (lost > 0) {
      this.hooks.stats.comebackLost += lost;
      this.hooks.reportError(
        new CrdtReplicatorError(
          `key "${key}": ${lost} effect(s) of this node's writes under ids another node folded (it was removed and away longer than pruneRetiredAfterMs) could not be re-issued exactly`,
        ),
      );
    }
    if (reissued?.delta === undefined) return reissued?.value ?? merged;
    this.hooks.stats.comebackReissues++;
    this.hooks.publish(key, kind, reissued.delta);
    return reissued.value;
  }

  /** A fresh writer id above the fold incarnation `fold` (and above the current one). */
  private renew(fold: number): void {
    const current = parseWriter(this.writerId)?.incarnation ?? 0;
    this.writerId = writerIdFor(this.nodeId, Math.max(current, fold) + 1);
    this.hooks.stats.writerIdRenewals++;
  }
}
