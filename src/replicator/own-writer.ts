/**
 * This node's writer id, which changes at run time when another node has folded it away (a node
 * removed and away longer than `pruneRetiredAfterMs` that was in fact alive: a long partition).
 * Every merge that brings a fold id of this node covering ids it holds passes here: the node takes
 * a fresh writer id above the fold and re-issues, under it, what the fold did not include
 * (crdt/comeback.ts), published like a write. What cannot be re-issued exactly is counted and reported,
 * and so is what a fold of another node's ids dropped here that the fold did not include.
 */
import { droppedEffects, reissueCovered } from "../crdt/comeback.js";
import { dataTypes } from "../crdt/registry.js";
import type { Crdt, DataKind } from "../crdt/types.js";
import { coverageOf, foldIdOf, highestFold, isDropped, mayBeFoldId, parseWriter } from "../crdt/writer-ids.js";
import { CrdtReplicatorError } from "../errors.js";
import type { ReplicatorStats } from "../extension/stats.js";
import { writerIdFor } from "./identity.js";

export interface OwnWriterHooks {
  /** Publish `delta`, the re-issued effects in `key` (as a write's delta). */
  publish(key: string, delta: Crdt): void;
  /** The id was renewed to `incarnation`: no later process of this node may take it (identity.ts). */
  renewed(incarnation: number): void;
  stats: ReplicatorStats;
  reportError(error: unknown): void;
}

export class OwnWriter {
  /** The incarnation of the first id this process wrote under: it knows every dot of its ids from there. */
  private readonly authoredFrom: number;
  private writerId!: string;
  /** The writer id's fold id, which it adopts in the keys it folded (parsed once per id: every write asks). */
  private foldId: string | undefined;

  constructor(
    private readonly nodeId: string,
    writerId: string,
    private readonly hooks: OwnWriterHooks,
  ) {
    this.authoredFrom = parseWriter(writerId)?.incarnation ?? 0;
    this.use(writerId);
  }

  private use(writerId: string): void {
    this.writerId = writerId;
    this.foldId = foldIdOf(writerId);
  }

  /** The id this node's counter slots and dots are written under now. */
  get id(): string {
    return this.writerId;
  }

  /**
   * `merged` (`before` merged with `incoming` in `key`), with the effects re-issued that a fold of
   * this node's ids in `incoming` dropped; `merged` itself in the usual case (no such fold). What
   * a fold of another node's ids dropped here, that the fold did not include, is reported.
   */
  afterMerge(key: string, kind: DataKind, before: Crdt, incoming: Crdt, merged: Crdt): Crdt {
    const pruning = dataTypes.get(kind)?.pruning;
    if (pruning === undefined || !(pruning.mayHoldFoldId?.(incoming) ?? pruning.writers(incoming).some(mayBeFoldId))) return merged;
    const after = pruning.writers(merged);
    const coverage = coverageOf(after);
    if (coverage === undefined) return merged;
    // Ids a fold id only adopted (renamed: their node's own fold) lose nothing; dropped ones may have.
    const droppedNodes = new Set(pruning.writers(before).filter((id) => isDropped(id, coverage)).map((id) => parseWriter(id)!.node));
    for (const node of droppedNodes) {
      if (node === this.nodeId) continue;
      const lost = droppedEffects(before, merged, node);
      if (lost > 0) this.report(lost, `key "${key}": ${lost} effect(s) of node ${node}'s writes held here were dropped by a fold of its ids that did not include them (lost unless ${node} comes back and re-issues them, or, for set elements and map keys, removed elsewhere meanwhile)`);
    }
    // A marker of this node made after this process started (its ids were absorbed while it was
    // cut off): it covers this process's fold ids (writer-ids.ts Coverage), so this process writes,
    // and folds, above it from now on.
    const markedAt = coverage.markedAt.get(this.nodeId);
    if (markedAt !== undefined && markedAt >= this.incarnation && !after.some((id) => this.isLaterOwnFold(id))) this.renew(markedAt);
    if (!droppedNodes.has(this.nodeId)) return merged;
    // A later process of this node folded (only a process makes its own `node^inc`, at its own
    // incarnation): this one is not the node's live process any more (closing, or a duplicate the
    // start check missed). It re-issues nothing: the later process folded these ids as it knew them,
    // and what it holds that this one never saw is no removed write of this one's to undo.
    if (after.some((id) => this.isLaterOwnFold(id))) return merged;
    if (isDropped(this.writerId, coverage)) this.renew(highestFold(after, this.nodeId));
    const reissued = reissueCovered(before, merged, this.nodeId, this.writerId, this.authoredFrom);
    const lost = reissued === undefined ? 1 : reissued.lost;
    if (lost > 0) {
      this.report(
        lost,
        `key "${key}": ${lost} effect(s) of this node's writes under ids another node folded (it was removed and away longer than pruneRetiredAfterMs) could not be re-issued exactly (set elements and map keys re-added that another node may have removed meanwhile count here)`,
      );
    }
    if (reissued?.delta === undefined) return reissued?.value ?? merged;
    this.hooks.stats.comebackReissues++;
    this.hooks.publish(key, reissued.delta);
    return reissued.value;
  }

  private isLaterOwnFold(id: string): boolean {
    const w = parseWriter(id);
    return w !== undefined && w.node === this.nodeId && id.includes("^") && w.incarnation > this.incarnation;
  }

  private get incarnation(): number {
    return parseWriter(this.writerId)?.incarnation ?? 0;
  }

  private report(lost: number, message: string): void {
    this.hooks.stats.comebackLost += lost;
    this.hooks.reportError(new CrdtReplicatorError(message));
  }

  /**
   * The id this node writes under in a key holding `value`: its fold id where it folded the key
   * (the fold adopted the live id there, crdt/writer-ids.ts), else its live writer id.
   */
  writerIn(kind: DataKind, value: Crdt): string {
    const fold = this.foldId;
    return fold !== undefined && dataTypes.get(kind)?.pruning?.holds(value, fold) === true ? fold : this.writerId;
  }

  /** A fresh writer id above the fold incarnation (or marker time) `fold`, and above the current one. */
  private renew(fold: number): void {
    const incarnation = Math.max(this.incarnation, fold) + 1;
    this.use(writerIdFor(this.nodeId, incarnation));
    this.hooks.renewed(incarnation);
    this.hooks.stats.writerIdRenewals++;
  }
}
