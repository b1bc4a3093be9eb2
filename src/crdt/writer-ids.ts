/**
 * Retired writer ids, told apart by their names alone (pure).
 *
 * A node writes under `node~inc` (its incarnation in base 36, see replicator/identity.ts); a node
 * that restarts without a clean snapshot takes a fresh one, so every crash-restart leaves one more
 * id in every counter slot list, version vector and dot set it touched. Only one live process holds
 * a node id (the duplicate check at start), so every id of that node below its live writer's
 * incarnation is retired: nothing will ever be written under it again.
 *
 * The live process folds its node's retired ids into one *fold id* `node^inc` (its own writer's
 * incarnation): a counter slot holding their sum, dots re-issued for the elements they held. The
 * name itself is the marker: a value holding `node^f` has folded every id of `node` below f, so
 * every replica drops such ids wherever they appear next to it — in the value, in whatever arrives
 * later (a late delta, a node restored from an old snapshot, another data center). Nothing needs
 * to be spread beside the data, and nothing expires. After the fold a key holds at most two ids per
 * node: its fold id and its live writer id.
 *
 * Node ids are letters, digits, `-` and `_`, so no node id contains `~` or `^`. Ids of another shape
 * (a test's "a", "b") are never folded nor covered.
 */

/** A writer id taken apart. */
export interface WriterName {
  readonly node: string;
  readonly incarnation: number;
  /** A fold id (`node^inc`) rather than a writer id (`node~inc`). */
  readonly fold: boolean;
}

const SHAPE = /^([A-Za-z0-9_-]+)([~^])([0-9a-z]{1,11})$/;

/** `id` taken apart, or undefined when it is not of either shape. */
export function parseWriter(id: string): WriterName | undefined {
  const m = SHAPE.exec(id);
  if (m === null) return undefined;
  return { node: m[1]!, incarnation: parseInt(m[3]!, 36), fold: m[2] === "^" };
}

/** The fold id of the node whose live writer id is `writerId`; undefined for an id of another shape. */
export function foldIdOf(writerId: string): string | undefined {
  const w = parseWriter(writerId);
  return w === undefined || w.fold ? undefined : `${w.node}^${w.incarnation.toString(36)}`;
}

/** Whether `id` is an id `writerId`'s fold takes in: an older id (writer or fold) of the same node. */
export function retiredBy(writerId: string, id: string): boolean {
  const w = parseWriter(writerId);
  if (w === undefined || w.fold) return false;
  const r = parseWriter(id);
  return r !== undefined && r.node === w.node && r.incarnation < w.incarnation;
}

/** Per node, the highest incarnation of a fold id present: what it covers. */
export type Coverage = ReadonlyMap<string, number>;

/** The coverage of the fold ids among `ids`; undefined when there is none (the usual case, cheap). */
export function coverageOf(ids: Iterable<string>): Coverage | undefined {
  let out: Map<string, number> | undefined;
  for (const id of ids) {
    if (!id.includes("^")) continue;
    const w = parseWriter(id);
    if (w === undefined || !w.fold) continue;
    out ??= new Map();
    if ((out.get(w.node) ?? -1) < w.incarnation) out.set(w.node, w.incarnation);
  }
  return out;
}

/** Whether a fold id in `coverage` covers `id` (same node, lower incarnation). */
export function isCovered(id: string, coverage: Coverage): boolean {
  const w = parseWriter(id);
  if (w === undefined) return false;
  const f = coverage.get(w.node);
  return f !== undefined && w.incarnation < f;
}

/** The ids among `ids` that a fold id among them covers (empty when none). */
export function coveredAmong(ids: Iterable<string>): Set<string> {
  const all = [...ids];
  const coverage = coverageOf(all);
  const out = new Set<string>();
  if (coverage === undefined) return out;
  for (const id of all) if (isCovered(id, coverage)) out.add(id);
  return out;
}

/**
 * The made-up writer id whose fold takes in every id of a removed `node` that `ids` holds: the
 * next incarnation above the highest one of `node` there (so its fold id covers them all).
 * Undefined when `ids` holds no writer id (`node~inc`) of `node`: nothing to fold (a lone fold id
 * folded again would only rename it).
 */
export function removedFoldWriter(ids: Iterable<string>, node: string): string | undefined {
  let max = -1;
  let writer = false;
  for (const id of ids) {
    const w = parseWriter(id);
    if (w === undefined || w.node !== node) continue;
    writer ||= !w.fold;
    max = Math.max(max, w.incarnation);
  }
  return writer ? `${node}~${(max + 1).toString(36)}` : undefined;
}

/** The highest incarnation of a fold id of `node` among `ids` (-1 when none). */
export function highestFold(ids: Iterable<string>, node: string): number {
  let max = -1;
  for (const id of ids) {
    const w = parseWriter(id);
    if (w !== undefined && w.fold && w.node === node) max = Math.max(max, w.incarnation);
  }
  return max;
}
