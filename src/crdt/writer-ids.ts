/**
 * Retired writer ids, told apart by their names alone (pure).
 *
 * A node writes under `node~inc` (its incarnation in base 36, see replicator/identity.ts); a node
 * that restarts without a clean snapshot takes a fresh one, so every crash-restart leaves one more
 * id in every counter slot list, version vector and dot set it touched. Only one live process holds
 * a node id (the duplicate check at start), so every id of that node below its live writer's
 * incarnation is retired: nothing will ever be written under it again.
 *
 * The live process `node~inc` folds, key by key, its node's retired ids *and its own* into one
 * *fold id* `node^inc`, then writes under that fold id in that key (it adopts it there): a counter
 * slot holding the sum of them all, dots re-issued for the elements only retired ids held, and its
 * own dots renamed (`node~inc`'s dot n becomes `node^inc`'s dot n: it is the only writer of both,
 * so the names mean the same event). It folds only the keys that hold a retired id of its node (a
 * key holding only its live id keeps it: a fold id there would claim to cover older ids this
 * replica never saw). The name itself is the marker: a value holding `node^f` has folded every id
 * of `node` below f and adopted `node~f`, so every replica drops the older ids and renames
 * `node~f`'s dots wherever they appear next to it — in the value, in whatever arrives later (a late
 * delta, a node restored from an old snapshot, another data center). Nothing needs to be spread
 * beside the data, and nothing expires. After the fold a key holds one id per node: its fold id,
 * which is also its live writer id in that key (`writerIn`).
 *
 * A removed node's ids are absorbed by another node (its DC's leader) into the leader's own slot or
 * dots in that key, under a *marker* `node#i.t` (i: one above the node's highest incarnation in
 * the key, t: the absorption's time, ms): it covers every id of the node below incarnation i — not
 * a later process of the node the leader has not seen, whose writes it could not have absorbed —
 * holds no effects of its own (a counter keeps the absorbed amount in the marker's slot for a
 * comeback to read, and its value skips it) and expires, t + pruneMarkerTtlMs (see `isMarker`). A
 * release whose members do not all read markers folds into `node!inc` instead, which covers the
 * older ids, holds their effects, adopts none and never expires (see `removedFoldId`).
 *
 * Node ids are letters, digits, `-` and `_`, so no node id contains `~`, `^`, `!` or `#`. Ids of
 * another shape (a test's "a", "b") are never folded nor covered.
 */

/** A writer id taken apart. */
export interface WriterName {
  readonly node: string;
  readonly incarnation: number;
  /** A fold id (`node^inc`, a removed node's `node!inc` or marker `node#inc.t`) rather than a writer id (`node~inc`). */
  readonly fold: boolean;
  /** A marker `node#inc.t`: covers, holds no effects, expires. */
  readonly marker: boolean;
  /** A marker's t: when it was made, ms. */
  readonly madeAtMs?: number;
  /**
   * Order among the ids of a node: by incarnation, then `node#inc` < `node!inc` < `node~inc` <
   * `node^inc`. A fold id covers every id of its node of lower rank; `node^inc` adopts `node~inc`
   * (rank − 1).
   */
  readonly rank: number;
}

const SHAPE = /^([A-Za-z0-9_-]+)([~^!#])([0-9a-z]{1,11})(?:\.([0-9a-z]{1,11}))?$/;
const OFFSET = { "#": 0, "!": 1, "~": 2, "^": 3 } as const;

/** `id` taken apart, or undefined when it is not of one of the shapes. */
export function parseWriter(id: string): WriterName | undefined {
  const m = SHAPE.exec(id);
  if (m === null) return undefined;
  const kind = m[2] as keyof typeof OFFSET;
  // A marker names when it was made too (`node#inc.t`); no other id does.
  if ((kind === "#") !== (m[4] !== undefined)) return undefined;
  const incarnation = parseInt(m[3]!, 36);
  const name = { node: m[1]!, incarnation, fold: kind !== "~", marker: kind === "#", rank: incarnation * 4 + OFFSET[kind] };
  return kind === "#" ? { ...name, madeAtMs: parseInt(m[4]!, 36) } : name;
}

/** Whether `id` may be a fold id (cheap: the usual answer is no). */
export function mayBeFoldId(id: string): boolean {
  return id.includes("^") || id.includes("!") || id.includes("#");
}

/**
 * Whether `id` is a marker `node#i.t` (see the file comment). A marker expires `pruneMarkerTtlMs` after
 * t on every replica: by then every replica has merged the absorption (as tombstones expire, and
 * with the same horizon: an id of the node still held somewhere past it would count again).
 */
export function isMarker(id: string): boolean {
  return id.includes("#") && parseWriter(id)?.marker === true;
}

/** The time a marker was made at (its t), ms; undefined for any other id. */
export function markerTime(id: string): number | undefined {
  return id.includes("#") ? parseWriter(id)?.madeAtMs : undefined;
}

/**
 * The marker that absorbs every id of a removed `node` that `ids` holds, made at `nowMs`:
 * `node#i.t`, i one above the highest incarnation of `node` there, so it covers them all and no
 * later process of the node (one the absorbing node never saw: its writes stay its own). Undefined
 * when `ids` holds no id of `node` with effects (a writer or fold id, not a marker): nothing to absorb.
 */
export function markerFor(ids: Iterable<string>, node: string, nowMs: number): string | undefined {
  const above = incarnationAbove(ids, node, (w) => !w.marker);
  return above === undefined ? undefined : `${node}#${above.toString(36)}.${Math.max(0, Math.floor(nowMs)).toString(36)}`;
}

/** One above the highest incarnation of `node` among `ids`; undefined when none of its ids is `wanted`. */
function incarnationAbove(ids: Iterable<string>, node: string, wanted: (w: WriterName) => boolean): number | undefined {
  let max = -1;
  let found = false;
  for (const id of ids) {
    const w = parseWriter(id);
    if (w === undefined || w.node !== node) continue;
    found ||= wanted(w);
    max = Math.max(max, w.incarnation);
  }
  return found ? max + 1 : undefined;
}

/**
 * The node a removed-node fold would take `id` in for, were its node removed: with markers read
 * (`markerFor`) any id but a marker, else (`removedFoldId`) a writer id only; undefined otherwise.
 */
export function foldableNodeOf(id: string, markersRead: boolean): string | undefined {
  const w = parseWriter(id);
  return w === undefined || w.marker || (!markersRead && w.fold) ? undefined : w.node;
}

/**
 * The latest time a marker among `ids` was made at (its t), ms; 0 when there is none. A marker's t
 * is a wall-clock reading of the node that absorbed, so one beyond the clock-skew bound is bad
 * input, like an LWW timestamp there: far ahead, it would not expire for that long, and its node's
 * live process, meeting it, would take a writer id above it (replicator/own-writer.ts). (Not so an
 * incarnation: a node restarted after its clock was set back keeps one above its old, fast clock.)
 */
export function latestMarkerTime(ids: Iterable<string>): number {
  let latest = 0;
  for (const id of ids) latest = Math.max(latest, markerTime(id) ?? 0);
  return latest;
}

/** The highest rank of a marker of `node` among `ids` (see WriterName.rank); -1 when none. */
export function markedRank(ids: Iterable<string>, node: string): number {
  let rank = -1;
  for (const id of ids) {
    if (!id.includes("#")) continue;
    const w = parseWriter(id);
    if (w?.marker === true && w.node === node) rank = Math.max(rank, w.rank);
  }
  return rank;
}

/** The ids among `ids` that `marker` covers (see `absorbedBy`). */
export function absorbedAmong(ids: Iterable<string>, marker: string): Set<string> {
  const out = new Set<string>();
  for (const id of ids) if (absorbedBy(marker, id)) out.add(id);
  return out;
}

/** The markers among `ids` made before `cutoffMs` (expired). */
export function markersBefore(ids: Iterable<string>, cutoffMs: number): Set<string> {
  const out = new Set<string>();
  for (const id of ids) if ((markerTime(id) ?? Infinity) < cutoffMs) out.add(id);
  return out;
}

/** Whether `id` is an id of `marker`'s node that the marker covers (what an absorption takes in). */
export function absorbedBy(marker: string, id: string): boolean {
  const m = parseWriter(marker);
  const w = m?.marker === true ? parseWriter(id) : undefined;
  return w !== undefined && w.node === m!.node && w.rank < m!.rank;
}

const foldName = (node: string, incarnation: number): string => `${node}^${incarnation.toString(36)}`;

/**
 * The fold id of `writerId`: `node^inc` for the live writer `node~inc` (which adopts it in the keys
 * it folds), itself for a fold id (a removed node's `node!inc`); undefined for an id of another shape.
 */
export function foldIdOf(writerId: string): string | undefined {
  const w = parseWriter(writerId);
  return w === undefined ? undefined : w.fold ? writerId : foldName(w.node, w.incarnation);
}

/** The rank of `writerId`'s fold id (see WriterName.rank). */
function foldRank(w: WriterName): number {
  return w.fold ? w.rank : w.rank + 1;
}

/**
 * Whether `id` is an id `writerId`'s fold takes in: an older id (writer or fold) of the same node,
 * and, for a live writer `node~inc`, itself (its fold id `node^inc` adopts it).
 */
export function retiredBy(writerId: string, id: string): boolean {
  const w = parseWriter(writerId);
  const r = w === undefined ? undefined : parseWriter(id);
  return r !== undefined && r.node === w!.node && r.rank < foldRank(w!);
}

/**
 * Whether `id` is an id of `writerId`'s node older than it (writer or fold): a retired id, which
 * a key must hold before the live writer folds it (and adopts its fold id there).
 */
export function olderThan(writerId: string, id: string): boolean {
  const w = parseWriter(writerId);
  const r = w === undefined ? undefined : parseWriter(id);
  return r !== undefined && r.node === w!.node && r.rank < w!.rank;
}

/**
 * What the fold ids among a set of ids cover, per node: `rank`, the highest rank of a fold id
 * present (it covers the node's ids of lower rank); `markedAt`, the latest time t of the node's
 * markers. A marker `node#i.t` also covers the node's own fold ids `node^f` of processes started
 * before t (f < t: an incarnation is its process's start, ms): such a process may have folded the
 * ids the marker absorbed just before it was cut off, its fold reaching nobody, so both would hold
 * the same amount. That fold id goes with every id it took in (`dropped`: the highest rank of such
 * fold ids; not the markers), and the process comes back (comeback.ts), re-issuing what its fold
 * held beyond the marker's share; on seeing the marker it takes a writer id above t (own-writer.ts),
 * so its later folds are not covered.
 */
export interface Coverage {
  readonly rank: ReadonlyMap<string, number>;
  readonly markedAt: ReadonlyMap<string, number>;
  readonly dropped: ReadonlyMap<string, number>;
}

const FOLD_OFFSET = OFFSET["^"];

/** A node's own fold id `node^f` that its node's markers cover by time (see Coverage). */
function coveredByMarker(w: WriterName, markedAt: ReadonlyMap<string, number>): boolean {
  return w.fold && w.rank % 4 === FOLD_OFFSET && w.incarnation < (markedAt.get(w.node) ?? -Infinity);
}

/**
 * Which markers a later fold of their node among `ids` supersedes: a fold id of the node ranking
 * above the marker (it folded after the absorption, so the marker's amount is no longer the node's
 * share) that no marker of the node made after the fold covers, the asked one included (then the
 * fold id covers nothing, see Coverage). Markers covering each other do not count: a later
 * absorption carries an earlier marker's share into its own.
 */
export function supersededMarkers(ids: Iterable<string>): (id: string) => boolean {
  const folds = new Map<string, WriterName[]>(); // per node, its fold ids but markers
  const markedAt = new Map<string, number>();
  for (const id of ids) {
    if (!mayBeFoldId(id)) continue;
    const w = parseWriter(id);
    if (w === undefined || !w.fold) continue;
    if (w.marker) markedAt.set(w.node, Math.max(markedAt.get(w.node) ?? -1, w.madeAtMs!));
    else if (folds.has(w.node)) folds.get(w.node)!.push(w);
    else folds.set(w.node, [w]);
  }
  if (folds.size === 0) return () => false;
  return (id) => {
    const m = id.includes("#") ? parseWriter(id) : undefined;
    if (m?.marker !== true) return false;
    const at = new Map([[m.node, Math.max(markedAt.get(m.node) ?? -1, m.madeAtMs!)]]);
    return (folds.get(m.node) ?? []).some((w) => w.rank > m.rank && !coveredByMarker(w, at));
  };
}

/** The coverage of the fold ids among `ids`; undefined when there is none (the usual case, cheap). */
export function coverageOf(ids: Iterable<string>): Coverage | undefined {
  const folds: WriterName[] = [];
  for (const id of ids) {
    if (!mayBeFoldId(id)) continue;
    const w = parseWriter(id);
    if (w !== undefined && w.fold) folds.push(w);
  }
  if (folds.length === 0) return undefined;
  const markedAt = new Map<string, number>();
  for (const w of folds) if (w.marker && (markedAt.get(w.node) ?? -1) < w.madeAtMs!) markedAt.set(w.node, w.madeAtMs!);
  const rank = new Map<string, number>();
  const dropped = new Map<string, number>();
  for (const w of folds) {
    const into = coveredByMarker(w, markedAt) ? dropped : rank;
    if ((into.get(w.node) ?? -1) < w.rank) into.set(w.node, w.rank);
  }
  return { rank, markedAt, dropped };
}

/**
 * Whether a fold id in `coverage` covers `id` (same node, lower rank: older ids, and the writer id
 * a `node^inc` adopts, whose dots `adoptionsAmong` renames before they are dropped; or a fold id a
 * marker covers by time, see Coverage).
 */
export function isCovered(id: string, coverage: Coverage): boolean {
  const w = parseWriter(id);
  if (w === undefined) return false;
  const f = coverage.rank.get(w.node);
  if ((f !== undefined && w.rank < f) || coveredByMarker(w, coverage.markedAt)) return true;
  const d = coverage.dropped.get(w.node);
  return d !== undefined && w.rank < d && !w.marker;
}

/** Whether a fold id in `coverage` drops what `id` holds: covered, and not adopted (renamed) by it. */
export function isDropped(id: string, coverage: Coverage): boolean {
  return isCovered(id, coverage) && adopterOf(id, coverage) === undefined;
}

/** The fold id in `coverage` that adopts `id` (`node^f` for `node~f`), or undefined. */
export function adopterOf(id: string, coverage: Coverage): string | undefined {
  const w = parseWriter(id);
  return w !== undefined && !w.fold && coverage.rank.get(w.node) === w.rank + 1 ? foldName(w.node, w.incarnation) : undefined;
}

/** Writer ids whose dots a fold id adopts, each with that fold id (what they are renamed to). */
export type Adoptions = ReadonlyMap<string, string>;

export const NO_ADOPTIONS: Adoptions = new Map();

/**
 * The ids among `ids` whose dots a fold id among them adopts, each with that fold id (empty when
 * none, the usual case, cheap). Dot-holding values rename these dots before they drop covered ids.
 */
export function adoptionsAmong(ids: Iterable<string>): Adoptions {
  const all = [...ids];
  const coverage = coverageOf(all);
  return coverage === undefined ? NO_ADOPTIONS : adoptionsUnder(coverage, all);
}

function adoptionsUnder(coverage: Coverage, ids: Iterable<string>): Adoptions {
  let out: Map<string, string> | undefined;
  for (const id of ids) {
    const to = adopterOf(id, coverage);
    if (to !== undefined) (out ??= new Map()).set(id, to);
  }
  return out ?? NO_ADOPTIONS;
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
 * The fold id that takes in every id of a removed `node` that `ids` holds: `node!inc`, one
 * incarnation above the highest one of `node` there. It covers them all and adopts none: a process
 * of `node` writing under `node~inc` meanwhile (a restart the key has not seen) keeps its own dots.
 * Undefined when `ids` holds no writer id (`node~inc`) of `node`: nothing to fold (a lone fold id
 * folded again would only rename it).
 */
export function removedFoldId(ids: Iterable<string>, node: string): string | undefined {
  const above = incarnationAbove(ids, node, (w) => !w.fold);
  return above === undefined ? undefined : `${node}!${above.toString(36)}`;
}

/** The ids among `ids` whose dots `writerId`'s fold id adopts (a live `node~inc`'s own id, renamed `node^inc`). */
export function adoptionsBy(writerId: string, ids: Iterable<string>): Adoptions {
  const w = parseWriter(writerId);
  return w === undefined ? NO_ADOPTIONS : adoptionsUnder({ rank: new Map([[w.node, foldRank(w)]]), markedAt: new Map(), dropped: new Map() }, ids);
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
