/**
 * What the replicator's log says, decided without I/O: which membership changes happened between
 * two looks at the member list, and when a recurring event (a rejected message, a background
 * error, a skipped cross-DC flush) earns a line. The shell that hears the events and calls the
 * logger is logging.ts.
 */

/** What logging needs of a member (cluster/membership.ts's Member has more). */
export interface MemberView {
  readonly node: string;
  readonly dataCenter: string;
  readonly reachable: boolean;
  readonly startedAtMs: number;
  readonly self: boolean;
}

export type MemberChange =
  | { readonly type: "joined" | "left" | "restarted" | "unreachable" | "reachable-again"; readonly member: MemberView };

/** The changes from `before` (by node id) to `after`, this node excluded, in a stable order (joins and changes by `after`'s order, then leaves). */
export function memberChanges(before: ReadonlyMap<string, MemberView>, after: readonly MemberView[]): MemberChange[] {
  const out: MemberChange[] = [];
  const seen = new Set<string>();
  for (const m of after) {
    if (m.self) continue;
    seen.add(m.node);
    const was = before.get(m.node);
    if (was === undefined) out.push({ type: "joined", member: m });
    else if (was.startedAtMs !== m.startedAtMs) out.push({ type: "restarted", member: m });
    else if (was.reachable && !m.reachable) out.push({ type: "unreachable", member: m });
    else if (!was.reachable && m.reachable) out.push({ type: "reachable-again", member: m });
  }
  for (const [node, m] of before) if (!m.self && !seen.has(node)) out.push({ type: "left", member: m });
  return out;
}

/** How much each counter grew from `before` to `after` (only those that grew). */
export function increases<K>(before: ReadonlyMap<K, number>, after: ReadonlyMap<K, number>): Map<K, number> {
  const out = new Map<K, number>();
  for (const [k, v] of after) {
    const grew = v - (before.get(k) ?? 0);
    if (grew > 0) out.set(k, grew);
  }
  return out;
}

/** One line a burst earns: how many events of the key it stands for, and the latest one. */
export interface BurstLine<T> {
  readonly key: string;
  readonly count: number;
  readonly sample: T;
}

/**
 * At most one line per key per quiet period, never one per event: the first event of a key is due
 * at once; later ones are counted and due together once `quietMs` has passed since the key's last
 * line, so the end of a burst is reported too (by the next `due` call after the period).
 */
export class BurstLimiter<T> {
  private readonly keys = new Map<string, { lastLineMs: number; count: number; sample: T | undefined }>();

  constructor(private readonly quietMs: number) {}

  /** Count `n` events of `key`; `sample` (the latest) is what its line shows. */
  add(key: string, n: number, sample: T): void {
    if (n <= 0) return;
    const k = this.keys.get(key);
    if (k === undefined) this.keys.set(key, { lastLineMs: -Infinity, count: n, sample });
    else {
      k.count += n;
      k.sample = sample;
    }
  }

  /** The lines due at `nowMs`; each resets its key's count and starts its quiet period. */
  due(nowMs: number): BurstLine<T>[] {
    const out: BurstLine<T>[] = [];
    for (const [key, k] of this.keys) {
      if (nowMs - k.lastLineMs < this.quietMs) continue;
      if (k.count === 0) {
        this.keys.delete(key); // quiet for a whole period: the next event is due at once again
        continue;
      }
      out.push({ key, count: k.count, sample: k.sample as T });
      k.count = 0;
      k.sample = undefined;
      k.lastLineMs = nowMs;
    }
    return out;
  }
}
