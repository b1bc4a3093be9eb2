/**
 * A node's comeback after its ids were folded by another node (pure; see ARCHITECTURE.md
 * "Pruning retired writers").
 *
 * A node removed from the membership and away longer than `pruneRetiredAfterMs` has its ids folded
 * by the leader: absorbed under a marker `node#i.t` (or, in an older cluster, folded into `node!inc`),
 * which covers them on every replica. If it was in fact alive (a long partition), its writes the
 * leader never saw are under a covered id: the merge that brings the fold drops them. So, in that
 * merge, the node compares what it held of its own ids before (`before`) with what the merged value
 * keeps of them (`merged`: the fold's share, as the leader knew it) and re-issues the difference
 * under a fresh writer id (`fresh`, above the fold).
 *
 * Counters: before the merge the node holds S = the sum of its own node's slots; after it, F = the
 * fold slot or the marker's (which records the amount the leader moved into its own slot), plus any
 * uncovered own slot. The node knows its live id exactly (it is the only writer)
 * and its retired ids as they were when it folded them itself (a fold waits for every peer): so S is
 * its node's exact share and adding S − F under `fresh` makes the counter exact. S < F (the leader
 * knew more of a retired id than this node: it never folded them) is reported as `lost`.
 * ORSet: elements held before and gone after, whose only dots were covered ids of this node, are
 * added again under `fresh`. The fold keeps no trace of which of those dots the leader had seen, so
 * an element whose only dots are this node's and that another node removed during the partition
 * comes back too (add wins): each re-added element is therefore also reported; elements back after the merge that this node had removed (the fold
 * re-issued the leader's dots for them) cannot be told from elements it never saw: reported. MVRegister: a value lost cannot be set again without overwriting the
 * concurrent ones: reported.
 */
import type { Crdt } from "./types.js";
import { GCounter } from "./gcounter.js";
import { PNCounter } from "./pncounter.js";
import { ORSet } from "./orset.js";
import { MVRegister } from "./mv-register.js";
import { CausalContext, type Dot } from "./causal.js";
import { coverageOf, isDropped, parseWriter } from "./writer-ids.js";

export interface Reissued<T extends Crdt = Crdt> {
  /** `merged` with the re-issued effects. */
  readonly value: T;
  /** Those effects, to publish like a write's delta (undefined when none). */
  readonly delta: T | undefined;
  /** Effects that could not be re-issued exactly (0 when none). */
  readonly lost: number;
}

/** Whether `id` is an id (writer or fold) of `node`. */
function ofNode(id: string, node: string): boolean {
  return parseWriter(id)?.node === node;
}

function ownShare(c: GCounter, node: string): number {
  let sum = 0;
  for (const id of c.nodes) if (ofNode(id, node)) sum += c.slot(id);
  return sum;
}

/** What `before` held of `node`'s share and `merged` no longer does (negative: the fold knew more). */
function missingShare(before: GCounter, merged: GCounter, node: string): number {
  return ownShare(before, node) - ownShare(merged, node);
}

function withDelta<T extends Crdt>(value: T, lost: number): Reissued<T> {
  return { value: value.resetDelta(), delta: value.delta, lost };
}

/** What a comeback compares in a causal value: which dots the merge dropped, which fold dots are new. */
interface CausalView {
  /** A dot of this node that a fold id in `merged` covers (dropped by the merge). */
  dropped(d: Dot): boolean;
  /** A dot of a fold id of this node that `before` had not seen (re-issued by the fold for what the leader held). */
  refolded(d: Dot): boolean;
  /** Whether `before` has seen every dot of this node a fold can re-issue (see `authoredFrom`). */
  knowsOwnDots: boolean;
}

function causalView(before: { writers: string[]; context: CausalContext }, merged: { writers: string[] }, node: string, authoredFrom: number): CausalView {
  const coverage = coverageOf(merged.writers);
  return {
    dropped: (d) => coverage !== undefined && ofNode(d.node, node) && isDropped(d.node, coverage),
    refolded: (d) => parseWriter(d.node)?.fold === true && ofNode(d.node, node) && !before.context.contains(d),
    knowsOwnDots: before.writers.every((id) => {
      const w = parseWriter(id);
      return w === undefined || w.node !== node || w.incarnation >= authoredFrom;
    }),
  };
}

/** `ctx`'s next `n` dots of `node`. */
function nextDots(ctx: CausalContext, node: string, n: number): Dot[] {
  const first = ctx.next(node).counter;
  return Array.from({ length: n }, (_, i) => ({ node, counter: first + i }));
}

function reissueSet(before: ORSet, merged: ORSet, node: string, fresh: string, authoredFrom: number): Reissued<ORSet> {
  const view = causalView(before, merged, node, authoredFrom);
  const readd = droppedElements(before, merged, view.dropped);
  const superseded: Dot[] = [];
  // Each re-added element is either one the leader never saw (exact) or one another node removed
  // during the partition (it comes back): the fold does not say which, so each one is reported.
  let lost = readd.length;
  for (const e of merged.unsortedCanonicals()) {
    if (before.hasCanonical(e)) continue;
    const dots = (merged.dotsOf(e) ?? []).filter(view.refolded);
    if (dots.length === 0) continue;
    if (view.knowsOwnDots) superseded.push(...dots);
    else lost++;
  }
  if (readd.length === 0 && superseded.length === 0) return { value: merged, delta: undefined, lost };
  const dots = nextDots(merged.context, fresh, readd.length);
  const piece = ORSet.fromState({ entries: readd.map((element, i) => ({ element, dots: [dots[i]!] })), context: CausalContext.of([...dots, ...superseded]).toState() });
  return { value: merged.merge(piece).resetDelta(), delta: piece, lost };
}

function reissueMv(before: MVRegister, merged: MVRegister, node: string, fresh: string, authoredFrom: number): Reissued<MVRegister> {
  const view = causalView(before, merged, node, authoredFrom);
  const kept = new Set(merged.toState().entries.map((e) => e.value));
  const held = before.toState().entries;
  const readd = held.filter((e) => view.dropped(e.dot) && !kept.has(e.value)).map((e) => e.value);
  const heldValues = new Set(held.map((e) => e.value));
  const superseded: Dot[] = [];
  let lost = 0;
  for (const e of merged.toState().entries) {
    if (!view.refolded(e.dot) || heldValues.has(e.value)) continue;
    if (view.knowsOwnDots) superseded.push(e.dot);
    else lost++;
  }
  if (readd.length === 0 && superseded.length === 0) return { value: merged, delta: undefined, lost };
  const dots = nextDots(merged.context, fresh, readd.length);
  const piece = MVRegister.fromState({ entries: readd.map((value, i) => ({ dot: dots[i]!, value })), context: CausalContext.of([...dots, ...superseded]).toState() });
  return { value: merged.merge(piece).resetDelta(), delta: piece, lost };
}

/** The elements `before` held, `merged` does not, whose every dot `dropped` (sorted). */
function droppedElements(before: ORSet, merged: ORSet, dropped: (d: Dot) => boolean): string[] {
  return before.unsortedCanonicals().filter((e) => !merged.hasCanonical(e) && (before.dotsOf(e) ?? []).every(dropped)).sort();
}

/**
 * How many effects of `node`'s writes `before` held under ids a fold in `merged` dropped, that
 * `merged` no longer holds: a counter's share it lacks, elements and values gone with their dots.
 * On a replica other than `node` these are lost unless `node` comes back and re-issues them
 * (a node removed for good whose writes only replicas that were away during the fold held), or,
 * for an element, removed elsewhere meanwhile: either way the replica reports them. 0 for maps.
 */
export function droppedEffects(before: Crdt, merged: Crdt, node: string): number {
  if (before instanceof GCounter && merged instanceof GCounter) return Math.max(0, missingShare(before, merged, node));
  if (before instanceof PNCounter && merged instanceof PNCounter) {
    return Math.max(0, missingShare(before.increments, merged.increments, node)) + Math.max(0, missingShare(before.decrements, merged.decrements, node));
  }
  const coverage = merged instanceof ORSet || merged instanceof MVRegister ? coverageOf(merged.writers) : undefined;
  if (coverage === undefined) return 0;
  const dropped = (d: Dot): boolean => ofNode(d.node, node) && isDropped(d.node, coverage);
  if (before instanceof ORSet && merged instanceof ORSet) return droppedElements(before, merged, dropped).length;
  if (before instanceof MVRegister && merged instanceof MVRegister) {
    const kept = new Set(merged.toState().entries.map((e) => e.value));
    return before.toState().entries.filter((e) => dropped(e.dot) && !kept.has(e.value)).length;
  }
  return 0;
}

/**
 * Whether a node can come back in `value`'s type (`reissueCovered` handles it): removed nodes' ids
 * are folded only in such keys, so no other type's effects are ever dropped by such a fold.
 */
export function comesBack(value: Crdt): boolean {
  return value instanceof GCounter || value instanceof PNCounter || value instanceof ORSet || value instanceof MVRegister;
}

/**
 * `merged` (= `before` merged with a value holding a fold id that covers ids of `node`) with the
 * effects `before` held under the covered ids re-issued as `fresh`. `authoredFrom`: the lowest
 * incarnation of the ids this process wrote under (it knows every dot of those). Undefined for a type that
 * records no writer ids this knows how to re-issue (the caller reports it).
 */
export function reissueCovered(before: Crdt, merged: Crdt, node: string, fresh: string, authoredFrom: number): Reissued | undefined {
  if (before instanceof GCounter && merged instanceof GCounter) {
    const up = missingShare(before, merged, node);
    return withDelta(up > 0 ? merged.increment(fresh, up) : merged, Math.max(0, -up));
  }
  if (before instanceof PNCounter && merged instanceof PNCounter) {
    const up = missingShare(before.increments, merged.increments, node);
    const down = missingShare(before.decrements, merged.decrements, node);
    let value = merged;
    if (up > 0) value = value.increment(fresh, up);
    if (down > 0) value = value.decrement(fresh, down);
    return withDelta(value, Math.max(0, -up) + Math.max(0, -down));
  }
  if (before instanceof ORSet && merged instanceof ORSet) return reissueSet(before, merged, node, fresh, authoredFrom);
  if (before instanceof MVRegister && merged instanceof MVRegister) return reissueMv(before, merged, node, fresh, authoredFrom);
  return undefined;
}
