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
 * Maps: key by key, what the key held before against what it holds merged, through the value type's
 * own comparison (a nested counter exact, a nested set's elements as above), re-issued by an update
 * of the key as `fresh`. A value type with no writer ids inside (LWWRegister, Flag, GSet) gets the
 * node's dropped instances merged back (exact: an LWW write keeps its timestamp and writer). A key
 * the merge left absent is re-added and reported: the absorption keeps no trace of whether the
 * leader never saw the node's part of it (exact) or removed the key meanwhile (it comes back). The
 * re-issued instance carries the key's whole value for sets and registers (their re-issue is a merge,
 * not a mutator's delta): a remove concurrent with it that did not see it keeps the whole value.
 */
import type { Crdt } from "./types.js";
import { registeredDataTypes } from "./descriptor.js";
import { decodeCanonical } from "./element.js";
import { GCounter } from "./gcounter.js";
import { LWWMap } from "./lww-map.js";
import { ORMap } from "./ormap.js";
import { ORMultiMap } from "./ormultimap.js";
import { PNCounterMap } from "./pncounter-map.js";
import { PNCounter } from "./pncounter.js";
import { ORSet } from "./orset.js";
import { MVRegister } from "./mv-register.js";
import { CausalContext, type Dot } from "./causal.js";
import { coverageOf, isDropped, parseWriter, type Coverage } from "./writer-ids.js";

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

/**
 * Markers left out of a share, on both sides of the merge: those a later fold of their node in
 * either map supersedes (ORMap.coveredMarker), which its absorptions leave out too. Either side
 * may know the fold: `before` may be a delta whose values carry the marker but not the fold id (a
 * fresh process's first merge: counting it there alone re-issued its share, two-DC seed 20336279).
 */
type Skips = (id: string) => boolean;

function ownShare(c: GCounter, node: string, skip?: Skips): number {
  let sum = 0;
  for (const id of c.nodes) if (ofNode(id, node) && skip?.(id) !== true) sum += c.slot(id);
  return sum;
}

/** What `before` held of `node`'s share and `merged` no longer does (negative: the fold knew more). */
function missingShare(before: GCounter, merged: GCounter, node: string, skips?: Skips): number {
  return ownShare(before, node, skips) - ownShare(merged, node, skips);
}

/** A map's Skips. */
function mapSkips(before: ORMap, merged: ORMap): Skips {
  const [b, m] = [before.coveredMarker(), merged.coveredMarker()];
  return (id) => b(id) || m(id);
}

/** `value` (its pending delta: the re-issued effects) as a Reissued; `reissueCovered` drops the pending delta. */
function withDelta<T extends Crdt>(value: T, lost: number): Reissued<T> {
  return { value, delta: value.delta, lost };
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

/** `coverage`: the fold ids' in the value around (a map's, for its values), else `merged`'s own. */
function causalView(before: { writers: string[]; context: CausalContext }, merged: { writers: string[] }, node: string, authoredFrom: number, coverage = coverageOf(merged.writers)): CausalView {
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

function reissueSet(before: ORSet, merged: ORSet, node: string, fresh: string, authoredFrom: number, coverage?: Coverage): Reissued<ORSet> {
  const view = causalView(before, merged, node, authoredFrom, coverage);
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
  return { value: merged.merge(piece), delta: piece, lost };
}

function reissueMv(before: MVRegister, merged: MVRegister, node: string, fresh: string, authoredFrom: number, coverage?: Coverage): Reissued<MVRegister> {
  const view = causalView(before, merged, node, authoredFrom, coverage);
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
  return { value: merged.merge(piece), delta: piece, lost };
}

/** The elements `before` held, `merged` does not, whose every dot `dropped` (sorted). */
function droppedElements(before: ORSet, merged: ORSet, dropped: (d: Dot) => boolean): string[] {
  return before.unsortedCanonicals().filter((e) => !merged.hasCanonical(e) && (before.dotsOf(e) ?? []).every(dropped)).sort();
}

/**
 * How many effects of `node`'s writes `before` held under ids a fold in `merged` dropped, that
 * `merged` no longer holds: a counter's share it lacks, elements and values gone with their dots,
 * in a map key by key (a key gone counts one). On a replica other than `node` these are lost unless
 * `node` comes back and re-issues them (a node removed for good whose writes only replicas that were
 * away during the fold held), or, for an element or a map key, removed elsewhere meanwhile: either
 * way the replica reports them.
 */
export function droppedEffects(before: Crdt, merged: Crdt, node: string): number {
  return droppedIn(before, merged, node) ?? 0;
}

/** `droppedEffects` under `coverage` (see `causalView`); undefined for a type that records no writer ids. */
function droppedIn(before: Crdt, merged: Crdt, node: string, coverage?: Coverage, skips?: Skips): number | undefined {
  if (before instanceof GCounter && merged instanceof GCounter) return Math.max(0, missingShare(before, merged, node, skips));
  if (before instanceof PNCounter && merged instanceof PNCounter) {
    return Math.max(0, missingShare(before.increments, merged.increments, node, skips)) + Math.max(0, missingShare(before.decrements, merged.decrements, node, skips));
  }
  const maps = [mapOf(before), mapOf(merged)] as const;
  if (maps[0] !== undefined && maps[1] !== undefined) return droppedInMap(maps[0].map, maps[1].map, node, coverage);
  if (!(merged instanceof ORSet || merged instanceof MVRegister)) return undefined;
  const cover = coverage ?? coverageOf(merged.writers);
  if (cover === undefined) return 0;
  const dropped = (d: Dot): boolean => ofNode(d.node, node) && isDropped(d.node, cover);
  if (before instanceof ORSet && merged instanceof ORSet) return droppedElements(before, merged, dropped).length;
  if (before instanceof MVRegister && merged instanceof MVRegister) {
    const kept = new Set(merged.toState().entries.map((e) => e.value));
    return before.toState().entries.filter((e) => dropped(e.dot) && !kept.has(e.value)).length;
  }
  return 0;
}

function droppedInMap(before: ORMap, merged: ORMap, node: string, around?: Coverage): number {
  const coverage = around ?? coverageOf(merged.writers);
  const skips = mapSkips(before, merged);
  let n = 0;
  for (const { key, was, own } of droppedKeys(before, node, coverage)) {
    const now = merged.getCanonical(key);
    if (now === undefined) n++;
    else n += droppedIn(was, now, node, coverage, skips) ?? (own === undefined || now.merge(own).equals(now) ? 0 : 1);
  }
  return n;
}

/** A map value's ORMap, and how to make a value of its kind of another ORMap; undefined for a value that is no map. */
function mapOf(value: Crdt): { map: ORMap; wrap(map: ORMap): Crdt } | undefined {
  if (value instanceof ORMap) return { map: value, wrap: (m) => m };
  if (value instanceof LWWMap || value instanceof PNCounterMap || value instanceof ORMultiMap) return { map: value.map as ORMap, wrap: (m) => value.withMap(m as never) };
  return undefined;
}

/** The ids a value of `map` records (none for a value type without writer ids). */
function writersOf(map: ORMap, value: Crdt): string[] {
  return registeredDataTypes().get(map.valueKind)?.pruning?.writers(value) ?? [];
}

/**
 * The keys of `before` where `node`'s ids are dropped under `coverage` (an instance of one, or a
 * value that mentions one), each with its value and the join of those instances' values.
 */
function droppedKeys(before: ORMap, node: string, coverage: Coverage | undefined): { key: string; was: Crdt; own: Crdt | undefined }[] {
  if (coverage === undefined) return [];
  const dropped = (id: string): boolean => ofNode(id, node) && isDropped(id, coverage);
  const out: { key: string; was: Crdt; own: Crdt | undefined }[] = [];
  before.forEachInstance((key, instances) => {
    let own: Crdt | undefined;
    let hit = false;
    for (const i of instances) {
      if (dropped(i.dot.node)) {
        hit = true;
        if (i.value !== undefined) own = own === undefined ? i.value : own.merge(i.value);
      } else if (i.value !== undefined && writersOf(before, i.value).some(dropped)) hit = true;
    }
    if (hit) out.push({ key, was: before.getCanonical(key)!, own });
  });
  return out;
}

/**
 * Whether a node can come back in `value`'s type (`reissueCovered` handles it): removed nodes' ids
 * are folded only in such keys, so no other type's effects are ever dropped by such a fold. Every
 * type that records writer ids (the maps, whatever their values hold).
 */
export function comesBack(value: Crdt): boolean {
  return value instanceof GCounter || value instanceof PNCounter || value instanceof ORSet || value instanceof MVRegister || mapOf(value) !== undefined;
}

/**
 * `merged` (= `before` merged with a value holding a fold id that covers ids of `node`) with the
 * effects `before` held under the covered ids re-issued as `fresh`. `authoredFrom`: the lowest
 * incarnation of the ids this process wrote under (it knows every dot of those). Undefined for a type that
 * records no writer ids this knows how to re-issue (the caller reports it).
 */
export function reissueCovered(before: Crdt, merged: Crdt, node: string, fresh: string, authoredFrom: number): Reissued | undefined {
  const r = reissueIn(before, merged, node, fresh, authoredFrom);
  return r === undefined ? undefined : { ...r, value: r.value.resetDelta() };
}

/**
 * `reissueCovered` under `coverage` (see `causalView`), its value still carrying a counter's or a
 * map's re-issue as its pending delta (a map's update takes it as the change).
 */
function reissueIn(before: Crdt, merged: Crdt, node: string, fresh: string, authoredFrom: number, coverage?: Coverage, skips?: Skips): Reissued | undefined {
  if (before instanceof GCounter && merged instanceof GCounter) {
    const up = missingShare(before, merged, node, skips);
    return withDelta(up > 0 ? merged.increment(fresh, up) : merged, Math.max(0, -up));
  }
  if (before instanceof PNCounter && merged instanceof PNCounter) {
    const up = missingShare(before.increments, merged.increments, node, skips);
    const down = missingShare(before.decrements, merged.decrements, node, skips);
    let value = merged;
    if (up > 0) value = value.increment(fresh, up);
    if (down > 0) value = value.decrement(fresh, down);
    return withDelta(value, Math.max(0, -up) + Math.max(0, -down));
  }
  if (before instanceof ORSet && merged instanceof ORSet) return reissueSet(before, merged, node, fresh, authoredFrom, coverage);
  if (before instanceof MVRegister && merged instanceof MVRegister) return reissueMv(before, merged, node, fresh, authoredFrom, coverage);
  const [was, now] = [mapOf(before), mapOf(merged)];
  if (was !== undefined && now !== undefined) return reissueMap(was.map, now, node, fresh, authoredFrom, coverage);
  return undefined;
}

/**
 * A map's comeback, key by key (see the file comment): each key where `node`'s ids were dropped is
 * compared through its value type, under the map's fold ids (its values may hold none of them: a key
 * the merge left absent), and what is missing re-issued by an update as `fresh`.
 */
function reissueMap(before: ORMap, merged: { map: ORMap; wrap(map: ORMap): Crdt }, node: string, fresh: string, authoredFrom: number, around?: Coverage): Reissued {
  const coverage = around ?? coverageOf(merged.map.writers);
  const skips = mapSkips(before, merged.map);
  let map = merged.map;
  let lost = 0;
  for (const { key, was, own } of droppedKeys(before, node, coverage)) {
    // What the key needs, against its merged value (an absent key: the empty value); the update then
    // redoes it against its own base, whose dots for `fresh` it keeps above the map's.
    const reissue = (base: Crdt): Reissued | undefined => reissueIn(was, base, node, fresh, authoredFrom, coverage, skips);
    const now = map.getCanonical(key);
    const probe = reissue(now ?? registeredDataTypes().get(map.valueKind)!.empty());
    const adds = probe === undefined ? own !== undefined && (now === undefined || !now.merge(own).equals(now)) : probe.delta !== undefined;
    lost += probe?.lost ?? 0;
    if (!adds) continue;
    if (now === undefined) lost++; // re-added: the leader may have removed it meanwhile
    // A counter's re-issue is the change (its pending delta); a set's or register's is a merge: the whole value.
    map = map.update(fresh, decodeCanonical(key), (base) => reissue(base)?.value ?? base.merge(own!));
  }
  // A key this node no longer holds that came back holding a marker or removed-node fold id of its
  // node: the fold re-issued what the leader held of it (a new instance), and this node may have
  // removed it during the partition (as a set's element, `refolded`); a map cannot remove that one
  // instance alone: reported. (A key of values that record no ids, an LWWMap's, cannot tell: not reported.)
  const refolded = (id: string): boolean => ofNode(id, node) && parseWriter(id)!.fold && !id.includes("^");
  map.forEachInstance((key, instances) => {
    if (before.getCanonical(key) === undefined && instances.some((i) => i.value !== undefined && writersOf(map, i.value).some(refolded))) lost++;
  });
  return withDelta(merged.wrap(map), lost);
}
